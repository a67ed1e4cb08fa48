package cgroups

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// createdFake returns a created container "/c1" on a fake host with the
// creation writes discarded.
func createdFake(t *testing.T, l fakeLayout) (*Manager, *fakeFS) {
	t.Helper()
	m, f := newFakeManager(t, l, "/c1")
	if err := m.Create(nil); err != nil {
		t.Fatal(err)
	}
	f.takeWrites()
	return m, f
}

func TestApplyV1AllResources(t *testing.T) {
	m, f := createdFake(t, layoutV1())
	major, minor := int64(1), int64(3)
	r := &rspec.LinuxResources{
		Devices: []rspec.LinuxDeviceCgroup{
			{Allow: false, Access: "rwm"},
			{Allow: true, Type: "c", Major: &major, Minor: &minor, Access: "rwm"},
			{Allow: true, Type: "c", Major: ptr[int64](5), Access: "rw"},
			{Allow: false, Type: "b", Minor: ptr[int64](0), Access: "m"},
		},
		Memory: &rspec.LinuxMemory{
			Limit: ptr[int64](100 << 20), Reservation: ptr[int64](50 << 20), Swap: ptr[int64](200 << 20),
			Kernel: ptr[int64](1 << 20), KernelTCP: ptr[int64](2 << 20), Swappiness: ptr[uint64](10),
			DisableOOMKiller: ptr(true), UseHierarchy: ptr(true),
		},
		CPU: &rspec.LinuxCPU{
			Shares: ptr[uint64](512), Quota: ptr[int64](50000), Period: ptr[uint64](100000), Burst: ptr[uint64](1000),
			RealtimeRuntime: ptr[int64](950), RealtimePeriod: ptr[uint64](1000), Cpus: "0-1", Mems: "0", Idle: ptr[int64](0),
		},
		Pids: &rspec.LinuxPids{Limit: ptr[int64](100)},
		BlockIO: &rspec.LinuxBlockIO{
			Weight: ptr[uint16](300), LeafWeight: ptr[uint16](200),
			WeightDevice: []rspec.LinuxWeightDevice{{
				LinuxBlockIODevice: rspec.LinuxBlockIODevice{Major: 8, Minor: 0}, Weight: ptr[uint16](400), LeafWeight: ptr[uint16](100),
			}},
			ThrottleReadBpsDevice:   []rspec.LinuxThrottleDevice{{LinuxBlockIODevice: rspec.LinuxBlockIODevice{Major: 8, Minor: 0}, Rate: 1000}},
			ThrottleWriteBpsDevice:  []rspec.LinuxThrottleDevice{{LinuxBlockIODevice: rspec.LinuxBlockIODevice{Major: 8, Minor: 0}, Rate: 2000}},
			ThrottleReadIOPSDevice:  []rspec.LinuxThrottleDevice{{LinuxBlockIODevice: rspec.LinuxBlockIODevice{Major: 8, Minor: 0}, Rate: 30}},
			ThrottleWriteIOPSDevice: []rspec.LinuxThrottleDevice{{LinuxBlockIODevice: rspec.LinuxBlockIODevice{Major: 8, Minor: 16}, Rate: 40}, {LinuxBlockIODevice: rspec.LinuxBlockIODevice{Major: 8, Minor: 0}, Rate: 0}},
		},
		HugepageLimits: []rspec.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 4 << 20}, {Pagesize: "1GB", Limit: 0}},
		Network:        &rspec.LinuxNetwork{ClassID: ptr[uint32](0x100001), Priorities: []rspec.LinuxInterfacePriority{{Name: "eth0", Priority: 5}, {Name: "lo", Priority: 1}}},
		Rdma:           map[string]rspec.LinuxRdma{"mlx5_1": {HcaHandles: ptr[uint32](3)}, "mlx4_0": {HcaHandles: ptr[uint32](2), HcaObjects: ptr[uint32](2000)}},
	}
	if err := m.Apply(r); err != nil {
		t.Fatal(err)
	}
	// The device rules as runc writes them: the "b *:0 m" deny agrees with
	// the default (deny all) and needs no write. kernel and kernelTCP are
	// ignored.
	wantWrites(t, f,
		"devices/c1/devices.deny=a *:* rwm",
		"devices/c1/devices.allow=c 1:3 rwm",
		"devices/c1/devices.allow=c 5:* rw",
		"memory/c1/memory.limit_in_bytes=104857600",
		"memory/c1/memory.memsw.limit_in_bytes=209715200",
		"memory/c1/memory.soft_limit_in_bytes=52428800",
		"memory/c1/memory.swappiness=10",
		"memory/c1/memory.oom_control=1",
		"memory/c1/memory.use_hierarchy=1",
		"cpu,cpuacct/c1/cpu.shares=512",
		"cpu,cpuacct/c1/cpu.cfs_period_us=100000",
		"cpu,cpuacct/c1/cpu.cfs_burst_us=1000",
		"cpu,cpuacct/c1/cpu.cfs_quota_us=50000",
		"cpu,cpuacct/c1/cpu.idle=0",
		"cpu,cpuacct/c1/cpu.rt_period_us=1000",
		"cpu,cpuacct/c1/cpu.rt_runtime_us=950",
		"cpuset/c1/cpuset.cpus=0-1",
		"cpuset/c1/cpuset.mems=0",
		"pids/c1/pids.max=100",
		"blkio/c1/blkio.bfq.weight=300", // no CFQ blkio.weight in the fake: BFQ fallback
		"blkio/c1/blkio.leaf_weight=200",
		"blkio/c1/blkio.bfq.weight_device=8:0 400",
		"blkio/c1/blkio.leaf_weight_device=8:0 100",
		"blkio/c1/blkio.throttle.read_bps_device=8:0 1000",
		"blkio/c1/blkio.throttle.write_bps_device=8:0 2000",
		"blkio/c1/blkio.throttle.read_iops_device=8:0 30",
		"blkio/c1/blkio.throttle.write_iops_device=8:16 40",
		"blkio/c1/blkio.throttle.write_iops_device=8:0 0",
		"hugetlb/c1/hugetlb.2MB.limit_in_bytes=4194304",
		"hugetlb/c1/hugetlb.2MB.rsvd.limit_in_bytes=4194304",
		"hugetlb/c1/hugetlb.1GB.limit_in_bytes=0",
		"hugetlb/c1/hugetlb.1GB.rsvd.limit_in_bytes=0",
		"net_cls/c1/net_cls.classid=1048577",
		"net_prio/c1/net_prio.ifpriomap=eth0 5",
		"net_prio/c1/net_prio.ifpriomap=lo 1",
		"rdma/c1/rdma.max=mlx4_0 hca_handle=2 hca_object=2000",
		"rdma/c1/rdma.max=mlx5_1 hca_handle=3",
	)
	if got := f.get(m.paths["devices"], "devices.allow"); got != "c 1:3 rwm\nc 5:* rw" {
		t.Errorf("devices.allow holds %q", got)
	}
}

