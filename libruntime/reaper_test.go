package libruntime

import (
	"os/exec"
	"testing"
	"time"
)

func TestReapExitedReportsEachChildOnce(t *testing.T) {
	want := map[int]int{}
	for _, arg := range []string{"exit 0", "exit 3", "kill -TERM $$"} {
		c := exec.Command("/bin/sh", "-c", arg)
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		want[c.Process.Pid] = map[string]int{"exit 0": 0, "exit 3": 3, "kill -TERM $$": 128 + 15}[arg]
	}
	got := map[int]int{}
	deadline := time.Now().Add(10 * time.Second)
	for len(got) < len(want) && time.Now().Before(deadline) {
		ReapExited(func(pid, code int) {
			if _, seen := got[pid]; seen {
				t.Errorf("pid %d reported twice", pid)
			}
			got[pid] = code
		})
		time.Sleep(5 * time.Millisecond)
	}
	for pid, code := range want {
		if c, ok := got[pid]; !ok || c != code {
			t.Errorf("pid %d: got code %d (reported %v), want %d", pid, c, ok, code)
		}
	}
	// Nothing left: the call returns at once with no child.
	ReapExited(func(pid, _ int) { t.Errorf("pid %d reported after every child was reaped", pid) })
}
