package shim

import (
	"math"
	"strings"

	v1 "github.com/containerd/cgroups/v3/cgroup1/stats"
	v2 "github.com/containerd/cgroups/v3/cgroup2/stats"
	"google.golang.org/protobuf/proto"

	"github.com/husk-runtime/husk/cgroups"
)

// metrics converts husk's cgroup statistics to the metrics types of
// containerd/cgroups/v3 that containerd's runc shim returns (v1 unless
// the host is unified, as the runc shim decides), so `ctr task metrics`,
// dockerd and the CRI plugin decode them as they do runc's. husk reads the
// cgroup files itself; the cgroups/v3 readers would add their systemd and
// D-Bus dependencies (about 1 MiB of resident memory) to every shim.
func metrics(s *cgroups.Stats, unified bool, oomKills uint64) proto.Message {
	if unified {
		return metricsV2(s, oomKills)
	}
	return metricsV1(s, oomKills)
}

func metricsV1(s *cgroups.Stats, oomKills uint64) *v1.Metrics {
	m := &v1.Metrics{
		Pids: &v1.PidsStat{Current: s.Pids.Current, Limit: s.Pids.Limit},
		CPU: &v1.CPUStat{
			Usage: &v1.CPUUsage{
				Total: s.CPU.Usage.Total, Kernel: s.CPU.Usage.Kernel, User: s.CPU.Usage.User,
				PerCPU: s.CPU.Usage.Percpu,
			},
			Throttling: &v1.Throttle{
				Periods:          s.CPU.Throttling.Periods,
				ThrottledPeriods: s.CPU.Throttling.ThrottledPeriods,
				ThrottledTime:    s.CPU.Throttling.ThrottledTime,
			},
		},
		Memory: &v1.MemoryStat{
			Usage:     memEntry(s.Memory.Usage),
			Swap:      memEntry(s.Memory.Swap),
			Kernel:    memEntry(s.Memory.Kernel),
			KernelTCP: memEntry(s.Memory.KernelTCP),
		},
		Blkio:            &v1.BlkIOStat{},
		MemoryOomControl: &v1.MemoryOomControl{OomKill: oomKills},
	}
	raw := s.Memory.Raw
	ms := m.Memory
	for k, p := range map[string]*uint64{
		"cache": &ms.Cache, "rss": &ms.RSS, "rss_huge": &ms.RSSHuge, "mapped_file": &ms.MappedFile,
		"dirty": &ms.Dirty, "writeback": &ms.Writeback, "pgpgin": &ms.PgPgIn, "pgpgout": &ms.PgPgOut,
		"pgfault": &ms.PgFault, "pgmajfault": &ms.PgMajFault, "inactive_anon": &ms.InactiveAnon,
		"active_anon": &ms.ActiveAnon, "inactive_file": &ms.InactiveFile, "active_file": &ms.ActiveFile,
		"unevictable": &ms.Unevictable, "hierarchical_memory_limit": &ms.HierarchicalMemoryLimit,
		"hierarchical_memsw_limit": &ms.HierarchicalSwapLimit, "total_cache": &ms.TotalCache,
		"total_rss": &ms.TotalRSS, "total_rss_huge": &ms.TotalRSSHuge, "total_mapped_file": &ms.TotalMappedFile,
		"total_dirty": &ms.TotalDirty, "total_writeback": &ms.TotalWriteback, "total_pgpgin": &ms.TotalPgPgIn,
		"total_pgpgout": &ms.TotalPgPgOut, "total_pgfault": &ms.TotalPgFault,
		"total_pgmajfault": &ms.TotalPgMajFault, "total_inactive_anon": &ms.TotalInactiveAnon,
		"total_active_anon": &ms.TotalActiveAnon, "total_inactive_file": &ms.TotalInactiveFile,
		"total_active_file": &ms.TotalActiveFile, "total_unevictable": &ms.TotalUnevictable,
	} {
		*p = raw[k]
	}
	for _, e := range s.Blkio.IoServiceBytesRecursive {
		m.Blkio.IoServiceBytesRecursive = append(m.Blkio.IoServiceBytesRecursive, blkEntry(e))
	}
	for _, e := range s.Blkio.IoServicedRecursive {
		m.Blkio.IoServicedRecursive = append(m.Blkio.IoServicedRecursive, blkEntry(e))
	}
	for size, h := range s.Hugetlb {
		m.Hugetlb = append(m.Hugetlb, &v1.HugetlbStat{Usage: h.Usage, Max: h.Max, Failcnt: h.Failcnt, Pagesize: size})
	}
	return m
}

func memEntry(e cgroups.MemoryEntry) *v1.MemoryEntry {
	return &v1.MemoryEntry{Limit: e.Limit, Usage: e.Usage, Max: e.Max, Failcnt: e.Failcnt}
}

