package libruntime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// Start lets a created container's init exec the user's process, then
// runs the poststart hooks.
func (c *Container) Start(ctx context.Context) error {
	tr := c.rt.tracer.begin("start")
	defer tr.end()
	d, err := c.lock()
	if err != nil {
		return err
	}
	defer d.unlock()
	if status := c.Status(); status != Created {
		return fmt.Errorf("cannot start container %s: it is %s: %w", c.id, status, ErrNotCreated)
	}
	if err := c.releaseInit(ctx); err != nil {
		return err
	}
	tr.phase("release")
	if h := c.state.Hooks; h != nil && len(h.Poststart) > 0 {
		// Poststart hooks expect a started process: let it run until it
		// first waits for something (or exits), for at most 50 ms.
		waitSettled(c.state.InitPid, 50*time.Millisecond)
		c.rt.runHooksWarn(ctx, "poststart", h.Poststart, c.hookState(Running))
	}
	tr.phase("poststart")
	return nil
}

// releaseInit opens the exec fifo the init is blocked on and reads the byte
// it writes. If the init dies instead, its pidfd says so.
func (c *Container) releaseInit(ctx context.Context) error {
	// The pidfd first: opening the fifo lets the init run, and a short-lived
	// process may be gone before we could look it up.
	pidfd, err := pidfdOf(c.state.InitPid, c.state.InitStart)
	if err != nil {
		return fmt.Errorf("cannot start container %s: %w", c.id, err)
	}
	defer unix.Close(pidfd)
	path := filepath.Join(c.dir, fifoFile)
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open exec fifo: %w", err)
	}
	defer unix.Close(fd)

	cancel := make(chan struct{})
	stop := context.AfterFunc(ctx, func() { close(cancel) })
	defer stop()
	// A reader that has never seen a writer gets no POLLHUP, so this waits
	// for the init to open its end and write, or to die. The init keeps its
	// end open close-on-exec: the hang-up after the byte means the user's
	// process has been executed, and only then does start return.
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}, {Fd: int32(pidfd), Events: unix.POLLIN}}
	released := false
	for {
		n, err := unix.Poll(fds, 100)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("wait for container init: %w", err)
		}
		select {
		case <-cancel:
			return ctx.Err()
		default:
		}
		if n == 0 {
			continue
		}
		if fds[0].Revents != 0 {
			var b [1]byte
			n, _ := unix.Read(fd, b[:])
			if n == 1 {
				released = true
				continue
			}
			if fds[0].Revents&unix.POLLHUP != 0 {
				if released {
					break
				}
				return fmt.Errorf("cannot start container %s: its init closed the exec fifo", c.id)
			}
		}
		if fds[1].Revents != 0 {
			if released {
				break // the process ran and is already gone
			}
			return fmt.Errorf("cannot start container %s: its init exited: %w", c.id, ErrNotRunning)
		}
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove exec fifo: %w", err)
	}
	return nil
}
