package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// fakeFS is a cgroupfs lookalike in a temporary directory. mkdir populates
// new directories with the control files of their hierarchy (on cgroup2,
// of the controllers the parent delegates), and a few writes mimic kernel
// checks: memory vs memsw limits, cgroup.subtree_control, cgroup.freeze.
type fakeFS struct {
	osFS
	t       *testing.T
	root    string
	mounts  map[string][]string // mountpoint -> v1 controllers; nil for cgroup2
	unified string

	writes []string // "rel/path/file=value", one per write(2)
	// fail, if set, can reject a write before it happens.
	fail    func(path, value string) error
	progs   map[string][]bpfInsn
	killed  []int
	signals []unix.Signal
	gone    map[int]bool
	// recycle, if set, runs once, at the first pidfd.
	recycle func()
	rmdirs  []string
	// busy makes rmdir of a path fail with EBUSY that many times.
	busy map[string]int
}

// v1Files are the control files (with initial values) per v1 controller.
func v1Files(ctrl string) map[string]string {
	switch ctrl {
	case "cpu":
		return map[string]string{
			"cpu.shares": "1024", "cpu.cfs_quota_us": "-1", "cpu.cfs_period_us": "100000",
			"cpu.cfs_burst_us": "0", "cpu.rt_runtime_us": "0", "cpu.rt_period_us": "1000000",
			"cpu.idle": "0", "cpu.stat": "nr_periods 0\nnr_throttled 0\nthrottled_time 0\n",
		}
	case "cpuacct":
		return map[string]string{
			"cpuacct.usage": "0", "cpuacct.usage_percpu": "0 0 ", "cpuacct.stat": "user 0\nsystem 0\n",
		}
	case "cpuset":
		return map[string]string{"cpuset.cpus": "", "cpuset.mems": ""}
	case "memory":
		const max = "9223372036854771712"
		return map[string]string{
			"memory.limit_in_bytes": max, "memory.memsw.limit_in_bytes": max,
			"memory.soft_limit_in_bytes": max, "memory.kmem.tcp.limit_in_bytes": max,
			"memory.swappiness": "60", "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n",
			"memory.use_hierarchy": "1", "memory.usage_in_bytes": "0", "memory.max_usage_in_bytes": "0",
			"memory.failcnt": "0", "memory.memsw.usage_in_bytes": "0", "memory.memsw.max_usage_in_bytes": "0",
			"memory.memsw.failcnt": "0", "memory.stat": "cache 0\nrss 0\n",
		}
	case "devices":
		return map[string]string{"devices.allow": "", "devices.deny": "", "devices.list": "a *:* rwm\n"}
	case "freezer":
		return map[string]string{"freezer.state": "THAWED"}
	case "blkio":
		return map[string]string{
			"blkio.bfq.weight": "100", "blkio.bfq.weight_device": "", "blkio.leaf_weight": "500",
			"blkio.leaf_weight_device":       "",
			"blkio.throttle.read_bps_device": "", "blkio.throttle.write_bps_device": "",
			"blkio.throttle.read_iops_device": "", "blkio.throttle.write_iops_device": "",
			"blkio.throttle.io_service_bytes_recursive": "Total 0\n", "blkio.throttle.io_serviced_recursive": "Total 0\n",
		}
	case "pids":
		return map[string]string{"pids.max": "max", "pids.current": "0"}
	case "hugetlb":
		m := map[string]string{}
		for _, s := range []string{"2MB", "1GB"} {
			for _, f := range []string{"limit_in_bytes", "rsvd.limit_in_bytes", "usage_in_bytes", "max_usage_in_bytes", "failcnt"} {
				m["hugetlb."+s+"."+f] = "0"
			}
		}
		return m
	case "net_cls":
		return map[string]string{"net_cls.classid": "0"}
	case "net_prio":
		return map[string]string{"net_prio.ifpriomap": ""}
	case "rdma":
		return map[string]string{"rdma.max": ""}
	}
	return nil
}