func TestV1BlkioWeightPrefersCFQAndExplainsMissingFiles(t *testing.T) {
	m, f := createdFake(t, fakeLayout{v1: []string{"blkio"}})
	dir := m.paths["blkio"]
	f.set(dir, "blkio.weight", "500")
	r := &rspec.LinuxResources{BlockIO: &rspec.LinuxBlockIO{Weight: ptr[uint16](10)}}
	if err := m.Apply(r); err != nil {
		t.Fatal(err)
	}
	wantWrites(t, f, "blkio/c1/blkio.weight=10")

	f.remove(dir, "blkio.weight")
	f.remove(dir, "blkio.bfq.weight")
	err := m.Apply(r)
	if err == nil || !strings.HasPrefix(err.Error(), "linux.resources.blockIO.weight: neither blkio.weight nor blkio.bfq.weight exists in "+dir) {
		t.Errorf("err = %v", err)
	}
	r.BlockIO.Weight = ptr[uint16](5)
	if err := m.Apply(r); err == nil || !strings.Contains(err.Error(), "outside [10, 1000]") {
		t.Errorf("err = %v", err)
	}
}

// TestV1SwapOrdering checks raising and lowering memory and memory+swap
// against the fake's kernel rule limit <= memsw at every step.
func TestV1SwapOrdering(t *testing.T) {
	m, f := createdFake(t, fakeLayout{v1: []string{"memory"}})
	dir := m.paths["memory"]
	mem := func(limit, swap int64) *rspec.LinuxResources {
		return &rspec.LinuxResources{Memory: &rspec.LinuxMemory{Limit: ptr(limit), Swap: ptr(swap)}}
	}
	check := func(limit, swap string) {
		t.Helper()
		if got := f.get(dir, "memory.limit_in_bytes"); got != limit {
			t.Errorf("limit = %s, want %s", got, limit)
		}
		if got := f.get(dir, "memory.memsw.limit_in_bytes"); got != swap {
			t.Errorf("memsw = %s, want %s", got, swap)
		}
	}

	// From unlimited: limit first.
	if err := m.Apply(mem(100, 200)); err != nil {
		t.Fatal(err)
	}
	wantWrites(t, f, "memory/c1/memory.limit_in_bytes=100", "memory/c1/memory.memsw.limit_in_bytes=200")
	check("100", "200")

	// Raising above the current memsw: the limit is rejected, memsw goes first.
	if err := m.Update(mem(300, 400)); err != nil {
		t.Fatal(err)
	}
	wantWrites(t, f, "memory/c1/memory.memsw.limit_in_bytes=400", "memory/c1/memory.limit_in_bytes=300")
	check("300", "400")

	// Lowering: limit first.
	if err := m.Update(mem(50, 60)); err != nil {
		t.Fatal(err)
	}
	wantWrites(t, f, "memory/c1/memory.limit_in_bytes=50", "memory/c1/memory.memsw.limit_in_bytes=60")
	check("50", "60")

	// Unlimited memory with unset swap: swap becomes unlimited too.
	if err := m.Update(&rspec.LinuxResources{Memory: &rspec.LinuxMemory{Limit: ptr[int64](-1)}}); err != nil {
		t.Fatal(err)
	}
	wantWrites(t, f, "memory/c1/memory.memsw.limit_in_bytes=-1", "memory/c1/memory.limit_in_bytes=-1")
	check("-1", "-1")

	// Without swap accounting that is not an error.
	f.remove(dir, "memory.memsw.limit_in_bytes")
	if err := m.Update(&rspec.LinuxResources{Memory: &rspec.LinuxMemory{Limit: ptr[int64](-1)}}); err != nil {
		t.Fatal(err)
	}
	// But an explicit swap limit is.
	err := m.Update(mem(10, 20))
	if err == nil || !strings.HasPrefix(err.Error(), "linux.resources.memory.swap: write "+dir+"/memory.memsw.limit_in_bytes: no such file or directory") {
		t.Errorf("err = %v", err)
	}

	if err := m.Update(mem(20, 10)); err == nil || !strings.Contains(err.Error(), "below memory.limit") {
		t.Errorf("swap < limit: err = %v", err)
	}
}

