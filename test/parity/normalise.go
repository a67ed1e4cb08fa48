package parity

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Normaliser replaces in a runtime's output what differs between two runs
// of the same case without being behaviour: the container ID, bundle and
// state paths, cgroup names, pids, times, mount ids and device numbers.
type Normaliser struct {
	// pairs is (text, placeholder), longest text first, so a path is
	// replaced before an ID it contains.
	pairs []replacement
}

type replacement struct{ from, to string }

// NewNormaliser replaces each key of names (a literal) by its value (a
// placeholder such as "<bundle>").
func NewNormaliser(names map[string]string) *Normaliser {
	n := &Normaliser{}
	for from, to := range names {
		if from != "" {
			n.pairs = append(n.pairs, replacement{from, to})
		}
	}
	sort.Slice(n.pairs, func(i, j int) bool {
		if len(n.pairs[i].from) != len(n.pairs[j].from) {
			return len(n.pairs[i].from) > len(n.pairs[j].from)
		}
		return n.pairs[i].from < n.pairs[j].from
	})
	return n
}

// Replace applies the literal replacements.
func (n *Normaliser) Replace(s string) string {
	for _, p := range n.pairs {
		s = strings.ReplaceAll(s, p.from, p.to)
	}
	return s
}

// OutKind says how a command's standard output is read.
type OutKind int

const (
	// OutNone records nothing of stdout.
	OutNone OutKind = iota
	// OutProbe is a container's output: sections "=== name", each
	// normalised by its name (mountinfo, JSON lines, text).
	OutProbe
	// OutText is text with the literal replacements only.
	OutText
	// OutJSON is a JSON document flattened to sorted "path=value" lines,
	// volatile values (pids, times) replaced.
	OutJSON
	// OutJSONKeys is a JSON document reduced to its sorted key paths and
	// value types: for statistics, whose numbers change from run to run.
	OutJSONKeys
	// OutHelp is a usage text reduced to the set of long flags it names.
	OutHelp
	// OutPS is `ps` output reduced to its header and command column.
	OutPS
	// OutLines is text whose lines are compared as a sorted set.
	OutLines
)

// Output normalises a command's stdout by kind.
func (n *Normaliser) Output(kind OutKind, s string) string {
	switch kind {
	case OutNone:
		return ""
	case OutProbe:
		return n.Probe(s)
	case OutJSON:
		return n.JSON(s, false)
	case OutJSONKeys:
		return n.JSON(s, true)
	case OutHelp:
		return HelpFlags(s)
	case OutPS:
		return n.PS(s)
	case OutLines:
		lines := splitLines(n.Replace(s))
		sort.Strings(lines)
		return strings.Join(lines, "\n")
	default:
		return strings.TrimRight(n.Replace(s), "\n")
	}
}

// Probe normalises a container's output section by section: a section
// starts at a line "=== name"; "mountinfo" sections go through Mountinfo,
// lines holding a JSON object through JSON, everything through Replace.
func (n *Normaliser) Probe(s string) string {
	var out []string
	section := ""
	var body []string
	flush := func() {
		if section == "mountinfo" || strings.HasPrefix(section, "mountinfo ") {
			out = append(out, splitLines(n.Mountinfo(strings.Join(body, "\n")))...)
		} else {
			for _, l := range body {
				out = append(out, n.line(l))
			}
		}
		body = nil
	}
	for _, l := range splitLines(s) {
		if name, ok := strings.CutPrefix(l, "=== "); ok {
			flush()
			section = name
			out = append(out, l)
			continue
		}
		body = append(body, l)
	}
	flush()
	return strings.Join(out, "\n")
}

// line normalises one line of text: a JSON object is flattened onto one
// line, anything else gets the literal replacements.
func (n *Normaliser) line(l string) string {
	t := strings.TrimSpace(l)
	if strings.HasPrefix(t, "{") && json.Valid([]byte(t)) {
		return strings.ReplaceAll(n.JSON(t, false), "\n", " ")
	}
	return n.Replace(l)
}

// optionalTag drops the peer group numbers of mountinfo's optional fields
// (shared:12 → shared): they are allocated machine-wide.
var optionalTag = regexp.MustCompile(`^(shared|master|propagate_from):\d+$`)

// Mountinfo normalises /proc/self/mountinfo text: mount and parent ids
// and device numbers dropped, peer group numbers dropped, paths replaced.
// Each line becomes "mountpoint root options [optional...] - fstype
// source superoptions", in the original order.
func (n *Normaliser) Mountinfo(s string) string {
	var out []string
	for _, l := range splitLines(s) {
		pre, post, ok := strings.Cut(l, " - ")
		f := strings.Fields(pre)
		if !ok || len(f) < 6 {
			out = append(out, n.Replace(l))
			continue
		}
		fields := []string{f[4], f[3], f[5]}
		for _, opt := range f[6:] {
			if m := optionalTag.FindStringSubmatch(opt); m != nil {
				opt = m[1]
			}
			fields = append(fields, opt)
		}
		out = append(out, n.Replace(strings.Join(fields, " ")+" - "+post))
	}
	return strings.Join(out, "\n")
}

// volatileKeys are JSON object keys whose values differ between runs.
var volatileKeys = map[string]string{
	"pid":       "<pid>",
	"created":   "<time>",
	"time":      "<time>",
	"timestamp": "<time>",
}

