package libruntime

import (
	"errors"

	"golang.org/x/sys/unix"
)

// Reaper collects the exit status of child processes husk starts. A
// process that reaps every child itself (containerd's shim runs a SIGCHLD
// loop as a subreaper) gives its own, so husk never waits for a pid
// behind its back; the default waits for the pid directly.
type Reaper interface {
	// Wait blocks until pid has exited and returns its exit code, 128+n
	// for death by signal n.
	Wait(pid int) (int, error)
}

// WithReaper makes the runtime collect exits through rp.
func WithReaper(rp Reaper) Option {
	return func(r *Runtime) {
		if rp != nil {
			r.reaper = rp
		}
	}
}

type waitReaper struct{}

func (waitReaper) Wait(pid int) (int, error) {
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(pid, &ws, 0, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return -1, err
		}
		return ExitCode(ws), nil
	}
}

// ExitCode converts a wait status to a shell-style exit code.
func ExitCode(ws unix.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// ReapExited collects every child that has exited, without blocking, and
// calls exited with each one's pid and exit code: the body of a SIGCHLD
// loop (the shim's and the agent's reapers, the agent's pod holder).
func ReapExited(exited func(pid, code int)) {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || pid <= 0 {
			return
		}
		exited(pid, ExitCode(ws))
	}
}
