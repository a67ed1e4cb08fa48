package sandbox

import (
	"encoding/json"
	"unicode/utf8"
)

// TraceLine is one line of libruntime's trace (see libruntime.Tracer).
type TraceLine struct {
	Cmd   string  `json:"cmd"`
	Proc  string  `json:"proc"`
	Phase string  `json:"phase"`
	Ms    float64 `json:"ms"`
}

// Bounds on the guest's trace lines the host keeps.
const (
	traceLinesMax = 512
	traceFieldMax = 256
)

// checkTrace decodes the guest's trace lines, keeping only well-formed
// ones within bounds: they come from the guest, which is not trusted.
func checkTrace(lines []string) []TraceLine {
	var out []TraceLine
	for _, l := range lines {
		if len(out) == traceLinesMax {
			break
		}
		var t TraceLine
		if json.Unmarshal([]byte(l), &t) != nil {
			continue
		}
		if !short(t.Cmd) || !short(t.Proc) || !short(t.Phase) || t.Ms < 0 || t.Ms > 1e7 {
			continue
		}
		out = append(out, t)
	}
	return out
}

func short(s string) bool { return len(s) <= traceFieldMax && utf8.ValidString(s) }
