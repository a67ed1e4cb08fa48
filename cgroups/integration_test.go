package cgroups

// Integration tests against the real cgroupfs. They create cgroups only
// under a unique /husk-cgtest-<random> path, never write to cgroups they
// did not create, and remove everything on the way out.

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("integration test: needs root to create cgroups")
	}
}

func hostHierarchy(t testing.TB) *Hierarchy {
	t.Helper()
	h, err := Detect()
	if err != nil {
		t.Skip("integration test: no cgroups mounted:", err)
	}
	return h
}

func testCgroupPath() string {
	return fmt.Sprintf("/husk-cgtest-%08x/ctr", rand.Uint32())
}

// startSleeper starts a process for the test to move around; it is killed
// and reaped at cleanup at the latest.
func startSleeper(t testing.TB, attr *syscall.SysProcAttr) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	cmd.SysProcAttr = attr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd
}

// cleanupManager destroys whatever the test created, even after a failure,
// and reports anything left behind.
func cleanupManager(t *testing.T, m *Manager) {
	t.Helper()
	paths := m.State().Paths
	t.Cleanup(func() {
		if err := m.Destroy(); err != nil {
			t.Errorf("cleanup Destroy: %v", err)
		}
		assertGone(t, paths)
	})
}

func assertGone(t *testing.T, paths map[string]string) {
	t.Helper()
	for c, p := range paths {
		for d := p; strings.Contains(filepath.Base(d), "husk-cgtest-") || d == p; d = filepath.Dir(d) {
			if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s: %s left behind (%v)", c, d, err)
			}
		}
	}
}

func readTrim(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func wantFile(t *testing.T, dir, name, want string) {
	t.Helper()
	if got := readTrim(t, dir, name); got != want {
		t.Errorf("%s/%s = %q, want %q", dir, name, got, want)
	}
}

// defaultDevices is the usual runtime allow list (as runc's spec defaults).
func defaultDevices() []rspec.LinuxDeviceCgroup {
	dev := func(typ string, major, minor int64, access string) rspec.LinuxDeviceCgroup {
		d := rspec.LinuxDeviceCgroup{Allow: true, Type: typ, Access: access}
		if major >= 0 {
			d.Major = &major
		}
		if minor >= 0 {
			d.Minor = &minor
		}
		return d
	}
	return []rspec.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		dev("c", -1, -1, "m"), dev("b", -1, -1, "m"),
		dev("c", 1, 3, "rwm"), dev("c", 1, 5, "rwm"), dev("c", 1, 7, "rwm"), dev("c", 1, 8, "rwm"),
		dev("c", 1, 9, "rwm"), dev("c", 5, 0, "rwm"), dev("c", 5, 2, "rwm"), dev("c", 136, -1, "rwm"),
	}
}

func typicalResources() *rspec.LinuxResources {
	return &rspec.LinuxResources{
		Devices: defaultDevices(),
		Memory:  &rspec.LinuxMemory{Limit: ptr[int64](256 << 20)},
		CPU:     &rspec.LinuxCPU{Shares: ptr[uint64](512)},
		Pids:    &rspec.LinuxPids{Limit: ptr[int64](128)},
	}
}

func requireV1(t *testing.T, h *Hierarchy, ctrls ...string) {
	t.Helper()
	for _, c := range ctrls {
		if _, ok := h.V1[c]; !ok {
			t.Skipf("integration test: no v1 %s hierarchy on this host (mode %v)", c, h.Mode())
		}
	}
}

func procCgroupHas(t *testing.T, pid int, want string) bool {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Contains(string(b), want)
}

