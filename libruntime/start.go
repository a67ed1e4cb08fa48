package libruntime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Start lets a created container's init exec the user's process. (Its
// poststart hooks ran at the end of create, where runc runs them.)
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
	if err := c.releaseInit(ctx, d.f); err != nil {
		return err
	}
	tr.phase("release")
	return nil
}

// releaseInit connects to the start socket the init waits on and reads
// the byte it writes once it has accepted. If the init dies instead, its
// pidfd says so.
func (c *Container) releaseInit(ctx context.Context, dir *os.File) error {
	// The pidfd first: connecting lets the init run, and a short-lived
	// process may be gone before we could look it up.
	pidfd, err := pidfdOf(c.state.InitPid, c.state.InitStart)
	if err != nil {
		return fmt.Errorf("cannot start container %s: %w", c.id, err)
	}
	defer unix.Close(pidfd)
	fd, err := dialStart(dir)
	if err != nil {
		return fmt.Errorf("cannot start container %s: %w", c.id, err)
	}
	defer unix.Close(fd)

	cancel := make(chan struct{})
	stop := context.AfterFunc(ctx, func() { close(cancel) })
	defer stop()
	// The init keeps its end of the connection open close-on-exec: the
	// end of the stream after its byte means the user's process has been
	// executed, and only then does start return.
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
			if released {
				break
			}
			return fmt.Errorf("cannot start container %s: its init closed the start socket", c.id)
		}
		if fds[1].Revents != 0 {
			if released {
				break // the process ran and is already gone
			}
			return fmt.Errorf("cannot start container %s: its init exited: %w", c.id, ErrNotRunning)
		}
	}
	if err := os.Remove(filepath.Join(c.dir, startSock)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove start socket: %w", err)
	}
	return nil
}
