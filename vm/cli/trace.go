package cli

import (
	"encoding/json"
	"os"
	"sync"
	"time"

	"github.com/husk-runtime/husk/vm"
	"github.com/husk-runtime/husk/vm/sandbox"
)

// tracer writes --trace lines in libruntime's format (one JSON object
// per phase: cmd, proc, phase, ms), so one file holds host and VM runs.
// Its methods do nothing on a nil receiver.
type tracer struct {
	mu   sync.Mutex
	f    *os.File
	cmd  string
	last time.Time
	t0   time.Time
}

func openTracer(path, cmd string) (*tracer, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	return &tracer{f: f, cmd: cmd, last: now, t0: now}, nil
}

func (t *tracer) line(proc, phase string, d time.Duration) {
	if t == nil {
		return
	}
	t.write(sandbox.TraceLine{Cmd: t.cmd, Proc: proc, Phase: phase, Ms: float64(d.Microseconds()) / 1000})
}

func (t *tracer) write(l sandbox.TraceLine) {
	data, _ := json.Marshal(l)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.f.Write(append(data, '\n'))
}

// phase records the time since the previous phase.
func (t *tracer) phase(name string) {
	if t == nil {
		return
	}
	now := time.Now()
	t.line("husk-vm", name, now.Sub(t.last))
	t.last = now
}

// boot records a VM start: qemu's exec and start-up on the host's clock,
// then the guest's phases (the kernel until the agent ran, the agent's
// steps), then what is left of the time to the agent's answer.
func (t *tracer) boot(v *vm.VM) {
	if t == nil {
		return
	}
	bt := v.Times()
	t.line("husk-vm", "vm:qemu-exec", bt.Started.Sub(bt.Exec))
	t.line("husk-vm", "vm:qemu-start", bt.Connected.Sub(bt.Started))
	var guest time.Duration
	for _, p := range v.Hello().GetPhases() {
		d := time.Duration(p.Micros) * time.Microsecond
		if d < 0 || d > time.Hour {
			continue
		}
		guest += d
		t.line("guest", "vm:"+p.Name, d)
	}
	total := bt.Ready.Sub(bt.Connected)
	// qemu's loading of the kernel and the kernel's early set-up happen
	// before the guest's clock starts: the rest of the host's time.
	t.line("husk-vm", "vm:until-guest-clock", max(0, total-guest))
	t.line("husk-vm", "vm:agent-ready", bt.Ready.Sub(bt.Exec))
	t.last = bt.Ready
}

func (t *tracer) guest(lines []sandbox.TraceLine) {
	if t == nil {
		return
	}
	for _, l := range lines {
		l.Cmd = t.cmd
		l.Proc = "guest-" + l.Proc
		t.write(l)
	}
}

func (t *tracer) end() {
	if t == nil {
		return
	}
	t.line("husk-vm", "total", time.Since(t.t0))
	t.f.Close()
}
