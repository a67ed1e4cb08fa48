package libruntime

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// Kill sends sig to the container's init, or with all to every process in
// the container's cgroup.
func (c *Container) Kill(sig unix.Signal, all bool) error {
	if all {
		return c.killAll(sig)
	}
	if err := c.killInit(sig, false); err != nil {
		return fmt.Errorf("container %s: %w", c.id, err)
	}
	return nil
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
