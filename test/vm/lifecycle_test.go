package vm

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// A container in a VM: its exit code, its stdin, stdout and stderr, and
// the guest's kernel, not the host's.
func TestRunStdioExitCodeKernel(t *testing.T) {
	e := newEnv(t)
	b := e.bundle(nil, "sh", "-c", `uname -r; read x; echo "in:$x"; echo err >&2; exit 3`)
	cid := id()
	r := e.husk([]byte("hello\n"), "run", "--vm", "--bundle", b, cid)
	if r.code != 3 {
		t.Fatalf("want exit 3: %s", r)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 2 || lines[1] != "in:hello" {
		t.Errorf("stdout: %q", r.stdout)
	}
	if lines[0] != guestKernel || lines[0] == hostKernel(t) {
		t.Errorf("uname -r in the container is %q; the guest's is %q, the host's %q", lines[0], guestKernel, hostKernel(t))
	}
	if strings.TrimSpace(r.stderr) != "err" {
		t.Errorf("stderr: %q", r.stderr)
	}
	e.noTrace(cid)
}

// The annotation alone puts a container in a VM, and an exit by signal
// is 128+n as on the host.
func TestRunAnnotationSignalExit(t *testing.T) {
	e := newEnv(t)
	b := e.bundle(func(s *rspec.Spec) {
		s.Annotations = map[string]string{"io.husk.vm": "true"}
		// PID 1 of a pid namespace ignores signals it has no handler for:
		// the shell is not pid 1 here.
		s.Linux.Namespaces = withoutNS(s.Linux.Namespaces, rspec.PIDNamespace)
	}, "sh", "-c", `cat /proc/version; kill -USR2 $$`)
	cid := id()
	r := e.husk(nil, "run", "--bundle", b, cid)
	if r.code != 128+12 {
		t.Fatalf("want exit 140 (SIGUSR2): %s", r)
	}
	if !strings.Contains(r.stdout, guestKernel) {
		t.Errorf("not the guest's kernel: %q", r.stdout)
	}
	e.noTrace(cid)
}

func withoutNS(ns []rspec.LinuxNamespace, typ rspec.LinuxNamespaceType) []rspec.LinuxNamespace {
	var out []rspec.LinuxNamespace
	for _, n := range ns {
		if n.Type != typ {
			out = append(out, n)
		}
	}
	return out
}

// create, start, exec (exit codes, stdin, a terminal), ps, pause,
// resume, kill, state and delete as separate commands, as runc's clients
// run them.
func TestLifecycleCommands(t *testing.T) {
	e := newEnv(t)
	b := e.bundle(nil, "sh", "-c", `trap 'echo got-usr1 > /tmp/usr1' USR1; echo started; while :; do sleep 0.2; done`)
	cid := id()
	pidFile := filepath.Join(e.dir, "pid")
	e.must("create", "--vm", "--bundle", b, "--pid-file", pidFile, cid)
	if st := e.status(cid); st != "created" {
		t.Fatalf("after create: %s", st)
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(string(data))
	if pid <= 0 || !alive(pid) {
		t.Fatalf("pid file %q: no live supervisor", data)
	}
	e.must("start", cid)
	if st := e.status(cid); st != "running" {
		t.Fatalf("after start: %s", st)
	}
	var listed []struct {
		ID, Status, Bundle string
		Pid                int
	}
	if err := json.Unmarshal([]byte(e.must("list", "--format", "json")), &listed); err != nil || len(listed) != 1 {
		t.Fatalf("list: %v %+v", err, listed)
	}
	if l := listed[0]; l.ID != cid || l.Status != "running" || l.Pid != pid || l.Bundle != b {
		t.Errorf("list: %+v, want %s running with pid %d in %s", l, cid, pid, b)
	}
	if out := e.must("exec", cid, "echo", "hi"); out != "hi\n" {
		t.Errorf("exec echo: %q", out)
	}
	if r := e.husk(nil, "exec", cid, "sh", "-c", "exit 7"); r.code != 7 {
		t.Errorf("exec exit 7: %s", r)
	}
	if r := e.husk([]byte("abc"), "exec", cid, "cat"); r.code != 0 || r.stdout != "abc" {
		t.Errorf("exec cat with stdin: %s", r)
	}
	if r := e.husk(nil, "exec", "-t", cid, "tty"); r.code != 0 || !strings.Contains(r.stdout, "/dev/pts/") {
		t.Errorf("exec -t tty: %s", r)
	}
	// Guest pids: the container's init and its sleep.
	if out := e.must("ps", "--format", "json", cid); !strings.HasPrefix(out, "[") || !strings.Contains(out, ",") {
		t.Errorf("ps: %q", out)
	}
	e.must("pause", cid)
	if st := e.status(cid); st != "paused" {
		t.Errorf("after pause: %s", st)
	}
	e.must("resume", cid)
	if st := e.status(cid); st != "running" {
		t.Errorf("after resume: %s", st)
	}
	e.must("kill", cid, "USR1")
	usr1 := filepath.Join(b, "rootfs", "tmp", "usr1")
	waitFile(t, usr1, 30*time.Second)
	if r := e.husk(nil, "delete", cid); r.code == 0 || !strings.Contains(r.stderr, "running") {
		t.Errorf("delete of a running container: %s", r)
	}
	e.must("kill", cid, "KILL")
	e.waitStatus(cid, "stopped", 60*time.Second)
	for deadline := time.Now().Add(30 * time.Second); alive(pid); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the supervisor (pid %d) outlived its container by 30 s", pid)
		}
	}
	e.must("delete", cid)
	e.noTrace(cid)
}

