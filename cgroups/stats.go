package cgroups

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Stats mirrors the "data" of runc's `events --stats` JSON.
type Stats struct {
	CPU     CPU                `json:"cpu"`
	CPUSet  CPUSet             `json:"cpuset"`
	Memory  Memory             `json:"memory"`
	Pids    Pids               `json:"pids"`
	Blkio   Blkio              `json:"blkio"`
	Hugetlb map[string]Hugetlb `json:"hugetlb"`
	// IntelRdt is always empty (husk has no Intel RDT support), and
	// NetworkInterfaces always null (as runc's, outside a netns it
	// entered): both there so that readers find runc's keys.
	IntelRdt          struct{} `json:"intel_rdt"`
	NetworkInterfaces []any    `json:"network_interfaces"`
}

// CPU holds CPU time and CFS throttling, each left out when zero, and
// the CPU pressure (cgroup v2).
type CPU struct {
	Usage      CPUUsage   `json:"usage,omitzero"`
	Throttling Throttling `json:"throttling,omitzero"`
	PSI        *PSIStats  `json:"psi,omitempty"`
}

// PSIStats is a cgroup v2 pressure file (cpu.pressure, memory.pressure,
// io.pressure): its "some" and "full" lines, each left out when it reads
// all zero, as runc leaves it out.
type PSIStats struct {
	Some PSIData `json:"some,omitzero"`
	Full PSIData `json:"full,omitzero"`
}

// PSIData is one line of a pressure file: the share of time stalled
// (percent) over 10, 60 and 300 seconds, and the total stall time (µs).
type PSIData struct {
	Avg10  float64 `json:"avg10"`
	Avg60  float64 `json:"avg60"`
	Avg300 float64 `json:"avg300"`
	Total  uint64  `json:"total"`
}

// CPUUsage is in nanoseconds.
type CPUUsage struct {
	Total        uint64   `json:"total,omitempty"`
	Percpu       []uint64 `json:"percpu,omitempty"`
	PercpuKernel []uint64 `json:"percpu_kernel,omitempty"`
	PercpuUser   []uint64 `json:"percpu_user,omitempty"`
	Kernel       uint64   `json:"kernel"`
	User         uint64   `json:"user"`
}

// CPUSet is the cpuset controller's state on cgroup v1; on cgroup v2, as
// in runc's, it is not read (all zero).
type CPUSet struct {
	CPUs                  []uint16 `json:"cpus,omitempty"`
	CPUExclusive          uint64   `json:"cpu_exclusive"`
	Mems                  []uint16 `json:"mems,omitempty"`
	MemHardwall           uint64   `json:"mem_hardwall"`
	MemExclusive          uint64   `json:"mem_exclusive"`
	MemoryMigrate         uint64   `json:"memory_migrate"`
	MemorySpreadPage      uint64   `json:"memory_spread_page"`
	MemorySpreadSlab      uint64   `json:"memory_spread_slab"`
	MemoryPressure        uint64   `json:"memory_pressure"`
	SchedLoadBalance      uint64   `json:"sched_load_balance"`
	SchedRelaxDomainLevel int64    `json:"sched_relax_domain_level"`
}

// Throttling counts CFS periods; ThrottledTime is in nanoseconds.
type Throttling struct {
	Periods          uint64 `json:"periods,omitempty"`
	ThrottledPeriods uint64 `json:"throttledPeriods,omitempty"`
	ThrottledTime    uint64 `json:"throttledTime,omitempty"`
}

// Memory holds memory usage. As in runc, Swap is memory+swap on v1 and
// is reported the same way on v2.
type Memory struct {
	Cache     uint64            `json:"cache,omitempty"`
	Usage     MemoryEntry       `json:"usage,omitzero"`
	Swap      MemoryEntry       `json:"swap,omitzero"`
	Kernel    MemoryEntry       `json:"kernel,omitzero"`
	KernelTCP MemoryEntry       `json:"kernelTCP,omitzero"`
	Raw       map[string]uint64 `json:"raw,omitempty"`
	PSI       *PSIStats         `json:"psi,omitempty"`
}

// MemoryEntry is one memory counter; Limit is MaxUint64 when unlimited.
type MemoryEntry struct {
	Limit   uint64 `json:"limit"`
	Usage   uint64 `json:"usage,omitempty"`
	Max     uint64 `json:"max,omitempty"`
	Failcnt uint64 `json:"failcnt"`
}

