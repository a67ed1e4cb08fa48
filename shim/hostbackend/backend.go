// Package hostbackend is the shim's backend of the container class:
// containers run in the shim daemon's own process with libruntime, their
// processes children of the daemon (a child subreaper), reaped by it.
package hostbackend

import (
	"context"
	"errors"
	"sync"

	"github.com/husk-runtime/husk/cgroups"
	"github.com/husk-runtime/husk/libruntime"
	"github.com/husk-runtime/husk/shim/backend"
	"github.com/husk-runtime/husk/shim/reaper"
)

// Logger is what the backend logs to.
type Logger interface {
	Warnf(format string, args ...any)
	Debugf(format string, args ...any)
}

// procKey names a process: a container's init (exec "") or an exec'd one.
type procKey struct{ id, exec string }

// Backend runs containers with libruntime.
type Backend struct {
	rt     *libruntime.Runtime
	reaper *reaper.Reaper
	events backend.Events
	log    Logger

	// unified: a cgroup v2 only host (v2 metrics, v2 OOM events); found
	// when first needed, not on the way to serving.
	unifiedOnce sync.Once
	unified     bool

	mu         sync.Mutex
	containers map[string]*container
	// running maps the pid of each started, not yet reaped process.
	running map[int]procKey
	// starting counts processes being created or started: their pid is
	// not known yet when they may already exit, so exits seen meanwhile
	// are kept in early for them (containerd's runc shim does the same).
	starting int
	early    []reaper.Exit
}

// New returns the backend keeping husk's state under root; r must reap
// every child (reaper.New(true)): New takes its OnExit.
func New(root string, r *reaper.Reaper, ev backend.Events, log Logger) (*Backend, error) {
	sd := &systemdConn{}
	rt, err := libruntime.New(root, libruntime.WithLogger(log), libruntime.WithReaper(r), libruntime.WithSystemdBus(sd.connect))
	if err != nil {
		return nil, err
	}
	b := &Backend{rt: rt, reaper: r, events: ev, log: log, containers: map[string]*container{}, running: map[int]procKey{}}
	r.OnExit = b.processExit
	return b, nil
}

// NewCleaner returns a Backend that only cleans up (the delete action).
func NewCleaner(root string) (*Backend, error) {
	sd := &systemdConn{}
	rt, err := libruntime.New(root, libruntime.WithSystemdBus(sd.connect))
	if err != nil {
		return nil, err
	}
	return &Backend{rt: rt}, nil
}

func (b *Backend) isUnified() bool {
	b.unifiedOnce.Do(func() {
		if h, err := cgroups.Detect(); err == nil {
			b.unified = h.Mode() == cgroups.Unified
		}
	})
	return b.unified
}

// beginStart announces a process whose pid is about to be learnt.
func (b *Backend) beginStart() {
	b.mu.Lock()
	b.starting++
	b.mu.Unlock()
}

// endStart is called once a process is created or started (pid 0 if it
// failed): from now on its exit is reported when reaped, or now if it
// was reaped meanwhile.
func (b *Backend) endStart(k procKey, pid int) {
	b.mu.Lock()
	b.starting--
	var early *reaper.Exit
	for i := range b.early {
		if b.early[i].Pid == pid {
			e := b.early[i]
			early = &e
		}
	}
	if b.starting == 0 {
		b.early = nil
	}
	if early == nil && pid > 0 {
		b.running[pid] = k
	}
	b.mu.Unlock()
	if early != nil && pid > 0 {
		b.exited(k, *early)
	}
}

// processExit receives every exit from the reaper.
func (b *Backend) processExit(e reaper.Exit) {
	b.mu.Lock()
	if b.starting > 0 {
		b.early = append(b.early, e)
	}
	k, ok := b.running[e.Pid]
	delete(b.running, e.Pid)
	b.mu.Unlock()
	if ok {
		b.exited(k, e)
	}
}

func (b *Backend) exited(k procKey, e reaper.Exit) {
	if k.exec == "" {
		b.mu.Lock()
		c := b.containers[k.id]
		b.mu.Unlock()
		if c != nil && !c.pidns {
			// Nothing of the container may outlive its init, as with
			// runc (without a pid namespace the kernel does not see to
			// it). Not from the reaper's goroutine: the kill may wait.
			go c.killRest()
		}
	}
	b.events.Exited(k.id, k.exec, e.Status, e.At)
}

// Create creates the container with libruntime.
func (b *Backend) Create(ctx context.Context, r *backend.CreateRequest) (backend.Container, error) {
	copts := libruntime.CreateOpts{
		Bundle:        r.Bundle,
		NoPivot:       r.Options.NoPivotRoot,
		NoNewKeyring:  r.Options.NoNewKeyring,
		SystemdCgroup: r.Options.SystemdCgroup,
		Stdin:         r.Stdio.Stdin,
		Stdout:        r.Stdio.Stdout,
		Stderr:        r.Stdio.Stderr,
	}
	if r.Stdio.Terminal {
		copts.Console = consoleFunc(r.Stdio.Console)
	}
	k := procKey{id: r.ID}
	b.beginStart()
	lc, err := b.rt.Create(ctx, r.ID, copts)
	if err != nil {
		b.endStart(k, 0)
		return nil, wrap(err)
	}
	c := &container{b: b, id: r.ID, lc: lc, pid: lc.State().InitPid, pidns: lc.State().PidNS, execs: map[string]*execProc{}}
	b.mu.Lock()
	b.containers[r.ID] = c
	b.mu.Unlock()
	// From creation on: the init sits in the cgroup already.
	c.watchOOM()
	b.endStart(k, c.pid)
	return c, nil
}

// Cleanup deletes what libruntime has of the container (killing its
// processes, removing its cgroups and state).
func (b *Backend) Cleanup(ctx context.Context, id, bundle string) (int, error) {
	c, err := b.rt.Load(id)
	if errors.Is(err, libruntime.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	pid := c.State().InitPid
	if err := c.Delete(ctx, true); err != nil {
		return pid, err
	}
	return pid, nil
}

// wrap maps libruntime's errors to the backend's, keeping husk's message.
func wrap(err error) error {
	if err == nil {
		return nil
	}
	switch {
	case errors.Is(err, libruntime.ErrNotExist), errors.Is(err, libruntime.ErrNotRunning):
		return backend.Mark(backend.ErrNotFound, err)
	case errors.Is(err, libruntime.ErrExist):
		return backend.Mark(backend.ErrExists, err)
	case errors.Is(err, libruntime.ErrRunning), errors.Is(err, libruntime.ErrNotCreated):
		return backend.Mark(backend.ErrPrecondition, err)
	}
	return err
}
