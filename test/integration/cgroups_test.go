package integration

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

func i64p(v int64) *int64      { return &v }
func u64p(v uint64) *uint64    { return &v }
func pidsLimit(n int64) *int64 { return &n }

// withLimits sets the resources the cgroup tests check.
func withLimits(s *rspec.Spec) {
	r := s.Linux.Resources
	r.Memory = &rspec.LinuxMemory{Limit: i64p(64 << 20)}
	r.CPU = &rspec.LinuxCPU{Shares: u64p(512), Quota: i64p(50000), Period: u64p(100000), Cpus: "0", Mems: "0"}
	r.Pids = &rspec.LinuxPids{Limit: pidsLimit(20)}
}

type cgroupFile struct{ ctrl, file, want string }

// limitFiles are the files withLimits sets, per controller (a v1
// hierarchy; "" on a pure cgroup v2 host), and their values.
func limitFiles() []cgroupFile {
	if pureV2() {
		return []cgroupFile{
			{"", "memory.max", strconv.Itoa(64 << 20)},
			{"", "cpu.weight", "59"}, // shares 512, converted as runc (1.3+) and crun do
			{"", "cpu.max", "50000 100000"},
			{"", "pids.max", "20"},
			{"", "cpuset.cpus", "0"},
			{"", "cpuset.mems", "0"},
		}
	}
	return []cgroupFile{
		{"memory", "memory.limit_in_bytes", strconv.Itoa(64 << 20)},
		{"cpu", "cpu.shares", "512"},
		{"cpu", "cpu.cfs_quota_us", "50000"},
		{"cpu", "cpu.cfs_period_us", "100000"},
		{"pids", "pids.max", "20"},
		{"cpuset", "cpuset.cpus", "0"},
		{"cpuset", "cpuset.mems", "0"},
	}
}

// memoryLimitFile is where withLimits' memory limit is: hierarchy, file.
func memoryLimitFile() (string, string) {
	if pureV2() {
		return "", "memory.max"
	}
	return "memory", "memory.limit_in_bytes"
}

func readTrim(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Errorf("%v", err)
		return ""
	}
	return strings.TrimSpace(string(data))
}

// parseCgroupFile parses /proc/<pid>/cgroup into controllers -> path
// ("" for the cgroup2 line).
func parseCgroupFile(text string) map[string]string {
	out := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(text), "\n") {
		parts := strings.SplitN(l, ":", 3)
		if len(parts) == 3 {
			out[parts[1]] = parts[2]
		}
	}
	return out
}

// cgroupRunning creates and starts a container that prints what it sees
// of its cgroups, then sleeps; it returns the container's name, its
// state and its output.
func cgroupRunning(hh *h, edit func(*rspec.Spec)) (string, ociState, string) {
	hh.t.Helper()
	var script strings.Builder
	for _, f := range limitFiles() {
		fmt.Fprintf(&script, "echo %s=$(cat %s); ", f.file, path.Join("/sys/fs/cgroup", f.ctrl, f.file))
	}
	script.WriteString("grep Cpus_allowed_list /proc/self/status; echo --; cat /proc/self/cgroup; echo END; exec sleep 1000")
	b := hh.bundle(edit, "sh", "-c", script.String())
	name := id(hh.t)
	out, errOut := filepath.Join(hh.dir, name+".out"), filepath.Join(hh.dir, name+".err")
	if r := hh.createTo(out, errOut, "--bundle", b, name); r.code != 0 {
		hh.t.Fatalf("create: %s", r)
	}
	hh.must("start", name)
	st := hh.waitStatus(name, "running")
	return name, st, waitFileContains(hh.t, out, "END\n")
}