// Pids counts tasks; Limit 0 means unlimited.
type Pids struct {
	Current uint64 `json:"current,omitempty"`
	Limit   uint64 `json:"limit,omitempty"`
}

// Blkio holds per-device I/O counters and the I/O pressure (cgroup v2).
type Blkio struct {
	IoServiceBytesRecursive []BlkioEntry `json:"ioServiceBytesRecursive,omitempty"`
	IoServicedRecursive     []BlkioEntry `json:"ioServicedRecursive,omitempty"`
	PSI                     *PSIStats    `json:"psi,omitempty"`
}

// BlkioEntry is one device counter; Op is Read, Write, Sync, Async,
// Discard or Total.
type BlkioEntry struct {
	Major uint64 `json:"major,omitempty"`
	Minor uint64 `json:"minor,omitempty"`
	Op    string `json:"op,omitempty"`
	Value uint64 `json:"value,omitempty"`
}

// Hugetlb is keyed by page size ("2MB") in Stats.
type Hugetlb struct {
	Usage   uint64 `json:"usage,omitempty"`
	Max     uint64 `json:"max,omitempty"`
	Failcnt uint64 `json:"failcnt"`
}

// userHZ is the unit of cpuacct.stat (USER_HZ, 100 on every Linux ABI).
const userHZ = 100

// Stats reads the container's resource usage. Counters whose files do not
// exist (controller absent, older kernel) are left zero.
func (m *Manager) Stats() (*Stats, error) {
	s := &Stats{Hugetlb: map[string]Hugetlb{}}
	steps := []struct {
		v1, v2 string
		read   func(dir string, isV2 bool) error
	}{
		{"cpuacct", "cpu", func(d string, v2 bool) error { return m.cpuUsageStats(d, v2, &s.CPU) }},
		{"cpu", "cpu", func(d string, v2 bool) error { return m.throttlingStats(d, v2, &s.CPU.Throttling) }},
		{"cpuset", "", func(d string, _ bool) error { return m.cpusetStats(d, &s.CPUSet) }},
		{"memory", "memory", func(d string, v2 bool) error { return m.memoryStats(d, v2, &s.Memory) }},
		{"pids", "pids", func(d string, _ bool) error { return m.pidsStats(d, &s.Pids) }},
		{"blkio", "io", func(d string, v2 bool) error { return m.blkioStats(d, v2, &s.Blkio) }},
		{"hugetlb", "hugetlb", func(d string, v2 bool) error { return m.hugetlbStats(d, v2, s.Hugetlb) }},
	}
	for _, st := range steps {
		dir, isV2, ok := m.locate(st.v1, st.v2)
		if !ok {
			continue
		}
		if err := st.read(dir, isV2); err != nil {
			return nil, err
		}
	}
	// runc reads the pressure files where it uses its cgroup v2 manager:
	// on a host with cgroup2 alone, whichever controllers are enabled.
	if d := m.unifiedDir(); d != "" && m.h.Mode() == Unified {
		for _, p := range []struct {
			file string
			out  **PSIStats
		}{{"cpu.pressure", &s.CPU.PSI}, {"memory.pressure", &s.Memory.PSI}, {"io.pressure", &s.Blkio.PSI}} {
			psi, err := readPSI(m.fs, d, p.file)
			if err != nil {
				return nil, err
			}
			*p.out = psi
		}
	}
	return s, nil
}

// readPSI reads a pressure file; nil when there is none (a kernel without
// PSI, or pressure turned off for the cgroup) or it cannot be read
// (EOPNOTSUPP: a kernel booted without psi=1).
func readPSI(fs cgfs, dir, name string) (*PSIStats, error) {
	s, err := fs.readFile(dir, name)
	if err != nil {
		if isNotExist(err) || errors.Is(err, unix.EOPNOTSUPP) {
			return nil, nil
		}
		return nil, err
	}
	var psi PSIStats
	for line := range strings.Lines(s) {
		f := strings.Fields(line)
		var d *PSIData
		switch {
		case len(f) == 0:
			continue
		case f[0] == "some":
			d = &psi.Some
		case f[0] == "full":
			d = &psi.Full
		default:
			continue
		}
		for _, kv := range f[1:] {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return nil, fmt.Errorf("%s/%s: invalid field %q", dir, name, kv)
			}
			var err error
			switch k {
			case "avg10":
				d.Avg10, err = strconv.ParseFloat(v, 64)
			case "avg60":
				d.Avg60, err = strconv.ParseFloat(v, 64)
			case "avg300":
				d.Avg300, err = strconv.ParseFloat(v, 64)
			case "total":
				d.Total, err = strconv.ParseUint(v, 10, 64)
			}
			if err != nil {
				return nil, fmt.Errorf("%s/%s: %s: %w", dir, name, k, err)
			}
		}
	}
	return &psi, nil
}

