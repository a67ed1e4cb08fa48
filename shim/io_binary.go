package shim

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/shim/reaper"
)

// binaryLogger is a logging binary (stdout URI binary:///path?k=v), run as
// containerd's shims run it: fd 3 and 4 are the container's stdout and
// stderr pipes, fd 5 is closed (binary) or written to (binary-v2) once it
// is ready; CONTAINER_ID and CONTAINER_NAMESPACE name the container.
type binaryLogger struct {
	// proc holds a pidfd: stop signals the logger through it, never a
	// process given its pid after the reaper collected it.
	proc           *os.Process
	r              *reaper.Reaper
	stdout, stderr *os.File // write ends, for the process
}

func startLogger(ctx context.Context, u *url.URL, id, ns string, r *reaper.Reaper) (*binaryLogger, error) {
	// The logger's ends (read sides and the ready pipe's write side) are
	// closed here once it has them; ours on failure.
	var theirs, ours []*os.File
	defer func() {
		for _, f := range theirs {
			f.Close()
		}
	}()
	fail := func(err error) (*binaryLogger, error) {
		for _, f := range ours {
			f.Close()
		}
		return nil, fmt.Errorf("logging binary %s: %w", u.Path, err)
	}
	for range 3 {
		pr, pw, err := os.Pipe()
		if err != nil {
			return fail(err)
		}
		theirs, ours = append(theirs, pr), append(ours, pw)
	}
	// ours[2] is the ready pipe's write end, which the logger gets.
	readyR, readyW := theirs[2], ours[2]
	theirs[2], ours = readyW, ours[:2]
	defer readyR.Close()
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return fail(err)
	}
	theirs = append(theirs, devnull)
	args := []string{u.Path}
	for k, vs := range u.Query() {
		args = append(args, k)
		if len(vs) > 0 {
			args = append(args, vs[0])
		}
	}
	// Started directly, not with os/exec: its exit is the reaper's, and
	// Cmd.Wait would race with it.
	p, err := os.StartProcess(u.Path, args, &os.ProcAttr{
		Env:   []string{"CONTAINER_ID=" + id, "CONTAINER_NAMESPACE=" + ns},
		Files: []*os.File{devnull, devnull, devnull, theirs[0], theirs[1], readyW},
	})
	if err != nil {
		return fail(err)
	}
	r.Track(p.Pid)
	l := &binaryLogger{proc: p, r: r, stdout: ours[0], stderr: ours[1]}
	readyW.Close()
	// Ready when it closes fd 5 (binary) or writes a byte to it
	// (binary-v2); a logger that dies closes it too.
	ready := make(chan int, 1)
	go func() {
		b := make([]byte, 1)
		n, _ := io.ReadFull(readyR, b)
		ready <- n
	}()
	select {
	case n := <-ready:
		if u.Scheme == "binary-v2" && n == 0 {
			l.stdout.Close()
			l.stderr.Close()
			go l.stop()
			return nil, fmt.Errorf("logging binary %s did not report ready", u.Path)
		}
	case <-ctx.Done():
		l.stdout.Close()
		l.stderr.Close()
		go l.stop()
		return nil, ctx.Err()
	}
	return l, nil
}

// stop lets the logger finish: it has EOF on its pipes once the process is
// gone, so it normally exits by itself; otherwise SIGTERM, then SIGKILL,
// as containerd's shims do.
func (l *binaryLogger) stop() {
	defer l.proc.Release()
	if _, ok := l.r.WaitTimeout(l.proc.Pid, 2*time.Second); ok {
		return
	}
	l.proc.Signal(unix.SIGTERM)
	if _, ok := l.r.WaitTimeout(l.proc.Pid, 10*time.Second); ok {
		return
	}
	l.proc.Kill()
	l.r.WaitTimeout(l.proc.Pid, 2*time.Second)
}
