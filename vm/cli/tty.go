package cli

import (
	"context"
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
	t := &ttyAttach{fd: int(os.Stdin.Fd())}
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