// optional turns a missing file into "nothing to report".
func optional(err error) error {
	if isNotExist(err) {
		return nil
	}
	return err
}

func (m *Manager) cpuUsageStats(dir string, isV2 bool, c *CPU) error {
	if isV2 {
		st, err := readKeyValues(m.fs, dir, "cpu.stat")
		if err != nil {
			return optional(err)
		}
		c.Usage.Total = st["usage_usec"] * 1000
		c.Usage.User = st["user_usec"] * 1000
		c.Usage.Kernel = st["system_usec"] * 1000
		return nil
	}
	total, err := readUint(m.fs, dir, "cpuacct.usage")
	if err != nil {
		return optional(err)
	}
	c.Usage.Total = total
	for _, f := range []struct {
		name string
		out  *[]uint64
	}{
		{"cpuacct.usage_percpu", &c.Usage.Percpu},
		{"cpuacct.usage_percpu_sys", &c.Usage.PercpuKernel},
		{"cpuacct.usage_percpu_user", &c.Usage.PercpuUser},
	} {
		s, err := m.fs.readFile(dir, f.name)
		if err != nil {
			if err := optional(err); err != nil {
				return err
			}
			continue
		}
		for field := range strings.FieldsSeq(s) {
			v, err := strconv.ParseUint(field, 10, 64)
			if err != nil {
				return fmt.Errorf("%s/%s: %w", dir, f.name, err)
			}
			*f.out = append(*f.out, v)
		}
	}
	st, err := readKeyValues(m.fs, dir, "cpuacct.stat")
	if err != nil {
		return optional(err)
	}
	c.Usage.User = st["user"] * (1e9 / userHZ)
	c.Usage.Kernel = st["system"] * (1e9 / userHZ)
	return nil
}

func (m *Manager) cpusetStats(dir string, c *CPUSet) error {
	for _, l := range []struct {
		name string
		out  *[]uint16
	}{{"cpuset.cpus", &c.CPUs}, {"cpuset.mems", &c.Mems}} {
		s, err := m.fs.readFile(dir, l.name)
		if err != nil {
			if err := optional(err); err != nil {
				return err
			}
			continue
		}
		if *l.out, err = parseCPUList(strings.TrimSpace(s)); err != nil {
			return fmt.Errorf("%s/%s: %w", dir, l.name, err)
		}
	}
	for _, f := range []struct {
		name string
		out  *uint64
	}{
		{"cpuset.cpu_exclusive", &c.CPUExclusive},
		{"cpuset.mem_hardwall", &c.MemHardwall},
		{"cpuset.mem_exclusive", &c.MemExclusive},
		{"cpuset.memory_migrate", &c.MemoryMigrate},
		{"cpuset.memory_spread_page", &c.MemorySpreadPage},
		{"cpuset.memory_spread_slab", &c.MemorySpreadSlab},
		{"cpuset.memory_pressure", &c.MemoryPressure},
		{"cpuset.sched_load_balance", &c.SchedLoadBalance},
	} {
		v, err := readUint(m.fs, dir, f.name)
		if err != nil {
			if err := optional(err); err != nil {
				return err
			}
			continue
		}
		*f.out = v
	}
	if s, err := m.fs.readFile(dir, "cpuset.sched_relax_domain_level"); err == nil {
		v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return fmt.Errorf("%s/cpuset.sched_relax_domain_level: %w", dir, err)
		}
		c.SchedRelaxDomainLevel = v
	} else if err := optional(err); err != nil {
		return err
	}
	return nil
}

// parseCPUList parses a cpuset list ("0-3,5").
func parseCPUList(s string) ([]uint16, error) {
	var out []uint16
	if s == "" {
		return out, nil
	}
	for part := range strings.SplitSeq(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.ParseUint(lo, 10, 16)
		if err != nil {
			return nil, err
		}
		b := a
		if isRange {
			if b, err = strconv.ParseUint(hi, 10, 16); err != nil || b < a {
				return nil, fmt.Errorf("bad range %q", part)
			}
		}
		for v := a; v <= b; v++ {
			out = append(out, uint16(v))
		}
	}
	return out, nil
}