func TestCgroupLimits(t *testing.T) {
	hh := newH(t)
	name, st, out := cgroupRunning(hh, withLimits)
	inside, procCgroup, _ := strings.Cut(out, "--\n")
	cg := name // the default: <name>, relative (see cgroupIn)
	want := relativeCgroups(t, cg)
	for _, f := range limitFiles() {
		if got := readTrim(t, filepath.Join(cgroupDir(t, f.ctrl, cg), f.file)); got != f.want {
			t.Errorf("host %s/%s: %q, want %q", f.ctrl, f.file, got, f.want)
		}
		if !strings.Contains(inside, f.file+"="+f.want+"\n") {
			t.Errorf("inside /sys/fs/cgroup/%s/%s: want %s in %q", f.ctrl, f.file, f.want, inside)
		}
	}
	if !strings.Contains(inside, "Cpus_allowed_list:\t0\n") {
		t.Errorf("the container may run on other CPUs than cpuset 0: %q", inside)
	}

	// Every hierarchy, the unified one included, has the container at cg
	// (below our own cgroup there), from inside and from outside.
	hostView, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", st.Pid))
	if err != nil {
		t.Fatal(err)
	}
	for what, text := range map[string]string{"inside": strings.TrimSuffix(procCgroup, "END\n"), "host": string(hostView)} {
		m := parseCgroupFile(text)
		if _, ok := m[""]; !ok {
			t.Errorf("%s /proc/<pid>/cgroup has no cgroup2 line: %q", what, text)
		}
		for ctrl, p := range m {
			if p != want[ctrl] {
				t.Errorf("%s: %q hierarchy at %q, want %q", what, ctrl, p, want[ctrl])
			}
		}
	}
	for _, m := range cgroupMounts(t) {
		procsFile := filepath.Join(cgroupIn(t, m, cg), "cgroup.procs")
		if procs := readTrim(t, procsFile); !strings.Contains("\n"+procs+"\n", fmt.Sprintf("\n%d\n", st.Pid)) {
			t.Errorf("init %d not in %s", st.Pid, procsFile)
		}
	}
	hh.must("delete", "--force", name)
	assertNoCgroup(t, cg)
}

// removeCgroupParent removes an (empty) parent cgroup a test created.
func removeCgroupParent(t *testing.T, rel func(mnt string) string) {
	t.Cleanup(func() {
		for _, m := range cgroupMounts(t) {
			os.Remove(rel(m))
		}
	})
}

func TestCgroupAbsolutePath(t *testing.T) {
	hh := newH(t)
	parent := fmt.Sprintf("/husk-it-%d", os.Getpid())
	removeCgroupParent(t, func(m string) string { return filepath.Join(m, parent) })
	var cg string
	name, _, out := cgroupRunning(hh, func(s *rspec.Spec) {
		withLimits(s)
		cg = parent + "/" + uniqueID("abs")
		s.Linux.CgroupsPath = cg
	})
	_, procCgroup, _ := strings.Cut(out, "--\n")
	for ctrl, p := range parseCgroupFile(strings.TrimSuffix(procCgroup, "END\n")) {
		if p != cg {
			t.Errorf("%q hierarchy at %q, want %q", ctrl, p, cg)
		}
	}
	memCtrl, memFile := memoryLimitFile()
	if got := readTrim(t, filepath.Join(cgroupDir(t, memCtrl, cg), memFile)); got != strconv.Itoa(64<<20) {
		t.Errorf("memory limit at %s: %q", cg, got)
	}
	if _, err := os.Stat(cgroupDir(t, memCtrl, name)); err == nil {
		t.Errorf("a cgroup %s was made at the default place although cgroupsPath is %s", name, cg)
	}
	hh.must("delete", "--force", name)
	assertNoCgroup(t, cg)
}

func TestCgroupRelativePath(t *testing.T) {
	hh := newH(t)
	parentName := fmt.Sprintf("husk-rel-%d", os.Getpid())
	rel := parentName + "/c"
	removeCgroupLater(t, parentName)
	removeCgroupLater(t, rel)
	name, _, out := cgroupRunning(hh, func(s *rspec.Spec) {
		withLimits(s)
		s.Linux.CgroupsPath = rel
	})
	_, procCgroup, _ := strings.Cut(out, "--\n")
	inside := parseCgroupFile(strings.TrimSuffix(procCgroup, "END\n"))
	want := relativeCgroups(t, rel)
	if len(inside) != len(want) {
		t.Errorf("hierarchies inside %v, want %v", inside, want)
	}
	for ctrls, p := range want {
		if inside[ctrls] != p {
			t.Errorf("%q hierarchy at %q, want %q (relative to our own cgroup)", ctrls, inside[ctrls], p)
		}
	}
	memCtrl, memFile := memoryLimitFile()
	if got := readTrim(t, filepath.Join(cgroupDir(t, memCtrl, rel), memFile)); got != strconv.Itoa(64<<20) {
		t.Errorf("memory limit at %s: %q", rel, got)
	}
	hh.must("delete", "--force", name)
	// Its parent too: husk made it.
	assertNoCgroup(t, rel)
	assertNoCgroup(t, parentName)
}

