package systemd

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/husk-runtime/husk/cgroups"
)

// infinity is systemd's "no limit" for the uint64 properties (UINT64_MAX,
// also USEC_INFINITY).
const infinity = math.MaxUint64

// defaultCPUPeriod is the kernel's CFS period (µs), v1 and v2.
const defaultCPUPeriod = 100000

// systemd versions that introduced the properties gated here.
const (
	versionCPUQuotaPeriod = 242 // CPUQuotaPeriodUSec
	versionAllowedCPUs    = 244 // AllowedCPUs, AllowedMemoryNodes
	versionCPUIdle        = 252 // CPUWeight=0 means cpu.idle=1
)

// converter turns linux.resources into unit properties for one host and
// systemd: unified selects the cgroup v2 names (MemoryMax, CPUWeight,
// IOWeight) over the v1 ones (MemoryLimit, CPUShares, BlockIOWeight), as
// systemd's own cgroup mode does. deviceGroup names the /proc/devices
// group of a major ("char-pts" for 136), for "c 136:* rwm" rules.
type converter struct {
	unified     bool
	version     int
	deviceGroup func(typ byte, major int64) (string, error)
	warnf       func(format string, args ...any)
}

// baseProperties are those of the unit itself: what runc sets, so that
// husk's scope and runc's look the same to systemd.
func baseProperties(u Unit, id string, pid int, unified bool) []Property {
	props := []Property{{"Description", "husk container " + id}}
	if u.IsSlice() {
		// A slice holds no process: its parent comes from Wants=.
		props = append(props, Property{"Wants", u.Slice})
	} else {
		props = append(props, Property{"Slice", u.Slice}, Property{"Delegate", true})
	}
	if pid > 0 {
		props = append(props, Property{"PIDs", []uint32{uint32(pid)}})
	}
	io := "IOAccounting"
	if !unified {
		io = "BlockIOAccounting"
	}
	return append(props,
		Property{"MemoryAccounting", true},
		Property{"CPUAccounting", true},
		Property{io, true},
		Property{"TasksAccounting", true},
		// The container's lifetime is its own, not the boot's.
		Property{"DefaultDependencies", false},
	)
}

// startOnlyProperties are resources systemd takes only when the unit
// starts: memory.oom.group as OOMPolicy (v2).
func (c *converter) startOnlyProperties(r *rspec.LinuxResources) ([]Property, error) {
	if r == nil || !c.unified {
		return nil, nil
	}
	v, ok := r.Unified["memory.oom.group"]
	if !ok {
		return nil, nil
	}
	switch strings.TrimSpace(v) {
	case "0":
		return []Property{{"OOMPolicy", "continue"}}, nil
	case "1":
		return []Property{{"OOMPolicy", "kill"}}, nil
	}
	return nil, fmt.Errorf("linux.resources.unified[\"memory.oom.group\"]: %q is not 0 or 1", v)
}

// resourceProperties returns the properties for r and the resources to
// write to the cgroupfs afterwards: r itself, except that a CPU quota
// systemd rounds up (to whole percents of a CPU) is rounded the same way,
// so cpu.max and CPUQuota= agree.
func (c *converter) resourceProperties(r *rspec.LinuxResources) ([]Property, *rspec.LinuxResources, error) {
	if r == nil {
		return nil, nil, nil
	}
	out := *r
	var props []Property
	add := func(name string, v any) { props = append(props, Property{name, v}) }

	if len(r.Devices) > 0 {
		dev, err := c.deviceProperties(r.Devices)
		if err != nil {
			return nil, nil, err
		}
		props = append(props, dev...)
	}
	if m := r.Memory; m != nil {
		limit, swap := val(m.Limit), val(m.Swap)
		if limit != 0 {
			if c.unified {
				add("MemoryMax", limitValue(limit))
			} else {
				add("MemoryLimit", limitValue(limit))
			}
		}
		if res := val(m.Reservation); res != 0 && c.unified {
			add("MemoryLow", limitValue(res))
		}
		if c.unified {
			sw, err := swapV2(limit, swap)
			if err != nil {
				return nil, nil, err
			}
			if sw != 0 {
				add("MemorySwapMax", limitValue(sw))
			}
		}
	}
	if cpu := r.CPU; cpu != nil {
		idle := c.unified && cpu.Idle != nil && *cpu.Idle == 1 && c.version >= versionCPUIdle
		if idle {
			add("CPUWeight", uint64(0))
		}
		if s := val(cpu.Shares); s != 0 {
			switch {
			case !c.unified:
				add("CPUShares", s)
			case !idle:
				add("CPUWeight", cgroups.SharesToWeight(s))
			}
		}
		if q := c.cpuQuota(val(cpu.Quota), val(cpu.Period), &props); q != val(cpu.Quota) {
			cp := *cpu
			cp.Quota = &q
			out.CPU = &cp
		}
		if c.version >= versionAllowedCPUs {
			for _, s := range []struct{ field, prop, list string }{
				{"cpus", "AllowedCPUs", cpu.Cpus}, {"mems", "AllowedMemoryNodes", cpu.Mems},
			} {
				if s.list == "" {
					continue
				}
				bits, err := rangeToBits(s.list)
				if err != nil {
					return nil, nil, fmt.Errorf("linux.resources.cpu.%s: %w", s.field, err)
				}
				add(s.prop, bits)
			}
		}
	}
	if p := r.Pids; p != nil && p.Limit != nil {
		add("TasksMax", tasksMax(*p.Limit))
	}
	if b := r.BlockIO; b != nil {
		props = append(props, c.ioProperties(b)...)
	}
	if c.unified && len(r.Unified) > 0 {
		up, err := c.unifiedProperties(r.Unified, &out)
		if err != nil {
			return nil, nil, err
		}
		props = append(props, up...)
	}
	return props, &out, nil
}