func TestV1ErrorsNameFieldAndFile(t *testing.T) {
	m, f := createdFake(t, layoutV1())
	f.fail = func(p, v string) error {
		if strings.HasSuffix(p, "/memory.limit_in_bytes") {
			return unix.EBUSY
		}
		return nil
	}
	err := m.Apply(&rspec.LinuxResources{Memory: &rspec.LinuxMemory{Limit: ptr[int64](1 << 20)}})
	want := "linux.resources.memory.limit: write " + filepath.Join(m.paths["memory"], "memory.limit_in_bytes") + ": device or resource busy"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}

	for _, tc := range []struct {
		r    *rspec.LinuxResources
		want string
	}{
		{&rspec.LinuxResources{CPU: &rspec.LinuxCPU{Shares: ptr[uint64](1)}}, "linux.resources.cpu.shares: 1 is outside [2, 262144]"},
		{&rspec.LinuxResources{Memory: &rspec.LinuxMemory{Swappiness: ptr[uint64](101)}}, "linux.resources.memory.swappiness: 101 is outside [0, 100]"},
		{&rspec.LinuxResources{Unified: map[string]string{"memory.high": "1"}}, "linux.resources.unified: requires cgroup v2"},
		{&rspec.LinuxResources{HugepageLimits: []rspec.LinuxHugepageLimit{{Pagesize: "../x", Limit: 1}}}, "linux.resources.hugepageLimits[0].pageSize: invalid"},
		{&rspec.LinuxResources{Devices: []rspec.LinuxDeviceCgroup{{Type: "p"}}}, `linux.resources.devices[0]: type "p"`},
	} {
		if err := m.Apply(tc.r); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("err = %v, want prefix %q", err, tc.want)
		}
	}
}