func TestCgroupNamespace(t *testing.T) {
	hh := newH(t)
	name, _, out := cgroupRunning(hh, func(s *rspec.Spec) {
		withLimits(s)
		setNS(s, rspec.CgroupNamespace, "")
	})
	inside, procCgroup, _ := strings.Cut(out, "--\n")
	m := parseCgroupFile(strings.TrimSuffix(procCgroup, "END\n"))
	if len(m) == 0 {
		t.Fatalf("output %q", out)
	}
	for ctrl, p := range m {
		if p != "/" {
			t.Errorf("%q hierarchy inside a cgroup namespace at %q, want /", ctrl, p)
		}
	}
	// The hierarchies mounted inside are rooted at the container's cgroup.
	for _, f := range limitFiles() {
		if !strings.Contains(inside, f.file+"="+f.want+"\n") {
			t.Errorf("inside /sys/fs/cgroup/%s/%s: want %s in %q", f.ctrl, f.file, f.want, inside)
		}
	}
	hh.must("delete", "--force", name)
	assertNoCgroup(t, name)
}

func TestCgroupPidsLimitEnforced(t *testing.T) {
	hh := newH(t)
	pids := path.Join("/sys/fs/cgroup", ctrlDir("pids"))
	out := hh.sh(func(s *rspec.Spec) {
		s.Linux.Resources.Pids = &rspec.LinuxPids{Limit: pidsLimit(10)}
	}, `( for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do sleep 30 & done ) 2>&1
		echo sub=$?
		set -- /proc/[0-9]*; echo procs=$#
		read x < `+pids+`/pids.current; echo current=$x
		read e < `+pids+`/pids.events; echo events=$e`)
	if !strings.Contains(out, "Resource temporarily unavailable") || strings.Contains(out, "sub=0\n") {
		t.Errorf("starting 20 processes under pids.max 10 did not fail: %q", out)
	}
	var procs, current int
	for _, l := range strings.Split(out, "\n") {
		fmt.Sscanf(l, "procs=%d", &procs)
		fmt.Sscanf(l, "current=%d", &current)
	}
	if procs == 0 || procs > 10 || current == 0 || current > 10 {
		t.Errorf("processes in the container: %d, pids.current %d, want at most 10: %q", procs, current, out)
	}
	if !strings.Contains(out, "events=max ") || strings.Contains(out, "events=max 0\n") {
		t.Errorf("pids.events records no refused fork: %q", out)
	}
}

// A container that forks leaves no process or cgroup behind on delete.
func TestCgroupRemovedWithChildren(t *testing.T) {
	hh := newH(t)
	// No pid namespace: the children are not killed with the init, delete
	// must find them through the cgroup.
	b := hh.bundle(func(s *rspec.Spec) {
		var nss []rspec.LinuxNamespace
		for _, ns := range s.Linux.Namespaces {
			if ns.Type != rspec.PIDNamespace {
				nss = append(nss, ns)
			}
		}
		s.Linux.Namespaces = nss
	}, "sh", "-c", "sleep 1000 & sleep 1000 & (sleep 1000 &); exec sleep 1000")
	name := id(t)
	before := takeSnapshot(t)
	hh.must("create", "--bundle", b, name)
	hh.must("start", name)
	hh.waitStatus(name, "running")
	procs := filepath.Join(cgroupDir(t, ctrlDir("pids"), name), "cgroup.procs")
	for i := 0; ; i++ {
		if n := len(strings.Fields(readTrim(t, procs))); n == 4 {
			break
		} else if i > 500 {
			t.Fatalf("%d processes in the container, want 4", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	hh.must("delete", "--force", name)
	hh.assertClean(name, "", filepath.Join(b, "rootfs"), before)
}