func TestIntegrationV1(t *testing.T) {
	requireRoot(t)
	h := hostHierarchy(t)
	requireV1(t, h, "memory", "cpu", "cpuset", "pids", "devices", "freezer", "blkio")
	inner := testCgroupPath()
	m, err := New(h, inner, "")
	if err != nil {
		t.Fatal(err)
	}
	cleanupManager(t, m)

	var st unix.Stat_t
	if err := unix.Stat("/", &st); err != nil {
		t.Fatal(err)
	}
	rootDev := rspec.LinuxBlockIODevice{Major: int64(unix.Major(st.Dev)), Minor: int64(unix.Minor(st.Dev))}
	r := typicalResources()
	r.Memory.Reservation = ptr[int64](128 << 20)
	r.Memory.Swappiness = ptr[uint64](10)
	r.CPU.Quota, r.CPU.Period = ptr[int64](50000), ptr[uint64](100000)
	r.CPU.Cpus, r.CPU.Mems = "0", "0"
	r.BlockIO = &rspec.LinuxBlockIO{ThrottleReadBpsDevice: []rspec.LinuxThrottleDevice{{LinuxBlockIODevice: rootDev, Rate: 1 << 20}}}
	memDir := m.paths["memory"]
	swap := false
	if err := m.Create(r); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(memDir, "memory.memsw.limit_in_bytes")); err == nil {
		swap = true
		r.Memory.Swap = ptr[int64](512 << 20)
	}
	if err := m.Apply(r); err != nil {
		t.Fatal(err)
	}
	wantFile(t, memDir, "memory.limit_in_bytes", "268435456")
	wantFile(t, memDir, "memory.soft_limit_in_bytes", "134217728")
	wantFile(t, memDir, "memory.swappiness", "10")
	wantFile(t, m.paths["cpu"], "cpu.shares", "512")
	wantFile(t, m.paths["cpu"], "cpu.cfs_quota_us", "50000")
	wantFile(t, m.paths["cpuset"], "cpuset.cpus", "0")
	wantFile(t, m.paths["cpuset"], "cpuset.mems", "0")
	wantFile(t, m.paths["pids"], "pids.max", "128")
	wantFile(t, m.paths["blkio"], "blkio.throttle.read_bps_device", fmt.Sprintf("%d:%d 1048576", rootDev.Major, rootDev.Minor))
	// In runc's order, which the kernel keeps.
	wantFile(t, m.paths["devices"], "devices.list", "b *:* m\nc *:* m\nc 1:3 rwm\nc 1:5 rwm\nc 1:7 rwm\nc 1:8 rwm\nc 1:9 rwm\nc 5:0 rwm\nc 5:2 rwm\nc 136:* rwm")
	// New rules for a cgroup that has some write only the difference (no
	// deny all first): what the kernel ends up with is the same as a rewrite.
	devs := append(slices.Clone(r.Devices), rspec.LinuxDeviceCgroup{Allow: true, Type: "c", Major: ptr[int64](10), Minor: ptr[int64](200), Access: "rwm"},
		rspec.LinuxDeviceCgroup{Allow: false, Type: "c", Major: ptr[int64](136), Minor: ptr[int64](-1), Access: "m"})
	if err := m.Apply(&rspec.LinuxResources{Devices: devs}); err != nil {
		t.Fatal(err)
	}
	wantFile(t, m.paths["devices"], "devices.list", "b *:* m\nc *:* m\nc 1:3 rwm\nc 1:5 rwm\nc 1:7 rwm\nc 1:8 rwm\nc 1:9 rwm\nc 5:0 rwm\nc 5:2 rwm\nc 136:* rw\nc 10:200 rwm")
	// update leaves the device rules alone, as runc's does.
	if err := m.Update(&rspec.LinuxResources{Devices: []rspec.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}}); err != nil {
		t.Fatal(err)
	}
	wantFile(t, m.paths["devices"], "devices.list", "b *:* m\nc *:* m\nc 1:3 rwm\nc 1:5 rwm\nc 1:7 rwm\nc 1:8 rwm\nc 1:9 rwm\nc 5:0 rwm\nc 5:2 rwm\nc 136:* rw\nc 10:200 rwm")
	// The intermediate cpuset husk created got its parent's cpus and mems.
	parentCpuset := filepath.Dir(m.paths["cpuset"])
	wantFile(t, parentCpuset, "cpuset.cpus", readTrim(t, filepath.Dir(parentCpuset), "cpuset.cpus"))

	if swap {
		wantFile(t, memDir, "memory.memsw.limit_in_bytes", "536870912")
		// Raise and lower memory and memory+swap together.
		for _, lim := range [][2]int64{{1 << 30, 2 << 30}, {64 << 20, 96 << 20}} {
			if err := m.Update(&rspec.LinuxResources{Memory: &rspec.LinuxMemory{Limit: &lim[0], Swap: &lim[1]}}); err != nil {
				t.Fatalf("update to %v: %v", lim, err)
			}
			wantFile(t, memDir, "memory.limit_in_bytes", fmt.Sprint(lim[0]))
			wantFile(t, memDir, "memory.memsw.limit_in_bytes", fmt.Sprint(lim[1]))
		}
	} else {
		t.Log("no swap accounting (memory.memsw.*): swap ordering not exercised")
	}

	// Block I/O weight needs the CFQ or BFQ scheduler.
	err = m.Apply(&rspec.LinuxResources{BlockIO: &rspec.LinuxBlockIO{Weight: ptr[uint16](500)}})
	_, cfq := os.Stat(filepath.Join(m.paths["blkio"], "blkio.weight"))
	_, bfq := os.Stat(filepath.Join(m.paths["blkio"], "blkio.bfq.weight"))
	if cfq == nil || bfq == nil {
		if err != nil {
			t.Errorf("blkio weight: %v", err)
		}
		name := "blkio.weight"
		if cfq != nil {
			name = "blkio.bfq.weight"
		}
		if got := readTrim(t, m.paths["blkio"], name); !strings.HasSuffix(got, "500") {
			t.Errorf("%s = %q, want 500", name, got)
		}
	} else if err == nil || !strings.Contains(err.Error(), "linux.resources.blockIO.weight: neither blkio.weight nor blkio.bfq.weight") {
		t.Errorf("blkio weight without CFQ/BFQ: err = %v", err)
	} else {
		t.Logf("as expected on this host: %v", err)
	}

	// Join a process to every hierarchy. It burns some CPU and memory once
	// inside, for the stats.
	sleeper := exec.Command("/bin/sh", "-c", "read x; i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; exec sleep 60")
	stdin, err := sleeper.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = sleeper.Process.Kill()
		_ = sleeper.Wait()
	})
	pid := sleeper.Process.Pid
	if err := m.AddProc(pid); err != nil {
		t.Fatal(err)
	}
	if _, err := stdin.Write([]byte("go\n")); err != nil {
		t.Fatal(err)
	}
	if !procCgroupHas(t, pid, ":memory:"+strings.TrimPrefix(memDir, h.V1["memory"])+"\n") {
		t.Error("process not in the memory cgroup")
	}
	if d := m.unifiedDir(); d != "" && !procCgroupHas(t, pid, "0::"+strings.TrimPrefix(d, h.Unified)+"\n") {
		t.Error("process not in the cgroup2 cgroup")
	}
	if pids, err := m.Pids(); err != nil || !slices.Equal(pids, []int{pid}) {
		t.Errorf("Pids = %v, %v; want [%d]", pids, err, pid)
	}

	// v1 freezer.
	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	wantFile(t, m.paths["freezer"], "freezer.state", "FROZEN")
	if fr, err := m.Frozen(); err != nil || !fr {
		t.Errorf("Frozen = %v, %v", fr, err)
	}
	if err := m.Thaw(); err != nil {
		t.Fatal(err)
	}
	if fr, err := m.Frozen(); err != nil || fr {
		t.Errorf("Frozen after Thaw = %v, %v", fr, err)
	}

	wantLimit := uint64(256 << 20)
	if swap {
		wantLimit = 64 << 20
	}
	var s *Stats
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if s, err = m.Stats(); err != nil {
			t.Fatal(err)
		}
		if s.CPU.Usage.Total > 0 && s.Memory.Usage.Usage > 0 || time.Now().After(deadline) {
			break
		}
	}
	if s.Pids.Current != 1 || s.Pids.Limit != 128 || s.Memory.Usage.Limit != wantLimit || s.Memory.Usage.Usage == 0 ||
		s.CPU.Usage.Total == 0 || len(s.CPU.Usage.Percpu) == 0 || len(s.Memory.Raw) == 0 {
		t.Errorf("stats: pids %+v, memory usage %+v, cpu %+v", s.Pids, s.Memory.Usage, s.CPU.Usage)
	}
	if n, err := m.OOMKillCount(); err != nil || n != 0 {
		t.Errorf("OOMKillCount = %d, %v", n, err)
	}

	if err := m.KillAll(); err != nil {
		t.Fatal(err)
	}
	waitKilled(t, sleeper)
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	assertGone(t, m.State().Paths)
	if len(m.State().Created) != 0 {
		t.Errorf("Created after Destroy: %v", m.State().Created)
	}
}

