package vm

import (
	"bytes"
	"context"
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