// JSON flattens a JSON document (or several, one per line) to sorted
// "path=value" lines. With keysOnly, values become their JSON type.
// Input that is not JSON is returned with the literal replacements and
// the prefix "not JSON: ".
func (n *Normaliser) JSON(s string, keysOnly bool) string {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var lines []string
	for i := 0; ; i++ {
		var v any
		err := dec.Decode(&v)
		if err != nil {
			if err.Error() == "EOF" {
				break
			}
			return "not JSON: " + n.Replace(strings.TrimSpace(s))
		}
		prefix := ""
		if i > 0 {
			prefix = fmt.Sprintf("doc%d", i)
		}
		lines = append(lines, n.flatten(prefix, v, keysOnly)...)
	}
	if !keysOnly {
		sort.Strings(lines)
	} else {
		lines = sortedUnique(lines)
	}
	return strings.Join(lines, "\n")
}

func (n *Normaliser) flatten(path string, v any, keysOnly bool) []string {
	join := func(k string) string {
		if path == "" {
			return k
		}
		return path + "." + k
	}
	switch t := v.(type) {
	case map[string]any:
		if len(t) == 0 {
			return []string{path + "={}"}
		}
		var out []string
		for k, sub := range t {
			if ph, ok := volatileKeys[k]; ok && !keysOnly {
				if _, isObj := sub.(map[string]any); !isObj {
					out = append(out, join(k)+"="+volatile(ph, sub))
					continue
				}
			}
			out = append(out, n.flatten(join(k), sub, keysOnly)...)
		}
		return out
	case []any:
		if len(t) == 0 {
			return []string{path + "=[]"}
		}
		var out []string
		for i, sub := range t {
			idx := fmt.Sprintf("[%d]", i)
			if keysOnly {
				idx = "[]"
			}
			out = append(out, n.flatten(path+idx, sub, keysOnly)...)
		}
		return out
	default:
		if keysOnly {
			return []string{path + ":" + jsonType(t)}
		}
		data, _ := json.Marshal(t)
		return []string{path + "=" + n.Replace(string(data))}
	}
}

// volatile keeps a zero or empty value (a pid of 0 means "no process",
// which a user sees) and replaces any other by the placeholder.
func volatile(placeholder string, v any) string {
	switch t := v.(type) {
	case json.Number:
		if t.String() == "0" {
			return "0"
		}
	case string:
		if t == "" {
			return `""`
		}
	case nil:
		return "null"
	}
	return placeholder
}

func jsonType(v any) string {
	switch v.(type) {
	case json.Number:
		return "number"
	case string:
		return "string"
	case bool:
		return "bool"
	case nil:
		return "null"
	}
	return "?"
}

func sortedUnique(lines []string) []string {
	sort.Strings(lines)
	out := lines[:0]
	for i, l := range lines {
		if i == 0 || l != lines[i-1] {
			out = append(out, l)
		}
	}
	return out
}

// longFlag finds the long flags a usage text names.
var longFlag = regexp.MustCompile(`(?:^|[\s,\[])--([a-z][a-z0-9-]*)`)

// HelpFlags reduces a usage text to the sorted long flags it lists: the
// wording of help texts is the runtime's own, the flags a command accepts
// are its interface.
func HelpFlags(s string) string {
	seen := map[string]bool{}
	for _, m := range longFlag.FindAllStringSubmatch(s, -1) {
		seen["--"+m[1]] = true
	}
	var flags []string
	for f := range seen {
		flags = append(flags, f)
	}
	sort.Strings(flags)
	return strings.Join(flags, " ")
}

// PS keeps the header's column names and each process's command (the
// last column): pids, times and terminals change from run to run.
func (n *Normaliser) PS(s string) string {
	lines := splitLines(s)
	if len(lines) == 0 {
		return ""
	}
	header := strings.Fields(lines[0])
	out := []string{strings.Join(header, " ")}
	cmdCol := len(header) - 1
	var cmds []string
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) <= cmdCol || cmdCol < 0 {
			cmds = append(cmds, n.Replace(l))
			continue
		}
		cmds = append(cmds, n.Replace(strings.Join(f[cmdCol:], " ")))
	}
	sort.Strings(cmds)
	return strings.Join(append(out, cmds...), "\n")
}

// LogLevels reads a runtime's JSON log (--log-format json) and returns
// the levels it logged at, in order of first appearance ("warning
// error"), and the last error message (whose wording is the runtime's
// own). Debug and info lines are not levels a client acts on and are
// left out. A line that is not JSON counts as level "text".
func LogLevels(log []byte) (levels string, lastError string) {
	var seen []string
	for _, l := range bytes.Split(log, []byte("\n")) {
		if len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		var e struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
		}
		if err := json.Unmarshal(l, &e); err != nil {
			e.Level = "text"
		}
		switch e.Level {
		case "debug", "info", "trace":
			continue
		case "error", "fatal", "panic":
			e.Level = "error"
			lastError = e.Msg
		}
		if !contains(seen, e.Level) {
			seen = append(seen, e.Level)
		}
	}
	return strings.Join(seen, " "), lastError
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// FirstLine is the first non-empty line of s, trimmed.
func FirstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if t := strings.TrimSpace(l); t != "" {
			return t
		}
	}
	return ""
}

// ExitClass describes an exit status as a user of the command line sees
// it: 0, or the number, with the signal for codes above 128.
func ExitClass(code int) string {
	if code > 128 && code < 128+65 {
		return strconv.Itoa(code) + " (signal " + strconv.Itoa(code-128) + ")"
	}
	return strconv.Itoa(code)
}
