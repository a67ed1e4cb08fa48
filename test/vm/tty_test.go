package vm

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// `husk run --vm` with a terminal is interactive: husk's terminal is the
// container's (raw on our side, the line discipline in the guest).
func TestRunTerminal(t *testing.T) {
	e := newEnv(t)
	b := e.bundle(func(s *rspec.Spec) { s.Process.Terminal = true }, "sh")
	master, slave := openPty(t)
	defer master.Close()
	unix.IoctlSetWinsize(int(slave.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 33, Col: 101})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cid := id()
	cmd := exec.CommandContext(ctx, *huskBin, "--root", e.root, "run", "--vm", "--bundle", b, cid)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &unix.SysProcAttr{Setsid: true, Setctty: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	var out bytes.Buffer
	done := make(chan struct{})
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			out.Write(buf[:n])
			if err != nil {
				close(done)
				return
			}
		}
	}()
	// The shell reads its input once it is up; what comes before waits
	// in the terminal.
	master.WriteString("stty size; echo $((6*7))x\r")
	master.WriteString("exit 5\r")
	err := cmd.Wait()
	<-done
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 5 {
		t.Fatalf("husk run: %v (want exit 5); terminal: %q", err, out.String())
	}
	if !strings.Contains(out.String(), "42x") {
		t.Errorf("no answer from the shell: %q", out.String())
	}
	if !strings.Contains(out.String(), "33 101") {
		t.Errorf("the container's terminal does not have ours size 33x101: %q", out.String())
	}
	e.noTrace(cid)
}

func openPty(t *testing.T) (*os.File, *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	slave, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	return master, slave
}

// A detached VM container with a terminal gets it as runc's clients
// expect (containerd's runc shim, conmon): the pty master arrives on
// --console-socket, the container's shell answers on it, a resize of the
// master reaches the guest's terminal.
func TestCreateConsoleSocket(t *testing.T) {
	e := newEnv(t)
	b := e.bundle(func(s *rspec.Spec) { s.Process.Terminal = true }, "sh")
	if r := e.husk(nil, "create", "--vm", "--bundle", b, id()); r.code == 0 || !strings.Contains(r.stderr, "--console-socket") {
		t.Errorf("create of a terminal container without --console-socket: %s", r)
	}
	sockPath := e.dir + "/console.sock"
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sockPath, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan *os.File, 1)
	go func() {
		defer close(got)
		c, err := ln.AcceptUnix()
		if err != nil {
			return
		}
		defer c.Close()
		oob := make([]byte, unix.CmsgSpace(4))
		_, oobn, _, _, err := c.ReadMsgUnix(make([]byte, 64), oob)
		if err != nil {
			return
		}
		msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
		if len(msgs) == 1 {
			if fds, err := unix.ParseUnixRights(&msgs[0]); err == nil && len(fds) == 1 {
				got <- os.NewFile(uintptr(fds[0]), "master")
			}
		}
	}()
	cid := id()
	e.must("create", "--vm", "--bundle", b, "--console-socket", sockPath, cid)
	var master *os.File
	select {
	case master = <-got:
	case <-time.After(10 * time.Second):
	}
	if master == nil {
		t.Fatal("no pty master arrived on the console socket")
	}
	defer master.Close()
	if err := unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 41, Col: 97}); err != nil {
		t.Fatal(err)
	}
	e.must("start", cid)
	var out bytes.Buffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			out.Write(buf[:n])
			if err != nil || strings.Contains(out.String(), "done-42") {
				return
			}
		}
	}()
	master.WriteString("tty; echo done-$((6*7))\r")
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatalf("no answer from the container's shell: %q", out.String())
	}
	if !strings.Contains(out.String(), "/dev/pts/") || !strings.Contains(out.String(), "done-42") {
		t.Errorf("terminal: %q, want a /dev/pts tty and done-42", out.String())
	}
	// The size given before start, then a resize while the shell runs.
	waitSize(t, master, "41 97")
	if err := unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 23, Col: 77}); err != nil {
		t.Fatal(err)
	}
	waitSize(t, master, "23 77")
	master.WriteString("exit 4\r")
	e.waitStatus(cid, "stopped", 60*time.Second)
	e.must("delete", cid)
	e.noTrace(cid)
}

// waitSize asks the shell on master for its terminal's size until it
// answers want ("rows cols").
func waitSize(t *testing.T, master *os.File, want string) {
	t.Helper()
	var got bytes.Buffer
	buf := make([]byte, 4096)
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(got.String(), "\n"+want+"\r"); {
		if time.Now().After(deadline) {
			t.Fatalf("the terminal's size is not %s: %q", want, got.String())
		}
		master.WriteString("stty size\r")
		time.Sleep(300 * time.Millisecond)
		n, _ := master.Read(buf)
		got.Write(buf[:n])
	}
}
