package main

import (
	"io"
	"os"
	"os/signal"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// ttyAttach connects the container's pty to husk's own terminal for
// `husk run` without --console-socket: raw mode on our terminal, bytes
// copied both ways, window size followed.
type ttyAttach struct {
	master   *os.File
	restore  *unix.Termios
	outDone  chan struct{}
	stopOnce sync.Once
	winch    chan os.Signal
}

func newTTYAttach() *ttyAttach {
	return &ttyAttach{outDone: make(chan struct{})}
}

// console is the CreateOpts.Console callback.
func (a *ttyAttach) console(master *os.File) error {
	a.master = master
	in := int(os.Stdin.Fd())
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
	if ws, err := unix.IoctlGetWinsize(int(os.Stdin.Fd()), unix.TIOCGWINSZ); err == nil {
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
			unix.IoctlSetTermios(int(os.Stdin.Fd()), unix.TCSETS, a.restore)
		}
	})
}
