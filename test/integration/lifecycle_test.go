package integration

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

type ociState struct {
	OCIVersion  string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Pid         int               `json:"pid"`
	Status      string            `json:"status"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Owner       string            `json:"owner"`
	Annotations map[string]string `json:"annotations"`
}

func (hh *h) state(id string) ociState {
	hh.t.Helper()
	var s ociState
	if err := json.Unmarshal([]byte(hh.must("state", id)), &s); err != nil {
		hh.t.Fatalf("state %s: %v", id, err)
	}
	return s
}

// waitStatus polls until the container has status want (it may not
// exist yet when a `husk run` in the background is still creating it).
func (hh *h) waitStatus(id, want string) ociState {
	hh.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		r := hh.husk("state", id)
		var s ociState
		if r.code == 0 && json.Unmarshal([]byte(r.stdout), &s) == nil {
			if s.Status == want {
				return s
			}
			last = s.Status
		}
		time.Sleep(20 * time.Millisecond)
	}
	hh.t.Fatalf("container %s is %q after 10s, want %s", id, last, want)
	return ociState{}
}

func ppid(t *testing.T, pid int) int {
	t.Helper()
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "PPid:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	t.Fatal("no PPid")
	return 0
}

// The full lifecycle as containerd drives it: create leaves exactly the
// init (no monitor between the caller and it), start runs it, kill stops
// it, delete removes every trace.
func TestLifecycle(t *testing.T) {
	hh := newH(t)
	out := filepath.Join(hh.dir, "out")
	b := hh.bundle(func(s *rspec.Spec) {
		s.Annotations = map[string]string{"org.example/k": "v"}
	}, "sh", "-c", "echo started; exec sleep 100")
	name := id(t)
	pidFile := filepath.Join(hh.dir, "init.pid")

	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := hh.cmd("create", "--bundle", b, "--pid-file", pidFile, name)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		data, _ := os.ReadFile(out)
		t.Fatalf("create: %v: %s", err, data)
	}

	st := hh.state(name)
	if st.Status != "created" || st.ID != name || st.Bundle != b || st.Rootfs != filepath.Join(b, "rootfs") {
		t.Fatalf("state after create: %+v", st)
	}
	if st.Annotations["org.example/k"] != "v" || !strings.HasPrefix(st.OCIVersion, "1.") {
		t.Errorf("state lacks annotations or version: %+v", st)
	}
	data, err := os.ReadFile(pidFile)
	if err != nil || string(data) != strconv.Itoa(st.Pid) {
		t.Fatalf("pid file %q, state pid %d, err %v", data, st.Pid, err)
	}
	// The init's parent is us (the subreaper): nothing of husk stays between.
	if p := ppid(t, st.Pid); p != os.Getpid() {
		t.Errorf("init's parent is %d, want the caller %d (no monitor process)", p, os.Getpid())
	}
	if data, _ := os.ReadFile(out); len(data) != 0 {
		t.Errorf("the process ran before start: %q", data)
	}

	hh.must("start", name)
	hh.waitStatus(name, "running")
	deadline := time.Now().Add(5 * time.Second)
	for {
		data, _ := os.ReadFile(out)
		if strings.Contains(string(data), "started") || time.Now().After(deadline) {
			if !strings.Contains(string(data), "started") {
				t.Fatalf("container output %q", data)
			}
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if r := hh.husk("start", name); r.code == 0 {
		t.Error("starting a running container succeeded")
	}
	if r := hh.husk("delete", name); r.code == 0 || !strings.Contains(r.stderr, "running") {
		t.Errorf("delete of a running container without --force: %s", r)
	}

	hh.must("kill", name, "KILL")
	hh.waitStatus(name, "stopped")
	if r := hh.husk("kill", name, "TERM"); r.code == 0 {
		t.Error("killing a stopped container succeeded")
	}
	hh.must("delete", name)
	if r := hh.husk("state", name); r.code == 0 {
		t.Errorf("state after delete: %s", r)
	}
	if _, err := os.Stat(filepath.Join(hh.root, name)); !os.IsNotExist(err) {
		t.Errorf("state directory left after delete: %v", err)
	}
	assertNoCgroup(t, name)
}

func TestRunExitCode(t *testing.T) {
	hh := newH(t)
	if r := hh.run(nil, "sh", "-c", "exit 7"); r.code != 7 {
		t.Errorf("exit 7: %s", r)
	}
	// Killed from outside (pid 1 cannot SIGKILL itself in its namespace).
	b := hh.bundle(nil, "sleep", "100")
	name := id(t)
	cmd := hh.cmd("run", "--bundle", b, name)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	hh.waitStatus(name, "running")
	hh.must("kill", name, "9")
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 128+9 {
		t.Errorf("run of a container killed by SIGKILL: %v", err)
	}
	if r := hh.husk("state", name); r.code == 0 {
		t.Errorf("run left the container behind: %s", r)
	}
	if r := hh.run(nil, "true"); r.code != 0 || r.stderr != "" {
		t.Errorf("true: %s", r)
	}
}

func TestRunStdio(t *testing.T) {
	hh := newH(t)
	b := hh.bundle(nil, "sh", "-c", "read line; echo got:$line; echo err >&2")
	r := hh.huskIn([]byte("hello\n"), "run", "--bundle", b, id(t))
	if r.code != 0 || r.stdout != "got:hello\n" || r.stderr != "err\n" {
		t.Errorf("stdio: %s", r)
	}
}

func TestDeleteForceUnknown(t *testing.T) {
	hh := newH(t)
	if r := hh.husk("delete", "--force", "no-such-container"); r.code != 0 {
		t.Errorf("delete --force of an unknown container: %s", r)
	}
	if r := hh.husk("delete", "no-such-container"); r.code == 0 || !strings.Contains(r.stderr, "does not exist") {
		t.Errorf("delete of an unknown container: %s", r)
	}
}

func TestListAndState(t *testing.T) {
	hh := newH(t)
	b := hh.bundle(nil, "sleep", "100")
	a, c := id(t), id(t)
	hh.must("create", "--bundle", b, a)
	hh.must("create", "--bundle", b, c)
	hh.must("start", c)
	out := hh.must("list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "ID") || !strings.Contains(out, "created") ||
		!strings.Contains(out, "running") {
		t.Errorf("list:\n%s", out)
	}
	if q := hh.must("list", "-q"); q != a+"\n"+c+"\n" {
		t.Errorf("list -q: %q", q)
	}
	var js []ociState
	if err := json.Unmarshal([]byte(hh.must("list", "--format", "json")), &js); err != nil || len(js) != 2 {
		t.Errorf("list --format json: %v %+v", err, js)
	}
	hh.must("delete", "--force", a)
	hh.must("delete", "--force", c)
}

// In the foreground, run and exec give the process pipes of husk's, as
// runc does, never husk's own descriptors (here: files of the caller's).
func TestForegroundStdioPipes(t *testing.T) {
	hh := newH(t)
	probe := `for fd in 0 1 2; do readlink /proc/self/fd/$fd; done`
	r := hh.run(nil, "sh", "-c", probe)
	if r.code != 0 || strings.Count(r.stdout, "pipe:") != 3 {
		t.Errorf("run: %s, want three pipes", r)
	}
	name, _ := hh.startSleeper(nil)
	r = hh.husk("exec", name, "sh", "-c", probe)
	if r.code != 0 || strings.Count(r.stdout, "pipe:") != 3 {
		t.Errorf("exec: %s, want three pipes", r)
	}
	hh.must("delete", "--force", name)
}

// runc reads no ociVersion; neither does husk.
func TestAnyOCIVersion(t *testing.T) {
	hh := newH(t)
	for _, v := range []string{"1.0.0", "9.0.0", "not-a-version"} {
		if r := hh.run(func(s *rspec.Spec) { s.Version = v }, "true"); r.code != 0 {
			t.Errorf("ociVersion %q: %s", v, r)
		}
	}
}

// --pidfd-socket: the socket gets a pidfd of the init (create) or of the
// exec'd process, with runc's names; husk sends it from outside.
func TestPidfdSocket(t *testing.T) {
	hh := newH(t)
	sock := filepath.Join(hh.dir, "pidfd.sock")
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: sock}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 4); err != nil {
		t.Fatal(err)
	}
	recv := func() (string, int) {
		t.Helper()
		c, _, err := unix.Accept(fd)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(c)
		buf, oob := make([]byte, 64), make([]byte, unix.CmsgSpace(4))
		n, oobn, _, _, err := unix.Recvmsg(c, buf, oob, 0)
		if err != nil {
			t.Fatal(err)
		}
		msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
		if len(msgs) != 1 {
			t.Fatalf("no descriptor with %q", buf[:n])
		}
		fds, _ := unix.ParseUnixRights(&msgs[0])
		return string(buf[:n]), fds[0]
	}
	check := func(what string, gotName string, pidfd int, wantName string, wantPid int) {
		t.Helper()
		defer unix.Close(pidfd)
		data, _ := os.ReadFile("/proc/self/fdinfo/" + strconv.Itoa(pidfd))
		if gotName != wantName || !strings.Contains(string(data), "Pid:\t"+strconv.Itoa(wantPid)+"\n") {
			t.Errorf("%s: %q with fdinfo %q, want %q for pid %d", what, gotName, data, wantName, wantPid)
		}
	}
	b := hh.bundle(nil, "sleep", "1000")
	name := id(t)
	done := make(chan result, 1)
	go func() { done <- hh.husk("create", "--pidfd-socket", sock, "--bundle", b, name) }()
	gotName, pidfd := recv()
	if r := <-done; r.code != 0 {
		t.Fatalf("create: %s", r)
	}
	check("create", gotName, pidfd, "standard", hh.state(name).Pid)
	hh.must("start", name)

	pidFile := filepath.Join(hh.dir, "exec.pid")
	go func() {
		done <- hh.husk("exec", "-d", "--pid-file", pidFile, "--pidfd-socket", sock, name, "sleep", "1000")
	}()
	gotName, pidfd = recv()
	if r := <-done; r.code != 0 {
		t.Fatalf("exec: %s", r)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(readTrim(t, pidFile)))
	check("exec", gotName, pidfd, "setns", pid)
	// The detached process is re-parented to us: reap it as a shim
	// would, so that the init can die.
	reaped := make(chan struct{})
	go func() {
		var ws unix.WaitStatus
		unix.Wait4(pid, &ws, 0, nil)
		close(reaped)
	}()
	hh.must("delete", "--force", name)
	<-reaped
}

// kill with signal 0 checks that the init exists, as with runc.
func TestKillSignalZero(t *testing.T) {
	hh := newH(t)
	name, _ := hh.startSleeper(nil)
	hh.must("kill", name, "0")
	hh.must("kill", name, "KILL")
	hh.waitStatus(name, "stopped")
	if r := hh.husk("kill", name, "0"); r.code == 0 {
		t.Errorf("kill 0 of a stopped container: %s", r)
	}
	hh.must("delete", name)
}

// SIGKILL to a container sharing the host's pid namespace kills every
// process of its cgroup, even once its init is gone (runc does).
func TestKillHostPidnsInitGone(t *testing.T) {
	hh := newH(t)
	name, _ := hh.startSleeper(func(s *rspec.Spec) {
		var nss []rspec.LinuxNamespace
		for _, ns := range s.Linux.Namespaces {
			if ns.Type != rspec.PIDNamespace {
				nss = append(nss, ns)
			}
		}
		s.Linux.Namespaces = nss
	})
	pidFile := filepath.Join(hh.dir, "exec.pid")
	hh.must("exec", "-d", "--pid-file", pidFile, name, "sleep", "1001")
	pid, _ := strconv.Atoi(readTrim(t, pidFile))
	hh.must("kill", name, "KILL")
	hh.waitStatus(name, "stopped")
	hh.must("kill", name, "KILL")
	// The exec'd sleep is ours (re-parented to the subreaper): reaped
	// here once the second kill got it.
	var ws unix.WaitStatus
	if _, err := unix.Wait4(pid, &ws, 0, nil); err != nil || !ws.Signaled() || ws.Signal() != unix.SIGKILL {
		t.Errorf("the exec'd process: %v, status %v", err, ws)
	}
	hh.must("delete", name)
}

// list: a --root that does not exist is an error (runc's), the default
// root may not exist yet.
func TestListMissingRoot(t *testing.T) {
	hh := newH(t)
	r := hh.husk("--root", filepath.Join(hh.dir, "no", "such"), "list")
	if r.code == 0 {
		t.Errorf("list with a missing --root: %s", r)
	}
}