// v2Files are the control files per cgroup2 controller ("" = core files).
func v2Files(ctrl string) map[string]string {
	switch ctrl {
	case "":
		return map[string]string{
			"cgroup.procs": "", "cgroup.subtree_control": "", "cgroup.events": "populated 0\nfrozen 0\n",
			"cgroup.freeze": "0", "cgroup.kill": "", "cpu.stat": "usage_usec 0\nuser_usec 0\nsystem_usec 0\n",
		}
	case "memory":
		return map[string]string{
			"memory.max": "max", "memory.high": "max", "memory.low": "0", "memory.swap.max": "max", "memory.current": "0",
			"memory.swap.current": "0", "memory.stat": "file 0\nanon 0\n", "memory.events": "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n",
			"memory.peak": "0",
		}
	case "cpu":
		return map[string]string{
			"cpu.weight": "100", "cpu.max": "max 100000", "cpu.max.burst": "0", "cpu.idle": "0",
			"cpu.stat": "usage_usec 0\nuser_usec 0\nsystem_usec 0\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0\n",
		}
	case "cpuset":
		return map[string]string{"cpuset.cpus": "", "cpuset.mems": ""}
	case "pids":
		return map[string]string{"pids.max": "max", "pids.current": "0"}
	case "io":
		return map[string]string{"io.weight": "default 100", "io.max": "", "io.stat": ""}
	case "hugetlb":
		m := map[string]string{}
		for _, s := range []string{"2MB", "1GB"} {
			for _, f := range []string{"max", "rsvd.max", "current"} {
				m["hugetlb."+s+"."+f] = "0"
			}
			m["hugetlb."+s+".events"] = "max 0\n"
		}
		return m
	case "rdma":
		return map[string]string{"rdma.max": ""}
	}
	return nil
}

// fakeLayout describes a fake host.
type fakeLayout struct {
	v1 []string // mount names; "cpu,cpuacct" co-mounts
	// unified mounts cgroup2 when non-nil: the controllers its root offers.
	unified []string
	// rootSubtree is the cgroup2 root's cgroup.subtree_control.
	rootSubtree []string
}

func newFakeFS(t *testing.T, l fakeLayout) (*fakeFS, *Hierarchy) {
	t.Helper()
	f := &fakeFS{t: t, root: t.TempDir(), mounts: map[string][]string{}, progs: map[string][]bpfInsn{}, busy: map[string]int{}}
	h := &Hierarchy{V1: map[string]string{}}
	for _, mnt := range l.v1 {
		dir := filepath.Join(f.root, mnt)
		ctrls := strings.Split(mnt, ",")
		f.mounts[dir] = ctrls
		for _, c := range ctrls {
			h.V1[c] = dir
		}
		f.populate(dir)
		if slices.Contains(ctrls, "cpuset") {
			f.set(dir, "cpuset.cpus", "0-3")
			f.set(dir, "cpuset.mems", "0")
		}
	}
	if l.unified != nil {
		dir := filepath.Join(f.root, "unified")
		f.unified, h.Unified = dir, dir
		f.populate(dir)
		f.set(dir, "cgroup.controllers", strings.Join(l.unified, " "))
		f.set(dir, "cgroup.subtree_control", strings.Join(l.rootSubtree, " "))
	}
	return f, h
}

func (f *fakeFS) mountOf(p string) (string, bool) {
	for mnt := range f.mounts {
		if p == mnt || strings.HasPrefix(p, mnt+"/") {
			return mnt, true
		}
	}
	if f.unified != "" && (p == f.unified || strings.HasPrefix(p, f.unified+"/")) {
		return f.unified, true
	}
	return "", false
}

// populate creates dir's control files as the kernel would.
func (f *fakeFS) populate(dir string) {
	f.t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		f.t.Fatal(err)
	}
	mnt, ok := f.mountOf(dir)
	if !ok {
		f.t.Fatalf("fake: %s is in no hierarchy", dir)
	}
	files := map[string]string{"cgroup.procs": ""}
	if mnt == f.unified {
		for k, v := range v2Files("") {
			files[k] = v
		}
		if dir != mnt {
			ctrls := f.get(filepath.Dir(dir), "cgroup.subtree_control")
			files["cgroup.controllers"] = ctrls
			for _, c := range strings.Fields(ctrls) {
				for k, v := range v2Files(c) {
					files[k] = v
				}
			}
		}
	} else {
		files["tasks"] = ""
		for _, c := range f.mounts[mnt] {
			for k, v := range v1Files(c) {
				files[k] = v
			}
		}
	}
	for k, v := range files {
		f.set(dir, k, v)
	}
}

