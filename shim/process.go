package shim

import (
	"context"
	"sync"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// process is a container's init (id "") or one of its exec'd processes.
type process struct {
	id    string
	ctr   *container
	stdio stdio
	spec  *rspec.Process // exec only

	mu       sync.Mutex
	io       *processIO
	pid      int
	start    uint64 // with pid, names the process (signals never reach a recycled pid)
	claimed  bool   // exec: a Start call has it
	started  bool   // exec: started (init: tracked by libruntime)
	exited   bool
	status   int
	exitedAt time.Time
	// done is closed once the exit is recorded and its event queued.
	done chan struct{}
}

func newProcess(id string, c *container, sio stdio) *process {
	return &process{id: id, ctr: c, stdio: sio, done: make(chan struct{})}
}

func (p *process) setPid(pid int) {
	st := startTime(pid)
	p.mu.Lock()
	p.pid, p.start, p.started = pid, st, true
	p.mu.Unlock()
}

// recordExit stores the exit; it reports false if it was stored already.
func (p *process) recordExit(e exit) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exited {
		return false
	}
	p.exited, p.status, p.exitedAt = true, e.status, e.at
	return true
}

func (p *process) state() (pid int, exited bool, status int, at time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pid, p.exited, p.status, p.exitedAt
}

func (p *process) getIO() *processIO {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.io
}

func (p *process) setIO(pio *processIO) {
	p.mu.Lock()
	p.io = pio
	p.mu.Unlock()
}

func (p *process) isStarted() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.started
}

// claimStart reserves the start of an exec'd process for one caller.
func (p *process) claimStart() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.claimed {
		return false
	}
	p.claimed = true
	return true
}

// closeIO releases the process's stdio once it is deleted.
func (p *process) closeIO() {
	if pio := p.getIO(); pio != nil {
		pio.close()
	}
}

func (p *process) hasExited() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exited
}

// wait blocks until the exit is recorded or ctx ends.
func (p *process) wait(ctx context.Context) error {
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
