package libruntime

import (
	"errors"
	"io"
	"os"
	"sync"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// stdioPipes connects a process run in the foreground (`husk run`, `husk
// exec` without -d or a terminal) to the caller's stdio through pipes of
// its own, as runc does: the container gets a pipe, never the caller's
// own descriptors (its terminal, where TIOCSTI would type into the
// caller's shell; its files, which /proc/self/fd would reopen), and husk
// copies between the two until the process's side is closed.
type stdioPipes struct {
	child  [3]*os.File // the process's ends: stdin's read end, stdout's and stderr's write ends
	parent [3]*os.File // ours
	copies sync.WaitGroup
	// unused: the process has a terminal instead (create found
	// process.terminal); the pipes are only closed.
	unused bool
}

// newStdioPipes makes the pipes; start copies once the process has them.
func newStdioPipes() (*stdioPipes, error) {
	p := &stdioPipes{}
	for i := range 3 {
		r, w, err := os.Pipe()
		if err != nil {
			p.close()
			return nil, err
		}
		if i == 0 {
			p.child[i], p.parent[i] = r, w
		} else {
			p.child[i], p.parent[i] = w, r
		}
	}
	return p, nil
}

// chown gives the process's ends to the container's root (host ids), so
// that a process in a user namespace may reopen them (/dev/stdout).
func (p *stdioPipes) chown(uid, gid int) error {
	if uid == os.Geteuid() && gid == os.Getegid() {
		return nil
	}
	for _, f := range p.child {
		if err := unix.Fchown(int(f.Fd()), uid, gid); err != nil {
			return &os.PathError{Op: "fchown", Path: "stdio pipe", Err: err}
		}
	}
	return nil
}

// start copies in to the process's stdin and its stdout and stderr to out
// and errOut, then closes our copies of the process's ends: the copies of
// its output end once every process holding them has closed them.
func (p *stdioPipes) start(in, out, errOut *os.File) {
	go func() {
		if in != nil {
			io.Copy(p.parent[0], in)
		}
		p.parent[0].Close()
	}()
	p.copies.Add(2)
	for i, w := range []*os.File{out, errOut} {
		r := p.parent[i+1]
		go func() {
			defer p.copies.Done()
			if w != nil {
				io.Copy(w, r)
			} else {
				io.Copy(io.Discard, r)
			}
			r.Close()
		}()
	}
	for i, f := range p.child {
		f.Close()
		p.child[i] = nil
	}
}

// wait returns once the process's output has been copied.
func (p *stdioPipes) wait() { p.copies.Wait() }

// close releases pipes that were never started.
func (p *stdioPipes) close() {
	for _, f := range append(p.child[:], p.parent[:]...) {
		if f != nil {
			f.Close()
		}
	}
}

// hostRoot is the host uid and gid of the container's root: its user
// namespace's mapping of 0, or 0 without a user namespace (mappings
// without one are ignored, as by runc).
func hostRoot(s *rspec.Spec) (uid, gid int, err error) {
	if userns, _ := hasNamespace(s, rspec.UserNamespace); !userns {
		return 0, 0, nil
	}
	find := func(m []rspec.LinuxIDMapping) (int, error) {
		if len(m) == 0 {
			return 0, nil
		}
		for _, e := range m {
			if e.ContainerID == 0 && e.Size > 0 {
				return int(e.HostID), nil
			}
		}
		return -1, errors.New("the container's root is not mapped in its user namespace")
	}
	if uid, err = find(s.Linux.UIDMappings); err != nil {
		return 0, 0, err
	}
	gid, err = find(s.Linux.GIDMappings)
	return uid, gid, err
}
