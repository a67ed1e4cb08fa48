package shimtest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestFaults: a shim SIGKILLed under a running container, and containerd
// restarted under running containers.
func TestFaults(t *testing.T) {
	for _, v := range versions {
		t.Run("containerd-"+v, func(t *testing.T) {
			c := newContainerd(t, v, false)
			t.Run("shim-killed", func(t *testing.T) { testShimKilled(t, c) })
			t.Run("containerd-restart", func(t *testing.T) { testContainerdRestart(t, c) })
		})
	}
}

// testShimKilled: containerd sees the shim's connection drop, runs the
// shim's delete action and reports the task's exit; nothing is left.
func testShimKilled(t *testing.T, c *ctrd) {
	ev := watchEvents(t, c)
	id := fmt.Sprintf("shimkill-%d", time.Now().UnixNano()%1e6)
	if out, err := c.ctr("run", "-d", "--runtime="+runtimeName, imageRef, id, "sleep", "1000"); err != nil {
		t.Fatalf("ctr run -d: %v: %q", err, out)
	}
	pid := c.taskPid("default", id)
	shims := c.shimPids()
	if len(shims) != 1 || ppid(pid) != shims[0] {
		t.Fatalf("want one shim, the init's parent: shims %v, init %d's parent %d", shims, pid, ppid(pid))
	}
	addr, err := os.ReadFile(filepath.Join(c.bundle("default", id), "address"))
	if err != nil {
		t.Fatalf("the shim's address in the bundle: %v", err)
	}
	if err := syscall.Kill(shims[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// containerd 1.6 drops the task; 2.x may keep it as STOPPED.
	waitFor(t, 15*time.Second, "task stopped or gone", func() bool {
		st := c.taskStatus("default", id)
		return st == "" || st == "STOPPED"
	})
	if st := c.taskStatus("default", id); st == "STOPPED" {
		c.ctr("task", "delete", id)
	}
	if out, err := c.ctr("container", "delete", id); err != nil {
		t.Errorf("container delete: %v: %q", err, out)
	}
	// The exit containerd reports comes from the delete action.
	ev.waitLine(t, id, "/tasks/exit", `"exit_status":137`)
	checkGone(t, c, "default", id, pid)
	// The dead daemon's socket went with the delete action.
	if sock := strings.TrimPrefix(string(addr), "unix://"); fileExists(sock) {
		t.Errorf("socket %s left", sock)
	}
}

// testContainerdRestart: the shim outlives containerd; the new containerd
// finds the task (1.6: the bundle's address file, 2.4: its bootstrap.json)
// and controls it.
func testContainerdRestart(t *testing.T, c *ctrd) {
	id := fmt.Sprintf("restart-%d", time.Now().UnixNano()%1e6)
	if out, err := c.ctr("run", "-d", "--runtime="+runtimeName, imageRef, id, "sleep", "1000"); err != nil {
		t.Fatalf("ctr run -d: %v: %q", err, out)
	}
	pid := c.taskPid("default", id)
	c.restart()
	if st := c.waitStatus("default", id, "RUNNING", 10*time.Second); st != "RUNNING" {
		t.Fatalf("after restart: task %q", st)
	}
	if out, err := c.ctr("task", "exec", "--exec-id", "after-restart", id, "echo", "still-here"); err != nil || strings.TrimSpace(out) != "still-here" {
		t.Errorf("exec after restart: %v: %q", err, out)
	}
	if out, err := c.ctr("task", "kill", "-s", "SIGKILL", id); err != nil {
		t.Fatalf("kill after restart: %v: %q", err, out)
	}
	if st := c.waitStatus("default", id, "STOPPED", 10*time.Second); st != "STOPPED" {
		t.Fatalf("after kill: %q", st)
	}
	if out, err := c.ctr("task", "delete", id); err != nil {
		t.Fatalf("delete after restart: %v: %q", err, out)
	}
	c.ctr("container", "delete", id)
	checkGone(t, c, "default", id, pid)
	waitFor(t, 5*time.Second, "no shim left", func() bool { return len(c.shimPids()) == 0 })
}
