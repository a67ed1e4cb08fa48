package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ttyAttach connects the container's pty to husk's own terminal for
// `husk run` and `husk exec` with a terminal and without --console-socket:
// raw mode on our terminal, bytes copied both ways, window size followed.
type ttyAttach struct {
	host     *os.File // our terminal
	master   *os.File
	restore  *unix.Termios
	outDone  chan struct{}
	stopOnce sync.Once
	winch    chan os.Signal
}

// newTTYAttach finds our terminal as runc does: stderr, stdout or stdin,
// else the controlling terminal (/dev/tty). Without one there is nothing
// to attach the container's terminal to: an error, as with runc.
func newTTYAttach() (*ttyAttach, error) {
	a := &ttyAttach{outDone: make(chan struct{})}
	for _, f := range []*os.File{os.Stderr, os.Stdout, os.Stdin} {
		if _, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS); err == nil {
			a.host = f
			return a, nil
		}
	}
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("process.terminal without --console-socket needs a terminal: %w", err)
	}
	if _, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS); err != nil {
		tty.Close()
		return nil, fmt.Errorf("process.terminal without --console-socket needs a terminal: /dev/tty: %w", err)
	}
	a.host = tty
	return a, nil
}

// console is the CreateOpts.Console callback.
func (a *ttyAttach) console(master *os.File) error {
	if a.host == nil {
		return errors.New("process.terminal without --console-socket needs a terminal")
	}
	a.master = master
	in := int(a.host.Fd())
	if t, err := unix.IoctlGetTermios(in, unix.TCGETS); err == nil {
		saved := *t
		a.restore = &saved
		raw := *t
		// cfmakeraw: the container's terminal does the line discipline.
		raw.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
		raw.Oflag &^= unix.OPOST
		raw.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
		raw.Cflag &^= unix.CSIZE | unix.PARENB
		raw.Cflag |= unix.CS8
		raw.Cc[unix.VMIN], raw.Cc[unix.VTIME] = 1, 0
		unix.IoctlSetTermios(in, unix.TCSETS, &raw)
		a.resize()
		a.winch = make(chan os.Signal, 1)
		signal.Notify(a.winch, unix.SIGWINCH)
		go func() {
			for range a.winch {
				a.resize()
			}
		}()
	}
	go io.Copy(master, os.Stdin)
	go func() {
		// Ends with EIO once the container's side of the pty is closed.
		io.Copy(os.Stdout, master)
		close(a.outDone)
	}()
	return nil
}

func (a *ttyAttach) resize() {
	if ws, err := unix.IoctlGetWinsize(int(a.host.Fd()), unix.TIOCGWINSZ); err == nil {
		unix.IoctlSetWinsize(int(a.master.Fd()), unix.TIOCSWINSZ, ws)
	}
}

// stop waits briefly for the last output, then restores our terminal.
func (a *ttyAttach) stop() {
	a.stopOnce.Do(func() {
		if a.master == nil {
			return
		}
		select {
		case <-a.outDone:
		case <-time.After(time.Second):
		}
		if a.winch != nil {
			signal.Stop(a.winch)
			close(a.winch)
		}
		if a.restore != nil {
			unix.IoctlSetTermios(int(a.host.Fd()), unix.TCSETS, a.restore)
		}
	})
}