func blkEntry(e cgroups.BlkioEntry) *v1.BlkIOEntry {
	return &v1.BlkIOEntry{Op: strings.ToLower(e.Op), Major: e.Major, Minor: e.Minor, Value: e.Value}
}

func metricsV2(s *cgroups.Stats, oomKills uint64) *v2.Metrics {
	m := &v2.Metrics{
		Pids: &v2.PidsStat{Current: s.Pids.Current, Limit: s.Pids.Limit},
		CPU: &v2.CPUStat{
			UsageUsec:     s.CPU.Usage.Total / 1000,
			UserUsec:      s.CPU.Usage.User / 1000,
			SystemUsec:    s.CPU.Usage.Kernel / 1000,
			NrPeriods:     s.CPU.Throttling.Periods,
			NrThrottled:   s.CPU.Throttling.ThrottledPeriods,
			ThrottledUsec: s.CPU.Throttling.ThrottledTime / 1000,
		},
		Memory: &v2.MemoryStat{
			Usage:      s.Memory.Usage.Usage,
			UsageLimit: s.Memory.Usage.Limit,
			MaxUsage:   s.Memory.Usage.Max,
		},
		Io:           &v2.IOStat{},
		MemoryEvents: &v2.MemoryEvents{Max: s.Memory.Usage.Failcnt, OomKill: oomKills},
	}
	// husk reports swap as memory+swap (as runc does); v2 metrics want
	// swap alone.
	if sw := s.Memory.Swap; sw.Usage != 0 || sw.Limit != 0 {
		m.Memory.SwapUsage = sw.Usage - min(sw.Usage, s.Memory.Usage.Usage)
		m.Memory.SwapLimit = sw.Limit
		if sw.Limit != math.MaxUint64 {
			m.Memory.SwapLimit = sw.Limit - min(sw.Limit, s.Memory.Usage.Limit)
		}
	}
	raw := s.Memory.Raw
	ms := m.Memory
	for k, p := range map[string]*uint64{
		"anon": &ms.Anon, "file": &ms.File, "kernel_stack": &ms.KernelStack, "slab": &ms.Slab,
		"sock": &ms.Sock, "shmem": &ms.Shmem, "file_mapped": &ms.FileMapped, "file_dirty": &ms.FileDirty,
		"file_writeback": &ms.FileWriteback, "anon_thp": &ms.AnonThp, "inactive_anon": &ms.InactiveAnon,
		"active_anon": &ms.ActiveAnon, "inactive_file": &ms.InactiveFile, "active_file": &ms.ActiveFile,
		"unevictable": &ms.Unevictable, "slab_reclaimable": &ms.SlabReclaimable,
		"slab_unreclaimable": &ms.SlabUnreclaimable, "pgfault": &ms.Pgfault, "pgmajfault": &ms.Pgmajfault,
		"workingset_refault": &ms.WorkingsetRefault, "workingset_activate": &ms.WorkingsetActivate,
		"workingset_nodereclaim": &ms.WorkingsetNodereclaim, "pgrefill": &ms.Pgrefill, "pgscan": &ms.Pgscan,
		"pgsteal": &ms.Pgsteal, "pgactivate": &ms.Pgactivate, "pgdeactivate": &ms.Pgdeactivate,
		"pglazyfree": &ms.Pglazyfree, "pglazyfreed": &ms.Pglazyfreed, "thp_fault_alloc": &ms.ThpFaultAlloc,
		"thp_collapse_alloc": &ms.ThpCollapseAlloc,
	} {
		*p = raw[k]
	}
	// husk splits io.stat into v1-style entries by op; fold them back.
	type dev struct{ major, minor uint64 }
	byDev := map[dev]*v2.IOEntry{}
	entry := func(e cgroups.BlkioEntry) *v2.IOEntry {
		d := dev{e.Major, e.Minor}
		if byDev[d] == nil {
			byDev[d] = &v2.IOEntry{Major: e.Major, Minor: e.Minor}
			m.Io.Usage = append(m.Io.Usage, byDev[d])
		}
		return byDev[d]
	}
	for _, e := range s.Blkio.IoServiceBytesRecursive {
		switch e.Op {
		case "Read":
			entry(e).Rbytes = e.Value
		case "Write":
			entry(e).Wbytes = e.Value
		}
	}
	for _, e := range s.Blkio.IoServicedRecursive {
		switch e.Op {
		case "Read":
			entry(e).Rios = e.Value
		case "Write":
			entry(e).Wios = e.Value
		}
	}
	for size, h := range s.Hugetlb {
		m.Hugetlb = append(m.Hugetlb, &v2.HugeTlbStat{Current: h.Usage, Max: h.Max, Failcnt: h.Failcnt, Pagesize: size})
	}
	return m
}
