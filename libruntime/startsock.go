package libruntime

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// The start socket is how a created container's init waits for `start`.
// husk binds it in the container's state directory and hands husk-init
// the listening end; `husk start` connects, husk-init accepts, writes one
// byte and keeps the connection open, close-on-exec, until it executes the
// user's process. It replaced an exec FIFO: the init holds no inode of
// the host's while the container's processes could reach it, and a socket
// cannot be reopened through /proc/<pid>/fd.

// dirPath names file in the directory open as dir by a path of bounded
// length: state directories can be deeper than a unix socket address
// (108 bytes) allows.
func dirPath(dir *os.File, file string) string {
	return "/proc/self/fd/" + strconv.Itoa(int(dir.Fd())) + "/" + file
}

// listenStart creates the start socket in dir. Only its owner may connect.
func listenStart(dir *os.File) (*os.File, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("start socket: %w", err)
	}
	f := os.NewFile(uintptr(fd), startSock)
	// The mode of the socket's inode is given to the file bind creates:
	// there is no moment in which others could connect.
	if err := unix.Fchmod(fd, 0o600); err != nil {
		f.Close()
		return nil, fmt.Errorf("start socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: dirPath(dir, startSock)}); err != nil {
		f.Close()
		return nil, fmt.Errorf("bind start socket: %w", err)
	}
	if err := unix.Listen(fd, 1); err != nil {
		f.Close()
		return nil, fmt.Errorf("listen on start socket: %w", err)
	}
	return f, nil
}

// dialStart connects to the start socket in dir.
func dialStart(dir *os.File) (int, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return -1, fmt.Errorf("start socket: %w", err)
	}
	for {
		err = unix.Connect(fd, &unix.SockaddrUnix{Name: dirPath(dir, startSock)})
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("connect to the start socket: %w", err)
	}
	return fd, nil
}
