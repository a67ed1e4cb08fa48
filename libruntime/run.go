package libruntime

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	"golang.org/x/sys/unix"
)

// RunOpts are the options of `husk run`.
type RunOpts struct {
	CreateOpts
	Detach bool // return once started
	Keep   bool // do not delete the container after it exits
}

// Run creates and starts a container and, unless detached, waits for it,
// forwarding the signals this process receives to the container's init.
// It returns the container's exit code (128+n for death by signal n).
func (r *Runtime) Run(ctx context.Context, id string, o RunOpts) (int, error) {
	if !o.Detach {
		// The init may be our grandchild (pid namespace): as a subreaper
		// we inherit it and can wait for it.
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			return -1, fmt.Errorf("become subreaper: %w", err)
		}
	}
	tr := r.tracer.begin("run")
	defer tr.end()
	c, _, err := r.create(ctx, id, o.CreateOpts)
	if err != nil {
		return -1, err
	}
	tr.phase("create")
	var sigs chan os.Signal
	if !o.Detach {
		sigs = make(chan os.Signal, 32)
		signal.Notify(sigs)
		defer signal.Stop(sigs)
	}
	if err := c.Start(ctx); err != nil {
		c.Delete(context.WithoutCancel(ctx), true)
		return -1, err
	}
	tr.phase("start")
	if o.Detach {
		return 0, nil
	}
	code, err := c.wait(sigs)
	tr.phase("wait")
	if !o.Keep {
		if derr := c.Delete(context.WithoutCancel(ctx), true); derr != nil && err == nil {
			err = derr
		}
		tr.phase("delete")
	}
	return code, err
}

// wait reaps the init, forwarding signals to it meanwhile.
func (c *Container) wait(sigs chan os.Signal) (int, error) {
	type result struct {
		ws  unix.WaitStatus
		err error
	}
	done := make(chan result, 1)
	go func() {
		var ws unix.WaitStatus
		for {
			_, err := unix.Wait4(c.state.InitPid, &ws, 0, nil)
			if err == unix.EINTR {
				continue
			}
			done <- result{ws, err}
			return
		}
	}()
	for {
		select {
		case r := <-done:
			if r.err != nil {
				return -1, fmt.Errorf("wait for container %s: %w", c.id, r.err)
			}
			if r.ws.Signaled() {
				return 128 + int(r.ws.Signal()), nil
			}
			return r.ws.ExitStatus(), nil
		case s := <-sigs:
			sig, ok := s.(unix.Signal)
			// SIGCHLD is ours; SIGURG is the Go runtime's preemption signal.
			if !ok || sig == unix.SIGCHLD || sig == unix.SIGURG || sig == unix.SIGWINCH {
				continue
			}
			if err := c.killInit(sig, false); err != nil {
				c.rt.log.Debugf("forward signal %d: %v", sig, err)
			}
		}
	}
}
