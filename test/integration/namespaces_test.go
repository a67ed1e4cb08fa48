package integration

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// setNS adds a namespace of type typ (or sets its path) in the config.
func setNS(s *rspec.Spec, typ rspec.LinuxNamespaceType, path string) {
	for i := range s.Linux.Namespaces {
		if s.Linux.Namespaces[i].Type == typ {
			s.Linux.Namespaces[i].Path = path
			return
		}
	}
	s.Linux.Namespaces = append(s.Linux.Namespaces, rspec.LinuxNamespace{Type: typ, Path: path})
}

func nsIndex(s *rspec.Spec, typ rspec.LinuxNamespaceType) int {
	for i, ns := range s.Linux.Namespaces {
		if ns.Type == typ {
			return i
		}
	}
	return -1
}

// chownTree gives a rootfs to the user namespace's root.
func chownTree(t *testing.T, dir string, uid, gid int) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestUserNamespaceMappings(t *testing.T) {
	hh := newH(t)
	// The container's root (host uid 100000) must traverse to its bundle:
	// TempDir's per-test parent is 0700.
	if err := os.Chmod(filepath.Dir(hh.dir), 0o755); err != nil {
		t.Fatal(err)
	}
	shared := filepath.Join(hh.dir, "shared")
	if err := os.Mkdir(shared, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(shared, 0o777)
	b := hh.bundle(func(s *rspec.Spec) {
		setNS(s, rspec.UserNamespace, "")
		s.Linux.UIDMappings = []rspec.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		s.Linux.GIDMappings = []rspec.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		s.Mounts = append(s.Mounts, rspec.Mount{Destination: "/shared", Source: shared, Options: []string{"bind"}})
	}, "sh", "-c", `cat /proc/self/uid_map; echo --; cat /proc/self/gid_map; echo --; id; echo --;
		touch /shared/made-inside && mkdir /shared/dir-inside && echo created`)
	chownTree(t, filepath.Join(b, "rootfs"), 100000, 100000)
	r := hh.husk("run", "--bundle", b, id(t))
	if r.code != 0 {
		t.Fatalf("run: %s", r)
	}
	parts := strings.Split(r.stdout, "--\n")
	if len(parts) != 4 {
		t.Fatalf("output: %q", r.stdout)
	}
	for i, name := range []string{"uid_map", "gid_map"} {
		if f := strings.Fields(parts[i]); len(f) != 3 || f[0] != "0" || f[1] != "100000" || f[2] != "65536" {
			t.Errorf("%s inside: %q, want 0 100000 65536", name, parts[i])
		}
	}
	if !strings.HasPrefix(parts[2], "uid=0(root) gid=0(root)") {
		t.Errorf("id inside: %q", parts[2])
	}
	if !strings.Contains(parts[3], "created") {
		t.Fatalf("could not write to the bind-mounted directory: %s", r)
	}
	for _, n := range []string{"made-inside", "dir-inside"} {
		st, err := os.Stat(filepath.Join(shared, n))
		if err != nil {
			t.Fatal(err)
		}
		sys := st.Sys().(*syscall.Stat_t)
		if sys.Uid != 100000 || sys.Gid != 100000 {
			t.Errorf("%s created by the container's root is owned by %d:%d on the host, want 100000:100000", n, sys.Uid, sys.Gid)
		}
	}
}

// The container's processes run as the mapped host uid, seen from outside.
func TestUserNamespaceHostView(t *testing.T) {
	hh := newH(t)
	if err := os.Chmod(filepath.Dir(hh.dir), 0o755); err != nil {
		t.Fatal(err)
	}
	name, st := hh.startSleeper(func(s *rspec.Spec) {
		setNS(s, rspec.UserNamespace, "")
		s.Linux.UIDMappings = []rspec.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		s.Linux.GIDMappings = []rspec.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		s.Process.User = rspec.User{UID: 1000, GID: 1000}
	})
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", st.Pid))
	if err != nil {
		t.Fatal(err)
	}
	if u := strings.Fields(procStatusField(string(data), "Uid")); len(u) != 4 || u[0] != "101000" || u[1] != "101000" {
		t.Errorf("container process uid on the host: %v, want 101000 (1000 mapped)", u)
	}
	if g := strings.Fields(procStatusField(string(data), "Gid")); len(g) != 4 || g[0] != "101000" {
		t.Errorf("container process gid on the host: %v, want 101000", g)
	}
	if nsLink(t, strconv.Itoa(st.Pid), "user") == nsLink(t, "self", "user") {
		t.Error("the container shares the host's user namespace")
	}
	hh.must("delete", "--force", name)
}

func TestUTSNamespace(t *testing.T) {
	hh := newH(t)
	out := hh.sh(func(s *rspec.Spec) {
		s.Hostname = "box-1"
		s.Domainname = "example.test"
	}, "hostname; cat /proc/sys/kernel/domainname")
	if out != "box-1\nexample.test\n" {
		t.Errorf("hostname and domainname inside: %q", out)
	}
	host, _ := os.Hostname()
	if host == "box-1" {
		t.Error("the container changed the host's hostname")
	}
	if d, _ := os.ReadFile("/proc/sys/kernel/domainname"); strings.TrimSpace(string(d)) == "example.test" {
		t.Error("the container changed the host's domainname")
	}
}

func TestPIDNamespace(t *testing.T) {
	hh := newH(t)
	out := hh.sh(nil, `echo $$; for p in /proc/[0-9]*; do echo ${p#/proc/}; done`)
	lines := strings.Fields(out)
	if len(lines) == 0 || lines[0] != "1" {
		t.Fatalf("the container's process is not pid 1: %q", out)
	}
	// Only the shell (pid 1) is in the namespace: the for loop runs in it.
	if len(lines) != 2 || lines[1] != "1" {
		t.Errorf("processes visible in the container's pid namespace: %v, want only 1", lines[1:])
	}
	name, st := hh.startSleeper(nil)
	if st.Pid == 1 || nsLink(t, strconv.Itoa(st.Pid), "pid") == nsLink(t, "self", "pid") {
		t.Errorf("container init %d shares the host's pid namespace", st.Pid)
	}
	hh.must("delete", "--force", name)
}

func TestNetNamespaceOnlyLoopback(t *testing.T) {
	hh := newH(t)
	out := hh.sh(nil, `tail -n +3 /proc/net/dev | cut -d: -f1; echo --; ls /sys/class/net`)
	ifs, sys, _ := strings.Cut(out, "--\n")
	if f := strings.Fields(ifs); len(f) != 1 || f[0] != "lo" {
		t.Errorf("interfaces in /proc/net/dev: %q, want only lo", ifs)
	}
	if f := strings.Fields(sys); len(f) != 1 || f[0] != "lo" {
		t.Errorf("interfaces in /sys/class/net: %q, want only lo", sys)
	}
}

// Every namespace the config asks for is a new one, different from the
// host's (the test process's).
func TestNamespacesDifferFromHost(t *testing.T) {
	hh := newH(t)
	types := []string{"ipc", "cgroup", "net", "uts", "mnt", "pid"}
	script := ""
	for _, ns := range types {
		script += "readlink /proc/self/ns/" + ns + "; "
	}
	out := hh.sh(func(s *rspec.Spec) { setNS(s, rspec.CgroupNamespace, "") }, script)
	got := strings.Fields(out)
	if len(got) != len(types) {
		t.Fatalf("output %q", out)
	}
	for i, ns := range types {
		host := nsLink(t, "self", ns)
		if !strings.HasPrefix(got[i], ns+":[") {
			t.Errorf("%s namespace inside: %q", ns, got[i])
		}
		if got[i] == host {
			t.Errorf("%s namespace inside is the host's %s", ns, host)
		}
	}
	// Without a cgroup namespace in the config, the container keeps the host's.
	out = hh.sh(nil, "readlink /proc/self/ns/cgroup")
	if strings.TrimSpace(out) != nsLink(t, "self", "cgroup") {
		t.Errorf("cgroup namespace without one in the config: %q, want the host's %s", out, nsLink(t, "self", "cgroup"))
	}
}

func readUptime(t *testing.T, text string) float64 {
	t.Helper()
	f := strings.Fields(text)
	if len(f) < 1 {
		t.Fatalf("uptime %q", text)
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		t.Fatalf("uptime %q: %v", text, err)
	}
	return v
}

// husk writes the offsets for husk-init once it has unshared its time
// namespace, also with a user namespace (where husk-init, not dumpable,
// could not open its own /proc file).
func TestTimeNamespaceOffsets(t *testing.T) {
	if _, err := os.Stat("/proc/self/ns/time"); err != nil {
		t.Skip("this kernel has no time namespaces")
	}
	t.Run("host-userns", func(t *testing.T) { testTimeOffsets(t, false) })
	t.Run("userns", func(t *testing.T) { testTimeOffsets(t, true) })
}

func testTimeOffsets(t *testing.T, userns bool) {
	hh := newH(t)
	const boot = 10 * 86400
	const mono = 86400
	data, _ := os.ReadFile("/proc/uptime")
	before := readUptime(t, string(data))
	b := hh.bundle(func(s *rspec.Spec) {
		setNS(s, rspec.TimeNamespace, "")
		s.Linux.TimeOffsets = map[string]rspec.LinuxTimeOffset{
			"boottime":  {Secs: boot},
			"monotonic": {Secs: mono},
		}
		if userns {
			setNS(s, rspec.UserNamespace, "")
			s.Linux.UIDMappings = []rspec.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
			s.Linux.GIDMappings = []rspec.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		}
	}, "sh", "-c", "cat /proc/uptime; readlink /proc/self/ns/time; cat /proc/self/timens_offsets")
	if userns {
		if err := os.Chmod(filepath.Dir(hh.dir), 0o755); err != nil {
			t.Fatal(err)
		}
		chownTree(t, filepath.Join(b, "rootfs"), 100000, 100000)
	}
	r := hh.husk("run", "--bundle", b, id(t))
	if r.code != 0 {
		t.Fatalf("run: %s", r)
	}
	out := r.stdout
	data, _ = os.ReadFile("/proc/uptime")
	after := readUptime(t, string(data))
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 {
		t.Fatalf("output %q", out)
	}
	offs := map[string]string{}
	for _, l := range lines[2:] {
		if f := strings.Fields(l); len(f) == 3 {
			offs[f[0]] = f[1] + " " + f[2]
		}
	}
	if offs["boottime"] != fmt.Sprint(boot, " 0") || offs["monotonic"] != fmt.Sprint(mono, " 0") {
		t.Errorf("timens_offsets inside: %q", lines[2:])
	}
	inside := readUptime(t, lines[0])
	if inside < before+boot || inside > after+boot+1 {
		t.Errorf("uptime inside %.2f, want between %.2f and %.2f (host uptime + %d s boottime offset)",
			inside, before+boot, after+boot+1, boot)
	}
	if lines[1] == nsLink(t, "self", "time") {
		t.Errorf("time namespace inside is the host's")
	}
}

// Container B joins A's network and UTS namespaces by path.
func TestJoinNamespacesByPath(t *testing.T) {
	hh := newH(t)
	a, st := hh.startSleeper(func(s *rspec.Spec) { s.Hostname = "host-a" })
	pid := strconv.Itoa(st.Pid)
	out := hh.sh(func(s *rspec.Spec) {
		s.Hostname = ""
		setNS(s, rspec.NetworkNamespace, "/proc/"+pid+"/ns/net")
		setNS(s, rspec.UTSNamespace, "/proc/"+pid+"/ns/uts")
	}, "hostname; readlink /proc/self/ns/net; readlink /proc/self/ns/uts; readlink /proc/self/ns/ipc")
	got := strings.Fields(out)
	if len(got) != 4 {
		t.Fatalf("output %q", out)
	}
	if got[0] != "host-a" {
		t.Errorf("B's hostname %q, want A's host-a", got[0])
	}
	if want := nsLink(t, pid, "net"); got[1] != want {
		t.Errorf("B's net namespace %s, want A's %s", got[1], want)
	}
	if want := nsLink(t, pid, "uts"); got[2] != want {
		t.Errorf("B's uts namespace %s, want A's %s", got[2], want)
	}
	if got[3] == nsLink(t, pid, "ipc") || got[3] == nsLink(t, "self", "ipc") {
		t.Errorf("B's ipc namespace %s is not a new one", got[3])
	}
	// A is unaffected.
	if s := hh.state(a); s.Status != "running" || s.Pid != st.Pid {
		t.Errorf("A after B ran: %+v", s)
	}
	hh.must("delete", "--force", a)
}

// A namespace path of the wrong type is refused before anything exists.
func TestJoinNamespaceWrongType(t *testing.T) {
	hh := newH(t)
	a, st := hh.startSleeper(nil)
	pid := strconv.Itoa(st.Pid)
	var idx int
	b := hh.bundle(func(s *rspec.Spec) {
		s.Hostname = ""
		setNS(s, rspec.UTSNamespace, "/proc/"+pid+"/ns/net")
		idx = nsIndex(s, rspec.UTSNamespace)
	}, "true")
	before := takeSnapshot(t)
	name := id(t)
	r := hh.husk("create", "--bundle", b, name)
	field := fmt.Sprintf("linux.namespaces[%d].path", idx)
	if r.code == 0 || !strings.Contains(r.stderr, field) {
		t.Errorf("create with a net namespace as uts: %s; want an error naming %s", r, field)
	}
	hh.assertClean(name, "", filepath.Join(b, "rootfs"), before)
	if s := hh.state(a); s.Status != "running" {
		t.Errorf("A after the failed create: %+v", s)
	}
	hh.must("delete", "--force", a)
}

// With a user namespace but the host's network namespace, sysfs cannot be
// mounted afresh: husk binds the host's /sys, with the flags the config
// gave the sysfs mount on it and on every mount below it.
func TestSysfsBindKeepsConfigFlags(t *testing.T) {
	hh := newH(t)
	if err := os.Chmod(filepath.Dir(hh.dir), 0o755); err != nil {
		t.Fatal(err)
	}
	b := hh.bundle(func(s *rspec.Spec) {
		var ns []rspec.LinuxNamespace
		for _, n := range s.Linux.Namespaces {
			if n.Type != rspec.NetworkNamespace {
				ns = append(ns, n)
			}
		}
		s.Linux.Namespaces = ns
		setNS(s, rspec.UserNamespace, "")
		s.Linux.UIDMappings = []rspec.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		s.Linux.GIDMappings = []rspec.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		// Only the sysfs mount: what is below /sys comes from the host.
		var mounts []rspec.Mount
		for _, m := range s.Mounts {
			if m.Destination == "/sys" {
				m.Options = []string{"nosuid", "noexec", "nodev", "ro"}
			}
			if !strings.HasPrefix(m.Destination, "/sys/") {
				mounts = append(mounts, m)
			}
		}
		s.Mounts = mounts
		s.Linux.MaskedPaths, s.Linux.ReadonlyPaths = nil, nil
	}, "cat", "/proc/self/mountinfo")
	chownTree(t, filepath.Join(b, "rootfs"), 100000, 100000)
	r := hh.husk("run", "--bundle", b, id(t))
	if r.code != 0 {
		t.Fatalf("run: %s", r)
	}
	n := 0
	for _, l := range strings.Split(r.stdout, "\n") {
		f := strings.Fields(l)
		if len(f) < 6 || (f[4] != "/sys" && !strings.HasPrefix(f[4], "/sys/")) {
			continue
		}
		n++
		opts := "," + f[5] + ","
		for _, want := range []string{",ro,", ",nosuid,", ",nodev,", ",noexec,"} {
			if !strings.Contains(opts, want) {
				t.Errorf("%s is mounted %s, missing %s", f[4], f[5], strings.Trim(want, ","))
			}
		}
	}
	if n < 2 {
		t.Errorf("want /sys and the mounts below it (the host's), found %d:\n%s", n, r.stdout)
	}
}
