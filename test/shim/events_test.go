package shimtest

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestEvents checks the task events containerd receives from the shim,
// and their order, with `ctr events`: create, start, exec-added,
// exec-started, paused, resumed, oom, exit, delete.
func TestEvents(t *testing.T) {
	for _, v := range versions {
		t.Run("containerd-"+v, func(t *testing.T) {
			c := newContainerd(t, v, false)
			ev := watchEvents(t, c)
			rt := "--runtime=" + runtimeName

			id := fmt.Sprintf("events-%d", time.Now().UnixNano()%1e6)
			if out, err := c.ctr("run", "-d", rt, imageRef, id, "sleep", "1000"); err != nil {
				t.Fatalf("ctr run -d: %v: %q", err, out)
			}
			c.ctr("task", "exec", "--exec-id", "ev1", id, "true")
			c.ctr("task", "pause", id)
			c.ctr("task", "resume", id)
			c.ctr("task", "kill", "-s", "SIGKILL", id)
			c.waitStatus("default", id, "STOPPED", 5*time.Second)
			c.ctr("task", "delete", id)
			c.ctr("container", "delete", id)
			ev.expect(t, id, "/tasks/create", "/tasks/start", "/tasks/exec-added", "/tasks/exec-started",
				"/tasks/exit", "/tasks/paused", "/tasks/resumed", "/tasks/exit", "/tasks/delete")

			// A shell doubling a string in a 16 MiB cgroup: the OOM
			// killer ends it; /tasks/oom comes before its exit.
			oom := fmt.Sprintf("oom-%d", time.Now().UnixNano()%1e6)
			out, err := c.ctr("run", "--rm", rt, "--memory-limit", "16777216", imageRef, oom,
				"sh", "-c", "x=0123456789; while true; do x=$x$x; done")
			if exitCode(err) != 137 {
				t.Errorf("OOM-killed container exited %d (%v): %q", exitCode(err), err, out)
			}
			ev.expect(t, oom, "/tasks/create", "/tasks/start", "/tasks/oom", "/tasks/exit", "/tasks/delete")
		})
	}
}

type events struct {
	mu    sync.Mutex
	lines []string
}

// watchEvents runs `ctr events` for the rest of the test.
func watchEvents(t *testing.T, c *ctrd) *events {
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, c.ctrBin, "-a", c.sock, "events")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	e := &events{}
	done := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			e.mu.Lock()
			e.lines = append(e.lines, sc.Text())
			e.mu.Unlock()
		}
		close(done)
	}()
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
		<-done
	})
	// ctr subscribes asynchronously: give it a moment.
	time.Sleep(300 * time.Millisecond)
	return e
}

// expect waits until the task topics of container id are want, in order
// (only topics under /tasks/ count).
func (e *events) expect(t *testing.T, id string, want ...string) {
	t.Helper()
	var got []string
	deadline := time.Now().Add(10 * time.Second)
	for {
		got = got[:0]
		e.mu.Lock()
		for _, l := range e.lines {
			f := strings.Fields(l)
			for i, w := range f {
				if strings.HasPrefix(w, "/tasks/") && strings.Contains(l, `"`+id+`"`) {
					got = append(got, f[i])
					break
				}
			}
		}
		e.mu.Unlock()
		if strings.Join(got, " ") == strings.Join(want, " ") || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("events of %s:\n got  %v\n want %v", id, got, want)
	}
}

// waitLine waits for an event line of container id with topic that
// contains text.
func (e *events) waitLine(t *testing.T, id, topic, text string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		e.mu.Lock()
		for _, l := range e.lines {
			if strings.Contains(l, " "+topic+" ") && strings.Contains(l, `"`+id+`"`) && strings.Contains(l, text) {
				e.mu.Unlock()
				return
			}
		}
		n := len(e.lines)
		e.mu.Unlock()
		if time.Now().After(deadline) {
			t.Errorf("no %s event of %s with %q among %d events", topic, id, text, n)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}
