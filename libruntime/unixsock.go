package libruntime

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// A unix socket speaking to a path (console socket, seccomp listener),
// with raw syscalls: the net package would add its initialisation to
// every husk command for two sendmsg calls.

type unixSock struct {
	fd   int
	path string
}

func dialUnix(path string) (*unixSock, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socket: %w", err)
	}
	for {
		err = unix.Connect(fd, &unix.SockaddrUnix{Name: path})
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("connect %s: %w", path, err)
	}
	return &unixSock{fd: fd, path: path}, nil
}

// sendFile sends data with f attached (SCM_RIGHTS).
func (s *unixSock) sendFile(data []byte, f *os.File) error {
	if err := unix.Sendmsg(s.fd, data, unix.UnixRights(int(f.Fd())), nil, 0); err != nil {
		return fmt.Errorf("send to %s: %w", s.path, err)
	}
	return nil
}

func (s *unixSock) Close() error { return unix.Close(s.fd) }

// sendPidfd sends a pidfd of pid (which started at start) over sock, with
// name as the message, as runc does for --pidfd-socket: "standard" for a
// container's init, "setns" for an exec'd process. husk sends it itself;
// the socket is never handed to the container.
func sendPidfd(sock *unixSock, name string, pid int, start uint64) error {
	fd, err := pidfdOf(pid, start)
	if err != nil {
		return fmt.Errorf("--pidfd-socket: pidfd of %d: %w", pid, err)
	}
	f := os.NewFile(uintptr(fd), "pidfd")
	defer f.Close()
	if err := sock.sendFile([]byte(name), f); err != nil {
		return fmt.Errorf("--pidfd-socket: %w", err)
	}
	return nil
}
