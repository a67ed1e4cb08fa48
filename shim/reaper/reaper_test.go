package reaper

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

func TestKeepsEarlyExits(t *testing.T) {
	r := New(true)
	r.mu.Lock()
	r.remember(Exit{Pid: 999999, Status: 3, At: time.Now()})
	r.mu.Unlock()
	// A Wait after the exit still gets it.
	if code, err := r.Wait(999999); err != nil || code != 3 {
		t.Errorf("Wait = %d, %v", code, err)
	}
	// Nothing recorded: times out.
	if _, ok := r.WaitTimeout(999998, 10*time.Millisecond); ok {
		t.Error("wait returned an exit that never happened")
	}
}

// A Reaper that reaps only what it tracks leaves os/exec's children to
// os/exec, and collects the ones it is told of.
func TestTrack(t *testing.T) {
	r := New(false)
	other := exec.Command("/bin/sh", "-c", "exit 4")
	if err := other.Start(); err != nil {
		t.Skipf("no /bin/sh: %v", err)
	}
	p, err := os.StartProcess("/bin/sh", []string{"sh", "-c", "exit 5"}, &os.ProcAttr{})
	if err != nil {
		t.Fatal(err)
	}
	r.Track(p.Pid)
	e, ok := r.WaitTimeout(p.Pid, 10*time.Second)
	if !ok || e.Status != 5 {
		t.Errorf("tracked child: %+v %v", e, ok)
	}
	if err := other.Wait(); err == nil || other.ProcessState.ExitCode() != 4 {
		t.Errorf("os/exec's child: %v", err)
	}
}