func waitKilled(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Errorf("sleeper ended with %v, want SIGKILL", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("sleeper not killed")
	}
}

// TestIntegrationV1KillAllWithoutCgroupKill uses only the v1 hierarchies,
// so KillAll freezes, kills each pid and thaws.
func TestIntegrationV1KillAllWithoutCgroupKill(t *testing.T) {
	requireRoot(t)
	h := hostHierarchy(t)
	requireV1(t, h, "freezer", "pids")
	legacy := &Hierarchy{V1: h.V1, roots: h.roots}
	m, err := New(legacy, testCgroupPath(), "")
	if err != nil {
		t.Fatal(err)
	}
	cleanupManager(t, m)
	if err := m.Create(nil); err != nil {
		t.Fatal(err)
	}
	var sleepers []*exec.Cmd
	for range 3 {
		s := startSleeper(t, nil)
		if err := m.AddProc(s.Process.Pid); err != nil {
			t.Fatal(err)
		}
		sleepers = append(sleepers, s)
	}
	if err := m.KillAll(); err != nil {
		t.Fatal(err)
	}
	for _, s := range sleepers {
		waitKilled(t, s)
	}
	wantFile(t, m.paths["freezer"], "freezer.state", "THAWED")
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
}

// TestIntegrationUnified drives the cgroup2 code paths on the host's
// cgroup2 mount, viewed as if the host were unified.
func TestIntegrationUnified(t *testing.T) {
	requireRoot(t)
	host := hostHierarchy(t)
	if host.Unified == "" {
		t.Skip("integration test: no cgroup2 mount")
	}
	h := &Hierarchy{Unified: host.Unified, roots: host.roots}
	m, err := New(h, testCgroupPath(), "")
	if err != nil {
		t.Fatal(err)
	}
	cleanupManager(t, m)
	dir := m.unifiedDir()

	// Hugetlb works only if the machine's root delegates it; husk must
	// never enable it there itself.
	rootSubtree := readTrim(t, host.Unified, "cgroup.subtree_control")
	huge := &rspec.LinuxResources{HugepageLimits: []rspec.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 4 << 20}}}
	err = m.Create(huge)
	if !slices.Contains(strings.Fields(rootSubtree), "hugetlb") {
		want := `linux.resources.hugepageLimits: cgroup2 controller "hugetlb" is not enabled in ` + host.Unified + "/cgroup.subtree_control"
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Fatalf("Create with hugetlb: err = %v, want %q", err, want)
		}
		if got := readTrim(t, host.Unified, "cgroup.subtree_control"); got != rootSubtree {
			t.Fatalf("root cgroup.subtree_control changed: %q -> %q", rootSubtree, got)
		}
		assertGone(t, m.State().Paths)
		t.Logf("hugetlb: %v", err)
		if err := m.Create(nil); err != nil {
			t.Fatal(err)
		}
	} else {
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Apply(huge); err != nil {
			t.Fatal(err)
		}
		wantFile(t, dir, "hugetlb.2MB.max", "4194304")
	}

	// Processes, recursively.
	s1 := startSleeper(t, nil)
	if err := m.AddProc(s1.Process.Pid); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "nested") // as a container with cgroupns would
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	subFd, err := unix.Open(sub, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(subFd)
	s2 := startSleeper(t, &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: subFd})
	pids, err := m.Pids()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(pids)
	want := []int{s1.Process.Pid, s2.Process.Pid}
	slices.Sort(want)
	if !slices.Equal(pids, want) {
		t.Errorf("Pids = %v, want %v", pids, want)
	}

	// cgroup.freeze.
	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	wantFile(t, dir, "cgroup.freeze", "1")
	if fr, err := m.Frozen(); err != nil || !fr {
		t.Errorf("Frozen = %v, %v", fr, err)
	}
	if err := m.Thaw(); err != nil {
		t.Fatal(err)
	}
	if fr, err := m.Frozen(); err != nil || fr {
		t.Errorf("Frozen after Thaw = %v, %v", fr, err)
	}

	// Before KillAll: on this kernel (6.18) a process cloned straight into
	// a cgroup (CLONE_INTO_CGROUP) after a cgroup.kill there is killed too.
	testDeviceFilter(t, m, dir)

	// cgroup.kill.
	if err := m.KillAll(); err != nil {
		t.Fatal(err)
	}
	waitKilled(t, s1)
	waitKilled(t, s2)

	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	assertGone(t, m.State().Paths)
}