func alive(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	return err == nil && !strings.Contains(string(data), ") Z ")
}

func waitFile(t *testing.T, path string, timeout time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if _, err := os.Stat(path); err == nil {
			return
		}
	}
	t.Fatalf("%s did not appear within %v", path, timeout)
}

// Limits apply in the guest's cgroup v2, update changes them, and an OOM
// kill in the guest is reported.
func TestLimitsAndOOM(t *testing.T) {
	e := newEnv(t)
	limit := int64(48 << 20)
	pids := int64(64)
	b := e.bundle(func(s *rspec.Spec) {
		s.Linux.Resources = &rspec.LinuxResources{Memory: &rspec.LinuxMemory{Limit: &limit}, Pids: &rspec.LinuxPids{Limit: &pids}}
	}, "sleep", "1000")
	cid := id()
	e.must("run", "--vm", "-d", "--bundle", b, cid)
	out := e.must("exec", cid, "cat", "/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/pids.max", "/proc/self/mountinfo")
	if !strings.HasPrefix(out, strconv.FormatInt(limit, 10)+"\n64\n") {
		t.Errorf("limits in the guest's cgroup: %q", out)
	}
	if !strings.Contains(out, " - cgroup2 ") {
		t.Errorf("no cgroup2 in the container: %q", out)
	}
	e.must("update", "--memory", strconv.Itoa(64<<20), cid)
	if out := e.must("exec", cid, "cat", "/sys/fs/cgroup/memory.max"); out != strconv.Itoa(64<<20)+"\n" {
		t.Errorf("memory.max after update: %q", out)
	}
	events := exec.Command(*huskBin, "--root", e.root, "events", "--interval", "1s", cid)
	stdout, err := events.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := events.Start(); err != nil {
		t.Fatal(err)
	}
	defer events.Process.Kill()
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	// dd fills a buffer of 200 MiB: it does not fit in 64.
	if r := e.husk(nil, "exec", cid, "dd", "if=/dev/zero", "of=/dev/null", "bs=200M", "count=1"); r.code != 137 {
		t.Errorf("the memory hog: want exit 137 (OOM kill): %s", r)
	}
	deadline := time.After(30 * time.Second)
	for got := false; !got; {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("husk events ended without an oom event")
			}
			got = strings.Contains(l, `"type":"oom"`)
		case <-deadline:
			t.Fatal("no oom event within 30 s")
		}
	}
	e.must("delete", "--force", cid)
	e.noTrace(cid)
}
