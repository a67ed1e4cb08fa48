package hostbackend

import (
	"context"
	"errors"
	"fmt"
	"sync"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/libruntime"
	"github.com/husk-runtime/husk/shim/backend"
	"github.com/husk-runtime/husk/shim/reaper"
)

// container is a libruntime container.
type container struct {
	b   *Backend
	id  string
	pid int
	// pidns: the container has a pid namespace of its own, so the kernel
	// kills its other processes with the init; otherwise the backend does.
	pidns bool

	// lmu serialises the calls into libruntime: a Container handle is
	// not safe for concurrent use.
	lmu sync.Mutex
	lc  *libruntime.Container

	mu    sync.Mutex
	execs map[string]*execProc
	oom   *oomWatch
}

// execProc is an exec'd process: its pid and start time name it (a
// signal never reaches a later process given the same pid).
type execProc struct {
	pid   int
	start uint64
}

func (c *container) Pid() int { return c.pid }

func (c *container) Start(ctx context.Context) error {
	c.lmu.Lock()
	defer c.lmu.Unlock()
	return wrap(c.lc.Start(ctx))
}

func (c *container) Exec(ctx context.Context, execID string, p *rspec.Process, stdio backend.Stdio) (int, error) {
	o := libruntime.ExecOpts{
		Process:     p,
		ProcessFile: "exec " + execID,
		Stdin:       stdio.Stdin,
		Stdout:      stdio.Stdout,
		Stderr:      stdio.Stderr,
	}
	if stdio.Terminal {
		o.Console = consoleFunc(stdio.Console)
	}
	k := procKey{id: c.id, exec: execID}
	c.b.beginStart()
	c.lmu.Lock()
	pid, err := c.lc.ExecStart(ctx, o)
	c.lmu.Unlock()
	if err != nil {
		c.b.endStart(k, 0)
		return 0, wrap(err)
	}
	c.mu.Lock()
	c.execs[execID] = &execProc{pid: pid, start: reaper.StartTime(pid)}
	c.mu.Unlock()
	c.b.endStart(k, pid)
	return pid, nil
}

func (c *container) Kill(ctx context.Context, sig unix.Signal, all bool) error {
	c.lmu.Lock()
	defer c.lmu.Unlock()
	return wrap(c.lc.Kill(sig, all))
}

func (c *container) Signal(ctx context.Context, execID string, sig unix.Signal) error {
	c.mu.Lock()
	e := c.execs[execID]
	c.mu.Unlock()
	if e == nil {
		return backend.Mark(backend.ErrNotFound, fmt.Errorf("process %s not started", execID))
	}
	if err := reaper.Signal(e.pid, e.start, sig); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return backend.Mark(backend.ErrNotFound, errors.New("process already finished"))
		}
		return fmt.Errorf("signal %d to process %s: %w", sig, execID, err)
	}
	return nil
}

func (c *container) DeleteExec(ctx context.Context, execID string) error {
	c.mu.Lock()
	delete(c.execs, execID)
	c.mu.Unlock()
	return nil
}

func (c *container) Pause(ctx context.Context) error {
	c.lmu.Lock()
	defer c.lmu.Unlock()
	return wrap(c.lc.Pause())
}

func (c *container) Resume(ctx context.Context) error {
	c.lmu.Lock()
	defer c.lmu.Unlock()
	return wrap(c.lc.Resume())
}

func (c *container) Update(ctx context.Context, r *rspec.LinuxResources) error {
	c.lmu.Lock()
	defer c.lmu.Unlock()
	return wrap(c.lc.Update(r))
}

func (c *container) Stats(ctx context.Context) (*backend.Stats, error) {
	c.lmu.Lock()
	st, err := c.lc.Stats()
	var kills uint64
	if err == nil {
		kills, _ = c.lc.OOMKills()
	}
	c.lmu.Unlock()
	if err != nil {
		return nil, wrap(err)
	}
	return &backend.Stats{Cgroup: st, V2: c.b.isUnified(), OOMKills: kills}, nil
}

func (c *container) Pids(ctx context.Context) ([]int, error) {
	c.lmu.Lock()
	defer c.lmu.Unlock()
	pids, err := c.lc.Processes()
	return pids, wrap(err)
}

func (c *container) Delete(ctx context.Context) error {
	c.lmu.Lock()
	err := c.lc.Delete(ctx, true)
	c.lmu.Unlock()
	var herr *libruntime.HookError
	if errors.As(err, &herr) {
		// The container is gone; a failing poststop hook is a warning.
		c.b.log.Warnf("container %s: %v", c.id, err)
		err = nil
	}
	if err != nil && !errors.Is(err, libruntime.ErrNotExist) {
		return wrap(err)
	}
	c.mu.Lock()
	c.oom.close()
	c.oom = nil
	c.mu.Unlock()
	c.b.mu.Lock()
	delete(c.b.containers, c.id)
	c.b.mu.Unlock()
	return nil
}

// killRest kills what is left of a container without a pid namespace
// once its init has exited.
func (c *container) killRest() {
	c.lmu.Lock()
	err := c.lc.Kill(unix.SIGKILL, true)
	c.lmu.Unlock()
	if err != nil && !errors.Is(err, libruntime.ErrNotRunning) {
		c.b.log.Debugf("kill the rest of %s: %v", c.id, err)
	}
}

func (c *container) watchOOM() {
	paths := c.lc.State().Cgroup.Paths
	dir, v2 := paths["memory"], false
	if dir == "" && c.b.isUnified() {
		dir, v2 = paths["unified"], true
	}
	if dir == "" {
		return
	}
	w, err := watchOOM(dir, v2, func() (uint64, error) {
		c.lmu.Lock()
		defer c.lmu.Unlock()
		return c.lc.OOMKills()
	}, func() { c.b.events.OOM(c.id) })
	if err != nil {
		c.b.log.Warnf("container %s: no OOM events: %v", c.id, err)
		return
	}
	c.mu.Lock()
	c.oom = w
	c.mu.Unlock()
}