// testDeviceFilter attaches the BPF device program and checks the kernel
// enforces it for a process started inside the cgroup.
func testDeviceFilter(t *testing.T, m *Manager, dir string) {
	t.Helper()
	run := func(script string) error {
		fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		cmd := exec.Command("/bin/sh", "-c", script)
		cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%w: %s", err, out)
		}
		return nil
	}
	null := int64(1)
	nullMinor := int64(3)
	denyNullWrite := &rspec.LinuxResources{Devices: []rspec.LinuxDeviceCgroup{
		{Allow: true, Access: "rwm"},
		{Allow: false, Type: "c", Major: &null, Minor: &nullMinor, Access: "w"},
	}}
	if err := m.Apply(denyNullWrite); err != nil {
		t.Fatal(err)
	}
	if err := run("echo x > /dev/null"); err == nil || !strings.Contains(err.Error(), "Operation not permitted") {
		t.Errorf("write to /dev/null with a deny rule: %v", err)
	}
	if err := run("cat /dev/null"); err != nil {
		t.Errorf("read /dev/null (allowed): %v", err)
	}
	// The default list: exercises every instruction form with the verifier.
	if err := m.Apply(&rspec.LinuxResources{Devices: defaultDevices()}); err != nil {
		t.Fatal(err)
	}
	if err := run("echo x > /dev/null && : < /dev/zero"); err != nil {
		t.Errorf("default devices: /dev/null, /dev/zero: %v", err)
	}
	if err := run(": < /dev/kmsg"); err == nil || !strings.Contains(err.Error(), "Operation not permitted") {
		t.Errorf("default devices: /dev/kmsg should be denied: %v", err)
	}
	// Apply replaces the program: everything allowed again.
	if err := m.Apply(&rspec.LinuxResources{Devices: []rspec.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}}); err != nil {
		t.Fatal(err)
	}
	if err := run("echo x > /dev/null"); err != nil {
		t.Errorf("after update: %v", err)
	}
	dirFd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(dirFd)
	if ids, err := attachedDevicePrograms(dirFd); err != nil || len(ids) != 1 {
		t.Errorf("attached programs = %v, %v; want exactly one", ids, err)
	}
}