func (m *Manager) throttlingStats(dir string, isV2 bool, t *Throttling) error {
	st, err := readKeyValues(m.fs, dir, "cpu.stat")
	if err != nil {
		return optional(err)
	}
	t.Periods, t.ThrottledPeriods = st["nr_periods"], st["nr_throttled"]
	if isV2 {
		t.ThrottledTime = st["throttled_usec"] * 1000
	} else {
		t.ThrottledTime = st["throttled_time"]
	}
	return nil
}

func (m *Manager) memoryStats(dir string, isV2 bool, mem *Memory) error {
	raw, err := readKeyValues(m.fs, dir, "memory.stat")
	if err != nil {
		return optional(err)
	}
	mem.Raw = raw
	if isV2 {
		mem.Cache = raw["file"]
		return m.memoryStatsV2(dir, mem)
	}
	mem.Cache = raw["cache"]
	for _, e := range []struct {
		prefix string
		entry  *MemoryEntry
	}{
		{"memory.", &mem.Usage},
		{"memory.memsw.", &mem.Swap},
		{"memory.kmem.", &mem.Kernel},
		{"memory.kmem.tcp.", &mem.KernelTCP},
	} {
		for _, f := range []struct {
			name string
			v    *uint64
		}{
			{"usage_in_bytes", &e.entry.Usage},
			{"max_usage_in_bytes", &e.entry.Max},
			{"limit_in_bytes", &e.entry.Limit},
			{"failcnt", &e.entry.Failcnt},
		} {
			v, err := readUint(m.fs, dir, e.prefix+f.name)
			if err != nil {
				// memsw is missing without swap accounting, kmem on new kernels.
				if err := optional(err); err != nil {
					return err
				}
				continue
			}
			*f.v = v
		}
	}
	return nil
}

func (m *Manager) memoryStatsV2(dir string, mem *Memory) error {
	reads := []struct {
		name string
		v    *uint64
	}{
		{"memory.current", &mem.Usage.Usage},
		{"memory.max", &mem.Usage.Limit},
		{"memory.peak", &mem.Usage.Max},
		{"memory.swap.current", &mem.Swap.Usage},
		{"memory.swap.max", &mem.Swap.Limit},
	}
	for _, r := range reads {
		v, err := readUint(m.fs, dir, r.name)
		if err != nil {
			if err := optional(err); err != nil {
				return err
			}
			continue
		}
		*r.v = v
	}
	if ev, err := readKeyValues(m.fs, dir, "memory.events"); err == nil {
		mem.Usage.Failcnt = ev["max"]
	} else if err := optional(err); err != nil {
		return err
	}
	// Report swap as memory+swap like v1 (runc does the same), unless
	// there is no swap accounting at all.
	if mem.Swap == (MemoryEntry{}) {
		return nil
	}
	mem.Swap.Usage += mem.Usage.Usage
	if mem.Swap.Limit != math.MaxUint64 && mem.Usage.Limit != math.MaxUint64 {
		mem.Swap.Limit += mem.Usage.Limit
	} else {
		mem.Swap.Limit = math.MaxUint64
	}
	return nil
}

func (m *Manager) pidsStats(dir string, p *Pids) error {
	cur, err := readUint(m.fs, dir, "pids.current")
	if err != nil {
		return optional(err)
	}
	p.Current = cur
	limit, err := readUint(m.fs, dir, "pids.max")
	if err != nil {
		return optional(err)
	}
	if limit != math.MaxUint64 {
		p.Limit = limit
	}
	return nil
}

func (m *Manager) blkioStats(dir string, isV2 bool, b *Blkio) error {
	if isV2 {
		return m.ioStatsV2(dir, b)
	}
	for _, f := range []struct {
		name string
		out  *[]BlkioEntry
	}{
		{"blkio.throttle.io_service_bytes_recursive", &b.IoServiceBytesRecursive},
		{"blkio.throttle.io_serviced_recursive", &b.IoServicedRecursive},
	} {
		s, err := m.fs.readFile(dir, f.name)
		if err != nil {
			if err := optional(err); err != nil {
				return err
			}
			continue
		}
		*f.out = parseBlkioV1(s)
	}
	return nil
}

