package hostbackend

import (
	"os"

	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/shim/backend"
)

// pty is a terminal's master as the service's copier uses it.
type pty struct{ *os.File }

// consoleFunc adapts the service's Console callback to libruntime's,
// which hands over the pty master.
func consoleFunc(attach func(backend.Console) error) func(*os.File) error {
	return func(master *os.File) error {
		return attach(pty{pollable(master)})
	}
}

// pollable returns f as a file Go's poller waits on (f's descriptor must
// be non-blocking when os.NewFile sees it), so that a blocked copy holds
// no thread.
func pollable(f *os.File) *os.File {
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return f
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return f
	}
	nf := os.NewFile(uintptr(fd), f.Name())
	f.Close()
	return nf
}

// Resize sets the terminal's window size.
func (p pty) Resize(width, height uint32) error {
	rc, err := p.SyscallConn()
	if err != nil {
		return err
	}
	var ierr error
	err = rc.Control(func(fd uintptr) {
		ierr = unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, &unix.Winsize{Row: uint16(height), Col: uint16(width)})
	})
	if err != nil {
		return err
	}
	return ierr
}
