package shim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/shim/backend"
	"github.com/husk-runtime/husk/shim/reaper"
)

// stdio is a process's IO as containerd gives it: FIFO paths (the
// client's), or for stdout a log URI (binary:///path?args, file:///path).
type stdio struct {
	stdin, stdout, stderr string
	terminal              bool
}

// processIO is the shim's side of one process's stdio.
//
// The process only ever gets pipes (or a terminal): never containerd's
// FIFOs or a log file, inodes of the host that root in the container
// could fchmod, fchown or truncate through its descriptors. The shim
// copies between them (the logging binary's pipes are given as they are).
// Descriptors held here keep what clients expect of the FIFOs:
//   - stdinKeep, a writer on the stdin FIFO, so that the process reads no
//     EOF before the client has opened its end; CloseIO closes it;
//   - keep, readers on the stdout/stderr FIFOs, so that output never gets
//     EPIPE while its client is away (a restarting containerd or
//     dockerd): it waits in the FIFO until a reader comes back.
//
// With a terminal, the pty master is copied to stdout and stdin to it.
type processIO struct {
	// The process's stdio, closed here once it has them (afterStart).
	in, out, err *os.File

	mu        sync.Mutex
	stdinKeep *os.File
	keep      []*os.File
	// Terminal: master, where its output goes and where its input comes
	// from.
	master   backend.Console
	ttyOut   *os.File
	ttyIn    *os.File
	copyDone chan struct{}
	// copies counts the pipe copiers still running (see pipeTo).
	copies sync.WaitGroup
	logger *binaryLogger
}

// Copy buffers for terminals: one page, as the runc shim uses; only
// terminals copy.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 4096); return &b }}

// openIO opens the stdio of a process about to be created. On error
// nothing stays open.
func openIO(ctx context.Context, id, ns string, sio stdio, r *reaper.Reaper) (_ *processIO, err error) {
	pio := &processIO{}
	defer func() {
		if err != nil {
			pio.afterStart()
			pio.close()
		}
	}()
	u, err := url.Parse(sio.stdout)
	if err != nil {
		return nil, fmt.Errorf("stdout uri %q: %w", sio.stdout, err)
	}
	switch u.Scheme {
	case "binary", "binary-v2":
		if pio.logger, err = startLogger(ctx, u, id, ns, r); err != nil {
			return nil, err
		}
		pio.out, pio.err = pio.logger.stdout, pio.logger.stderr
		pio.logger.stdout, pio.logger.stderr = nil, nil
	case "file":
		if err := os.MkdirAll(filepath.Dir(u.Path), 0o755); err != nil {
			return nil, fmt.Errorf("log file %s: %w", u.Path, err)
		}
		f, err := os.OpenFile(u.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return nil, fmt.Errorf("log file: %w", err)
		}
		pio.out = f
		if !sio.terminal {
			if pio.out, err = pio.pipeTo(f); err != nil {
				return nil, err
			}
			pio.err = pio.out
		}
	case "", "fifo":
		if sio.stdout != "" {
			if pio.out, err = pio.openOutput(u.Path, sio.terminal); err != nil {
				return nil, err
			}
		}
		if sio.stderr != "" && !sio.terminal {
			if sio.stderr == sio.stdout {
				pio.err = pio.out
			} else if pio.err, err = pio.openOutput(sio.stderr, false); err != nil {
				return nil, err
			}
		}
	default:
		return nil, fmt.Errorf("stdout uri %q: unknown scheme %q", sio.stdout, u.Scheme)
	}
	if sio.stdin != "" {
		if pio.in, err = pio.openStdin(sio.stdin, sio.terminal); err != nil {
			return nil, err
		}
	}
	if sio.terminal {
		// The output goes to the master's copier, not to the process.
		pio.ttyOut, pio.out = pio.out, nil
		pio.ttyIn, pio.in = pio.in, nil
	}
	return pio, nil
}

// openOutput opens a stdout/stderr path for writing: a FIFO with a reader
// held (see processIO), or a regular file, appended to. Unless the output
// is a terminal's, what it returns is a pipe the shim copies to it.
func (pio *processIO) openOutput(path string, terminal bool) (*os.File, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	var dst *os.File
	if st.Mode&unix.S_IFMT != unix.S_IFIFO {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", path, err)
		}
		dst = f
	} else {
		keep, err := openFd(path, unix.O_RDONLY|unix.O_NONBLOCK)
		if err != nil {
			return nil, err
		}
		pio.keep = append(pio.keep, keep)
		// Cannot block: there is a reader now. Non-blocking: the copier
		// waits in Go's poller, not in a thread of its own.
		if dst, err = openFd(path, unix.O_WRONLY|unix.O_NONBLOCK); err != nil {
			return nil, err
		}
	}
	if terminal {
		return dst, nil
	}
	return pio.pipeTo(dst)
}

