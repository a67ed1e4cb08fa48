package clients

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// podman is podman 4.3 with private storage and state; conmon, which
// podman starts for each container, calls husk. There is no daemon.
type podman struct {
	base, runroot string
	runtime       string
	env           []string
	flags         []string
}

// podmanOpts: no network; explicit rlimits, because root on these
// machines lacks CAP_SYS_RESOURCE and podman's defaults (1048576) cannot
// be set by any runtime.
var podmanOpts = []string{"--network", "none", "--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096"}

func newPodman(t *testing.T, runtime string) *podman {
	t.Helper()
	base := filepath.Join(workDir, "podman")
	for _, d := range []string{"root", "volumes", "net"} {
		if err := os.MkdirAll(filepath.Join(base, d), 0o711); err != nil {
			t.Fatal(err)
		}
	}
	runroot, err := os.MkdirTemp("/run", "husk-clients-podman-")
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(base, "containers.conf")
	if err := os.WriteFile(conf, []byte("[engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := &podman{
		base:    base,
		runroot: runroot,
		runtime: runtime,
		// Only this run's configuration, not the machine's.
		env: []string{"CONTAINERS_CONF=" + conf},
		flags: []string{
			"--root", filepath.Join(base, "root"),
			"--runroot", filepath.Join(runroot, "storage"),
			"--tmpdir", filepath.Join(runroot, "libpod"),
			"--volumepath", filepath.Join(base, "volumes"),
			"--network-config-dir", filepath.Join(base, "net"),
			"--storage-driver", "overlay",
			"--cgroup-manager", "cgroupfs",
			"--events-backend", "file",
			"--runtime", runtime,
		},
	}
	t.Cleanup(func() {
		p.podman(t, "rm", "-a", "-f", "-t", "0")
		// conmon outlives podman; those told to use our wrapper are ours,
		// and so are their children (container inits).
		for _, pid := range pidsWithArg(runtime) {
			for _, child := range childrenOf(pid) {
				t.Logf("killing process %d left by conmon %d", child, pid)
				syscall.Kill(child, syscall.SIGKILL)
			}
			t.Logf("killing leftover conmon %d", pid)
			syscall.Kill(pid, syscall.SIGKILL)
		}
		removeDirs(t, base, runroot)
	})
	return p
}

func (p *podman) spec(stdin []byte, args ...string) cmdSpec {
	return cmdSpec{name: podmanBin, args: append(append([]string{}, p.flags...), args...), env: p.env, stdin: stdin}
}

func (p *podman) podman(t *testing.T, args ...string) result {
	t.Helper()
	return run(t, p.spec(nil, args...))
}

func (p *podman) inspect(t *testing.T, id string) string {
	t.Helper()
	return strings.TrimSpace(p.podman(t, "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", id).stdout)
}

// exitedUnseen runs a container, stops its conmon (SIGSTOP, by pid) and
// kills its init: the init stays a zombie nobody reaps, which husk sees
// as stopped, while podman, waiting for conmon's exit file, still has
// the container running. resume continues conmon (at cleanup at the
// latest), which then reaps the init and reports its exit.
func (p *podman) exitedUnseen(t *testing.T, img string) (id string, resume func()) {
	t.Helper()
	r := mustOK(t, p.podman(t, append(append([]string{"run", "-d"}, podmanOpts...), img, "sleep", "1000")...))
	f := strings.Fields(r.stdout)
	if len(f) == 0 {
		t.Fatalf("no container id from run -d: %s", r)
	}
	id = f[len(f)-1]
	t.Cleanup(func() { p.podman(t, "rm", "-f", "-t", "0", id) })
	var conmon, pid int
	pids := p.podman(t, "inspect", "-f", "{{.State.ConmonPid}} {{.State.Pid}}", id)
	if _, err := fmt.Sscan(pids.stdout, &conmon, &pid); err != nil || conmon <= 0 || pid <= 0 {
		t.Fatalf("conmon and init pids of %s: %v: %s", id, err, pids)
	}
	if err := syscall.Kill(conmon, syscall.SIGSTOP); err != nil {
		t.Fatalf("stop conmon %d: %v", conmon, err)
	}
	resumed := false
	resume = func() {
		if !resumed {
			resumed = true
			syscall.Kill(conmon, syscall.SIGCONT)
		}
	}
	t.Cleanup(resume)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill the init %d: %v", pid, err)
	}
	if !poll(10*time.Second, func() bool { st, _ := huskState(t, id); return st == "stopped" }) {
		t.Fatalf("husk does not have %s stopped after its init was killed", id)
	}
	if st := p.inspect(t, id); st != "running 0" {
		t.Fatalf("podman has %s %q while its conmon is stopped", id, st)
	}
	return id, resume
}