func (f *fakeFS) set(dir, name, value string) {
	f.t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(value), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fakeFS) get(dir, name string) string {
	f.t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		f.t.Fatal(err)
	}
	return string(b)
}

func (f *fakeFS) remove(dir, name string) {
	f.t.Helper()
	if err := os.Remove(filepath.Join(dir, name)); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fakeFS) rel(p string) string {
	r, err := filepath.Rel(f.root, p)
	if err != nil {
		f.t.Fatal(err)
	}
	return r
}

func (f *fakeFS) exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func (f *fakeFS) mkdir(p string) error {
	if _, err := os.Stat(filepath.Dir(p)); err != nil {
		return &os.PathError{Op: "mkdir", Path: p, Err: unix.ENOENT}
	}
	if _, err := os.Stat(p); err == nil {
		return &os.PathError{Op: "mkdir", Path: p, Err: unix.EEXIST}
	}
	f.populate(p)
	return nil
}

func (f *fakeFS) rmdir(p string) error {
	f.rmdirs = append(f.rmdirs, f.rel(p))
	if _, err := os.Stat(p); err != nil {
		return &os.PathError{Op: "rmdir", Path: p, Err: unix.ENOENT}
	}
	if n := f.busy[p]; n > 0 {
		f.busy[p] = n - 1
		return &os.PathError{Op: "rmdir", Path: p, Err: unix.EBUSY}
	}
	if subs, _ := subdirs(f, p); len(subs) > 0 {
		return &os.PathError{Op: "rmdir", Path: p, Err: unix.EBUSY}
	}
	return os.RemoveAll(p)
}

func (f *fakeFS) writeFile(dir, name, value string) error {
	return f.writeLines(dir, name, []string{value})
}

func (f *fakeFS) writeLines(dir, name string, lines []string) error {
	p := dir + "/" + name
	for i, l := range lines {
		if err := f.check(dir, name, l); err != nil {
			return &os.PathError{Op: "write", Path: p, Err: err}
		}
		if f.fail != nil {
			if err := f.fail(p, l); err != nil {
				return &os.PathError{Op: "write", Path: p, Err: err}
			}
		}
		// Keep every line in the file like kernfs keeps every entry.
		content := strings.Join(lines[:i+1], "\n")
		if err := f.osFS.writeFile(dir, name, content); err != nil {
			return err
		}
		f.writes = append(f.writes, f.rel(p)+"="+l)
		f.effects(dir, name, l)
	}
	return nil
}

// check mimics kernel validation of some writes.
func (f *fakeFS) check(dir, name, value string) error {
	num := func(s string) int64 {
		if s == "-1" {
			return 9223372036854771712
		}
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			f.t.Fatalf("fake: %s/%s: %v", dir, name, err)
		}
		return n
	}
	switch name {
	case "memory.limit_in_bytes":
		if _, err := os.Stat(filepath.Join(dir, "memory.memsw.limit_in_bytes")); err == nil &&
			num(value) > num(f.get(dir, "memory.memsw.limit_in_bytes")) {
			return unix.EINVAL
		}
	case "memory.memsw.limit_in_bytes":
		if num(value) < num(f.get(dir, "memory.limit_in_bytes")) {
			return unix.EINVAL
		}
	case "cgroup.subtree_control":
		avail := strings.Fields(f.get(dir, "cgroup.controllers"))
		for _, tok := range strings.Fields(value) {
			if !slices.Contains(avail, tok[1:]) {
				return unix.ENOENT
			}
		}
	}
	return nil
}

