package libruntime

import (
	"encoding/json"
	"io"
	"os"
	"sync"
	"time"
)

// Tracer writes one JSON line per phase of a command, with its duration:
//
//	{"cmd":"create","proc":"husk","phase":"load-config","ms":0.41}
//	{"cmd":"create","proc":"init","phase":"mounts[0] (/proc)","ms":0.08}
//
// "husk" phases are measured in this process; "init" phases are the ops
// husk-init executed, timed by husk-init itself.
type Tracer struct {
	mu sync.Mutex
	w  io.Writer
	// debug, if set, also gets each phase as a debug message (husk
	// --debug: runc logs each setup step).
	debug Logger
}

// NewTracer returns a Tracer writing to w.
func NewTracer(w io.Writer) *Tracer { return &Tracer{w: w} }

type traceLine struct {
	Cmd   string  `json:"cmd"`
	Proc  string  `json:"proc"`
	Phase string  `json:"phase"`
	Ms    float64 `json:"ms"`
	Pid   int     `json:"pid,omitempty"`
}

func (t *Tracer) write(l traceLine) {
	if t.debug != nil {
		t.debug.Debugf("%s: %s: %s (%.3f ms)", l.Cmd, l.Proc, l.Phase, l.Ms)
	}
	if t.w == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	data, _ := json.Marshal(l)
	t.w.Write(append(data, '\n'))
}

// traceRun traces one command. Its methods do nothing on a nil receiver,
// so untraced runs cost one nil check per phase.
type traceRun struct {
	t     *Tracer
	cmd   string
	start time.Time
	last  time.Time
}

func (t *Tracer) begin(cmd string) *traceRun {
	if t == nil {
		return nil
	}
	now := time.Now()
	return &traceRun{t: t, cmd: cmd, start: now, last: now}
}

func (r *traceRun) enabled() bool { return r != nil }

func (r *traceRun) phase(name string) {
	if r == nil {
		return
	}
	now := time.Now()
	r.t.write(traceLine{Cmd: r.cmd, Proc: "husk", Phase: name, Ms: ms(now.Sub(r.last)), Pid: os.Getpid()})
	r.last = now
}

func (r *traceRun) child(name string, d time.Duration) {
	if r == nil {
		return
	}
	r.t.write(traceLine{Cmd: r.cmd, Proc: "init", Phase: name, Ms: ms(d)})
}

func (r *traceRun) end() {
	if r == nil {
		return
	}
	r.t.write(traceLine{Cmd: r.cmd, Proc: "husk", Phase: "total", Ms: ms(time.Since(r.start)), Pid: os.Getpid()})
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
