package specs

import (
	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// Kernel limits of the cgroup knobs, shared by cgroup v1 and v2 (v2 values
// are converted from the v1 ones, as runc does).
const (
	minCPUShares = 2
	maxCPUShares = 262144
	minCPUPeriod = 1000    // 1ms, in µs
	maxCPUPeriod = 1000000 // 1s, in µs
	minBlkWeight = 10
	maxBlkWeight = 1000
)

func checkResources(r *rspec.LinuxResources) error {
	if r == nil {
		return nil
	}
	const f = "linux.resources"
	for i, d := range r.Devices {
		p := index(f+".devices", i)
		switch d.Type {
		case "", "a", "c", "b":
		default:
			return fieldErrorf(p+".type", "unknown device type %q (want a, c or b)", d.Type)
		}
		// Letters of access other than r, w and m are ignored, as by runc.
	}
	if err := checkMemory(r.Memory); err != nil {
		return err
	}
	if err := checkCPU(r.CPU); err != nil {
		return err
	}
	// A limit of 0 is a limit (written as 1, as runc 1.4+ does, since
	// runtime-spec 1.2.1 says so); -1 is none.
	if r.Pids != nil && r.Pids.Limit != nil && *r.Pids.Limit < -1 {
		return fieldErrorf(f+".pids.limit", "must be -1 (unlimited) or a number of processes, got %d", *r.Pids.Limit)
	}
	return checkBlockIO(r.BlockIO)
}

func checkMemory(m *rspec.LinuxMemory) error {
	if m == nil {
		return nil
	}
	const f = "linux.resources.memory"
	for _, v := range [...]struct {
		name string
		val  *int64
	}{{"limit", m.Limit}, {"reservation", m.Reservation}, {"swap", m.Swap}} {
		if v.val != nil && *v.val < -1 {
			return fieldErrorf(f+"."+v.name, "must be -1 (unlimited), 0 (unset) or a positive number of bytes, got %d", *v.val)
		}
	}
	// swap is memory+swap, as in runc and cgroup v1's memsw, so it cannot
	// be below the memory limit.
	if m.Limit != nil && m.Swap != nil && *m.Limit > 0 && *m.Swap > 0 && *m.Swap < *m.Limit {
		return fieldErrorf(f+".swap", "%d is less than memory.limit %d (swap counts memory plus swap)", *m.Swap, *m.Limit)
	}
	// swappiness is checked where it is written (cgroup v1): cgroup v2
	// has none and ignores it, as runc does, whatever its value.
	return nil
}

func checkCPU(c *rspec.LinuxCPU) error {
	if c == nil {
		return nil
	}
	const f = "linux.resources.cpu"
	// Zero means "not set" for shares, quota and period, as in runc:
	// dockerd sends {"shares": 0} for every container without --cpu-shares.
	if c.Shares != nil && *c.Shares != 0 && (*c.Shares < minCPUShares || *c.Shares > maxCPUShares) {
		return fieldErrorf(f+".shares", "%d is out of range [%d, %d]", *c.Shares, minCPUShares, maxCPUShares)
	}
	if c.Quota != nil && *c.Quota < -1 {
		return fieldErrorf(f+".quota", "must be -1 (unlimited), 0 (unset) or a positive number of microseconds, got %d", *c.Quota)
	}
	if c.Period != nil && *c.Period != 0 && (*c.Period < minCPUPeriod || *c.Period > maxCPUPeriod) {
		return fieldErrorf(f+".period", "%d is out of range [%d, %d] microseconds", *c.Period, minCPUPeriod, maxCPUPeriod)
	}
	return nil
}

func checkBlockIO(b *rspec.LinuxBlockIO) error {
	if b == nil {
		return nil
	}
	const f = "linux.resources.blockIO"
	if err := checkWeight(f+".weight", b.Weight); err != nil {
		return err
	}
	if err := checkWeight(f+".leafWeight", b.LeafWeight); err != nil {
		return err
	}
	for i, d := range b.WeightDevice {
		p := index(f+".weightDevice", i)
		if err := checkWeight(p+".weight", d.Weight); err != nil {
			return err
		}
		if err := checkWeight(p+".leafWeight", d.LeafWeight); err != nil {
			return err
		}
	}
	return nil
}

func checkWeight(field string, w *uint16) error {
	if w != nil && *w != 0 && (*w < minBlkWeight || *w > maxBlkWeight) {
		return fieldErrorf(field, "%d is out of range [%d, %d]", *w, minBlkWeight, maxBlkWeight)
	}
	return nil
}