// effects mimics the kernel's reaction to some writes.
func (f *fakeFS) effects(dir, name, value string) {
	switch name {
	case "cgroup.subtree_control":
		cur := strings.Fields(f.get(dir, "cgroup.subtree_control"))
		cur = slices.DeleteFunc(cur, func(s string) bool { return strings.HasPrefix(s, "+") || strings.HasPrefix(s, "-") })
		for _, tok := range strings.Fields(value) {
			c := tok[1:]
			cur = slices.DeleteFunc(cur, func(s string) bool { return s == c })
			if tok[0] == '+' {
				cur = append(cur, c)
			}
		}
		slices.Sort(cur)
		enabled := strings.Join(cur, " ")
		f.set(dir, name, enabled)
		// Children see the new set in cgroup.controllers, with its files.
		subs, err := subdirs(f, dir)
		if err != nil {
			f.t.Fatal(err)
		}
		for _, s := range subs {
			child := filepath.Join(dir, s)
			f.set(child, "cgroup.controllers", enabled)
			for _, c := range cur {
				for k, v := range v2Files(c) {
					if !exists(filepath.Join(child, k)) {
						f.set(child, k, v)
					}
				}
			}
		}
	case "cgroup.freeze":
		f.set(dir, "cgroup.events", "populated 0\nfrozen "+value+"\n")
	}
}

func (f *fakeFS) attachDeviceFilter(dir string, prog []bpfInsn) error {
	if _, err := os.Stat(dir); err != nil {
		return err
	}
	f.progs[f.rel(dir)] = prog
	return nil
}

// The fake's pidfd is the pid; a pid in gone has exited (ESRCH), and
// recycled changes the cgroup's processes once pidfds have been opened.
func (f *fakeFS) pidfd(pid int) (int, error) {
	if f.gone[pid] {
		return -1, unix.ESRCH
	}
	if f.recycle != nil {
		f.recycle()
		f.recycle = nil
	}
	return pid, nil
}

func (f *fakeFS) pidfdSignal(fd int, sig unix.Signal) error {
	f.killed = append(f.killed, fd)
	f.signals = append(f.signals, sig)
	return nil
}

func (f *fakeFS) closeFd(int) {}

// takeWrites returns and clears the recorded writes.
func (f *fakeFS) takeWrites() []string {
	w := f.writes
	f.writes = nil
	return w
}

// fakeSelf returns a selfCgroupReader for the given /proc/self/cgroup text.
func fakeSelf(text string) selfCgroupReader {
	return func() (map[string]string, error) { return parseProcCgroup(text) }
}

func noSelf() (map[string]string, error) {
	return nil, errors.New("test: /proc/self/cgroup must not be read for absolute paths")
}

// newFakeManager builds a Manager for container path p on a fake host.
func newFakeManager(t *testing.T, l fakeLayout, p string) (*Manager, *fakeFS) {
	t.Helper()
	f, h := newFakeFS(t, l)
	m, err := newManager(h, p, "c1", noSelf, f)
	if err != nil {
		t.Fatal(err)
	}
	return m, f
}

func wantWrites(t *testing.T, f *fakeFS, want ...string) {
	t.Helper()
	got := f.takeWrites()
	if !slices.Equal(got, want) {
		t.Errorf("writes:\n got %s\nwant %s", fmtList(got), fmtList(want))
	}
}

func fmtList(l []string) string {
	if len(l) == 0 {
		return "(none)"
	}
	return fmt.Sprintf("\n\t%s", strings.Join(l, "\n\t"))
}

func ptr[T any](v T) *T { return &v }

// Layouts used throughout the tests.

func layoutV1() fakeLayout {
	return fakeLayout{v1: []string{"cpu,cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids",
		"hugetlb", "net_cls", "net_prio", "rdma", "name=systemd"}}
}

// layoutHybrid is like this VM: separate cpu and cpuacct, no v1 hugetlb,
// and a cgroup2 root offering hugetlb without delegating it.
func layoutHybrid() fakeLayout {
	return fakeLayout{
		v1:      []string{"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "name=systemd"},
		unified: []string{"hugetlb"},
	}
}

func layoutV2() fakeLayout {
	all := []string{"cpu", "cpuset", "io", "memory", "hugetlb", "pids", "rdma"}
	return fakeLayout{unified: all, rootSubtree: all}
}
