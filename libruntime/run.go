package libruntime

import (
	"context"
	"errors"
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
	// Pipes (without Detach): the container's stdio are pipes of its own,
	// which husk copies to and from Stdin, Stdout and Stderr until its
	// output closes, as runc does in the foreground; without, the
	// container gets Stdin, Stdout and Stderr themselves.
	Pipes bool
	// NoSubreaper: do not become a subreaper. The container's init is
	// our child all the same; orphans go to the system's reaper.
	NoSubreaper bool
}

// Run creates and starts a container and, unless detached, waits for it,
// forwarding the signals this process receives to the container's init.
// It returns the container's exit code (128+n for death by signal n).
func (r *Runtime) Run(ctx context.Context, id string, o RunOpts) (int, error) {
	if !o.Detach && !o.NoSubreaper {
		// The container's processes that lose their parent come to us,
		// as to runc, and are reaped.
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			return -1, fmt.Errorf("become subreaper: %w", err)
		}
	}
	tr := r.tracer.begin("run")
	defer tr.end()
	var sigs chan os.Signal
	if !o.Detach {
		// Registering costs a fresh process about a millisecond (the
		// runtime starts a thread for signal delivery): it overlaps with
		// create, on another CPU.
		sigs = make(chan os.Signal, 32)
		registered := make(chan struct{})
		go func() {
			signal.Notify(sigs, forwardedSignals...)
			close(registered)
		}()
		defer func() {
			<-registered
			signal.Stop(sigs)
		}()
	}
	co := o.CreateOpts
	var pipes *stdioPipes
	if o.Pipes && !o.Detach {
		p, err := newStdioPipes()
		if err != nil {
			return -1, err
		}
		pipes = p
		co.Stdin, co.Stdout, co.Stderr = p.child[0], p.child[1], p.child[2]
		co.pipes = p
	}
	c, _, err := r.create(ctx, id, co)
	if pipes != nil {
		if err != nil || pipes.unused {
			pipes.close()
		} else {
			pipes.start(o.Stdin, o.Stdout, o.Stderr)
			// After the delete below, which kills what is left in a
			// container without its own pid namespace.
			defer pipes.wait()
		}
	}
	if err != nil {
		return -1, err
	}
	tr.phase("create")
	if err := c.Start(ctx); err != nil {
		c.Delete(context.WithoutCancel(ctx), true)
		return -1, err
	}
	tr.phase("start")
	if o.Detach {
		return 0, nil
	}
	code, err := r.waitForwarding(c.state.InitPid, c.state.InitStart, sigs)
	tr.phase("wait")
	if !o.Keep {
		derr := c.Delete(context.WithoutCancel(ctx), true)
		var herr *HookError
		if errors.As(derr, &herr) {
			// The container is gone; runc only warns here.
			r.log.Warnf("%v", derr)
		} else if derr != nil && err == nil {
			err = derr
		}
		tr.phase("delete")
	}
	return code, err
}

// forwardedSignals are the signals `run` and `exec` pass on to the
// container's process: those people and supervisors send. Registering all
// 64 would cost a handler installation each on every run.
var forwardedSignals = []os.Signal{
	unix.SIGHUP, unix.SIGINT, unix.SIGQUIT, unix.SIGTERM, unix.SIGUSR1, unix.SIGUSR2,
	unix.SIGALRM, unix.SIGCONT, unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU, unix.SIGPWR,
}

// waitForwarding waits for pid (started at start) through the reaper,
// forwarding the signals that arrive on sigs to it meanwhile.
func (r *Runtime) waitForwarding(pid int, start uint64, sigs chan os.Signal) (int, error) {
	type result struct {
		code int
		err  error
	}
	done := make(chan result, 1)
	go func() {
		code, err := r.reaper.Wait(pid)
		done <- result{code, err}
	}()
	for {
		select {
		case res := <-done:
			if res.err != nil {
				return -1, fmt.Errorf("wait for pid %d: %w", pid, res.err)
			}
			return res.code, nil
		case s := <-sigs:
			sig, ok := s.(unix.Signal)
			if !ok {
				continue
			}
			if err := signalProcess(pid, start, sig); err != nil {
				r.log.Debugf("forward signal %d to %d: %v", sig, pid, err)
			}
		}
	}
}
