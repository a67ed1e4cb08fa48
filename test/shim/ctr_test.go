package shimtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const runtimeName = "io.containerd.husk.v2"

// TestCtr runs ctr against each containerd version through the shim:
// containerd 1.6 speaks containerd.task.v2.Task to it, 2.4 task.v3.
func TestCtr(t *testing.T) {
	for _, v := range versions {
		t.Run("containerd-"+v, func(t *testing.T) {
			c := newContainerd(t, v, false)
			testCtr(t, c)
		})
	}
}

func testCtr(t *testing.T, c *ctrd) {
	rt := "--runtime=" + runtimeName
	id := func(name string) string { return fmt.Sprintf("%s-%d", name, time.Now().UnixNano()%1e6) }

	t.Run("echo", func(t *testing.T) {
		out, err := c.ctr("run", "--rm", rt, imageRef, id("echo"), "sh", "-c", "echo hello-$(id -u)")
		if err != nil || strings.TrimSpace(out) != "hello-0" {
			t.Fatalf("ctr run: %v: %q", err, out)
		}
	})
	t.Run("exit-code", func(t *testing.T) {
		for _, code := range []int{0, 3, 137} {
			out, err := c.ctr("run", "--rm", rt, imageRef, id("exit"), "sh", "-c", fmt.Sprintf("exit %d", code))
			if got := exitCode(err); got != code {
				t.Errorf("exit %d: ctr exited %d (%v): %q", code, got, err, out)
			}
		}
	})
	t.Run("stdin", func(t *testing.T) {
		// ctr never closes the container's stdin: read one line.
		out, err := c.ctrIn("default", []byte("piped-stdin\nsecond\n"), "run", "--rm", rt, imageRef, id("stdin"), "head", "-n1")
		if err != nil || strings.TrimSpace(out) != "piped-stdin" {
			t.Fatalf("ctr run with stdin: %v: %q", err, out)
		}
	})
	t.Run("stderr", func(t *testing.T) {
		out, err := c.ctr("run", "--rm", rt, imageRef, id("stderr"), "sh", "-c", "echo to-stderr >&2")
		if err != nil || strings.TrimSpace(out) != "to-stderr" {
			t.Fatalf("ctr run: %v: %q", err, out)
		}
	})
	t.Run("tty", func(t *testing.T) {
		// ctr resizes the terminal (ResizePty) once the task has started:
		// the container waits a moment before it reads the size.
		out, err := runInPty(60*time.Second, c.ctrBin, "-a", c.sock, "run", "--rm", "-t", rt, imageRef, id("tty"),
			"sh", "-c", "tty; sleep 1; stty size")
		if err != nil || !strings.Contains(out, "/dev/pts/") || !strings.Contains(out, "24 80") {
			t.Fatalf("ctr run -t: %v: %q", err, out)
		}
	})
	t.Run("log-uri-file", func(t *testing.T) {
		log := filepath.Join(t.TempDir(), "out.log")
		out, err := c.ctr("run", "--rm", "--log-uri", "file://"+log, rt, imageRef, id("logfile"), "sh", "-c", "echo to-file; echo err-to-file >&2")
		if err != nil {
			t.Fatalf("ctr run --log-uri file: %v: %q", err, out)
		}
		data, _ := os.ReadFile(log)
		if !strings.Contains(string(data), "to-file") || !strings.Contains(string(data), "err-to-file") {
			t.Fatalf("log file has %q", data)
		}
	})
	// The container gets pipes, never containerd's FIFOs or the log file:
	// root in the container could otherwise chmod or truncate those
	// inodes of the host through /proc/self/fd.
	t.Run("stdio-is-pipes", func(t *testing.T) {
		out, err := c.ctr("run", "--rm", rt, imageRef, id("pipes"), "sh", "-c", "for f in 0 1 2; do readlink /proc/self/fd/$f; done")
		if err != nil {
			t.Fatalf("ctr run: %v: %q", err, out)
		}
		for _, l := range strings.Fields(out) {
			if !strings.HasPrefix(l, "pipe:") {
				t.Errorf("the container's stdio is %q, want pipes: %q", l, out)
			}
		}
		log := filepath.Join(t.TempDir(), "attacked.log")
		attack := "echo first; chmod 0777 /proc/self/fd/1 /proc/self/fd/2; : >/proc/self/fd/1; echo second"
		if out, err := c.ctr("run", "--rm", "--log-uri", "file://"+log, rt, imageRef, id("logattack"), "sh", "-c", attack); err != nil {
			t.Fatalf("ctr run --log-uri file: %v: %q", err, out)
		}
		data, _ := os.ReadFile(log)
		if !strings.Contains(string(data), "first") || !strings.Contains(string(data), "second") {
			t.Errorf("the container truncated the log file through its stdout: %q", data)
		}
		if st, err := os.Stat(log); err != nil || st.Mode().Perm() != 0o644 {
			t.Errorf("the container changed the log file's mode: %v %v", st.Mode(), err)
		}
	})
	t.Run("log-uri-binary", func(t *testing.T) {
		dir := t.TempDir()
		out := filepath.Join(dir, "out.log")
		logger := filepath.Join(dir, "logger.sh")
		// A logging binary: fd 3 is stdout, fd 4 stderr; closing fd 5
		// says it is ready.
		script := "#!/bin/sh\nexec 5>&-\necho \"$CONTAINER_NAMESPACE/$CONTAINER_ID $1=$2\" > " + out + ".env\ncat <&3 >> " + out + "\n"
		if err := os.WriteFile(logger, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		name := id("logbin")
		o, err := c.ctr("run", "--rm", "--log-uri", "binary://"+logger+"?key=value", rt, imageRef, name, "echo", "via-logger")
		if err != nil {
			t.Fatalf("ctr run --log-uri binary: %v: %q", err, o)
		}
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			if data, _ := os.ReadFile(out); strings.Contains(string(data), "via-logger") {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		data, _ := os.ReadFile(out)
		env, _ := os.ReadFile(out + ".env")
		if !strings.Contains(string(data), "via-logger") || strings.TrimSpace(string(env)) != "default/"+name+" key=value" {
			t.Fatalf("logger got %q, env %q", data, env)
		}
	})

	// One detached container for the task subcommands.
	name := id("detached")
	if out, err := c.ctr("run", "-d", rt, imageRef, name, "sleep", "1000"); err != nil {
		t.Fatalf("ctr run -d: %v: %q", err, out)
	}
	if st := c.waitStatus("default", name, "RUNNING", 5*time.Second); st != "RUNNING" {
		t.Fatalf("detached task is %q", st)
	}
	pid := c.taskPid("default", name)
	t.Run("exec", func(t *testing.T) {
		out, err := c.ctr("task", "exec", "--exec-id", "e1", name, "sh", "-c", "echo exec-ok; exit 5")
		if strings.TrimSpace(out) != "exec-ok" || exitCode(err) != 5 {
			t.Fatalf("ctr task exec: exit %d (%v): %q", exitCode(err), err, out)
		}
		out, err = c.ctrIn("default", []byte("exec-stdin\n"), "task", "exec", "--exec-id", "e2", name, "head", "-n1")
		if err != nil || strings.TrimSpace(out) != "exec-stdin" {
			t.Fatalf("ctr task exec with stdin: %v: %q", err, out)
		}
		// Death by a signal is 128+n (not pid 1: that ignores SIGTERM).
		out, err = c.ctr("task", "exec", "--exec-id", "e3", name, "sh", "-c", "kill -TERM $$")
		if exitCode(err) != 143 {
			t.Fatalf("exec killed by SIGTERM: exit %d (%v): %q", exitCode(err), err, out)
		}
		// The same exec id again after the first is gone.
		out, err = c.ctr("task", "exec", "--exec-id", "e1", name, "true")
		if err != nil {
			t.Fatalf("exec id reused: %v: %q", err, out)
		}
	})
	t.Run("exec-tty", func(t *testing.T) {
		out, err := runInPty(60*time.Second, c.ctrBin, "-a", c.sock, "task", "exec", "-t", "--exec-id", "t1", name, "tty")
		if err != nil || !strings.Contains(out, "/dev/pts/") {
			t.Fatalf("ctr task exec -t: %v: %q", err, out)
		}
	})
	t.Run("ps", func(t *testing.T) {
		out, err := c.ctr("task", "ps", name)
		if err != nil || !strings.Contains(out, strconv.Itoa(pid)) {
			t.Fatalf("ctr task ps (init pid %d): %v: %q", pid, err, out)
		}
	})
	t.Run("pause-resume", func(t *testing.T) { c.pauseResume(t, name) })
	t.Run("metrics", func(t *testing.T) {
		out, err := c.ctr("task", "metrics", name)
		if err != nil || !strings.Contains(out, "pids.current") || !strings.Contains(out, "memory.usage_in_bytes") {
			t.Fatalf("ctr task metrics: %v: %q", err, out)
		}
	})
	t.Run("kill", func(t *testing.T) {
		// An exec'd process first: kill --exec-id.
		ch := make(chan error, 1)
		go func() {
			_, err := c.ctr("task", "exec", "--exec-id", "k1", name, "sleep", "1000")
			ch <- err
		}()
		waitFor(t, 5*time.Second, "exec k1 running", func() bool {
			out, _ := c.ctr("task", "ps", name)
			return strings.Count(out, "\n") >= 3
		})
		if out, err := c.ctr("task", "kill", "--exec-id", "k1", "-s", "SIGKILL", name); err != nil {
			t.Fatalf("kill exec: %v: %q", err, out)
		}
		if err := <-ch; exitCode(err) != 137 {
			t.Errorf("killed exec exited %d (%v)", exitCode(err), err)
		}
		if out, err := c.ctr("task", "kill", "-s", "SIGKILL", name); err != nil {
			t.Fatalf("kill: %v: %q", err, out)
		}
		if st := c.waitStatus("default", name, "STOPPED", 5*time.Second); st != "STOPPED" {
			t.Fatalf("after SIGKILL: %q", st)
		}
	})
	t.Run("delete", func(t *testing.T) {
		out, err := c.ctr("task", "delete", name)
		if err != nil {
			t.Fatalf("ctr task delete: %v: %q", err, out)
		}
		if out, err := c.ctr("container", "delete", name); err != nil {
			t.Fatalf("ctr container delete: %v: %q", err, out)
		}
		checkGone(t, c, "default", name, pid)
	})
	t.Run("kill-all", func(t *testing.T) {
		name := id("killall")
		if out, err := c.ctr("run", "-d", rt, imageRef, name, "sh", "-c", "sleep 1000 & sleep 1000 & wait"); err != nil {
			t.Fatalf("ctr run -d: %v: %q", err, out)
		}
		waitFor(t, 5*time.Second, "three processes", func() bool {
			out, _ := c.ctr("task", "ps", name)
			return strings.Count(out, "\n") >= 4
		})
		if out, err := c.ctr("task", "kill", "-a", "-s", "SIGKILL", name); err != nil {
			t.Fatalf("kill -a: %v: %q", err, out)
		}
		if st := c.waitStatus("default", name, "STOPPED", 5*time.Second); st != "STOPPED" {
			t.Fatalf("after kill -a: %q", st)
		}
		c.ctr("task", "delete", name)
		c.ctr("container", "delete", name)
	})
	t.Run("shim-exits", func(t *testing.T) {
		waitFor(t, 5*time.Second, "no shim left", func() bool { return len(c.shimPids()) == 0 })
	})
}

// checkGone checks that nothing of a deleted task is left: its processes,
// rootfs mounts, cgroups (ctr puts them at /<ns>/<id>) and husk's state.
func checkGone(t *testing.T, c *ctrd, ns, id string, pid int) {
	t.Helper()
	waitFor(t, 5*time.Second, "init gone", func() bool { return !alive(pid) })
	if m := mountsUnder(c.bundle(ns, id)); len(m) > 0 {
		t.Errorf("still mounted: %v", m)
	}
	if d := cgroupDirs(ns + "/" + id); len(d) > 0 {
		t.Errorf("cgroups left: %v", d)
	}
	if fileExists(c.huskState(ns, id)) {
		t.Errorf("husk state left: %s", c.huskState(ns, id))
	}
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}
