package libruntime

import "testing"

// Hooks get runc's states: poststop hooks no pid, the others the init's.
func TestHookState(t *testing.T) {
	c := &Container{id: "c1", state: &State{InitPid: 42, Bundle: "/b"}}
	for status, pid := range map[Status]int{Creating: 42, Created: 42, Stopped: 0} {
		s := c.hookState(status)
		if s.Pid != pid || string(s.Status) != string(status) || s.ID != "c1" || s.Bundle != "/b" {
			t.Errorf("hookState(%s) = %+v, want pid %d", status, s, pid)
		}
	}
}
