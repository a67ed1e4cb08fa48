package agent

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/vm/api"
)

// maxRead bounds one ReadStdout/ReadStderr answer.
const maxRead = 256 << 10

// procState is where a process is in its life. Execs start running;
// a container's init is created first and runs after StartContainer.
type procState int

const (
	procCreated procState = iota
	procRunning
	procExited
)

// process is a container's init (eid "") or an exec'd process, with the
// agent's ends of its stdio.
type process struct {
	cid, eid string
	terminal bool

	mu     sync.Mutex
	state  procState
	pid    int
	status int
	stdin  *os.File // write end, or the pty master
	stdout *os.File // read end, or the pty master
	stderr *os.File
	// done is closed when the process has exited and status is set.
	done chan struct{}
}

// procIO makes the process's stdio as the host asked for it: pipes for
// the streams it connects, /dev/null for the others, a pty (through
// libruntime's Console callback) for a terminal. It returns the files
// for the process; the agent's ends are set on p.
func (p *process) procIO(s *api.Stdio) (ProcIO, func(), error) {
	var child []*os.File
	closeChild := func() {
		for _, f := range child {
			f.Close()
		}
	}
	if s.GetTerminal() {
		p.terminal = true
		return ProcIO{Console: func(master *os.File) error {
			if s.GetRows() > 0 && s.GetCols() > 0 {
				setWinsize(master, s.GetRows(), s.GetCols())
			}
			p.mu.Lock()
			p.stdin, p.stdout = master, master
			p.mu.Unlock()
			return nil
		}}, closeChild, nil
	}
	var pio ProcIO
	null := func() (*os.File, error) {
		f, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
		if err == nil {
			child = append(child, f)
		}
		return f, err
	}
	fail := func(err error) (ProcIO, func(), error) {
		closeChild()
		p.closeIO()
		return ProcIO{}, nil, err
	}
	var err error
	if s.GetStdin() {
		r, w, err := os.Pipe()
		if err != nil {
			return fail(err)
		}
		child = append(child, r)
		pio.Stdin, p.stdin = r, w
	} else if pio.Stdin, err = null(); err != nil {
		return fail(err)
	}
	out := func(want bool, dst **os.File) (*os.File, error) {
		if !want {
			return null()
		}
		r, w, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		child = append(child, w)
		*dst = r
		return w, nil
	}
	if pio.Stdout, err = out(s.GetStdout(), &p.stdout); err != nil {
		return fail(err)
	}
	if pio.Stderr, err = out(s.GetStderr(), &p.stderr); err != nil {
		return fail(err)
	}
	return pio, closeChild, nil
}

func (p *process) closeIO() {
	p.mu.Lock()
	defer p.mu.Unlock()
	seen := map[*os.File]bool{}
	for _, f := range []*os.File{p.stdin, p.stdout, p.stderr} {
		if f != nil && !seen[f] {
			seen[f] = true
			f.Close()
		}
	}
	p.stdin, p.stdout, p.stderr = nil, nil, nil
}

func (p *process) setRunning(pid int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pid = pid
	if p.state == procCreated {
		p.state = procRunning
	}
}

func (p *process) setExited(status int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state == procExited {
		return
	}
	p.state, p.status = procExited, status
	close(p.done)
}

func (p *process) snapshot() (procState, int, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state, p.pid, p.status
}

// read reads one chunk of a stream: at most max bytes, blocking until
// there are some. The end of the stream (and a pty whose other side is
// gone: EIO) is eof.
func read(f *os.File, max uint32) ([]byte, bool, error) {
	if f == nil {
		return nil, true, nil
	}
	if max == 0 || max > maxRead {
		max = maxRead
	}
	buf := make([]byte, max)
	n, err := f.Read(buf)
	switch {
	case n > 0:
		return buf[:n], false, nil
	case err == nil:
		return nil, false, nil
	case errors.Is(err, io.EOF), errors.Is(err, unix.EIO), errors.Is(err, os.ErrClosed):
		return nil, true, nil
	default:
		return nil, false, fmt.Errorf("read: %w", err)
	}
}

func (p *process) stream(stderr bool) *os.File {
	p.mu.Lock()
	defer p.mu.Unlock()
	if stderr {
		return p.stderr
	}
	return p.stdout
}

func (p *process) write(data []byte) (int, error) {
	p.mu.Lock()
	f := p.stdin
	p.mu.Unlock()
	if f == nil {
		return 0, errors.New("stdin is not connected or closed")
	}
	return f.Write(data)
}

// closeStdin closes the process's stdin pipe. A terminal has no stdin of
// its own to close: the host sends the terminal's EOF character instead.
func (p *process) closeStdin() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.terminal || p.stdin == nil {
		return
	}
	p.stdin.Close()
	p.stdin = nil
}

func (p *process) resize(rows, cols uint32) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.terminal || p.stdout == nil {
		return errors.New("the process has no terminal")
	}
	return setWinsize(p.stdout, rows, cols)
}

// setWinsize sets a pty's window size without f.Fd(), which would take
// the file out of the poller (a blocked Read could not be ended by Close).
func setWinsize(f *os.File, rows, cols uint32) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ioErr error
	err = rc.Control(func(fd uintptr) {
		ioErr = unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, &unix.Winsize{Row: uint16(rows), Col: uint16(cols)})
	})
	if err != nil {
		return err
	}
	return ioErr
}
