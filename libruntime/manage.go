package libruntime

import (
	"fmt"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/husk-runtime/husk/cgroups"
)

// Pause freezes every process of a running container.
func (c *Container) Pause() error {
	return c.freeze(true)
}

// Resume thaws a paused container.
func (c *Container) Resume() error {
	return c.freeze(false)
}

func (c *Container) freeze(freeze bool) error {
	d, err := c.lock()
	if err != nil {
		return err
	}
	defer d.unlock()
	status := c.Status()
	want, verb := Running, "pause"
	if !freeze {
		want, verb = Paused, "resume"
	}
	// runc pauses a created container as well as a running one.
	if status != want && !(freeze && status == Created) {
		return fmt.Errorf("cannot %s container %s: it is %s, not %s", verb, c.id, status, want)
	}
	cg, err := c.cgroup()
	if err != nil {
		return err
	}
	if freeze {
		err = cg.Freeze()
	} else {
		err = cg.Thaw()
	}
	if err != nil {
		return fmt.Errorf("%s container %s: %w", verb, c.id, err)
	}
	return nil
}

// Processes returns the host pids of every process in the container.
func (c *Container) Processes() ([]int, error) {
	if len(c.state.Cgroup.Paths) == 0 {
		return nil, fmt.Errorf("container %s has no cgroup", c.id)
	}
	cg, err := c.cgroup()
	if err != nil {
		return nil, err
	}
	return cg.Pids()
}

// Stats reads the container's cgroup statistics.
func (c *Container) Stats() (*cgroups.Stats, error) {
	cg, err := c.cgroup()
	if err != nil {
		return nil, err
	}
	return cg.Stats()
}

// OOMKills returns how many processes of the container the OOM killer
// has killed so far.
func (c *Container) OOMKills() (uint64, error) {
	cg, err := c.cgroup()
	if err != nil {
		return 0, err
	}
	return cg.OOMKillCount()
}

// Update changes the resources of a container that has not stopped, and
// records them, so later updates start from the current values. As with
// runc, linux.resources.devices is not changed (the rules are create's),
// and kernel memory limits are ignored with a warning. When a write
// fails, those before it have taken effect: a warning says so, before the
// error, and the recorded resources stay the old ones.
func (c *Container) Update(r *rspec.LinuxResources) error {
	d, err := c.lock()
	if err != nil {
		return err
	}
	defer d.unlock()
	if status := c.Status(); status == Stopped || status == Creating {
		return fmt.Errorf("cannot update container %s: it is %s", c.id, status)
	}
	if r == nil {
		r = &rspec.LinuxResources{}
	}
	if setsKernelMemory(r) {
		c.rt.log.Warnf("%s", kernelMemoryIgnored)
	}
	if r.Devices != nil {
		cp := *r
		cp.Devices = nil
		r = &cp
	}
	cg, err := c.cgroup()
	if err != nil {
		return err
	}
	if err := cg.Update(r); err != nil {
		c.rt.log.Warnf("update %s failed part way: resources written before the failure keep their new values, the container's recorded resources the old ones", c.id)
		return fmt.Errorf("update %s: %w", c.id, err)
	}
	cfg, err := c.Config()
	if err != nil {
		return err
	}
	if cfg.Linux == nil {
		cfg.Linux = &rspec.Linux{}
	}
	if cfg.Linux.Resources == nil {
		cfg.Linux.Resources = &rspec.LinuxResources{}
	}
	mergeResources(cfg.Linux.Resources, r)
	return writeConfig(c.dir, cfg)
}

// mergeResources copies every field set in src over dst.
func mergeResources(dst, src *rspec.LinuxResources) {
	if m := src.Memory; m != nil {
		if dst.Memory == nil {
			dst.Memory = &rspec.LinuxMemory{}
		}
		d := dst.Memory
		setPtr(&d.Limit, m.Limit)
		setPtr(&d.Reservation, m.Reservation)
		setPtr(&d.Swap, m.Swap)
		setPtr(&d.Swappiness, m.Swappiness)
		setPtr(&d.DisableOOMKiller, m.DisableOOMKiller)
		setPtr(&d.UseHierarchy, m.UseHierarchy)
	}
	if cpu := src.CPU; cpu != nil {
		if dst.CPU == nil {
			dst.CPU = &rspec.LinuxCPU{}
		}
		d := dst.CPU
		setPtr(&d.Shares, cpu.Shares)
		setPtr(&d.Quota, cpu.Quota)
		setPtr(&d.Burst, cpu.Burst)
		setPtr(&d.Period, cpu.Period)
		setPtr(&d.RealtimeRuntime, cpu.RealtimeRuntime)
		setPtr(&d.RealtimePeriod, cpu.RealtimePeriod)
		setPtr(&d.Idle, cpu.Idle)
		if cpu.Cpus != "" {
			d.Cpus = cpu.Cpus
		}
		if cpu.Mems != "" {
			d.Mems = cpu.Mems
		}
	}
	if src.Pids != nil {
		dst.Pids = src.Pids
	}
	if b := src.BlockIO; b != nil {
		if dst.BlockIO == nil {
			dst.BlockIO = &rspec.LinuxBlockIO{}
		}
		setPtr(&dst.BlockIO.Weight, b.Weight)
		setPtr(&dst.BlockIO.LeafWeight, b.LeafWeight)
		if b.WeightDevice != nil {
			dst.BlockIO.WeightDevice = b.WeightDevice
		}
		if b.ThrottleReadBpsDevice != nil {
			dst.BlockIO.ThrottleReadBpsDevice = b.ThrottleReadBpsDevice
		}
		if b.ThrottleWriteBpsDevice != nil {
			dst.BlockIO.ThrottleWriteBpsDevice = b.ThrottleWriteBpsDevice
		}
		if b.ThrottleReadIOPSDevice != nil {
			dst.BlockIO.ThrottleReadIOPSDevice = b.ThrottleReadIOPSDevice
		}
		if b.ThrottleWriteIOPSDevice != nil {
			dst.BlockIO.ThrottleWriteIOPSDevice = b.ThrottleWriteIOPSDevice
		}
	}
	if src.HugepageLimits != nil {
		dst.HugepageLimits = src.HugepageLimits
	}
	if src.Network != nil {
		dst.Network = src.Network
	}
	if src.Rdma != nil {
		dst.Rdma = src.Rdma
	}
	for k, v := range src.Unified {
		if dst.Unified == nil {
			dst.Unified = map[string]string{}
		}
		dst.Unified[k] = v
	}
}

func setPtr[T any](dst **T, src *T) {
	if src != nil {
		v := *src
		*dst = &v
	}
}
