package libruntime

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// Kill sends sig to the container's init, or with all to every process in
// the container's cgroup. As with runc, SIGKILL to a container sharing
// the host's pid namespace kills every process of its cgroup (its init
// gone or not: the others outlive it), and SIGKILL thaws a paused
// container so that it acts on it. Signal 0 checks that the init exists.
func (c *Container) Kill(sig unix.Signal, all bool) error {
	if sig == unix.SIGKILL && !c.state.PidNS && len(c.state.Cgroup.Paths) > 0 {
		all = true
	}
	var err error
	if all {
		err = c.killAll(sig)
	} else if err = c.killInit(sig, false); err != nil {
		err = fmt.Errorf("container %s: %w", c.id, err)
	}
	if err == nil && sig == unix.SIGKILL && c.frozen() {
		if cg, cerr := c.cgroup(); cerr == nil {
			if terr := cg.Thaw(); terr != nil {
				c.rt.log.Warnf("container %s: thaw after SIGKILL: %v", c.id, terr)
			}
		}
	}
	return err
}

// killInit signals the init and with wait set waits (up to 10 s) until it
// has exited.
func (c *Container) killInit(sig unix.Signal, wait bool) error {
	pidfd, err := pidfdOf(c.state.InitPid, c.state.InitStart)
	if err != nil {
		return err
	}
	defer unix.Close(pidfd)
	if err := pidfdSignal(pidfd, sig); err != nil {
		return err
	}
	if wait && !waitExit(pidfd, 10000) {
		return fmt.Errorf("init (pid %d) did not exit after signal %d", c.state.InitPid, sig)
	}
	return nil
}

// signalProcess signals pid through a pidfd, so a recycled pid is never
// hit: the pid must still be the process that started at start.
func signalProcess(pid int, start uint64, sig unix.Signal) error {
	pidfd, err := pidfdOf(pid, start)
	if err != nil {
		return err
	}
	defer unix.Close(pidfd)
	return pidfdSignal(pidfd, sig)
}

func pidfdSignal(pidfd int, sig unix.Signal) error {
	if err := unix.PidfdSendSignal(pidfd, sig, nil, 0); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return errInitGone
		}
		return fmt.Errorf("signal %d: %w", sig, err)
	}
	return nil
}

func (c *Container) cgroup() (cgroupManager, error) {
	h, err := c.rt.hierarchy()
	if err != nil {
		return nil, err
	}
	return c.rt.loadCgroup(h, c.state.Cgroup), nil
}

// killAll signals every process of the container through its cgroup:
// SIGKILL with cgroup.kill where there is one; otherwise each process,
// through a pidfd, with the cgroup frozen meanwhile (see cgroups.Signal).
func (c *Container) killAll(sig unix.Signal) error {
	cg, err := c.cgroup()
	if err != nil {
		return fmt.Errorf("container %s: %w", c.id, err)
	}
	if sig == unix.SIGKILL {
		if err := cg.KillAll(); err != nil {
			return fmt.Errorf("container %s: %w", c.id, err)
		}
		return nil
	}
	n, err := cg.Signal(sig)
	if err != nil {
		return fmt.Errorf("container %s: %w", c.id, err)
	}
	if n == 0 {
		return fmt.Errorf("container %s: %w", c.id, ErrNotRunning)
	}
	return nil
}