func TestUnavailableControllers(t *testing.T) {
	// Only memory mounted: setting anything else fails naming the field,
	// unless the value is unset or zero.
	m, f := createdFake(t, fakeLayout{v1: []string{"memory"}})
	for _, tc := range []struct {
		r    *rspec.LinuxResources
		want string
	}{
		{&rspec.LinuxResources{Pids: &rspec.LinuxPids{Limit: ptr[int64](10)}}, "linux.resources.pids.limit: cannot be set: no pids cgroup v1 hierarchy is mounted"},
		{&rspec.LinuxResources{CPU: &rspec.LinuxCPU{Shares: ptr[uint64](10)}}, "linux.resources.cpu: cannot be set"},
		{&rspec.LinuxResources{CPU: &rspec.LinuxCPU{Cpus: "0"}}, "linux.resources.cpu.cpus/mems: cannot be set"},
		{&rspec.LinuxResources{Network: &rspec.LinuxNetwork{ClassID: ptr[uint32](1)}}, "linux.resources.network.classID: cannot be set: no net_cls cgroup v1 hierarchy is mounted (it has no cgroup v2 equivalent)"},
		{&rspec.LinuxResources{Devices: []rspec.LinuxDeviceCgroup{{Allow: true}}}, "linux.resources.devices: cannot be set"},
		{&rspec.LinuxResources{HugepageLimits: []rspec.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 1}}}, "linux.resources.hugepageLimits: cannot be set"},
		{&rspec.LinuxResources{Rdma: map[string]rspec.LinuxRdma{"x": {}}}, "linux.resources.rdma: cannot be set"},
		{&rspec.LinuxResources{BlockIO: &rspec.LinuxBlockIO{Weight: ptr[uint16](100)}}, "linux.resources.blockIO: cannot be set"},
	} {
		if err := m.Apply(tc.r); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("err = %v, want prefix %q", err, tc.want)
		}
	}
	zero := &rspec.LinuxResources{
		Pids:           &rspec.LinuxPids{Limit: ptr[int64](-1)},
		CPU:            &rspec.LinuxCPU{Shares: ptr[uint64](0), Quota: ptr[int64](0)},
		Network:        &rspec.LinuxNetwork{ClassID: ptr[uint32](0)},
		HugepageLimits: []rspec.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 0}},
		BlockIO:        &rspec.LinuxBlockIO{Weight: ptr[uint16](0)},
	}
	if err := m.Apply(zero); err != nil {
		t.Errorf("zero values: %v", err)
	}
	wantWrites(t, f)
}

func TestUpdateWritesOnlySetFields(t *testing.T) {
	m, f := createdFake(t, layoutV1())
	if err := m.Update(&rspec.LinuxResources{}); err != nil {
		t.Fatal(err)
	}
	if err := m.Update(nil); err != nil {
		t.Fatal(err)
	}
	wantWrites(t, f)
	if err := m.Update(&rspec.LinuxResources{
		Pids:   &rspec.LinuxPids{Limit: ptr[int64](0)},
		CPU:    &rspec.LinuxCPU{Quota: ptr[int64](-1)},
		Memory: &rspec.LinuxMemory{Reservation: ptr[int64](7)},
	}); err != nil {
		t.Fatal(err)
	}
	// A pids limit of 0 is a limit (runc 1.4+, runtime-spec 1.2.1+): 1.
	wantWrites(t, f,
		"memory/c1/memory.soft_limit_in_bytes=7",
		"cpu,cpuacct/c1/cpu.cfs_quota_us=-1",
		"pids/c1/pids.max=1")
	if err := m.Update(&rspec.LinuxResources{Pids: &rspec.LinuxPids{Limit: ptr[int64](-1)}}); err != nil {
		t.Fatal(err)
	}
	wantWrites(t, f, "pids/c1/pids.max=max")
	// Device rules are not changed by an update, as by runc's.
	if err := m.Update(&rspec.LinuxResources{Devices: []rspec.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}}); err != nil {
		t.Fatal(err)
	}
	wantWrites(t, f)
}

func TestV1CPURetriesPeriodAfterQuota(t *testing.T) {
	m, f := createdFake(t, fakeLayout{v1: []string{"cpu"}})
	quotaWritten := false
	f.fail = func(p, v string) error {
		switch filepath.Base(p) {
		case "cpu.cfs_quota_us":
			quotaWritten = true
		case "cpu.cfs_period_us", "cpu.rt_period_us":
			if !quotaWritten {
				return unix.EINVAL
			}
		}
		return nil
	}
	if err := m.Apply(&rspec.LinuxResources{CPU: &rspec.LinuxCPU{Quota: ptr[int64](1000), Period: ptr[uint64](2000)}}); err != nil {
		t.Fatal(err)
	}
	wantWrites(t, f, "cpu/c1/cpu.cfs_quota_us=1000", "cpu/c1/cpu.cfs_period_us=2000")
	// Without a quota to write the rejection is final.
	quotaWritten = false
	err := m.Apply(&rspec.LinuxResources{CPU: &rspec.LinuxCPU{Period: ptr[uint64](2000)}})
	if err == nil || !strings.HasPrefix(err.Error(), "linux.resources.cpu.period: write ") {
		t.Errorf("err = %v", err)
	}
	if err := m.Apply(&rspec.LinuxResources{CPU: &rspec.LinuxCPU{RealtimePeriod: ptr[uint64](2000)}}); err == nil ||
		!strings.HasPrefix(err.Error(), "linux.resources.cpu.realtimePeriod: write ") {
		t.Errorf("err = %v", err)
	}
}

