package cgroups

import (
	"strings"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

func TestApplyV2AllResources(t *testing.T) {
	m, f := createdFake(t, layoutV2())
	r := &rspec.LinuxResources{
		Memory: &rspec.LinuxMemory{
			Limit: ptr[int64](100 << 20), Reservation: ptr[int64](50 << 20), Swap: ptr[int64](300 << 20),
			// v1-only knobs are ignored on cgroup2.
			Kernel: ptr[int64](1), KernelTCP: ptr[int64](1), Swappiness: ptr[uint64](1), DisableOOMKiller: ptr(true), UseHierarchy: ptr(true),
		},
		CPU: &rspec.LinuxCPU{
			Shares: ptr[uint64](1024), Quota: ptr[int64](50000), Period: ptr[uint64](100000), Burst: ptr[uint64](1000),
			Cpus: "1", Mems: "0", Idle: ptr[int64](1),
		},
		Pids: &rspec.LinuxPids{Limit: ptr[int64](-1)},
		BlockIO: &rspec.LinuxBlockIO{
			Weight: ptr[uint16](500), LeafWeight: ptr[uint16](300),
			WeightDevice:            []rspec.LinuxWeightDevice{{LinuxBlockIODevice: rspec.LinuxBlockIODevice{Major: 8, Minor: 0}, Weight: ptr[uint16](1000)}},
			ThrottleReadBpsDevice:   []rspec.LinuxThrottleDevice{{LinuxBlockIODevice: rspec.LinuxBlockIODevice{Major: 8, Minor: 0}, Rate: 1000}},
			ThrottleWriteBpsDevice:  []rspec.LinuxThrottleDevice{{LinuxBlockIODevice: rspec.LinuxBlockIODevice{Major: 8, Minor: 16}, Rate: 2000}},
			ThrottleReadIOPSDevice:  []rspec.LinuxThrottleDevice{{LinuxBlockIODevice: rspec.LinuxBlockIODevice{Major: 8, Minor: 0}, Rate: 30}},
			ThrottleWriteIOPSDevice: []rspec.LinuxThrottleDevice{{LinuxBlockIODevice: rspec.LinuxBlockIODevice{Major: 8, Minor: 0}, Rate: 0}},
		},
		HugepageLimits: []rspec.LinuxHugepageLimit{{Pagesize: "1GB", Limit: 1 << 30}},
		Rdma:           map[string]rspec.LinuxRdma{"mlx5_1": {HcaObjects: ptr[uint32](9)}},
		Unified:        map[string]string{"memory.high": "90000000", "pids.max": "50", "io.max": "8:32 rbps=1\n8:48 wbps=2\n"},
	}
	if err := m.Apply(r); err != nil {
		t.Fatal(err)
	}
	wantWrites(t, f,
		"unified/c1/memory.swap.max=209715200",
		"unified/c1/memory.max=104857600",
		"unified/c1/memory.low=52428800",
		"unified/c1/cpu.weight=100",
		"unified/c1/cpu.idle=1",
		"unified/c1/cpu.max.burst=1000",
		"unified/c1/cpu.max=50000 100000",
		"unified/c1/cpuset.cpus=1",
		"unified/c1/cpuset.mems=0",
		"unified/c1/pids.max=max",
		"unified/c1/io.weight=default 4950",
		"unified/c1/io.weight=8:0 10000",
		"unified/c1/io.max=8:0 rbps=1000 riops=30 wiops=max",
		"unified/c1/io.max=8:16 wbps=2000",
		"unified/c1/hugetlb.1GB.max=1073741824",
		"unified/c1/hugetlb.1GB.rsvd.max=1073741824",
		"unified/c1/rdma.max=mlx5_1 hca_object=9",
		"unified/c1/io.max=8:32 rbps=1",
		"unified/c1/io.max=8:48 wbps=2",
		"unified/c1/memory.high=90000000",
		"unified/c1/pids.max=50",
	)
}

func TestV2Conversions(t *testing.T) {
	for _, tc := range []struct{ shares, weight uint64 }{{2, 1}, {512, 59}, {1024, 100}, {262144, 10000}} {
		if got := sharesToWeight(tc.shares); got != tc.weight {
			t.Errorf("sharesToWeight(%d) = %d, want %d", tc.shares, got, tc.weight)
		}
	}
	for _, tc := range []struct {
		blkio uint16
		io    uint64
	}{{10, 1}, {100, 910}, {500, 4950}, {1000, 10000}} {
		if got := blkioToIOWeight(tc.blkio); got != tc.io {
			t.Errorf("blkioToIOWeight(%d) = %d, want %d", tc.blkio, got, tc.io)
		}
	}
}

func TestV2MemorySwap(t *testing.T) {
	m, f := createdFake(t, layoutV2())
	mem := func(mem *rspec.LinuxMemory) *rspec.LinuxResources { return &rspec.LinuxResources{Memory: mem} }
	for _, tc := range []struct {
		name       string
		currentMax string // memory.max before the update
		mem        *rspec.LinuxMemory
		writes     []string
		err        string
	}{
		{"swap equal to limit disables swap", "max", &rspec.LinuxMemory{Limit: ptr[int64](100), Swap: ptr[int64](100)},
			[]string{"unified/c1/memory.swap.max=0", "unified/c1/memory.max=100"}, ""},
		{"unlimited swap", "max", &rspec.LinuxMemory{Limit: ptr[int64](100), Swap: ptr[int64](-1)},
			[]string{"unified/c1/memory.swap.max=max", "unified/c1/memory.max=100"}, ""},
		{"unlimited memory, unset swap", "max", &rspec.LinuxMemory{Limit: ptr[int64](-1)},
			[]string{"unified/c1/memory.swap.max=max", "unified/c1/memory.max=max"}, ""},
		{"swap alone is relative to the current limit", "200", &rspec.LinuxMemory{Swap: ptr[int64](250)},
			[]string{"unified/c1/memory.swap.max=50"}, ""},
		{"swap alone without any limit", "max", &rspec.LinuxMemory{Swap: ptr[int64](250)}, nil, "linux.resources.memory.swap: 250 needs a memory limit"},
		{"swap below limit", "max", &rspec.LinuxMemory{Limit: ptr[int64](100), Swap: ptr[int64](50)}, nil, "linux.resources.memory.swap: 50 is below memory.limit 100"},
		{"swap with unlimited memory", "max", &rspec.LinuxMemory{Limit: ptr[int64](-1), Swap: ptr[int64](50)}, nil, "linux.resources.memory.swap: 50 needs a memory limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.set(m.unifiedDir(), "memory.max", tc.currentMax+"\n")
			err := m.Update(mem(tc.mem))
			if tc.err != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				wantWrites(t, f)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wantWrites(t, f, tc.writes...)
		})
	}
	// Without swap accounting, "max" and "0" hold already; other values fail.
	f.remove(m.unifiedDir(), "memory.swap.max")
	if err := m.Update(mem(&rspec.LinuxMemory{Limit: ptr[int64](100), Swap: ptr[int64](100)})); err != nil {
		t.Errorf("swap=limit without swap accounting: %v", err)
	}
	if err := m.Update(mem(&rspec.LinuxMemory{Limit: ptr[int64](100), Swap: ptr[int64](200)})); err == nil ||
		!strings.HasPrefix(err.Error(), "linux.resources.memory.swap: write ") {
		t.Errorf("err = %v", err)
	}
}