// pipeTo returns the write end of a pipe whose output the shim copies to
// dst until every writer has closed it; then it closes dst, so the client
// sees EOF once the process (and whatever inherited its output) is done.
func (pio *processIO) pipeTo(dst *os.File) (*os.File, error) {
	r, w, err := os.Pipe()
	if err != nil {
		dst.Close()
		return nil, fmt.Errorf("stdio pipe: %w", err)
	}
	pio.copies.Add(1)
	go func() {
		defer pio.copies.Done()
		copyBuffered(dst, r)
		r.Close()
		dst.Close()
	}()
	return w, nil
}

// openStdin opens the stdin FIFO for reading, and the writer that keeps
// it from reporting EOF until CloseIO. The shim reads it through the
// poller (non-blocking): for a terminal it copies it to the pty master,
// otherwise to a pipe whose read end it returns for the process.
func (pio *processIO) openStdin(path string, terminal bool) (*os.File, error) {
	r, err := openFd(path, unix.O_RDONLY|unix.O_NONBLOCK)
	if err != nil {
		return nil, err
	}
	w, err := openFd(path, unix.O_WRONLY|unix.O_NONBLOCK)
	if err != nil {
		r.Close()
		return nil, err
	}
	pio.stdinKeep = w
	if terminal {
		return r, nil
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("stdin pipe: %w", err)
	}
	go func() {
		copyBuffered(pw, r)
		r.Close()
		pw.Close()
	}()
	return pr, nil
}

func openFd(path string, flags int) (*os.File, error) {
	fd, err := unix.Open(path, flags|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return os.NewFile(uintptr(fd), path), nil
}

// backendStdio is what the backend gives the process (see
// backend.Stdio).
func (pio *processIO) backendStdio(terminal bool) backend.Stdio {
	bs := backend.Stdio{Stdin: pio.in, Stdout: pio.out, Stderr: pio.err, Terminal: terminal}
	if terminal {
		bs.Console = pio.attachConsole
	}
	return bs
}

// attachConsole receives the process's terminal from the backend and
// copies it to stdout, and stdin to it.
func (pio *processIO) attachConsole(m backend.Console) error {
	pio.mu.Lock()
	pio.master = m
	out, in := pio.ttyOut, pio.ttyIn
	pio.copyDone = make(chan struct{})
	pio.mu.Unlock()
	go func() {
		defer close(pio.copyDone)
		if out == nil {
			out, _ = os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		}
		// Ends once every process has closed the terminal (EIO on a
		// pty).
		copyBuffered(out, m)
		pio.mu.Lock()
		if pio.ttyOut == out {
			pio.ttyOut = nil
		}
		pio.mu.Unlock()
		// The client sees EOF: the output is complete.
		out.Close()
	}()
	if in != nil {
		go func() {
			copyBuffered(m, in)
		}()
	}
	return nil
}

func copyBuffered(dst io.Writer, src io.Reader) {
	b := bufPool.Get().(*[]byte)
	defer bufPool.Put(b)
	// Hide ReadFrom/WriteTo: os.File's would take a 32 KiB buffer of its
	// own between two pipes.
	io.CopyBuffer(struct{ io.Writer }{dst}, struct{ io.Reader }{src}, *b)
}

// resize sets the terminal's window size.
func (pio *processIO) resize(width, height uint32) error {
	pio.mu.Lock()
	m := pio.master
	pio.mu.Unlock()
	if m == nil {
		return errors.New("the process has no terminal")
	}
	return m.Resize(width, height)
}

// afterStart closes the shim's copies of what the process now holds, so
// that EOF reaches readers when the process (not the shim) closes them.
func (pio *processIO) afterStart() {
	var closed []*os.File
	for _, f := range []*os.File{pio.in, pio.out, pio.err} {
		// stdout and stderr may be one file.
		if f != nil && (len(closed) == 0 || closed[len(closed)-1] != f) {
			f.Close()
			closed = append(closed, f)
		}
	}
	pio.in, pio.out, pio.err = nil, nil, nil
}

// closeStdin is CloseIO: the process reads EOF once the client has
// closed its end too.
func (pio *processIO) closeStdin() {
	pio.mu.Lock()
	defer pio.mu.Unlock()
	if pio.stdinKeep != nil {
		pio.stdinKeep.Close()
		pio.stdinKeep = nil
	}
}

// close releases everything once the process is gone and deleted: the
// output gets a moment (2 s, as containerd's runc shim gives it) to drain
// first.
func (pio *processIO) close() {
	pio.mu.Lock()
	done := pio.copyDone
	pio.mu.Unlock()
	copied := make(chan struct{})
	go func() {
		pio.copies.Wait()
		if done != nil {
			<-done
		}
		close(copied)
	}()
	select {
	case <-copied:
	case <-time.After(2 * time.Second):
	}
	pio.mu.Lock()
	defer pio.mu.Unlock()
	if pio.master != nil {
		pio.master.Close()
	}
	for _, f := range []*os.File{pio.stdinKeep, pio.ttyIn, pio.ttyOut} {
		if f != nil {
			f.Close()
		}
	}
	pio.stdinKeep, pio.master, pio.ttyIn, pio.ttyOut = nil, nil, nil, nil
	for _, f := range pio.keep {
		f.Close()
	}
	pio.keep = nil
	if pio.logger != nil {
		go pio.logger.stop()
		pio.logger = nil
	}
}
