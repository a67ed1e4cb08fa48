package cgroups

import (
	"errors"
	"fmt"
	"math"
	"strconv"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func itoa(v int64) string  { return strconv.FormatInt(v, 10) }
func utoa(v uint64) string { return strconv.FormatUint(v, 10) }

func setMemoryV1(fs cgfs, dir string, mem *rspec.LinuxMemory) error {
	if err := setV1LimitAndSwap(fs, dir, val(mem.Limit), val(mem.Swap)); err != nil {
		return err
	}
	// mem.Kernel and mem.KernelTCP are ignored, as by runc (which warns,
	// as husk's create and update do): kmem limits are deprecated, and the
	// kernel rejects memory.kmem.limit_in_bytes since 5.16.
	if v := val(mem.Reservation); v != 0 {
		if err := fs.writeFile(dir, "memory.soft_limit_in_bytes", itoa(v)); err != nil {
			return fieldErr("linux.resources.memory.reservation", err)
		}
	}
	// Swappiness is a uint64 in the spec; runc treats the all-ones value
	// (-1 in older int64 configs) as unset.
	if s := mem.Swappiness; s != nil && *s != math.MaxUint64 {
		if *s > 100 {
			return fmt.Errorf("linux.resources.memory.swappiness: %d is outside [0, 100]", *s)
		}
		if err := fs.writeFile(dir, "memory.swappiness", utoa(*s)); err != nil {
			return fieldErr("linux.resources.memory.swappiness", err)
		}
	}
	if mem.DisableOOMKiller != nil {
		if err := fs.writeFile(dir, "memory.oom_control", boolStr(*mem.DisableOOMKiller)); err != nil {
			return fieldErr("linux.resources.memory.disableOOMKiller", err)
		}
	}
	if mem.UseHierarchy != nil {
		if err := fs.writeFile(dir, "memory.use_hierarchy", boolStr(*mem.UseHierarchy)); err != nil {
			return fieldErr("linux.resources.memory.useHierarchy", err)
		}
	}
	return nil
}

func boolStr(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// setV1LimitAndSwap writes memory.limit_in_bytes and the memory+swap limit
// memory.memsw.limit_in_bytes (0 = leave alone). The kernel keeps
// limit <= memsw at every step, failing the limit write with EINVAL if it
// would exceed the current memsw, so the limit goes first (right when
// lowering) and on EINVAL memsw is raised first instead. This needs no read
// of the current values.
func setV1LimitAndSwap(fs cgfs, dir string, limit, swap int64) error {
	// Unlimited memory with unset swap means unlimited swap too, if swap
	// accounting exists at all (runc does the same).
	implicitSwap := limit == -1 && swap == 0
	if implicitSwap {
		swap = -1
	}
	writeSwap := func() error {
		err := fs.writeFile(dir, "memory.memsw.limit_in_bytes", itoa(swap))
		if err != nil && !(implicitSwap && isNotExist(err)) {
			return fieldErr("linux.resources.memory.swap", err)
		}
		return nil
	}
	if limit != 0 {
		err := fs.writeFile(dir, "memory.limit_in_bytes", itoa(limit))
		if errors.Is(err, unix.EINVAL) && swap != 0 {
			if err := writeSwap(); err != nil {
				return err
			}
			if err := fs.writeFile(dir, "memory.limit_in_bytes", itoa(limit)); err != nil {
				return fieldErr("linux.resources.memory.limit", err)
			}
			return nil
		}
		if err != nil {
			return fieldErr("linux.resources.memory.limit", err)
		}
	}
	if swap != 0 {
		return writeSwap()
	}
	return nil
}

func setCPUV1(fs cgfs, dir string, c *rspec.LinuxCPU) error {
	if s := val(c.Shares); s != 0 {
		if err := fs.writeFile(dir, "cpu.shares", utoa(s)); err != nil {
			return fieldErr("linux.resources.cpu.shares", err)
		}
	}
	var pre []fileWrite
	if p := val(c.Period); p != 0 {
		pre = append(pre, fileWrite{"linux.resources.cpu.period", "cpu.cfs_period_us", utoa(p)})
	}
	if c.Burst != nil {
		pre = append(pre, fileWrite{"linux.resources.cpu.burst", "cpu.cfs_burst_us", utoa(*c.Burst)})
	}
	var quota *fileWrite
	if q := val(c.Quota); q != 0 {
		quota = &fileWrite{"linux.resources.cpu.quota", "cpu.cfs_quota_us", itoa(q)}
	}
	if err := writeAround(fs, dir, pre, quota); err != nil {
		return err
	}
	if c.Idle != nil {
		if err := fs.writeFile(dir, "cpu.idle", itoa(*c.Idle)); err != nil {
			return fieldErr("linux.resources.cpu.idle", err)
		}
	}
	// The realtime period bounds the runtime (and the children's sum is
	// bounded by the parent's budget), so a period the kernel rejects is
	// retried after the runtime.
	pre = nil
	if v := val(c.RealtimePeriod); v != 0 {
		pre = append(pre, fileWrite{"linux.resources.cpu.realtimePeriod", "cpu.rt_period_us", utoa(v)})
	}
	var runtime *fileWrite
	if v := val(c.RealtimeRuntime); v != 0 {
		runtime = &fileWrite{"linux.resources.cpu.realtimeRuntime", "cpu.rt_runtime_us", itoa(v)}
	}
	return writeAround(fs, dir, pre, runtime)
}

// fileWrite is one cgroup file write attributed to a config field.
type fileWrite struct{ field, file, value string }

// writeAround performs writes that the kernel may reject (EINVAL) until
// the anchor write is done, e.g. a CFS period that only fits the new
// quota: rejected writes are retried once after the anchor. Without an
// anchor any error is final.
func writeAround(fs cgfs, dir string, pre []fileWrite, anchor *fileWrite) error {
	var retry []fileWrite
	for _, w := range pre {
		err := fs.writeFile(dir, w.file, w.value)
		if err == nil {
			continue
		}
		if !errors.Is(err, unix.EINVAL) || anchor == nil {
			return fieldErr(w.field, err)
		}
		retry = append(retry, w)
	}
	if anchor == nil {
		return nil
	}
	for _, w := range append([]fileWrite{*anchor}, retry...) {
		if err := fs.writeFile(dir, w.file, w.value); err != nil {
			return fieldErr(w.field, err)
		}
	}
	return nil
}

func setBlkioV1(fs cgfs, dir string, b *rspec.LinuxBlockIO) error {
	// blkio.weight exists only with CFQ (gone since 5.0); BFQ offers
	// blkio.bfq.weight. Neither exists with mq-deadline or none.
	if w := val(b.Weight); w != 0 {
		if err := writeEither(fs, dir, "linux.resources.blockIO.weight", "blkio.weight", "blkio.bfq.weight", utoa(uint64(w))); err != nil {
			return err
		}
	}
	if w := val(b.LeafWeight); w != 0 {
		if err := fs.writeFile(dir, "blkio.leaf_weight", utoa(uint64(w))); err != nil {
			return fieldErr("linux.resources.blockIO.leafWeight", err)
		}
	}
	for i, wd := range b.WeightDevice {
		dev := devNum(wd.Major, wd.Minor)
		if w := val(wd.Weight); w != 0 {
			field := fmt.Sprintf("linux.resources.blockIO.weightDevice[%d]", i)
			if err := writeEither(fs, dir, field, "blkio.weight_device", "blkio.bfq.weight_device", dev+" "+utoa(uint64(w))); err != nil {
				return err
			}
		}
		if w := val(wd.LeafWeight); w != 0 {
			if err := fs.writeFile(dir, "blkio.leaf_weight_device", dev+" "+utoa(uint64(w))); err != nil {
				return fieldErr(fmt.Sprintf("linux.resources.blockIO.weightDevice[%d].leafWeight", i), err)
			}
		}
	}
	for _, t := range []struct {
		field, file string
		devs        []rspec.LinuxThrottleDevice
	}{
		{"throttleReadBpsDevice", "blkio.throttle.read_bps_device", b.ThrottleReadBpsDevice},
		{"throttleWriteBpsDevice", "blkio.throttle.write_bps_device", b.ThrottleWriteBpsDevice},
		{"throttleReadIOPSDevice", "blkio.throttle.read_iops_device", b.ThrottleReadIOPSDevice},
		{"throttleWriteIOPSDevice", "blkio.throttle.write_iops_device", b.ThrottleWriteIOPSDevice},
	} {
		if len(t.devs) == 0 {
			continue
		}
		lines := make([]string, len(t.devs))
		for i, d := range t.devs {
			// A rate of 0 removes the limit.
			lines[i] = devNum(d.Major, d.Minor) + " " + utoa(d.Rate)
		}
		if err := fs.writeLines(dir, t.file, lines); err != nil {
			return fieldErr("linux.resources.blockIO."+t.field, err)
		}
	}
	return nil
}

func devNum(major, minor int64) string { return itoa(major) + ":" + itoa(minor) }

// writeEither writes value to the first of two alternative files that
// exists (I/O-scheduler dependent weight files).
func writeEither(fs cgfs, dir, field, first, second, value string) error {
	err := fs.writeFile(dir, first, value)
	if isNotExist(err) {
		if err = fs.writeFile(dir, second, value); isNotExist(err) {
			return fmt.Errorf("%s: neither %s nor %s exists in %s (I/O scheduler without weights?)", field, first, second, dir)
		}
	}
	if err != nil {
		return fieldErr(field, err)
	}
	return nil
}