func TestV1DevicesWriteOnlyTheDifferenceInRuncsOrder(t *testing.T) {
	m, f := createdFake(t, layoutV1())
	dev := func(allow bool, typ string, major, minor int64, access string) rspec.LinuxDeviceCgroup {
		return rspec.LinuxDeviceCgroup{Allow: allow, Type: typ, Major: &major, Minor: &minor, Access: access}
	}
	list := filepath.Join(m.paths["devices"], "devices.list")
	// A new cgroup allows all (its parent's): "deny all", then the allowed
	// devices sorted by major, minor and type, wildcards first; letters
	// other than r, w and m are ignored (runc ignores them too).
	if err := m.Apply(&rspec.LinuxResources{Devices: []rspec.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		dev(true, "c", 136, -1, "rwm"),
		dev(true, "c", 1, 3, "rwm"),
		dev(true, "c", -1, -1, "m"),
		dev(true, "b", -1, -1, "m"),
		dev(true, "c", 10, 200, "rwm"),
		dev(true, "c", 1, 9, "rwz"),
		dev(true, "c", 1, 8, "z"),
	}}); err != nil {
		t.Fatal(err)
	}
	wantWrites(t, f,
		"devices/c1/devices.deny=a *:* rwm",
		"devices/c1/devices.allow=b *:* m",
		"devices/c1/devices.allow=c *:* m",
		"devices/c1/devices.allow=c 1:3 rwm",
		"devices/c1/devices.allow=c 1:9 rw",
		"devices/c1/devices.allow=c 10:200 rwm",
		"devices/c1/devices.allow=c 136:* rwm")

	// What the kernel lists then: null (rwm), the ptys, and mknod of every
	// char device. New rules for it change only what differs.
	os.WriteFile(list, []byte("c *:* m\nc 1:3 rwm\nc 136:* rwm\n"), 0o644)
	err := m.Apply(&rspec.LinuxResources{Devices: []rspec.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		dev(true, "c", -1, -1, "m"),
		dev(true, "c", 1, 3, "rwm"),
		dev(true, "c", 136, -1, "rw"),  // mknod of ptys goes
		dev(true, "c", 10, 200, "rwm"), // /dev/net/tun comes
		dev(true, "b", 8, 0, "rw"),
		dev(false, "b", 8, 0, "w"), // allowed, then taken back in part
	}})
	if err != nil {
		t.Fatal(err)
	}
	// No "a" deny: the container keeps its devices.
	wantWrites(t, f,
		"devices/c1/devices.deny=c 136:* m",
		"devices/c1/devices.allow=b 8:0 r",
		"devices/c1/devices.allow=c 10:200 rwm")

	// The default changes (allow all).
	if err := m.Apply(&rspec.LinuxResources{Devices: []rspec.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}}); err != nil {
		t.Fatal(err)
	}
	wantWrites(t, f, "devices/c1/devices.allow=a *:* rwm")
	// From an allow-all cgroup, whose exceptions are not listed: in full.
	os.WriteFile(list, []byte("a *:* rwm\n"), 0o644)
	if err := m.Apply(&rspec.LinuxResources{Devices: []rspec.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}, dev(false, "c", 1, 3, "w")}}); err != nil {
		t.Fatal(err)
	}
	wantWrites(t, f, "devices/c1/devices.allow=a *:* rwm", "devices/c1/devices.deny=c 1:3 w")
}

func TestEmulateDevicesV1(t *testing.T) {
	rules, err := parseDeviceRules([]rspec.LinuxDeviceCgroup{
		{Allow: true, Type: "c", Major: ptr[int64](1), Minor: ptr[int64](3), Access: "r"},
		{Allow: true, Type: "c", Major: ptr[int64](1), Minor: ptr[int64](3), Access: "w"},
		{Allow: false, Type: "c", Major: ptr[int64](1), Minor: ptr[int64](3), Access: "rw"},
		{Allow: true, Type: "c", Major: ptr[int64](5), Access: "m"},
	})
	if err != nil {
		t.Fatal(err)
	}
	st := emulateDevicesV1(rules)
	want := map[devKey]uint32{{'c', 5, -1}: accMknod}
	if st.allowDefault || !maps.Equal(st.exceptions, want) {
		t.Errorf("emulated %+v, want deny default with %v", st, want)
	}
	listed, err := parseDevicesList("c 5:* m\n")
	if err != nil || listed.allowDefault || !maps.Equal(listed.exceptions, want) {
		t.Errorf("devices.list parsed as %+v, %v", listed, err)
	}
	if _, err := parseDevicesList("nonsense"); err == nil {
		t.Error("a malformed devices.list was accepted")
	}
}
