package cli

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"

	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/vm/sandbox"
)

// ttyAttach gives a container's terminal husk's own: raw mode on ours
// (the guest's terminal does the line discipline), the window size
// followed.
type ttyAttach struct {
	fd      int
	restore *unix.Termios
}

func newTTY() *ttyAttach {
	return rawTTY(int(os.Stdin.Fd()))
}

// rawTTY puts the terminal fd in raw mode, to be restored by stop.
func rawTTY(fd int) *ttyAttach {
	t := &ttyAttach{fd: fd}
	if tio, err := unix.IoctlGetTermios(t.fd, unix.TCGETS); err == nil {
		saved := *tio
		t.restore = &saved
		raw := *tio
		raw.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
		raw.Oflag &^= unix.OPOST
		raw.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
		raw.Cflag &^= unix.CSIZE | unix.PARENB
		raw.Cflag |= unix.CS8
		raw.Cc[unix.VMIN], raw.Cc[unix.VTIME] = 1, 0
		unix.IoctlSetTermios(t.fd, unix.TCSETS, &raw)
	}
	return t
}

// size is our terminal's size (0, 0 without a terminal).
func (t *ttyAttach) size() (uint16, uint16) {
	ws, err := unix.IoctlGetWinsize(t.fd, unix.TIOCGWINSZ)
	if err != nil {
		return 0, 0
	}
	return ws.Row, ws.Col
}

// follow passes our window size changes to p's terminal until ctx ends.
func (t *ttyAttach) follow(ctx context.Context, p *sandbox.Process) {
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, unix.SIGWINCH)
	// A resize between the size given at creation and Notify was lost
	// (SIGWINCH is ignored by default): pass the size once now.
	winch <- unix.SIGWINCH
	go func() {
		defer signal.Stop(winch)
		for {
			select {
			case <-ctx.Done():
				return
			case <-winch:
				if rows, cols := t.size(); rows > 0 {
					p.Resize(ctx, rows, cols)
				}
			}
		}
	}()
}

func (t *ttyAttach) stop() {
	if t != nil && t.restore != nil {
		unix.IoctlSetTermios(t.fd, unix.TCSETS, t.restore)
	}
}

// ttyIO is a terminal's stdio: one stream out.
func ttyIO() sandbox.IO {
	return sandbox.IO{Stdin: os.Stdin, Stdout: os.Stdout}
}

// consoleTTY makes the terminal of a detached container: a new pty whose
// master goes to the console socket at path (as runc sends it) and whose
// slave becomes this process's controlling terminal, so that a resize on
// the master reaches us as SIGWINCH (follow) and its hang-up as SIGHUP
// (forwarded to the container).
func consoleTTY(path string) (*ttyAttach, *os.File, error) {
	master, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("--console-socket: open /dev/ptmx: %w", err)
	}
	defer unix.Close(master)
	if err := unix.IoctlSetPointerInt(master, unix.TIOCSPTLCK, 0); err != nil {
		return nil, nil, fmt.Errorf("--console-socket: unlock pty: %w", err)
	}
	// The peer by the master, not by a /dev/pts path.
	slaveFd, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(master), unix.TIOCGPTPEER, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC)
	if errno != 0 {
		return nil, nil, fmt.Errorf("--console-socket: open the pty's peer: %w", errno)
	}
	slave := os.NewFile(slaveFd, "pty")
	if err := sendConsole(path, master); err != nil {
		slave.Close()
		return nil, nil, err
	}
	if err := unix.IoctlSetInt(int(slave.Fd()), unix.TIOCSCTTY, 0); err != nil {
		slave.Close()
		return nil, nil, fmt.Errorf("--console-socket: controlling terminal: %w", err)
	}
	return rawTTY(int(slave.Fd())), slave, nil
}

// sendConsole sends the pty master over the unix socket at path.
func sendConsole(path string, master int) error {
	conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return fmt.Errorf("--console-socket: %w", err)
	}
	defer conn.Close()
	if _, _, err := conn.WriteMsgUnix([]byte("/dev/ptmx"), unix.UnixRights(master), nil); err != nil {
		return fmt.Errorf("--console-socket: send the pty: %w", err)
	}
	return nil
}