// wantExited137 waits until podman has the container exited by SIGKILL.
func (p *podman) wantExited137(t *testing.T, id string) {
	t.Helper()
	if !poll(20*time.Second, func() bool { return p.inspect(t, id) == "exited 137" }) {
		t.Errorf("container %s: %q, want exited 137", id, p.inspect(t, id))
	}
}

// huskState is `husk state ID` with husk's default state dir, the one
// conmon's calls (no --root) use.
func huskState(t *testing.T, id string) (string, result) {
	t.Helper()
	r := run(t, cmdSpec{name: huskBin, args: []string{"state", id}})
	var st struct{ Status string }
	json.Unmarshal([]byte(r.stdout), &st)
	return st.Status, r
}

// TestPodman runs containers with podman --runtime husk (conmon calls
// husk without --root or --log).
func TestPodman(t *testing.T) {
	argv := newArgvLog(t, "podman")
	// After podman's own cleanup: whatever it left in husk's default state
	// dir and in its cgroups goes too.
	t.Cleanup(func() {
		for _, id := range argv.containerIDs(t) {
			if _, err := os.Stat(filepath.Join("/run/husk", id)); err == nil {
				t.Logf("deleting container %s podman left in /run/husk", id)
				run(t, cmdSpec{name: huskBin, args: []string{"delete", "--force", id}})
			}
			removeCgroups(t, "libpod_parent/libpod-"+id)
		}
	})
	p := newPodman(t, argv.wrapper)
	argv.addSubst(p.base, "<PODMAN_DIR>")
	argv.addSubst(p.runroot, "<PODMAN_RUN>")
	argv.bundles = regexp.MustCompile(regexp.QuoteMeta(filepath.Join(p.base, "root/overlay-containers")) + `/[0-9a-f]{64}/userdata`)
	runArgs := func(opts ...string) []string {
		return append(append([]string{"run"}, podmanOpts...), opts...)
	}
	img := podmanImage

	t.Run("rootfs", func(t *testing.T) {
		wantOut(t, p.podman(t, runArgs("--rm", "--rootfs", rootfsDir, "sh", "-c", "echo hello-$(id -u)")...), "hello-0")
	})
	r := run(t, cmdSpec{name: podmanBin, args: append(append([]string{}, p.flags...), "import", rootfsTar, img), env: p.env, timeout: longTimeout})
	mustOK(t, r)

	t.Run("echo", func(t *testing.T) {
		wantOut(t, p.podman(t, runArgs("--rm", img, "sh", "-c", "echo hello-$(id -u)")...), "hello-0")
	})
	t.Run("exit_code", func(t *testing.T) {
		if r := p.podman(t, runArgs("--rm", img, "sh", "-c", "exit 3")...); r.code != 3 {
			t.Errorf("want exit 3: %s", r)
		}
	})
	t.Run("stdin", func(t *testing.T) {
		wantOut(t, run(t, p.spec([]byte("piped-stdin\nsecond\n"), runArgs("--rm", "-i", img, "cat")...)), "piped-stdin\nsecond")
	})
	t.Run("tty", func(t *testing.T) {
		checkTTY(t, runPTY(t, p.spec(nil, runArgs("--rm", "-t", img, "sh", "-c", ttyScript)...), 30, 100))
	})
	t.Run("user_env_workdir_hostname", func(t *testing.T) {
		r := p.podman(t, runArgs("--rm", "--user", "65534:65534", "-e", "FOO=bar", "-w", "/tmp", "--hostname", "hx", img,
			"sh", "-c", "echo $(id -u):$(id -g):$FOO:$(pwd):$(hostname)")...)
		wantOut(t, r, "65534:65534:bar:/tmp:hx")
	})
	t.Run("exec_errors", func(t *testing.T) {
		// podman maps the runtime's error text to the exit code: 127 for
		// a command not found, 126 for one that cannot be executed.
		r := p.podman(t, runArgs("--rm", img, "nonexistent-cmd")...)
		if r.code != 127 || !strings.Contains(r.stderr, `exec: "nonexistent-cmd": executable file not found`) {
			t.Errorf("want exit 127 and husk's message: %s", r)
		}
		if r := p.podman(t, runArgs("--rm", img, "/etc/passwd")...); r.code != 126 || !strings.Contains(r.stderr, "permission denied") {
			t.Errorf("want exit 126 (permission denied): %s", r)
		}
	})
	t.Run("lifecycle", func(t *testing.T) {
		r := mustOK(t, p.podman(t, runArgs("-d", img, "sh", "-c", lifecycleScript)...))
		f := strings.Fields(r.stdout)
		if len(f) == 0 {
			t.Fatalf("no container id from run -d: %s", r)
		}
		id := f[len(f)-1]
		if st := p.inspect(t, id); st != "running 0" {
			t.Fatalf("after run -d: %q", st)
		}
		if st, r := huskState(t, id); st != "running" {
			t.Errorf("husk's default state dir (/run/husk) does not have the running container: %s", r)
		}
		wantOut(t, p.podman(t, "exec", id, "sh", "-c", "echo exec-ok $(cat /proc/1/comm)"), "exec-ok sh")
		wantOut(t, p.podman(t, "exec", "-u", "65534", "-w", "/tmp", "-e", "E=1", id, "sh", "-c", "echo $(id -u)$(pwd)$E"), "65534/tmp1")
		checkTTY(t, runPTY(t, p.spec(nil, "exec", "-t", id, "sh", "-c", ttyScript), 30, 100))
		if r := p.podman(t, "exec", id, "nonexistent-cmd"); r.code != 127 || !strings.Contains(r.stderr, `exec: "nonexistent-cmd": executable file not found`) {
			t.Errorf("podman exec of a missing command: want exit 127 and husk's message: %s", r)
		}

		mustOK(t, p.podman(t, "pause", id))
		if st := p.inspect(t, id); st != "paused 0" {
			t.Errorf("after pause: %q", st)
		}
		if st, r := huskState(t, id); st != "paused" {
			t.Errorf("husk state after podman pause: %s", r)
		}
		mustOK(t, p.podman(t, "unpause", id))
		if st := p.inspect(t, id); st != "running 0" {
			t.Errorf("after unpause: %q", st)
		}

		mustOK(t, p.podman(t, "kill", "-s", "USR1", id))
		if !poll(10*time.Second, func() bool { return p.podman(t, "exec", id, "test", "-f", "/tmp/got-usr1").code == 0 }) {
			t.Errorf("SIGUSR1 from podman kill did not reach the container")
		}
		mustOK(t, p.podman(t, "stop", "-t", "30", id))
		if st := p.inspect(t, id); st != "exited 7" {
			t.Errorf("after stop (SIGTERM, trapped: exit 7): %q", st)
		}

		mustOK(t, p.podman(t, "start", id))
		if st := p.inspect(t, id); st != "running 0" {
			t.Fatalf("after start again: %q", st)
		}
		mustOK(t, p.podman(t, "kill", id))
		if !poll(10*time.Second, func() bool { return p.inspect(t, id) == "exited 137" }) {
			t.Errorf("after kill: %q", p.inspect(t, id))
		}
		mustOK(t, p.podman(t, "rm", id))
		if r := p.podman(t, "inspect", id); r.code == 0 {
			t.Errorf("container still there after rm: %s", r)
		}
		if _, r := huskState(t, id); r.code == 0 {
			t.Errorf("husk still has the container after podman rm: %s", r)
		}
	})
	t.Run("kill_after_exit", func(t *testing.T) {
		// podman decides from husk's state, not its words: the kill fails
		// with husk's "container not running" on podman's stderr, then
		// `husk state` says stopped and podman reports the container's
		// state as improper for a kill, as it does with runc.
		id, resume := p.exitedUnseen(t, img)
		r := p.podman(t, "kill", id)
		t.Logf("what podman says: %q", r.stderr)
		if r.code == 0 || !strings.Contains(r.stderr, "container not running") || !strings.Contains(r.stderr, "container state improper") {
			t.Errorf("podman kill of a container that has just exited: want husk's \"container not running\" and podman's \"container state improper\": %s", r)
		}
		resume()
		p.wantExited137(t, id)
		argv.wantHuskSaid(t, "kill", id, "container not running")
	})
	t.Run("kill_husk_deleted", func(t *testing.T) {
		// Deleted with husk behind podman's back after its exit: podman
		// passes husk's "container does not exist" on.
		id, resume := p.exitedUnseen(t, img)
		mustOK(t, run(t, cmdSpec{name: huskBin, args: []string{"delete", id}}))
		r := p.podman(t, "kill", id)
		t.Logf("what podman says: %q", r.stderr)
		if r.code == 0 || !strings.Contains(r.stderr, "container does not exist") {
			t.Errorf("podman kill of a container husk no longer has: want husk's \"container does not exist\": %s", r)
		}
		resume()
		p.wantExited137(t, id)
		argv.wantHuskSaid(t, "kill", id, "container does not exist")
	})
	t.Run("invalid_config", func(t *testing.T) {
		// podman checks tmpfs option names, not their values; conmon
		// passes husk's stderr on.
		r := p.podman(t, runArgs("--rm", "--tmpfs", "/x:size=abc", img, "true")...)
		wantHuskError(t, r, `mounts\[[0-9]+\] \(/x\): mount tmpfs: option size=abc`)
	})
	t.Run("no_leftovers", func(t *testing.T) {
		if r := p.podman(t, "ps", "-aq"); r.code != 0 || strings.TrimSpace(r.stdout) != "" {
			t.Errorf("containers left: %s", r)
		}
	})
	t.Run("argv", argv.check)
}
