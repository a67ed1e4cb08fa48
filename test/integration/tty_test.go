package integration

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// consoleSock is what containerd and conmon do with --console-socket: a
// unix socket receiving the pty master with SCM_RIGHTS.
type consoleSock struct {
	path    string
	ln      *net.UnixListener
	mu      sync.Mutex
	masters []*os.File
	got     chan *os.File
}

func consoleSocket(t *testing.T, dir string) *consoleSock {
	t.Helper()
	path := filepath.Join(dir, "console.sock")
	os.Remove(path)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	cs := &consoleSock{path: path, ln: ln, got: make(chan *os.File, 4)}
	t.Cleanup(func() {
		ln.Close()
		cs.mu.Lock()
		for _, f := range cs.masters {
			f.Close()
		}
		cs.mu.Unlock()
	})
	go func() {
		for {
			conn, err := ln.AcceptUnix()
			if err != nil {
				return
			}
			buf, oob := make([]byte, 256), make([]byte, unix.CmsgSpace(4))
			_, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
			conn.Close()
			if err != nil {
				continue
			}
			msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
			for _, m := range msgs {
				fds, _ := unix.ParseUnixRights(&m)
				for _, fd := range fds {
					f := os.NewFile(uintptr(fd), "pty-master")
					cs.mu.Lock()
					cs.masters = append(cs.masters, f)
					cs.mu.Unlock()
					cs.got <- f
				}
			}
		}
	}()
	return cs
}

func (cs *consoleSock) master(t *testing.T) *os.File {
	t.Helper()
	select {
	case f := <-cs.got:
		return f
	case <-time.After(10 * time.Second):
		t.Fatal("no pty master arrived on the console socket")
		return nil
	}
}

// readUntil reads from a pty master until want appears (or 10 s pass).
func readUntil(t *testing.T, f *os.File, want string) string {
	t.Helper()
	var out bytes.Buffer
	buf := make([]byte, 4096)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), want) && time.Now().Before(deadline) {
		f.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		n, _ := f.Read(buf)
		out.Write(buf[:n])
	}
	if !strings.Contains(out.String(), want) {
		t.Fatalf("pty output %q lacks %q", out.String(), want)
	}
	return out.String()
}

func TestTerminalConsoleSocket(t *testing.T) {
	hh := newH(t)
	cs := consoleSocket(t, hh.dir)
	b := hh.bundle(func(s *rspec.Spec) {
		s.Process.Terminal = true
		s.Process.ConsoleSize = &rspec.Box{Height: 31, Width: 97}
	}, "sh")
	name := id(t)
	hh.must("create", "--bundle", b, "--console-socket", cs.path, name)
	m := cs.master(t)
	hh.must("start", name)
	m.Write([]byte("tty; stty size; stat -c %t:%T /dev/console; echo done-$((6*7))\n"))
	out := readUntil(t, m, "done-42")
	for _, want := range []string{"/dev/pts/0", "31 97", "88:0"} {
		if !strings.Contains(out, want) {
			t.Errorf("terminal output lacks %q:\n%s", want, out)
		}
	}
	m.Write([]byte("exit 3\n"))
	st := hh.waitStatus(name, "stopped")
	_ = st
	hh.must("delete", name)
}

func TestTerminalNeedsConsoleSocket(t *testing.T) {
	hh := newH(t)
	b := hh.bundle(func(s *rspec.Spec) { s.Process.Terminal = true }, "true")
	name := id(t)
	r := hh.husk("create", "--bundle", b, name)
	if r.code == 0 || !strings.Contains(r.stderr, "console-socket") {
		t.Errorf("create with a terminal and no console socket: %s", r)
	}
	if _, err := os.Stat(filepath.Join(hh.root, name)); err == nil {
		t.Error("a failed create left its state directory")
	}
	r = hh.husk("create", "--bundle", b, "--console-socket", filepath.Join(hh.dir, "nobody-listens"), name)
	if r.code == 0 || !strings.Contains(r.stderr, "--console-socket") {
		t.Errorf("create with a console socket nobody listens on: %s", r)
	}
}

func TestExecTTY(t *testing.T) {
	hh := newH(t)
	name := id(t)
	hh.must("run", "-d", "--bundle", hh.bundle(nil, "sleep", "60"), name)
	defer hh.husk("delete", "-f", name)
	cs := consoleSocket(t, hh.dir)
	cmd := hh.cmd("exec", "--tty", "--console-socket", cs.path, name, "sh")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	m := cs.master(t)
	m.Write([]byte("tty; echo pid-$$; exit 4\n"))
	readUntil(t, m, "pid-")
	err := cmd.Wait()
	if ee, ok := err.(interface{ ExitCode() int }); !ok || ee.ExitCode() != 4 {
		t.Errorf("exec --tty exit: %v", err)
	}
}

// A read-only /dev with a terminal: /dev/console is made before /dev
// turns read-only (as runc, which remounts /dev read-only last), and the
// masks made after it are read-only binds of its /dev/null.
func TestTerminalReadonlyDev(t *testing.T) {
	hh := newH(t)
	cs := consoleSocket(t, hh.dir)
	b := hh.bundle(func(s *rspec.Spec) {
		s.Process.Terminal = true
		for i := range s.Mounts {
			if s.Mounts[i].Destination == "/dev" {
				s.Mounts[i].Options = append(s.Mounts[i].Options, "ro")
			}
		}
		s.Linux.MaskedPaths = []string{"/proc/timer_list"}
	}, "sh")
	name := id(t)
	hh.must("create", "--bundle", b, "--console-socket", cs.path, name)
	m := cs.master(t)
	hh.must("start", name)
	m.Write([]byte("stat -c %t:%T /dev/console; touch /dev/x; awk '$5 == \"/dev\" || $5 == \"/proc/timer_list\" {print $5, $6}' /proc/self/mountinfo; echo done-$((6*7))\n"))
	out := readUntil(t, m, "done-42")
	for _, want := range []string{"88:0", "Read-only file system", "/dev ro,", "/proc/timer_list ro,"} {
		if !strings.Contains(out, want) {
			t.Errorf("terminal output lacks %q:\n%s", want, out)
		}
	}
	m.Write([]byte("exit 0\n"))
	hh.waitStatus(name, "stopped")
	hh.must("delete", name)
}
