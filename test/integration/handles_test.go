package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/internal/testbundle"
)

// The tests here attack what husk's own processes hold while the
// container can reach them: husk-init waiting for start, and the helper
// of every exec. Each fails against a husk-init that is dumpable or keeps
// its private procfs, the exec FIFO or its sync socket, the detached
// mounts husk prepared for it (id-mapped binds) or what it made masks of,
// once it runs with the container's credentials.

// defaultCaps is the capability set of `husk spec` (and runc's): the
// container runs as root without CAP_SYS_PTRACE.
var defaultCaps = []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}

func withDefaultCaps(s *rspec.Spec) {
	s.Process.Capabilities = &rspec.LinuxCapabilities{
		Bounding: defaultCaps, Effective: defaultCaps, Permitted: defaultCaps,
	}
	s.Process.NoNewPrivileges = true
}

// The waiting init of a created container: a process of the container
// (husk exec) tries every descriptor of pid 1 as a procfs root to write
// the host's kernel.core_pattern, and writes to each to start the
// container without `husk start`. Nothing may be reachable, the sysctl
// must be unchanged and the container still created. From the host, the
// init may hold nothing but stdio, the start socket and its root.
func TestCreatedInitHoldsNothingOfTheHost(t *testing.T) {
	hh := newH(t)
	before, err := os.ReadFile("/proc/sys/kernel/core_pattern")
	if err != nil {
		t.Fatal(err)
	}
	// A sysctl makes husk-init open its private procfs; masked paths
	// make it keep the container's /dev/null and a masking tmpfs; an
	// id-mapped bind (read-only, with a mount below it) gives it a
	// detached mount of the host's, kept in a slot until it turns
	// read-only.
	idmSrc := filepath.Join(hh.dir, "idmap-src")
	if err := os.MkdirAll(filepath.Join(idmSrc, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	maps := []rspec.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 10}}
	idmap := idmapWorks(hh, idmSrc)
	b := hh.bundle(func(s *rspec.Spec) {
		withDefaultCaps(s)
		s.Linux.Sysctl = map[string]string{"kernel.shmmni": "4000"}
		s.Linux.MaskedPaths = []string{"/proc/kcore", "/proc/keys", "/proc/acpi", "/sys/firmware"}
		if idmap {
			s.Mounts = append(s.Mounts,
				rspec.Mount{Destination: "/idm", Source: idmSrc, Options: []string{"bind", "ro"}, UIDMappings: maps, GIDMappings: maps},
				rspec.Mount{Destination: "/idm/sub", Type: "tmpfs", Source: "tmpfs"})
		}
	}, "sleep", "100")
	name := id(t)
	hh.must("create", "--bundle", b, name)
	initPid := hh.state(name).Pid

	attack := `
for f in /proc/1/fd/*; do
	if l=$(readlink $f 2>/dev/null); then echo "reached $f -> $l"; fi
	if printf pwned 2>/dev/null >$f/sys/kernel/core_pattern; then echo "WROTE core_pattern through $f"; fi
	if timeout 2 sh -c "echo 1 >$f" 2>/dev/null; then echo "wrote to $f"; fi
	if timeout 2 cat $f >/dev/null 2>&1; then echo "read $f"; fi
done
echo attack-done`
	r := hh.husk("exec", name, "sh", "-c", attack)
	if !strings.Contains(r.stdout, "attack-done") {
		t.Fatalf("the attack did not run: %s", r)
	}
	if strings.Contains(r.stdout, "reached") || strings.Contains(r.stdout, "WROTE") ||
		strings.Contains(r.stdout, "wrote") || strings.Contains(r.stdout, "read ") {
		t.Errorf("a process of the container reached the waiting init's descriptors:\n%s", r.stdout)
	}
	if after, _ := os.ReadFile("/proc/sys/kernel/core_pattern"); string(after) != string(before) {
		os.WriteFile("/proc/sys/kernel/core_pattern", before, 0o644)
		t.Fatalf("the container changed the host's kernel.core_pattern to %q", after)
	}
	if st := hh.state(name); st.Status != "created" {
		t.Errorf("after the attack the container is %s, want created", st.Status)
	}

	// From the host: what the init holds beyond stdio.
	rootfs := filepath.Join(b, "rootfs")
	var rootSt unix.Stat_t
	if err := unix.Stat(rootfs, &rootSt); err != nil {
		t.Fatal(err)
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", initPid))
	if err != nil {
		t.Fatal(err)
	}
	sockets := 0
	for _, e := range fds {
		n, _ := strconv.Atoi(e.Name())
		if n < 3 {
			continue
		}
		path := fmt.Sprintf("/proc/%d/fd/%d", initPid, n)
		target, _ := os.Readlink(path)
		var st unix.Stat_t
		if err := unix.Stat(path, &st); err != nil {
			t.Errorf("fd %d (%s): %v", n, target, err)
			continue
		}
		switch {
		case st.Mode&unix.S_IFMT == unix.S_IFSOCK:
			sockets++ // the start socket
		case st.Dev == rootSt.Dev && st.Ino == rootSt.Ino:
			// its root, the container's own
		default:
			t.Errorf("the waiting init holds fd %d -> %s (mode %o)", n, target, st.Mode)
		}
	}
	if sockets != 1 {
		t.Errorf("the waiting init holds %d sockets, want only the start socket", sockets)
	}
	hh.must("start", name)
	hh.waitStatus(name, "running")
	hh.must("delete", "--force", name)
}

// A process of a running container watches /proc for processes joining it
// and tries every descriptor of theirs, while the host runs 300 execs:
// it must see the helpers join (or the test proves nothing) and reach
// nothing of theirs.
func TestExecHelperRaceReachesNothing(t *testing.T) {
	hh := newH(t)
	outDir := filepath.Join(hh.dir, "out")
	os.MkdirAll(outDir, 0o777)
	b := hh.bundle(func(s *rspec.Spec) {
		withDefaultCaps(s)
		s.Mounts = append(s.Mounts, rspec.Mount{Destination: "/out", Type: "bind", Source: outDir, Options: []string{"bind"}})
	}, "/fdracer", "-ready", "/out/ready", "-stop", "/out/stop")
	installTestProgram(t, "fdracer", filepath.Join(b, "rootfs", "fdracer"))
	name := id(t)
	report := filepath.Join(hh.dir, "racer.out")
	f, err := os.Create(report)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := hh.cmd("run", "--bundle", b, name)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFileExists(t, filepath.Join(outDir, "ready"))
	// The exec'd processes' stdio are pipes husk makes for each (as
	// runc); the racer takes those as theirs, and any other pipe or
	// socket it reaches as husk's.
	execOut := hh.tempFile()
	defer execOut.Close()
	for i := 0; i < 300; i++ {
		c := hh.cmd("exec", name, "true")
		c.Stdout, c.Stderr = execOut, execOut
		if err := c.Run(); err != nil {
			t.Fatalf("exec %d: %v: %s", i, err, readAll(execOut))
		}
	}
	if err := os.WriteFile(filepath.Join(outDir, "stop"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the racer: %v", err)
	}
	out, _ := os.ReadFile(report)
	text := string(out)
	var helpers int
	fmt.Sscanf(text[strings.Index(text, "helpers "):], "helpers %d", &helpers)
	if helpers == 0 {
		t.Fatalf("the racer never saw a helper join the container, so the test proved nothing:\n%s", text)
	}
	if strings.Contains(text, "reached pid") {
		t.Fatalf("the racer reached descriptors of husk's helpers:\n%s", text)
	}
	t.Logf("the racer saw %d helpers join and reached none of their descriptors", helpers)
}

func waitFileExists(t *testing.T, path string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear", path)
		}
	}
}