// limitValue maps a limit to its property value: -1 (and any other value
// not above zero) is "no limit".
// tasksMax is TasksMax for linux.resources.pids.limit: as pids.max, a
// limit of 0 is 1 (systemd refuses 0), a negative one none.
func tasksMax(limit int64) uint64 {
	if limit == 0 {
		return 1
	}
	return limitValue(limit)
}

func limitValue(v int64) uint64 {
	if v <= 0 {
		return infinity
	}
	return uint64(v)
}

// swapV2 turns OCI's memory+swap limit into cgroup v2's swap alone, as the
// cgroupfs driver writes memory.swap.max: 0 leaves it alone, -1 is no
// limit, and a memory limit of -1 without swap lifts both.
func swapV2(limit, swap int64) (int64, error) {
	switch {
	case limit == -1 && swap == 0:
		return -1, nil
	case swap == -1 || swap == 0:
		return swap, nil
	case limit <= 0:
		return 0, fmt.Errorf("linux.resources.memory.swap: %d needs a memory limit (swap is the memory+swap limit)", swap)
	case swap < limit:
		return 0, fmt.Errorf("linux.resources.memory.swap: %d is below memory.limit %d (swap is the memory+swap limit)", swap, limit)
	}
	return swap - limit, nil
}

// cpuQuota adds CPUQuotaPeriodUSec and CPUQuotaPerSecUSec and returns the
// quota to write to the cgroupfs. systemd keeps the quota as a
// percentage of a CPU: a quota that is not a whole percent is rounded up
// (as runc does), and the returned quota with it.
func (c *converter) cpuQuota(quota int64, period uint64, props *[]Property) int64 {
	if period != 0 && c.version >= versionCPUQuotaPeriod {
		*props = append(*props, Property{"CPUQuotaPeriodUSec", period})
	}
	if quota == 0 && period == 0 {
		return quota
	}
	perSec := uint64(infinity)
	if quota > 0 {
		if period == 0 {
			period = defaultCPUPeriod
		}
		perSec = uint64(quota) * 1000000 / period
		if perSec%10000 != 0 {
			perSec = (perSec/10000 + 1) * 10000
			quota = int64(perSec * period / 1000000)
		}
	}
	*props = append(*props, Property{"CPUQuotaPerSecUSec", perSec})
	return quota
}

// ioProperties converts blkio weights and limits. Devices are named by
// their /dev/block/MAJOR:MINOR node, which systemd resolves.
func (c *converter) ioProperties(b *rspec.LinuxBlockIO) []Property {
	var props []Property
	dev := func(major, minor int64) string { return fmt.Sprintf("/dev/block/%d:%d", major, minor) }
	if c.unified {
		if w := val(b.Weight); w != 0 {
			props = append(props, Property{"IOWeight", cgroups.BlkioToIOWeight(w)})
		}
		var weights []PathValue
		for _, wd := range b.WeightDevice {
			if w := val(wd.Weight); w != 0 {
				weights = append(weights, PathValue{dev(wd.Major, wd.Minor), cgroups.BlkioToIOWeight(w)})
			}
		}
		if len(weights) > 0 {
			props = append(props, Property{"IODeviceWeight", weights})
		}
	} else {
		if w := val(b.Weight); w != 0 {
			props = append(props, Property{"BlockIOWeight", uint64(w)})
		}
		var weights []PathValue
		for _, wd := range b.WeightDevice {
			if w := val(wd.Weight); w != 0 {
				weights = append(weights, PathValue{dev(wd.Major, wd.Minor), uint64(w)})
			}
		}
		if len(weights) > 0 {
			props = append(props, Property{"BlockIODeviceWeight", weights})
		}
	}
	names := [4]string{"IOReadBandwidthMax", "IOWriteBandwidthMax", "IOReadIOPSMax", "IOWriteIOPSMax"}
	if !c.unified {
		// v1 has no IOPS properties: the cgroupfs write sets those.
		names = [4]string{"BlockIOReadBandwidth", "BlockIOWriteBandwidth", "", ""}
	}
	for i, list := range [][]rspec.LinuxThrottleDevice{
		b.ThrottleReadBpsDevice, b.ThrottleWriteBpsDevice, b.ThrottleReadIOPSDevice, b.ThrottleWriteIOPSDevice,
	} {
		if names[i] == "" || len(list) == 0 {
			continue
		}
		limits := make([]PathValue, 0, len(list))
		for _, t := range list {
			limits = append(limits, PathValue{dev(t.Major, t.Minor), t.Rate})
		}
		props = append(props, Property{names[i], limits})
	}
	return props
}

