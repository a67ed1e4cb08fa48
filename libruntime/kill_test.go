package libruntime

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// A signal that finds the init gone after its pidfd was opened (it exited
// between husk's check and the signal) must say so in the words clients
// match: runc 1.5's for that race and runc's "container not running".
func TestSignalGoneProcess(t *testing.T) {
	cmd := exec.Command("/bin/true")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Not reaped yet, so the pidfd is of this process; once reaped, the
	// kernel answers a signal through it with ESRCH.
	pidfd, err := unix.PidfdOpen(cmd.Process.Pid, 0)
	if err != nil {
		t.Fatalf("pidfd_open: %v", err)
	}
	defer unix.Close(pidfd)
	cmd.Wait()
	err = pidfdSignal(pidfd, unix.SIGTERM)
	if !errors.Is(err, ErrNotRunning) || !errors.Is(err, os.ErrProcessDone) {
		t.Fatalf("signal to a reaped process: %v, want ErrNotRunning and os.ErrProcessDone", err)
	}
	for _, words := range []string{"container not running", "os: process already finished"} {
		if !strings.Contains(err.Error(), words) {
			t.Errorf("%q does not say %q", err, words)
		}
	}
}
