package shim

import (
	"context"
	"sync"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/husk-runtime/husk/shim/lifecycle"
)

// exit is how a process ended.
type exit struct {
	status int // shell style: 128+n for death by signal n
	at     time.Time
}

// process is a container's init (id "") or one of its exec'd processes.
// Its status moves through lifecycle's state machine only.
type process struct {
	id    string
	ctr   *container
	stdio stdio
	spec  *rspec.Process // exec only

	mu     sync.Mutex
	status lifecycle.Status
	io     *processIO
	pid    int
	// starting: a create or start is under way. An exit the backend
	// reports meanwhile waits in pending until the create or start
	// event is queued: containerd must see /tasks/exit after them.
	starting bool
	pending  *exit
	claimed  bool // exec: a Start call has it
	exit     exit
	// done is closed once the exit is recorded and its event queued.
	done chan struct{}
}

func newProcess(id string, c *container, sio stdio) *process {
	return &process{id: id, ctr: c, stdio: sio, status: lifecycle.Created, done: make(chan struct{})}
}

// transition moves the process on by e, or reports why it may not.
func (p *process) transition(e lifecycle.Event) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	next, err := lifecycle.Next(p.status, e)
	if err != nil {
		return err
	}
	p.status = next
	return nil
}

// check reports whether e would be allowed now, moving nothing.
func (p *process) check(e lifecycle.Event) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, err := lifecycle.Next(p.status, e)
	return err
}

func (p *process) getStatus() lifecycle.Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.status
}

func (p *process) setPid(pid int) {
	p.mu.Lock()
	p.pid = pid
	p.mu.Unlock()
}

// beginStarting marks a create or start under way.
func (p *process) beginStarting() {
	p.mu.Lock()
	p.starting = true
	p.mu.Unlock()
}

// endStarting ends it and returns the exit that waited meanwhile.
func (p *process) endStarting() *exit {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.starting = false
	e := p.pending
	p.pending = nil
	return e
}

// holdExit keeps e for endStarting if a create or start is under way.
func (p *process) holdExit(e exit) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.starting {
		return false
	}
	p.pending = &e
	return true
}

// recordExit moves the process to stopped with e; false if it had
// stopped already.
func (p *process) recordExit(e exit) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	next, err := lifecycle.Next(p.status, lifecycle.Exit)
	if err != nil {
		return false
	}
	p.status, p.exit = next, e
	return true
}

func (p *process) state() (pid int, st lifecycle.Status, e exit) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pid, p.status, p.exit
}

func (p *process) hasExited() bool {
	st := p.getStatus()
	return st == lifecycle.Stopped || st == lifecycle.Deleted
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

// wait blocks until the exit is recorded or ctx ends.
func (p *process) wait(ctx context.Context) error {
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
