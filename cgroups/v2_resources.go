package cgroups

import (
	"fmt"
	"math"
	"strings"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// maxOr formats a v2 limit: -1 is "max".
func maxOr(v int64) string {
	if v == -1 {
		return "max"
	}
	return itoa(v)
}

// setMemoryV2 writes memory.max, memory.low and memory.swap.max. The
// v1-only knobs (kernel, kernelTCP, swappiness, disableOOMKiller,
// useHierarchy) have no v2 equivalent and are ignored, as runc does.
func setMemoryV2(fs cgfs, dir string, mem *rspec.LinuxMemory, update bool) error {
	limit, swap := val(mem.Limit), val(mem.Swap)
	if update && val(mem.CheckBeforeUpdate) && limit > 0 {
		cur, err := readUint(fs, dir, "memory.current")
		if err != nil {
			return fieldErr("linux.resources.memory.checkBeforeUpdate", err)
		}
		if uint64(limit) < cur {
			return fmt.Errorf("linux.resources.memory.limit: %d is below the current usage %d (%s/memory.current) and checkBeforeUpdate is set", limit, cur, dir)
		}
	}
	if swap != 0 || limit == -1 {
		if err := setSwapV2(fs, dir, limit, swap); err != nil {
			return err
		}
	}
	if limit != 0 {
		if err := fs.writeFile(dir, "memory.max", maxOr(limit)); err != nil {
			return fieldErr("linux.resources.memory.limit", err)
		}
	}
	if res := val(mem.Reservation); res != 0 {
		if err := fs.writeFile(dir, "memory.low", maxOr(res)); err != nil {
			return fieldErr("linux.resources.memory.reservation", err)
		}
	}
	return nil
}

// setSwapV2 converts the OCI memory+swap limit to memory.swap.max, which
// counts swap alone: swap - limit, "max" for -1, and (v1 compatibility)
// "max" when memory is unlimited and swap unset.
func setSwapV2(fs cgfs, dir string, limit, swap int64) error {
	var v string
	switch {
	case swap == -1 || (swap == 0 && limit == -1):
		v = "max"
	default:
		if limit == 0 {
			// An update of swap alone: it is relative to the current limit.
			s, err := fs.readFile(dir, "memory.max")
			if err != nil {
				return fieldErr("linux.resources.memory.swap", err)
			}
			if s = strings.TrimSpace(s); s != "max" {
				if _, err := fmt.Sscan(s, &limit); err != nil {
					return fmt.Errorf("linux.resources.memory.swap: parse %s/memory.max %q: %w", dir, s, err)
				}
			}
		}
		if limit <= 0 {
			return fmt.Errorf("linux.resources.memory.swap: %d needs a memory limit (swap is the memory+swap limit)", swap)
		}
		if swap < limit {
			return fmt.Errorf("linux.resources.memory.swap: %d is below the memory limit %d (swap is the memory+swap limit)", swap, limit)
		}
		v = itoa(swap - limit)
	}
	if err := fs.writeFile(dir, "memory.swap.max", v); err != nil {
		// Without swap accounting the file is missing; "max" and "0" then
		// already hold.
		if isNotExist(err) && (v == "max" || v == "0") {
			return nil
		}
		return fieldErr("linux.resources.memory.swap", err)
	}
	return nil
}

// sharesToWeight maps cpu.shares [2, 262144] onto cpu.weight [1, 10000]
// as runc (1.3 and later) and crun do: a quadratic in log2(shares)
// through the minimum, the maximum and the defaults (1024 -> 100). The
// linear map used before gave 1024 shares a weight of 39, so a container
// with default shares weighed less than a systemd service.
func sharesToWeight(shares uint64) uint64 {
	switch {
	case shares == 0:
		return 0
	case shares <= 2:
		return 1
	case shares >= 262144:
		return 10000
	}
	l := math.Log2(float64(shares))
	return uint64(math.Ceil(math.Pow(10, (l*l+125*l)/612-7.0/34)))
}

// setCPUV2 writes cpu.weight, cpu.idle, cpu.max and cpu.max.burst. The
// realtime knobs (realtimeRuntime, realtimePeriod) have no v2 equivalent
// and are ignored, as runc does.
func setCPUV2(fs cgfs, dir string, c *rspec.LinuxCPU) error {
	if s := val(c.Shares); s != 0 {
		if err := fs.writeFile(dir, "cpu.weight", utoa(sharesToWeight(s))); err != nil {
			return fieldErr("linux.resources.cpu.shares", err)
		}
	}
	if c.Idle != nil {
		if err := fs.writeFile(dir, "cpu.idle", itoa(*c.Idle)); err != nil {
			return fieldErr("linux.resources.cpu.idle", err)
		}
	}
	var pre []fileWrite
	if c.Burst != nil {
		pre = append(pre, fileWrite{"linux.resources.cpu.burst", "cpu.max.burst", utoa(*c.Burst)})
	}
	var cpuMax *fileWrite
	quota, period := val(c.Quota), val(c.Period)
	if quota != 0 || period != 0 {
		// cpu.max is "$QUOTA $PERIOD"; the period is optional.
		q := "max"
		if quota > 0 {
			q = itoa(quota)
		}
		if quota == 0 {
			// Period alone: keep the current quota.
			s, err := fs.readFile(dir, "cpu.max")
			if err != nil {
				return fieldErr("linux.resources.cpu.period", err)
			}
			if f := strings.Fields(s); len(f) > 0 {
				q = f[0]
			}
		}
		v := q
		if period != 0 {
			v += " " + utoa(period)
		}
		field := "linux.resources.cpu.quota"
		if quota == 0 {
			field = "linux.resources.cpu.period"
		}
		cpuMax = &fileWrite{field, "cpu.max", v}
	}
	return writeAround(fs, dir, pre, cpuMax)
}

// blkioToIOWeight maps blkio weights [10, 1000] onto io.weight [1, 10000].
func blkioToIOWeight(w uint16) uint64 {
	return 1 + (uint64(w)-10)*9999/990
}

func setIOV2(fs cgfs, dir string, b *rspec.LinuxBlockIO) error {
	// leafWeight is CFQ-only and has no v2 equivalent.
	// io.weight belongs to the io.cost controller; with BFQ only
	// io.bfq.weight exists, which takes blkio-style weights unconverted.
	writeWeight := func(field, dev string, w uint16) error {
		err := fs.writeFile(dir, "io.weight", dev+" "+utoa(blkioToIOWeight(w)))
		if isNotExist(err) {
			if err = fs.writeFile(dir, "io.bfq.weight", dev+" "+utoa(uint64(w))); isNotExist(err) {
				return fmt.Errorf("%s: neither io.weight nor io.bfq.weight exists in %s", field, dir)
			}
		}
		if err != nil {
			return fieldErr(field, err)
		}
		return nil
	}
	if w := val(b.Weight); w != 0 {
		if err := writeWeight("linux.resources.blockIO.weight", "default", w); err != nil {
			return err
		}
	}
	for i, wd := range b.WeightDevice {
		if w := val(wd.Weight); w != 0 {
			if err := writeWeight(fmt.Sprintf("linux.resources.blockIO.weightDevice[%d]", i), devNum(wd.Major, wd.Minor), w); err != nil {
				return err
			}
		}
	}
	// io.max takes one line per device with any of rbps/wbps/riops/wiops.
	var order []string
	limits := map[string][]string{}
	for _, t := range []struct {
		key  string
		devs []rspec.LinuxThrottleDevice
	}{
		{"rbps", b.ThrottleReadBpsDevice},
		{"wbps", b.ThrottleWriteBpsDevice},
		{"riops", b.ThrottleReadIOPSDevice},
		{"wiops", b.ThrottleWriteIOPSDevice},
	} {
		for _, d := range t.devs {
			dev := devNum(d.Major, d.Minor)
			if _, ok := limits[dev]; !ok {
				order = append(order, dev)
			}
			// As in v1, a rate of 0 means no limit.
			v := "max"
			if d.Rate != 0 {
				v = utoa(d.Rate)
			}
			limits[dev] = append(limits[dev], t.key+"="+v)
		}
	}
	if len(order) == 0 {
		return nil
	}
	lines := make([]string, len(order))
	for i, dev := range order {
		lines[i] = dev + " " + strings.Join(limits[dev], " ")
	}
	if err := fs.writeLines(dir, "io.max", lines); err != nil {
		return fieldErr("linux.resources.blockIO.throttle*", err)
	}
	return nil
}
