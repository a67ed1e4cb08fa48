package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// runningContainer starts a sleeping container and returns its ID.
func runningContainer(t *testing.T, hh *h, edit func(*rspec.Spec)) string {
	t.Helper()
	name := id(t)
	hh.must("run", "-d", "--bundle", hh.bundle(edit, "sleep", "100"), name)
	t.Cleanup(func() { hh.husk("delete", "-f", name) })
	return name
}

func TestExecJoinsEverything(t *testing.T) {
	hh := newH(t)
	name := runningContainer(t, hh, func(s *rspec.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, rspec.LinuxNamespace{Type: rspec.CgroupNamespace})
		s.Hostname = "inside"
	})
	pid := hh.state(name).Pid
	out := hh.must("exec", name, "sh", "-c",
		"for n in ipc mnt net pid uts cgroup; do readlink /proc/self/ns/$n; done; hostname; cat /proc/self/cgroup | head -1; ls /proc | grep -c '^[0-9]'")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for i, n := range []string{"ipc", "mnt", "net", "pid", "uts", "cgroup"} {
		want, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/ns/" + n)
		if lines[i] != want {
			t.Errorf("exec'd process is in %s, the container's init in %s", lines[i], want)
		}
	}
	if lines[6] != "inside" {
		t.Errorf("hostname %q", lines[6])
	}
	if !strings.HasSuffix(lines[7], ":/") {
		t.Errorf("exec'd process is not at the root of the container's cgroup namespace: %q", lines[7])
	}
	// sleep (pid 1), sh, ls, grep: the exec'd process sees the
	// container's pids only, not the host's.
	if n, _ := strconv.Atoi(lines[8]); n < 3 || n > 4 {
		t.Errorf("exec'd process sees %s processes", lines[8])
	}
}

func TestExecProcessSettings(t *testing.T) {
	hh := newH(t)
	name := runningContainer(t, hh, nil)
	out := hh.must("exec", "--user", "65534:65534", "--cwd", "/tmp", "--env", "FOO=bar baz", name,
		"sh", "-c", `echo "$(id -u):$(id -g):$(pwd):$FOO"; grep -E 'CapEff|NoNewPrivs' /proc/self/status`)
	if !strings.Contains(out, "65534:65534:/tmp:bar baz") {
		t.Errorf("exec settings: %q", out)
	}
	// The config's process has no_new_privs and runc's default caps.
	if !strings.Contains(out, "NoNewPrivs:\t1") {
		t.Errorf("exec did not keep no_new_privs: %q", out)
	}
	if r := hh.husk("exec", name, "sh", "-c", "exit 9"); r.code != 9 {
		t.Errorf("exec exit code: %s", r)
	}
	if r := hh.husk("exec", "--user", "nosuchuser", name, "true"); r.code == 0 || !strings.Contains(r.stderr, "nosuchuser") {
		t.Errorf("exec --user of an unknown name: %s", r)
	}
}

func TestExecProcessFile(t *testing.T) {
	hh := newH(t)
	name := runningContainer(t, hh, nil)
	p := rspec.Process{Args: []string{"sh", "-c", "echo $A-$(id -u)"}, Cwd: "/", Env: []string{"A=from-file", "PATH=/bin"},
		User: rspec.User{UID: 7, GID: 7}}
	data, _ := json.Marshal(p)
	path := filepath.Join(hh.dir, "process.json")
	os.WriteFile(path, data, 0o644)
	if out := hh.must("exec", "--process", path, name); out != "from-file-7\n" {
		t.Errorf("exec --process: %q", out)
	}
	// As runc: a program is looked up in the process's own PATH only, and
	// exec exits 255 when the process cannot be started.
	p.Env = []string{"A=from-file"}
	data, _ = json.Marshal(p)
	os.WriteFile(path, data, 0o644)
	if r := hh.husk("exec", "--process", path, name); r.code != 255 || !strings.Contains(r.stderr, "not found in $PATH") {
		t.Errorf("exec without PATH: %s", r)
	}
	p.Cwd = "relative"
	data, _ = json.Marshal(p)
	os.WriteFile(path, data, 0o644)
	if r := hh.husk("exec", "--process", path, name); r.code == 0 || !strings.Contains(r.stderr, "process.cwd") {
		t.Errorf("exec with a relative cwd: %s", r)
	}
}

func TestExecDetached(t *testing.T) {
	hh := newH(t)
	name := runningContainer(t, hh, nil)
	pidFile := filepath.Join(hh.dir, "exec.pid")
	hh.must("exec", "-d", "--pid-file", pidFile, name, "sleep", "30")
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(string(data))
	cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if !strings.HasPrefix(string(cmdline), "sleep\x0030") {
		t.Errorf("pid file %d is %q, not the exec'd sleep", pid, cmdline)
	}
	if out := hh.must("ps", "--format", "json", name); !strings.Contains(out, strconv.Itoa(pid)) {
		t.Errorf("the detached process is not in the container's cgroup: ps %s", out)
	}
	// The detached process was re-parented to us (a subreaper, as a shim
	// is). The container's init cannot finish dying before every process
	// of its pid namespace is reaped: reap it as a shim would, and delete
	// must then remove everything.
	reaped := make(chan struct{})
	go func() {
		var ws unix.WaitStatus
		unix.Wait4(pid, &ws, 0, nil)
		close(reaped)
	}()
	hh.must("delete", "--force", name)
	<-reaped
	assertNoCgroup(t, name)
}

func TestExecRefused(t *testing.T) {
	hh := newH(t)
	if r := hh.husk("exec", "nosuch", "true"); r.code == 0 || !strings.Contains(r.stderr, "does not exist") {
		t.Errorf("exec into a missing container: %s", r)
	}
	name := runningContainer(t, hh, nil)
	hh.must("pause", name)
	if r := hh.husk("exec", name, "true"); r.code == 0 || !strings.Contains(r.stderr, "paused") {
		t.Errorf("exec into a paused container: %s", r)
	}
	hh.must("resume", name)
	hh.must("kill", name, "KILL")
	hh.waitStatus(name, "stopped")
	if r := hh.husk("exec", name, "true"); r.code == 0 || !strings.Contains(r.stderr, "stopped") {
		t.Errorf("exec into a stopped container: %s", r)
	}
	if r := hh.husk("exec", name); r.code == 0 {
		t.Errorf("exec without a command: %s", r)
	}
}