func TestV2CheckBeforeUpdate(t *testing.T) {
	m, f := createdFake(t, layoutV2())
	f.set(m.unifiedDir(), "memory.current", "5000\n")
	r := &rspec.LinuxResources{Memory: &rspec.LinuxMemory{Limit: ptr[int64](4096), CheckBeforeUpdate: ptr(true)}}
	err := m.Update(r)
	if err == nil || !strings.HasPrefix(err.Error(), "linux.resources.memory.limit: 4096 is below the current usage 5000") {
		t.Errorf("err = %v", err)
	}
	wantWrites(t, f)
	r.Memory.Limit = ptr[int64](8192)
	if err := m.Update(r); err != nil {
		t.Fatal(err)
	}
	wantWrites(t, f, "unified/c1/memory.max=8192")
}

func TestV2CPUMax(t *testing.T) {
	m, f := createdFake(t, layoutV2())
	cpu := func(c *rspec.LinuxCPU) *rspec.LinuxResources { return &rspec.LinuxResources{CPU: c} }
	steps := []struct {
		c    *rspec.LinuxCPU
		want string
	}{
		{&rspec.LinuxCPU{Quota: ptr[int64](20000)}, "20000"},
		{&rspec.LinuxCPU{Period: ptr[uint64](50000)}, "20000 50000"}, // keeps the quota
		{&rspec.LinuxCPU{Quota: ptr[int64](-1), Period: ptr[uint64](100000)}, "max 100000"},
	}
	for _, s := range steps {
		if err := m.Update(cpu(s.c)); err != nil {
			t.Fatal(err)
		}
		wantWrites(t, f, "unified/c1/cpu.max="+s.want)
		// Keep the fake's cpu.max realistic for the period-only update.
		fields := strings.Fields(s.want)
		if len(fields) == 1 {
			fields = append(fields, "100000")
		}
		f.set(m.unifiedDir(), "cpu.max", strings.Join(fields, " ")+"\n")
	}
	// The realtime knobs have no v2 equivalent: ignored, as by runc.
	if err := m.Apply(cpu(&rspec.LinuxCPU{RealtimeRuntime: ptr[int64](1), RealtimePeriod: ptr[uint64](1000)})); err != nil {
		t.Errorf("realtime on cgroup v2: %v", err)
	}
	wantWrites(t, f)
}