// createContainer hooks run inside the container's namespaces before the
// container's init may close anything: they get their state on stdin,
// their output pipe, and no other descriptor of husk-init's.
func TestHooksInsideTheContainerGetNoHandles(t *testing.T) {
	hh := newH(t)
	out := filepath.Join(hh.dir, "hookfds")
	hook := filepath.Join(hh.dir, "hook.sh")
	bb, err := testbundle.Busybox()
	if err != nil {
		t.Fatal(err)
	}
	writeRaw(t, hook, "#!"+bb+" sh\nexec "+bb+" ls /proc/self/fd >"+out+"\n")
	os.Chmod(hook, 0o755)
	r := hh.run(func(s *rspec.Spec) {
		s.Linux.MaskedPaths = []string{"/proc/kcore"}
		s.Hooks = &rspec.Hooks{CreateContainer: []rspec.Hook{{Path: hook}}}
	}, "true")
	if r.code != 0 {
		t.Fatalf("run: %s", r)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	// ls itself opens one directory: 0, 1, 2 and that one.
	if fds := strings.Fields(string(data)); len(fds) != 4 {
		t.Errorf("a createContainer hook got descriptors %v, want only stdio (and ls's own)", fds)
	}
}

// A container without a mount namespace makes its mounts in the host's,
// and delete removes them. The container replaces the parent of one of its
// mount points by a symlink to the host directory holding a mount of the
// host's: delete must still remove the container's own mount and never
// the host's.
func TestDeleteUnmountsThroughNoSymlink(t *testing.T) {
	hh := newH(t)
	hostDir := filepath.Join(hh.dir, "host")
	victim := filepath.Join(hostDir, "victim")
	if err := os.MkdirAll(victim, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("victim", victim, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	defer unix.Unmount(victim, unix.MNT_DETACH)
	b := hh.bundle(func(s *rspec.Spec) {
		var ns []rspec.LinuxNamespace
		for _, n := range s.Linux.Namespaces {
			if n.Type != rspec.MountNamespace {
				ns = append(ns, n)
			}
		}
		s.Linux.Namespaces = ns
		s.Linux.MaskedPaths, s.Linux.ReadonlyPaths = nil, nil
		s.Root.Readonly = false
		s.Mounts = []rspec.Mount{{Destination: "/d/victim", Type: "tmpfs", Source: "tmpfs"}}
	}, "sh", "-c", "mv /d /d2 && ln -s "+hostDir+" /d && touch /d2/victim/moved && sleep 600")
	rootfs := filepath.Join(b, "rootfs")
	name := id(t)
	hh.must("run", "-d", "--bundle", b, name)
	waitFileExists(t, filepath.Join(rootfs, "d2", "victim", "moved"))
	hh.must("delete", "--force", name)
	if !isMountPoint(t, victim) {
		t.Fatalf("delete unmounted the host's %s through the container's symlink", victim)
	}
	if isMountPoint(t, filepath.Join(rootfs, "d2", "victim")) {
		t.Errorf("delete left the container's own mount (moved to /d2/victim)")
	}
}

func isMountPoint(t *testing.T, path string) bool {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) > 4 && f[4] == path {
			return true
		}
	}
	return false
}

// kill --all with a signal other than SIGKILL signals the pids it read
// from the container's cgroup. Here a pid of the container is given to a
// host process between that read and the signal (husk is slowed down with
// strace, the pid recycled with ns_last_pid): the host process must not
// get the signal.
func TestKillAllNeverSignalsARecycledPid(t *testing.T) {
	strace, err := exec.LookPath("strace")
	if err != nil {
		t.Skip("needs strace to hold husk kill between reading the cgroup and signalling")
	}
	hh := newH(t)
	marks := filepath.Join(hh.dir, "marks")
	os.Mkdir(marks, 0o777)
	b := hh.bundle(func(s *rspec.Spec) {
		s.Mounts = append(s.Mounts, rspec.Mount{Destination: "/marks", Source: marks, Options: []string{"bind"}})
	}, "sh", "-c", "trap 'echo got >/marks/init' TERM; sleep 1000 & echo $! >/marks/child; while :; do wait; sleep 0.1; done")
	name := id(t)
	hh.must("run", "-d", "--bundle", b, name)
	childPid := waitFileContains(t, filepath.Join(marks, "child"), "\n")
	hostPidOfChild := hostPid(t, hh.state(name).Pid, strings.TrimSpace(childPid))

	kill := exec.Command(strace, "-f", "-qq", "-o", "/dev/null", "-e", "signal=none",
		"-e", "inject=kill,pidfd_open,pidfd_send_signal:delay_enter=700000:when=1",
		*huskBin, "--root", hh.root, "kill", "--all", name, "TERM")
	if err := kill.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	// Recycle the child's pid for a process of the host's.
	unix.Kill(hostPidOfChild, unix.SIGKILL)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", hostPidOfChild)); err != nil {
			break
		}
	}
	// While husk holds the container frozen, the child stays a zombie and
	// its pid cannot be recycled; otherwise a host process gets it.
	victim := startWithPid(t, hostPidOfChild)
	if err := kill.Wait(); err != nil {
		t.Errorf("husk kill --all: %v", err)
	}
	waitFileContains(t, filepath.Join(marks, "init"), "got")
	if victim == nil {
		t.Logf("pid %d could not be recycled while husk signalled the container", hostPidOfChild)
	} else {
		defer victim.Process.Kill()
		time.Sleep(100 * time.Millisecond)
		if st := procState(victim.Process.Pid); st != 'S' {
			t.Errorf("the host process given the container's old pid %d was hit by husk kill --all (state %c)", hostPidOfChild, st)
		}
	}
	hh.husk("delete", "--force", name)
}