// BenchmarkLifecycle measures Create+Apply+AddProc+Destroy of a typical
// container (memory limit, cpu shares, pids limit, default device list) on
// the host's real hierarchy, below a parent that already exists (like
// /husk after the first container). Starting and reaping the process are
// not timed.
func BenchmarkLifecycle(b *testing.B) {
	requireRoot(b)
	h := hostHierarchy(b)
	r := typicalResources()
	base := fmt.Sprintf("/husk-cgtest-%08x", rand.Uint32())
	parent, err := New(h, base, "")
	if err != nil {
		b.Fatal(err)
	}
	if err := parent.Create(nil); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := parent.Destroy(); err != nil {
			b.Error(err)
		}
	})
	var setup, destroy time.Duration
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		cmd := exec.Command("sleep", "60")
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		// Let it finish exec: a container's init waits idle when it is
		// moved, and migrating a task mid-exec is slower.
		time.Sleep(5 * time.Millisecond)
		b.StartTimer()
		start := time.Now()
		m, err := New(h, fmt.Sprintf("%s/c%d", base, i), "")
		if err != nil {
			b.Fatal(err)
		}
		if err := m.Create(r); err != nil {
			b.Fatal(err)
		}
		if err := m.Apply(r); err != nil {
			b.Fatal(err)
		}
		if err := m.AddProc(cmd.Process.Pid); err != nil {
			b.Fatal(err)
		}
		setup += time.Since(start)
		b.StopTimer()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		b.StartTimer()
		start = time.Now()
		if err := m.Destroy(); err != nil {
			b.Fatal(err)
		}
		destroy += time.Since(start)
	}
	b.ReportMetric(float64(setup.Microseconds())/float64(b.N), "setup-µs/op")
	b.ReportMetric(float64(destroy.Microseconds())/float64(b.N), "destroy-µs/op")
}
