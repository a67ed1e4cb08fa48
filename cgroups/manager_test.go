package cgroups

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func TestCreateRecordsCreatedAndDestroyRemovesOnlyThose(t *testing.T) {
	m, f := newFakeManager(t, layoutHybrid(), "/pods/p1/c1")
	// /pods pre-exists in the memory hierarchy only: it belongs to the machine.
	machine := filepath.Join(f.root, "memory/pods")
	f.populate(machine)

	if err := m.Create(nil); err != nil {
		t.Fatal(err)
	}
	st := m.State()
	var want []string
	for _, h := range []string{"blkio", "cpu", "cpuacct", "cpuset", "devices", "freezer"} {
		want = append(want, filepath.Join(f.root, h, "pods"), filepath.Join(f.root, h, "pods/p1"), filepath.Join(f.root, h, "pods/p1/c1"))
	}
	want = append(want, filepath.Join(f.root, "memory/pods/p1"), filepath.Join(f.root, "memory/pods/p1/c1"))
	for _, h := range []string{"name=systemd", "pids", "unified"} {
		want = append(want, filepath.Join(f.root, h, "pods"), filepath.Join(f.root, h, "pods/p1"), filepath.Join(f.root, h, "pods/p1/c1"))
	}
	if !slices.Equal(st.Created, want) {
		t.Errorf("Created:\n got %s\nwant %s", fmtList(st.Created), fmtList(want))
	}
	if st.Paths["unified"] != filepath.Join(f.root, "unified/pods/p1/c1") || st.Paths["name=systemd"] != filepath.Join(f.root, "name=systemd/pods/p1/c1") {
		t.Errorf("Paths = %v", st.Paths)
	}

	// State survives JSON and Load.
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"paths":{`) || !strings.Contains(string(b), `"created":[`) {
		t.Errorf("json = %s", b)
	}
	var st2 State
	if err := json.Unmarshal(b, &st2); err != nil {
		t.Fatal(err)
	}
	m2 := loadManager(m.h, st2, f)

	// Something outside the container's tree must survive.
	if err := m2.Destroy(); err != nil {
		t.Fatal(err)
	}
	for _, d := range want {
		if exists(d) {
			t.Errorf("%s not removed", d)
		}
	}
	if !exists(machine) {
		t.Errorf("pre-existing %s removed", machine)
	}
	for _, r := range f.rmdirs {
		if r == "memory/pods" {
			t.Error("rmdir attempted on the machine's memory/pods")
		}
	}
	if got := m2.State().Created; len(got) != 0 {
		t.Errorf("Created after Destroy = %v", got)
	}
	// Idempotent: ENOENT is success.
	if err := m.Destroy(); err != nil {
		t.Errorf("second Destroy: %v", err)
	}
}

func TestCreateUsesAnEmptyExistingCgroupButNeverRemovesIt(t *testing.T) {
	m, f := newFakeManager(t, layoutV1(), "/a/c1")
	existing := filepath.Join(f.root, "pids/a/c1")
	f.populate(filepath.Join(f.root, "pids/a"))
	f.populate(existing)
	cpuset := filepath.Join(f.root, "cpuset/a/c1") // existing, with no CPUs yet
	f.populate(filepath.Join(f.root, "cpuset/a"))
	f.populate(cpuset)
	r := &rspec.LinuxResources{Pids: &rspec.LinuxPids{Limit: ptr[int64](5)}}
	if err := m.Create(r); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(m.State().Created, existing) || slices.Contains(m.Intent().Created, existing) {
		t.Errorf("existing cgroup recorded as created: %v", m.State().Created)
	}
	// The empty cpuset gets its ancestor's CPUs, so a process can join it.
	if got := f.get(cpuset, "cpuset.cpus"); got != "0-3" {
		t.Errorf("existing empty cpuset: cpuset.cpus = %q", got)
	}
	if err := m.Apply(r); err != nil {
		t.Fatal(err)
	}
	if got := f.get(existing, "pids.max"); got != "5" {
		t.Errorf("pids.max = %q", got)
	}
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	if !exists(existing) {
		t.Error("existing cgroup removed")
	}
	if exists(filepath.Join(f.root, "memory/a/c1")) {
		t.Error("created cgroup left behind")
	}
}

func TestCreateRefusesABusyOrFrozenExistingCgroupAndRollsBack(t *testing.T) {
	for _, tc := range []struct {
		name string
		prep func(f *fakeFS, dir func(h string) string)
		want string
	}{
		{"process in it", func(f *fakeFS, dir func(string) string) {
			f.populate(dir("pids"))
			f.set(dir("pids"), "cgroup.procs", "4242\n")
		}, "pids/a/c1 exists and is not empty (1 process(es) in it)"},
		{"process below it", func(f *fakeFS, dir func(string) string) {
			f.populate(dir("pids"))
			f.populate(dir("pids") + "/sub")
			f.set(dir("pids")+"/sub", "cgroup.procs", "4242\n4343\n")
		}, "pids/a/c1 exists and is not empty (2 process(es) in it)"},
		{"frozen", func(f *fakeFS, dir func(string) string) {
			f.populate(dir("freezer"))
			f.set(dir("freezer"), "freezer.state", "FROZEN\n")
		}, "freezer/a/c1 exists and is frozen"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, f := newFakeManager(t, layoutV1(), "/a/c1")
			dir := func(h string) string { return filepath.Join(f.root, h, "a/c1") }
			tc.prep(f, dir)
			err := m.Create(nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			// Everything created before the failure is gone again; the machine's is kept.
			for _, mnt := range []string{"blkio", "cpu,cpuacct", "cpuset", "devices", "hugetlb", "memory"} {
				if exists(filepath.Join(f.root, mnt, "a")) {
					t.Errorf("%s/a left behind", mnt)
				}
			}
			if len(m.State().Created) != 0 {
				t.Errorf("Created = %v", m.State().Created)
			}
		})
	}
}

func TestCreateChecksV2ControllersOfAnExistingCgroup(t *testing.T) {
	l := layoutV2()
	m, f := newFakeManager(t, l, "/c1")
	f.set(filepath.Join(f.root, "unified"), "cgroup.subtree_control", "cpu memory")
	f.populate(filepath.Join(f.root, "unified/c1"))
	err := m.Create(&rspec.LinuxResources{Pids: &rspec.LinuxPids{Limit: ptr[int64](3)}})
	if err == nil || !strings.Contains(err.Error(), `linux.resources.pids.limit: cgroup2 controller "pids" is not enabled`) {
		t.Fatalf("err = %v", err)
	}
	if err := m.Create(&rspec.LinuxResources{Memory: &rspec.LinuxMemory{Limit: ptr[int64](1 << 20)}}); err != nil {
		t.Fatal(err)
	}
	wantWrites(t, f) // the parent is not ours: nothing enabled
}

func TestDestroyRetriesBusyAndKeepsSharedParents(t *testing.T) {
	m, f := newFakeManager(t, fakeLayout{v1: []string{"pids"}}, "/husk/c1")
	if err := m.Create(nil); err != nil {
		t.Fatal(err)
	}
	leaf := filepath.Join(f.root, "pids/husk/c1")
	other := filepath.Join(f.root, "pids/husk/c2") // another container's
	f.populate(other)
	nested := filepath.Join(leaf, "inner") // made by the container itself
	f.populate(nested)
	f.busy[leaf] = 3 // processes still exiting

	start := time.Now()
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	if exists(leaf) || exists(nested) {
		t.Error("container cgroup not removed")
	}
	if !exists(other) || !exists(filepath.Join(f.root, "pids/husk")) {
		t.Error("shared parent or other container removed")
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("Destroy took %v", d)
	}

	// A cgroup that stays busy fails after about a second and stays recorded.
	m, f = newFakeManager(t, fakeLayout{v1: []string{"pids"}}, "/c1")
	if err := m.Create(nil); err != nil {
		t.Fatal(err)
	}
	leaf = filepath.Join(f.root, "pids/c1")
	f.busy[leaf] = 1 << 30
	start = time.Now()
	err := m.Destroy()
	if err == nil || !strings.Contains(err.Error(), "device or resource busy") {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d < 900*time.Millisecond || d > 2*time.Second {
		t.Errorf("gave up after %v", d)
	}
	if got := m.State().Created; !slices.Equal(got, []string{leaf}) {
		t.Errorf("Created = %v", got)
	}
}

func TestCreateInitialisesNewCpusets(t *testing.T) {
	m, f := newFakeManager(t, fakeLayout{v1: []string{"cpuset"}}, "/machine/husk/c1")
	machine := filepath.Join(f.root, "cpuset/machine")
	f.populate(machine)
	f.set(machine, "cpuset.cpus", "1-2\n")
	f.set(machine, "cpuset.mems", "0\n")
	if err := m.Create(nil); err != nil {
		t.Fatal(err)
	}
	wantWrites(t, f,
		"cpuset/machine/husk/cpuset.cpus=1-2", "cpuset/machine/husk/cpuset.mems=0",
		"cpuset/machine/husk/c1/cpuset.cpus=1-2", "cpuset/machine/husk/c1/cpuset.mems=0")

	// An empty pre-existing cpuset is skipped for the nearest configured ancestor.
	m, f = newFakeManager(t, fakeLayout{v1: []string{"cpuset"}}, "/empty/c1")
	f.populate(filepath.Join(f.root, "cpuset/empty"))
	if err := m.Create(nil); err != nil {
		t.Fatal(err)
	}
	wantWrites(t, f, "cpuset/empty/c1/cpuset.cpus=0-3", "cpuset/empty/c1/cpuset.mems=0")
}

func TestCreateEnablesV2ControllersOnlyInCreatedDirs(t *testing.T) {
	m, f := newFakeManager(t, layoutV2(), "/a/b/c1")
	r := &rspec.LinuxResources{Memory: &rspec.LinuxMemory{Limit: ptr[int64](1 << 20)}}
	if err := m.Create(r); err != nil {
		t.Fatal(err)
	}
	all := "+cpu +cpuset +io +memory +hugetlb +pids +rdma"
	wantWrites(t, f, "unified/a/cgroup.subtree_control="+all, "unified/a/b/cgroup.subtree_control="+all)
	if got := f.get(filepath.Join(f.root, "unified/a/b/c1"), "cgroup.controllers"); got != "cpu cpuset hugetlb io memory pids rdma" {
		t.Errorf("leaf cgroup.controllers = %q", got)
	}
	if err := m.Apply(r); err != nil {
		t.Fatal(err)
	}
	wantWrites(t, f, "unified/a/b/c1/memory.max=1048576")
}

func TestCreateFailsWhenParentDoesNotDelegate(t *testing.T) {
	l := layoutV2()
	l.rootSubtree = []string{"cpu", "memory"}
	m, f := newFakeManager(t, l, "/c1")
	r := &rspec.LinuxResources{Pids: &rspec.LinuxPids{Limit: ptr[int64](10)}}
	err := m.Create(r)
	want := `linux.resources.pids.limit: cgroup2 controller "pids" is not enabled in ` + filepath.Join(f.root, "unified") + "/cgroup.subtree_control"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
	wantWrites(t, f) // parent untouched
	if exists(filepath.Join(f.root, "unified/c1")) {
		t.Error("not rolled back")
	}
}

func TestHybridCreateHugetlbNeedsDelegation(t *testing.T) {
	// On this VM's layout hugetlb exists only in cgroup2 and the root does
	// not delegate it: creation must fail, naming the root's file.
	m, f := newFakeManager(t, layoutHybrid(), "/c1")
	r := &rspec.LinuxResources{HugepageLimits: []rspec.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 1 << 21}}}
	err := m.Create(r)
	if err == nil || !strings.Contains(err.Error(), "linux.resources.hugepageLimits") ||
		!strings.Contains(err.Error(), filepath.Join(f.root, "unified")+"/cgroup.subtree_control") {
		t.Fatalf("err = %v", err)
	}
	for _, w := range f.takeWrites() {
		if strings.HasPrefix(w, "unified/") {
			t.Errorf("wrote %s", w)
		}
	}

	// Once the machine delegates hugetlb, the limit goes to cgroup2.
	l := layoutHybrid()
	l.rootSubtree = []string{"hugetlb"}
	m, f = newFakeManager(t, l, "/c1")
	if err := m.Create(r); err != nil {
		t.Fatal(err)
	}
	f.takeWrites()
	if err := m.Apply(r); err != nil {
		t.Fatal(err)
	}
	wantWrites(t, f, "unified/c1/hugetlb.2MB.max=2097152", "unified/c1/hugetlb.2MB.rsvd.max=2097152")

	// With a v1 hugetlb mount, v1 wins.
	l.v1 = append(l.v1, "hugetlb")
	m, f = newFakeManager(t, l, "/c1")
	if err := m.Create(r); err != nil {
		t.Fatal(err)
	}
	f.takeWrites()
	if err := m.Apply(r); err != nil {
		t.Fatal(err)
	}
	wantWrites(t, f, "hugetlb/c1/hugetlb.2MB.limit_in_bytes=2097152", "hugetlb/c1/hugetlb.2MB.rsvd.limit_in_bytes=2097152")
}

func TestAddProcJoinsEveryHierarchyOnce(t *testing.T) {
	m, f := newFakeManager(t, layoutV1(), "/c1")
	l := layoutHybrid()
	m2, f2 := newFakeManager(t, l, "/c1")
	for _, mf := range []struct {
		m *Manager
		f *fakeFS
		n int
	}{{m, f, 12}, {m2, f2, 10}} {
		if err := mf.m.Create(nil); err != nil {
			t.Fatal(err)
		}
		mf.f.takeWrites()
		if err := mf.m.AddProc(1234); err != nil {
			t.Fatal(err)
		}
		got := mf.f.takeWrites()
		if len(got) != mf.n {
			t.Errorf("%d writes, want %d: %s", len(got), mf.n, fmtList(got))
		}
		for _, w := range got {
			if !strings.HasSuffix(w, "/c1/cgroup.procs=1234") {
				t.Errorf("unexpected write %s", w)
			}
		}
	}
}

func TestPidsRecursive(t *testing.T) {
	for _, l := range []fakeLayout{layoutV1(), layoutV2()} {
		m, f := newFakeManager(t, l, "/c1")
		if err := m.Create(nil); err != nil {
			t.Fatal(err)
		}
		dir := m.pidsDir()
		f.set(dir, "cgroup.procs", "10\n11\n")
		f.populate(dir + "/sub")
		f.set(dir+"/sub", "cgroup.procs", "12\n")
		pids, err := m.Pids()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(pids, []int{10, 11, 12}) {
			t.Errorf("%s: pids = %v", f.rel(dir), pids)
		}
	}
}

func TestFreezeV1(t *testing.T) {
	m, f := newFakeManager(t, layoutV1(), "/c1")
	if err := m.Create(nil); err != nil {
		t.Fatal(err)
	}
	f.takeWrites()
	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	if fr, err := m.Frozen(); err != nil || !fr {
		t.Errorf("Frozen = %v, %v", fr, err)
	}
	if err := m.Thaw(); err != nil {
		t.Fatal(err)
	}
	if fr, err := m.Frozen(); err != nil || fr {
		t.Errorf("Frozen after thaw = %v, %v", fr, err)
	}
	wantWrites(t, f, "freezer/c1/freezer.state=FROZEN", "freezer/c1/freezer.state=THAWED")

}

func TestFreezeV2(t *testing.T) {
	m, f := newFakeManager(t, layoutV2(), "/c1")
	if err := m.Create(nil); err != nil {
		t.Fatal(err)
	}
	f.takeWrites()
	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	if fr, err := m.Frozen(); err != nil || !fr {
		t.Errorf("Frozen = %v, %v", fr, err)
	}
	if err := m.Thaw(); err != nil {
		t.Fatal(err)
	}
	if fr, err := m.Frozen(); err != nil || fr {
		t.Errorf("Frozen after thaw = %v, %v", fr, err)
	}
	wantWrites(t, f, "unified/c1/cgroup.freeze=1", "unified/c1/cgroup.freeze=0")
}

func TestKillAll(t *testing.T) {
	// cgroup2 (also on hybrid hosts): one write to cgroup.kill.
	for _, l := range []fakeLayout{layoutV2(), layoutHybrid()} {
		m, f := newFakeManager(t, l, "/c1")
		if err := m.Create(nil); err != nil {
			t.Fatal(err)
		}
		f.takeWrites()
		if err := m.KillAll(); err != nil {
			t.Fatal(err)
		}
		wantWrites(t, f, "unified/c1/cgroup.kill=1")
	}

	// v1: freeze, kill every pid, thaw.
	m, f := newFakeManager(t, layoutV1(), "/c1")
	if err := m.Create(nil); err != nil {
		t.Fatal(err)
	}
	f.takeWrites()
	f.set(m.paths["pids"], "cgroup.procs", "7\n8\n")
	if err := m.KillAll(); err != nil {
		t.Fatal(err)
	}
	wantWrites(t, f, "freezer/c1/freezer.state=FROZEN", "freezer/c1/freezer.state=THAWED")
	if !slices.Equal(f.killed, []int{7, 8}) {
		t.Errorf("killed %v", f.killed)
	}

	// A kernel without cgroup.kill falls back to freezing via cgroup.freeze.
	m, f = newFakeManager(t, layoutV2(), "/c1")
	if err := m.Create(nil); err != nil {
		t.Fatal(err)
	}
	f.takeWrites()
	f.remove(m.unifiedDir(), "cgroup.kill")
	f.set(m.unifiedDir(), "cgroup.procs", "9\n")
	if err := m.KillAll(); err != nil {
		t.Fatal(err)
	}
	wantWrites(t, f, "unified/c1/cgroup.freeze=1", "unified/c1/cgroup.freeze=0")
	if !slices.Equal(f.killed, []int{9}) {
		t.Errorf("killed %v", f.killed)
	}
}

// Signal freezes, signals each listed process through a pidfd, and
// thaws: a pid that left the cgroup between the listing and the pidfd
// (it may now be another process's) and a process that exited are
// skipped; a paused container stays frozen.
func TestSignalSkipsPidsThatLeft(t *testing.T) {
	m, f := newFakeManager(t, layoutV1(), "/c1")
	if err := m.Create(nil); err != nil {
		t.Fatal(err)
	}
	f.takeWrites()
	procs := m.paths["pids"]
	f.set(procs, "cgroup.procs", "7\n8\n10\n")
	f.gone = map[int]bool{10: true}
	// 8 exits and its pid goes to a process outside the container.
	f.recycle = func() { f.set(procs, "cgroup.procs", "7\n") }
	n, err := m.Signal(unix.SIGTERM)
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 || !slices.Equal(f.killed, []int{7}) || !slices.Equal(f.signals, []unix.Signal{unix.SIGTERM}) {
		t.Errorf("signalled %d: %v with %v, want only 7 with SIGTERM", n, f.killed, f.signals)
	}
	wantWrites(t, f, "freezer/c1/freezer.state=FROZEN", "freezer/c1/freezer.state=THAWED")

	// Paused: no thaw.
	f.set(m.paths["freezer"], "freezer.state", "FROZEN")
	f.killed = nil
	if _, err := m.Signal(unix.SIGHUP); err != nil {
		t.Fatal(err)
	}
	wantWrites(t, f)
	if !slices.Equal(f.killed, []int{7}) {
		t.Errorf("paused: signalled %v, want 7", f.killed)
	}
}

// Intent lists the container directories that do not exist yet, so a
// create killed halfway can be cleaned up from the record alone.
func TestIntentListsMissingDirsOnly(t *testing.T) {
	m, _ := newFakeManager(t, layoutHybrid(), "/intent/c1")
	in := m.Intent()
	if len(in.Created) == 0 || len(in.Created) != len(m.dirs()) {
		t.Fatalf("before create: intent %v, dirs %v", in.Created, m.dirs())
	}
	if err := m.Create(nil); err != nil {
		t.Fatal(err)
	}
	if got := m.Intent().Created; len(got) != 0 {
		t.Errorf("after create: intent %v, want none", got)
	}
}

func TestAddProcSub(t *testing.T) {
	m, f := createdFake(t, fakeLayout{v1: []string{"cpu,cpuacct", "pids", "name=systemd"}, unified: []string{}})
	root := func(p string) string { return filepath.Join(f.root, p) }
	f.populate(root("pids/c1/sub"))
	f.takeWrites()
	// One controller's own sub-cgroup; the others stay in the container's.
	if err := m.AddProcSub(7, map[string]string{"pids": "sub"}); err != nil {
		t.Fatal(err)
	}
	wantWrites(t, f, "cpu,cpuacct/c1/cgroup.procs=7", "name=systemd/c1/cgroup.procs=7", "pids/c1/sub/cgroup.procs=7", "unified/c1/cgroup.procs=7")
	// One path for every hierarchy: it must exist in each.
	err := m.AddProcSub(7, map[string]string{"": "sub"})
	if err == nil || !strings.Contains(err.Error(), "add pid 7: ") {
		t.Errorf("missing sub-cgroup: err = %v", err)
	}
	f.takeWrites()
	for _, tc := range []struct {
		sub  map[string]string
		want string
	}{
		{map[string]string{"": "../other"}, `sub-cgroup "../other" is not below`},
		{map[string]string{"pids": "/../../x"}, `sub-cgroup "/../../x" is not below`},
		{map[string]string{"memory": "sub"}, `sub-cgroup for "memory": the container has no cgroup of that controller`},
		{map[string]string{"unified": "sub"}, `sub-cgroup for "unified"`},
		{map[string]string{"cpu": "a", "cpuacct": "b"}, "shares its hierarchy"},
	} {
		if err := m.AddProcSub(7, tc.sub); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("AddProcSub(%v): err = %v, want %q", tc.sub, err, tc.want)
		}
	}
	wantWrites(t, f)

	// On a cgroup v2 host only the path without a controller counts.
	m, f = createdFake(t, layoutV2())
	f.populate(filepath.Join(f.root, "unified/c1/sub"))
	f.takeWrites()
	if err := m.AddProcSub(8, map[string]string{"": "sub"}); err != nil {
		t.Fatal(err)
	}
	if err := m.AddProcSub(8, map[string]string{"pids": "sub"}); err != nil {
		t.Fatal(err)
	}
	wantWrites(t, f, "unified/c1/sub/cgroup.procs=8", "unified/c1/cgroup.procs=8")
}