// unifiedProperties converts the linux.resources.unified keys systemd has
// a property for; the cgroupfs write sets every key anyway. A cpu.max
// quota is rounded as cpuQuota does, in out as well.
func (c *converter) unifiedProperties(u map[string]string, out *rspec.LinuxResources) ([]Property, error) {
	var props []Property
	idle := strings.TrimSpace(u["cpu.idle"]) == "1" && c.version >= versionCPUIdle
	for _, k := range slices.Sorted(maps.Keys(u)) {
		v := strings.TrimSpace(u[k])
		field := fmt.Sprintf("linux.resources.unified[%q]", k)
		num := func() (uint64, error) {
			if v == "max" {
				return infinity, nil
			}
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%s: %q is not a number or \"max\"", field, v)
			}
			return n, nil
		}
		switch k {
		case "cpu.idle":
			if idle {
				props = append(props, Property{"CPUWeight", uint64(0)})
			}
		case "cpu.weight":
			if idle {
				c.warnf("%s: systemd takes cpu.idle or cpu.weight, not both: CPUWeight stays idle", field)
				continue
			}
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%s: %q is not a number", field, v)
			}
			props = append(props, Property{"CPUWeight", n})
		case "cpu.max":
			f := strings.Fields(v)
			if len(f) < 1 || len(f) > 2 {
				return nil, fmt.Errorf("%s: %q is not \"QUOTA [PERIOD]\"", field, v)
			}
			quota, period := int64(0), uint64(defaultCPUPeriod)
			var err error
			if f[0] != "max" {
				if quota, err = strconv.ParseInt(f[0], 10, 64); err != nil {
					return nil, fmt.Errorf("%s: quota %q is not a number or \"max\"", field, f[0])
				}
			}
			if len(f) == 2 {
				if period, err = strconv.ParseUint(f[1], 10, 64); err != nil {
					return nil, fmt.Errorf("%s: period %q is not a number", field, f[1])
				}
			}
			if q := c.cpuQuota(quota, period, &props); q != quota {
				m := maps.Clone(out.Unified)
				m[k] = strconv.FormatInt(q, 10) + " " + strconv.FormatUint(period, 10)
				out.Unified = m
			}
		case "cpuset.cpus", "cpuset.mems":
			if c.version < versionAllowedCPUs {
				continue
			}
			bits, err := rangeToBits(v)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", field, err)
			}
			name := "AllowedCPUs"
			if k == "cpuset.mems" {
				name = "AllowedMemoryNodes"
			}
			props = append(props, Property{name, bits})
		case "memory.high", "memory.low", "memory.min", "memory.max", "memory.swap.max", "pids.max":
			n, err := num()
			if err != nil {
				return nil, err
			}
			props = append(props, Property{unifiedPropertyName(k), n})
		}
	}
	return props, nil
}

func unifiedPropertyName(key string) string {
	switch key {
	case "memory.high":
		return "MemoryHigh"
	case "memory.low":
		return "MemoryLow"
	case "memory.min":
		return "MemoryMin"
	case "memory.max":
		return "MemoryMax"
	case "memory.swap.max":
		return "MemorySwapMax"
	}
	return "TasksMax"
}

// rangeToBits turns a cpuset list ("0-3,8") into systemd's bitmask: byte i
// holds CPUs 8i..8i+7, lowest bit first.
func rangeToBits(list string) ([]byte, error) {
	var bits []byte
	set := func(n uint64) {
		for uint64(len(bits)) <= n/8 {
			bits = append(bits, 0)
		}
		bits[n/8] |= 1 << (n % 8)
	}
	for r := range strings.SplitSeq(strings.TrimSpace(list), ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(r), "-")
		first, err := strconv.ParseUint(lo, 10, 16)
		if err != nil {
			return nil, fmt.Errorf("invalid list %q", list)
		}
		last := first
		if isRange {
			if last, err = strconv.ParseUint(hi, 10, 16); err != nil || last < first {
				return nil, fmt.Errorf("invalid list %q", list)
			}
		}
		for n := first; n <= last; n++ {
			set(n)
		}
	}
	return bits, nil
}

func val[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