// net_cls and net_prio have no cgroup v2 equivalent: on a host with
// cgroup2 alone, linux.resources.network is ignored, as by runc.
func TestV2NetworkIgnored(t *testing.T) {
	m, f := createdFake(t, layoutV2())
	if err := m.Apply(&rspec.LinuxResources{Network: &rspec.LinuxNetwork{ClassID: ptr[uint32](1),
		Priorities: []rspec.LinuxInterfacePriority{{Name: "eth0", Priority: 5}}}}); err != nil {
		t.Fatal(err)
	}
	wantWrites(t, f)
}

func TestV2IOFallsBackToBFQ(t *testing.T) {
	m, f := createdFake(t, layoutV2())
	f.remove(m.unifiedDir(), "io.weight")
	f.set(m.unifiedDir(), "io.bfq.weight", "default 100\n")
	if err := m.Apply(&rspec.LinuxResources{BlockIO: &rspec.LinuxBlockIO{Weight: ptr[uint16](500)}}); err != nil {
		t.Fatal(err)
	}
	wantWrites(t, f, "unified/c1/io.bfq.weight=default 500")
	f.remove(m.unifiedDir(), "io.bfq.weight")
	if err := m.Apply(&rspec.LinuxResources{BlockIO: &rspec.LinuxBlockIO{Weight: ptr[uint16](500)}}); err == nil ||
		!strings.Contains(err.Error(), "neither io.weight nor io.bfq.weight") {
		t.Errorf("err = %v", err)
	}
}

func TestV2Unified(t *testing.T) {
	l := layoutV2()
	l.rootSubtree = []string{"memory"}
	m, f := newFakeManager(t, l, "/c1")
	if err := m.Create(&rspec.LinuxResources{Unified: map[string]string{"memory.high": "1"}}); err != nil {
		t.Fatal(err)
	}
	f.takeWrites()
	for _, tc := range []struct {
		key, want string
	}{
		{"../memory.high", "key must be a cgroup file name"},
		{"memory", "key must be a cgroup file name"},
		{"a/b.c", "key must be a cgroup file name"},
		{"pids.max", `linux.resources.unified["pids.max"]: write ` + m.unifiedDir() + `/pids.max: no such file or directory (is the "pids" controller enabled`},
	} {
		err := m.Apply(&rspec.LinuxResources{Unified: map[string]string{tc.key: "1"}})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.key, err, tc.want)
		}
	}
	// Create checks the controllers that unified keys need.
	m2, _ := newFakeManager(t, l, "/c2")
	if err := m2.Create(&rspec.LinuxResources{Unified: map[string]string{"pids.max": "1"}}); err == nil ||
		!strings.HasPrefix(err.Error(), `linux.resources.unified["pids.max"]: cgroup2 controller "pids" is not enabled`) {
		t.Errorf("err = %v", err)
	}
	wantWrites(t, f)
}

func TestV2DevicesAttachProgram(t *testing.T) {
	m, f := createdFake(t, layoutV2())
	r := &rspec.LinuxResources{Devices: []rspec.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		{Allow: true, Type: "c", Major: ptr[int64](1), Minor: ptr[int64](3), Access: "rwm"},
	}}
	if err := m.Apply(r); err != nil {
		t.Fatal(err)
	}
	prog := f.progs["unified/c1"]
	if prog == nil {
		t.Fatal("no program attached")
	}
	if v := runDeviceProgram(t, prog, 'c', 1, 3, accWrite); v != 1 {
		t.Errorf("c 1:3 w = %d", v)
	}
	if v := runDeviceProgram(t, prog, 'c', 1, 5, accRead); v != 0 {
		t.Errorf("c 1:5 r = %d", v)
	}
	// Hybrid hosts use the v1 devices hierarchy, not BPF.
	m, f = createdFake(t, layoutHybrid())
	if err := m.Apply(r); err != nil {
		t.Fatal(err)
	}
	if len(f.progs) != 0 {
		t.Errorf("program attached on hybrid host: %v", f.progs)
	}
	wantWrites(t, f, "devices/c1/devices.deny=a *:* rwm", "devices/c1/devices.allow=c 1:3 rwm")
}
