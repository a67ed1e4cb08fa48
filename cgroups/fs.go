package cgroups

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// cgfs is every kernel interaction of the package. The real implementation
// is osFS; tests substitute a fake cgroupfs in a temporary directory that
// records writes, mimics kernel checks and captures device programs.
type cgfs interface {
	exists(path string) bool
	mkdir(path string) error
	rmdir(path string) error
	readFile(dir, name string) (string, error)
	writeFile(dir, name, value string) error
	// writeLines issues one write(2) per line on a single open file:
	// multi-entry files (devices.allow, io.max, net_prio.ifpriomap) accept
	// one entry per write.
	writeLines(dir, name string, lines []string) error
	readDir(dir string) ([]os.DirEntry, error)
	// attachDeviceFilter loads prog as a BPF_PROG_TYPE_CGROUP_DEVICE program,
	// attaches it to the cgroup2 directory dir and detaches the programs
	// previously attached there.
	attachDeviceFilter(dir string, prog []bpfInsn) error
	// pidfd opens a handle on the process that has pid now: a signal
	// sent through it never reaches a later process given the same pid.
	pidfd(pid int) (int, error)
	pidfdSignal(fd int, sig unix.Signal) error
	closeFd(fd int)
}

// osFS talks to the kernel with raw syscalls. os.File is avoided on
// purpose: kernfs files are pollable, so os.OpenFile would register every
// cgroup file with the runtime poller (two extra epoll_ctl calls per file).
type osFS struct{}

func (osFS) exists(path string) bool {
	var st unix.Stat_t
	return unix.Stat(path, &st) == nil
}

func (osFS) mkdir(path string) error {
	if err := ignoringEINTR(func() error { return unix.Mkdir(path, 0o755) }); err != nil {
		return &os.PathError{Op: "mkdir", Path: path, Err: err}
	}
	return nil
}

func (osFS) rmdir(path string) error {
	if err := ignoringEINTR(func() error { return unix.Rmdir(path) }); err != nil {
		return &os.PathError{Op: "rmdir", Path: path, Err: err}
	}
	return nil
}

func (osFS) readFile(dir, name string) (string, error) {
	p := dir + "/" + name
	var fd int
	err := ignoringEINTR(func() (err error) {
		fd, err = unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		return err
	})
	if err != nil {
		return "", &os.PathError{Op: "read", Path: p, Err: err}
	}
	defer unix.Close(fd)
	// Most cgroup files are a single number; memory.stat is a few KiB.
	buf := make([]byte, 0, 4096)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		var n int
		err := ignoringEINTR(func() (err error) {
			n, err = unix.Read(fd, buf[len(buf):cap(buf)])
			return err
		})
		if err != nil {
			return "", &os.PathError{Op: "read", Path: p, Err: err}
		}
		if n == 0 {
			return string(buf), nil
		}
		buf = buf[:len(buf)+n]
	}
}

func (f osFS) writeFile(dir, name, value string) error {
	return f.writeLines(dir, name, []string{value})
}

func (osFS) writeLines(dir, name string, lines []string) error {
	p := dir + "/" + name
	var fd int
	// O_TRUNC matters only for regular files (tests); kernfs ignores it.
	err := ignoringEINTR(func() (err error) {
		fd, err = unix.Open(p, unix.O_WRONLY|unix.O_TRUNC|unix.O_CLOEXEC, 0)
		return err
	})
	if err != nil {
		return &os.PathError{Op: "write", Path: p, Err: err}
	}
	defer unix.Close(fd)
	for _, l := range lines {
		var n int
		err := ignoringEINTR(func() (err error) {
			n, err = unix.Write(fd, []byte(l))
			return err
		})
		if err == nil && n != len(l) {
			err = io.ErrShortWrite
		}
		if err != nil {
			perr := &os.PathError{Op: "write", Path: p, Err: err}
			if len(lines) > 1 {
				return fmt.Errorf("%w (entry %q)", perr, l)
			}
			return perr
		}
	}
	return nil
}

func (osFS) readDir(dir string) ([]os.DirEntry, error) { return os.ReadDir(dir) }

// subdirs lists the child cgroups of dir.
func subdirs(fs cgfs, dir string) ([]string, error) {
	ents, err := fs.readDir(dir)
	if err != nil {
		return nil, err
	}
	var dirs []string
	for _, e := range ents {
		if e.IsDir() {
			dirs = append(dirs, e.Name())
		}
	}
	return dirs, nil
}

func (osFS) attachDeviceFilter(dir string, prog []bpfInsn) error {
	return attachDeviceProgram(dir, prog)
}

func (osFS) pidfd(pid int) (int, error) { return unix.PidfdOpen(pid, 0) }

func (osFS) pidfdSignal(fd int, sig unix.Signal) error { return unix.PidfdSendSignal(fd, sig, nil, 0) }

func (osFS) closeFd(fd int) { unix.Close(fd) }

func ignoringEINTR(fn func() error) error {
	for {
		err := fn()
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// parseUint parses a cgroup number; "max" (v2) reads as math.MaxUint64.
func parseUint(s string) (uint64, error) {
	s = strings.TrimSpace(s)
	if s == "max" {
		return ^uint64(0), nil
	}
	return strconv.ParseUint(s, 10, 64)
}

// readUint reads a single-number cgroup file.
func readUint(fs cgfs, dir, name string) (uint64, error) {
	s, err := fs.readFile(dir, name)
	if err != nil {
		return 0, err
	}
	v, err := parseUint(s)
	if err != nil {
		return 0, &os.PathError{Op: "parse", Path: dir + "/" + name, Err: err}
	}
	return v, nil
}

// readKeyValues parses "key value" lines (memory.stat, cpu.stat,
// cgroup.events, ...). Lines whose value is not a number are skipped.
func readKeyValues(fs cgfs, dir, name string) (map[string]uint64, error) {
	s, err := fs.readFile(dir, name)
	if err != nil {
		return nil, err
	}
	kv := make(map[string]uint64)
	for line := range strings.SplitSeq(s, "\n") {
		k, v, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		if n, err := parseUint(v); err == nil {
			kv[k] = n
		}
	}
	return kv, nil
}

func isNotExist(err error) bool { return errors.Is(err, unix.ENOENT) }