// parseBlkioV1 parses "MAJ:MIN Op value" lines, skipping the trailing
// "Total N" line.
func parseBlkioV1(s string) []BlkioEntry {
	var out []BlkioEntry
	for line := range strings.SplitSeq(s, "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		major, minor, ok := parseDevNum(f[0])
		v, err := strconv.ParseUint(f[2], 10, 64)
		if !ok || err != nil {
			continue
		}
		out = append(out, BlkioEntry{Major: major, Minor: minor, Op: f[1], Value: v})
	}
	return out
}

func parseDevNum(s string) (major, minor uint64, ok bool) {
	a, b, found := strings.Cut(s, ":")
	if !found {
		return 0, 0, false
	}
	major, err1 := strconv.ParseUint(a, 10, 64)
	minor, err2 := strconv.ParseUint(b, 10, 64)
	return major, minor, err1 == nil && err2 == nil
}

// ioStatsV2 parses io.stat: "MAJ:MIN rbytes=N wbytes=N rios=N wios=N dbytes=N dios=N".
func (m *Manager) ioStatsV2(dir string, b *Blkio) error {
	s, err := m.fs.readFile(dir, "io.stat")
	if err != nil {
		return optional(err)
	}
	for line := range strings.SplitSeq(s, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		major, minor, ok := parseDevNum(f[0])
		if !ok {
			continue
		}
		for _, kv := range f[1:] {
			k, vs, _ := strings.Cut(kv, "=")
			v, err := strconv.ParseUint(vs, 10, 64)
			if err != nil {
				continue
			}
			e := BlkioEntry{Major: major, Minor: minor, Value: v}
			switch k {
			case "rbytes", "rios":
				e.Op = "Read"
			case "wbytes", "wios":
				e.Op = "Write"
			case "dbytes", "dios":
				e.Op = "Discard"
			default:
				continue
			}
			if strings.HasSuffix(k, "bytes") {
				b.IoServiceBytesRecursive = append(b.IoServiceBytesRecursive, e)
			} else {
				b.IoServicedRecursive = append(b.IoServicedRecursive, e)
			}
		}
	}
	return nil
}

// hugetlbStats finds the page sizes from the directory's own files
// (hugetlb.<size>.limit_in_bytes on v1, hugetlb.<size>.max on v2).
func (m *Manager) hugetlbStats(dir string, isV2 bool, out map[string]Hugetlb) error {
	ents, err := m.fs.readDir(dir)
	if err != nil {
		return optional(err)
	}
	suffix := ".limit_in_bytes"
	if isV2 {
		suffix = ".max"
	}
	for _, e := range ents {
		size, ok := strings.CutPrefix(e.Name(), "hugetlb.")
		if !ok {
			continue
		}
		if size, ok = strings.CutSuffix(size, suffix); !ok || strings.Contains(size, ".") {
			continue // e.g. hugetlb.2MB.rsvd.max
		}
		var h Hugetlb
		if isV2 {
			u, err := readUint(m.fs, dir, "hugetlb."+size+".current")
			if err != nil {
				return err
			}
			h.Usage = u
			ev, err := readKeyValues(m.fs, dir, "hugetlb."+size+".events")
			if err != nil {
				return err
			}
			h.Failcnt = ev["max"]
		} else {
			for _, f := range []struct {
				name string
				v    *uint64
			}{{"usage_in_bytes", &h.Usage}, {"max_usage_in_bytes", &h.Max}, {"failcnt", &h.Failcnt}} {
				if *f.v, err = readUint(m.fs, dir, "hugetlb."+size+"."+f.name); err != nil {
					return err
				}
			}
		}
		out[size] = h
	}
	return nil
}

// OOMKillCount returns how many processes of the container the OOM killer
// killed (v1 memory.oom_control, v2 memory.events "oom_kill").
func (m *Manager) OOMKillCount() (uint64, error) {
	dir, isV2, ok := m.locate("memory", "memory")
	if !ok {
		return 0, errors.New("oom kill count: no memory controller")
	}
	name := "memory.oom_control"
	if isV2 {
		name = "memory.events"
	}
	kv, err := readKeyValues(m.fs, dir, name)
	if err != nil {
		return 0, err
	}
	return kv["oom_kill"], nil
}