// hostPid maps a pid inside the container (as its init's pid namespace
// sees it) to the host's, through NSpid in /proc/<pid>/status.
func hostPid(t *testing.T, initPid int, inner string) int {
	t.Helper()
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		data, err := os.ReadFile("/proc/" + e.Name() + "/status")
		if err != nil {
			continue
		}
		ns := procStatusField(string(data), "NSpid")
		f := strings.Fields(ns)
		if len(f) == 2 && f[1] == inner {
			if pp := procStatusField(string(data), "PPid"); pp == strconv.Itoa(initPid) {
				n, _ := strconv.Atoi(f[0])
				return n
			}
		}
	}
	t.Fatalf("no process with pid %s in the container of init %d", inner, initPid)
	return 0
}

// procState is the state letter of /proc/<pid>/stat ('?' if gone).
func procState(pid int) byte {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return '?'
	}
	i := strings.LastIndexByte(string(data), ')')
	if i < 0 || i+2 >= len(data) {
		return '?'
	}
	return data[i+2]
}

// startWithPid starts `sleep` on the host with exactly pid, through the
// pid namespace's ns_last_pid; nil if the pid stays taken.
func startWithPid(t *testing.T, pid int) *exec.Cmd {
	t.Helper()
	for try := 0; try < 20; try++ {
		if err := os.WriteFile("/proc/sys/kernel/ns_last_pid", []byte(strconv.Itoa(pid-1)), 0o644); err != nil {
			t.Skipf("cannot choose the next pid (ns_last_pid): %v", err)
		}
		c := exec.Command("sleep", "100")
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		if c.Process.Pid == pid {
			return c
		}
		c.Process.Kill()
		c.Wait()
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}
