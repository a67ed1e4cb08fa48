package cgroups

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestStatsV1(t *testing.T) {
	m, f := createdFake(t, layoutV1())
	cpu, mem, pids, blkio, huge := m.paths["cpuacct"], m.paths["memory"], m.paths["pids"], m.paths["blkio"], m.paths["hugetlb"]
	f.set(cpu, "cpuacct.usage", "3000\n")
	f.set(cpu, "cpuacct.usage_percpu", "1000 2000 \n")
	f.set(cpu, "cpuacct.usage_percpu_sys", "400 500\n")
	f.set(cpu, "cpuacct.usage_percpu_user", "600 1500\n")
	cs := m.paths["cpuset"]
	f.set(cs, "cpuset.cpu_exclusive", "1\n")
	f.set(cs, "cpuset.sched_load_balance", "1\n")
	f.set(cs, "cpuset.sched_relax_domain_level", "-1\n")
	f.set(cpu, "cpuacct.stat", "user 2\nsystem 1\n")
	f.set(cpu, "cpu.stat", "nr_periods 10\nnr_throttled 3\nthrottled_time 777\n")
	f.set(mem, "memory.usage_in_bytes", "4096\n")
	f.set(mem, "memory.max_usage_in_bytes", "8192\n")
	f.set(mem, "memory.limit_in_bytes", "1048576\n")
	f.set(mem, "memory.failcnt", "2\n")
	f.set(mem, "memory.memsw.usage_in_bytes", "5000\n")
	f.set(mem, "memory.stat", "cache 123\nrss 456\ntotal_cache 789\n")
	f.set(mem, "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 4\n")
	f.set(pids, "pids.current", "3\n")
	f.set(pids, "pids.max", "max\n")
	f.set(blkio, "blkio.throttle.io_service_bytes_recursive", "8:0 Read 100\n8:0 Write 200\n8:0 Total 300\nTotal 300\n")
	f.set(blkio, "blkio.throttle.io_serviced_recursive", "8:0 Read 1\nTotal 1\n")
	f.set(huge, "hugetlb.2MB.usage_in_bytes", "2097152\n")
	f.set(huge, "hugetlb.2MB.failcnt", "1\n")

	s, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	want := &Stats{
		CPU: CPU{
			Usage: CPUUsage{Total: 3000, Percpu: []uint64{1000, 2000}, PercpuKernel: []uint64{400, 500}, PercpuUser: []uint64{600, 1500},
				User: 20_000_000, Kernel: 10_000_000},
			Throttling: Throttling{Periods: 10, ThrottledPeriods: 3, ThrottledTime: 777},
		},
		CPUSet: CPUSet{CPUs: []uint16{0, 1, 2, 3}, Mems: []uint16{0}, CPUExclusive: 1, SchedLoadBalance: 1, SchedRelaxDomainLevel: -1},
		Memory: Memory{
			Cache:     123,
			Usage:     MemoryEntry{Limit: 1048576, Usage: 4096, Max: 8192, Failcnt: 2},
			Swap:      MemoryEntry{Limit: 9223372036854771712, Usage: 5000},
			KernelTCP: MemoryEntry{Limit: 9223372036854771712},
			Raw:       map[string]uint64{"cache": 123, "rss": 456, "total_cache": 789},
		},
		Pids: Pids{Current: 3},
		Blkio: Blkio{
			IoServiceBytesRecursive: []BlkioEntry{{8, 0, "Read", 100}, {8, 0, "Write", 200}, {8, 0, "Total", 300}},
			IoServicedRecursive:     []BlkioEntry{{8, 0, "Read", 1}},
		},
		Hugetlb: map[string]Hugetlb{"2MB": {Usage: 2097152, Failcnt: 1}, "1GB": {}},
	}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("got  %+v\nwant %+v", s, want)
	}
	if n, err := m.OOMKillCount(); err != nil || n != 4 {
		t.Errorf("OOMKillCount = %d, %v", n, err)
	}

	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"cpu":{"usage":{"total":3000,"percpu":[1000,2000],"percpu_kernel":[400,500],"percpu_user":[600,1500],"kernel":10000000,"user":20000000},"throttling":{"periods":10,"throttledPeriods":3,"throttledTime":777}}`,
		`"cpuset":{"cpus":[0,1,2,3],"cpu_exclusive":1,"mems":[0],`, `"intel_rdt":{}`, `"network_interfaces":null`,
		`"pids":{"current":3}`, `"ioServiceBytesRecursive":[{"major":8,"op":"Read","value":100}`, `"hugetlb":{"1GB":{"failcnt":0},"2MB":{"usage":2097152,"failcnt":1}}`,
		`"raw":{"cache":123`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("json lacks %s:\n%s", key, b)
		}
	}
}

func TestStatsV2(t *testing.T) {
	m, f := createdFake(t, layoutV2())
	d := m.unifiedDir()
	f.set(d, "cpu.stat", "usage_usec 30\nuser_usec 20\nsystem_usec 10\nnr_periods 5\nnr_throttled 1\nthrottled_usec 7\n")
	f.set(d, "memory.current", "4096\n")
	f.set(d, "memory.max", "8192\n")
	f.set(d, "memory.peak", "6000\n")
	f.set(d, "memory.swap.current", "100\n")
	f.set(d, "memory.swap.max", "max\n")
	f.set(d, "memory.stat", "anon 1\nfile 2\n")
	f.set(d, "memory.events", "low 0\nhigh 0\nmax 9\noom 1\noom_kill 2\n")
	f.set(d, "pids.current", "4\n")
	f.set(d, "pids.max", "50\n")
	f.set(d, "io.stat", "8:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\n")
	f.set(d, "hugetlb.2MB.current", "2097152\n")
	f.set(d, "hugetlb.2MB.events", "max 3\n")
	f.set(d, "cpu.pressure", "some avg10=1.50 avg60=0.25 avg300=0.00 total=1234\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n")
	f.set(d, "memory.pressure", "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n")
	// No io.pressure: a cgroup with pressure turned off.

	s, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	want := &Stats{
		CPU: CPU{
			Usage:      CPUUsage{Total: 30000, User: 20000, Kernel: 10000},
			Throttling: Throttling{Periods: 5, ThrottledPeriods: 1, ThrottledTime: 7000},
			PSI:        &PSIStats{Some: PSIData{Avg10: 1.5, Avg60: 0.25, Total: 1234}},
		},
		Memory: Memory{
			Cache: 2,
			Usage: MemoryEntry{Limit: 8192, Usage: 4096, Max: 6000, Failcnt: 9},
			Swap:  MemoryEntry{Limit: math.MaxUint64, Usage: 4196},
			Raw:   map[string]uint64{"anon": 1, "file": 2},
			PSI:   &PSIStats{},
		},
		Pids: Pids{Current: 4, Limit: 50},
		Blkio: Blkio{
			IoServiceBytesRecursive: []BlkioEntry{{8, 0, "Read", 10}, {8, 0, "Write", 20}, {8, 0, "Discard", 0}},
			IoServicedRecursive:     []BlkioEntry{{8, 0, "Read", 1}, {8, 0, "Write", 2}, {8, 0, "Discard", 0}},
		},
		Hugetlb: map[string]Hugetlb{"2MB": {Usage: 2097152, Failcnt: 3}, "1GB": {}},
	}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("got  %+v\nwant %+v", s, want)
	}
	if n, err := m.OOMKillCount(); err != nil || n != 2 {
		t.Errorf("OOMKillCount = %d, %v", n, err)
	}
}

func TestStatsToleratesMissingControllers(t *testing.T) {
	m, _ := createdFake(t, fakeLayout{v1: []string{"name=systemd"}})
	s, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s, &Stats{Hugetlb: map[string]Hugetlb{}}) {
		t.Errorf("got %+v", s)
	}
	if _, err := m.OOMKillCount(); err == nil {
		t.Error("OOMKillCount without memory controller succeeded")
	}
}
