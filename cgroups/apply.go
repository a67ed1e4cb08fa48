package cgroups

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// Apply writes every resource set in r. Unset (nil) and zero values are
// left alone. Errors name the config field and the file, e.g.
// "linux.resources.memory.limit: write /sys/fs/cgroup/memory/husk/x/memory.limit_in_bytes: device or resource busy".
func (m *Manager) Apply(r *rspec.LinuxResources) error {
	return m.set(r, false)
}

// Update changes the resources of a running container with runc update
// semantics: only fields that are set are written, and values that depend
// on unset ones (v2 swap needs the memory limit, cpu.max needs the quota)
// are completed from the current cgroup files. memory.checkBeforeUpdate
// is honoured here. linux.resources.devices is left alone, as runc's
// update leaves it: the device rules are the container's from create on.
func (m *Manager) Update(r *rspec.LinuxResources) error {
	return m.set(r, true)
}

func (m *Manager) set(r *rspec.LinuxResources, update bool) error {
	if r == nil {
		return nil
	}
	if !update {
		if err := m.setDevices(r.Devices); err != nil {
			return err
		}
	}
	if err := m.setMemory(r.Memory, update); err != nil {
		return err
	}
	if err := m.setCPU(r.CPU); err != nil {
		return err
	}
	if err := m.setCpuset(r.CPU); err != nil {
		return err
	}
	if err := m.setPids(r.Pids); err != nil {
		return err
	}
	if err := m.setBlockIO(r.BlockIO); err != nil {
		return err
	}
	if err := m.setHugetlb(r.HugepageLimits); err != nil {
		return err
	}
	if err := m.setNetwork(r.Network); err != nil {
		return err
	}
	if err := m.setRdma(r.Rdma); err != nil {
		return err
	}
	// Last, so explicit unified keys override the converted values.
	return m.setUnified(r.Unified)
}

// unavailable is the error for a resource whose controller is nowhere.
func (m *Manager) unavailable(field, v1, v2 string) error {
	where := fmt.Sprintf("no %s cgroup v1 hierarchy is mounted", v1)
	if u := m.unifiedDir(); u != "" && v2 != "" {
		where += fmt.Sprintf(" and cgroup2 does not offer %q (%s/cgroup.controllers)", v2, m.h.Unified)
	} else if v2 == "" {
		where += " (it has no cgroup v2 equivalent)"
	}
	return fmt.Errorf("%s: cannot be set: %s", field, where)
}

func fieldErr(field string, err error) error {
	return fmt.Errorf("%s: %w", field, err)
}

func val[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// Predicates for "sets something": nil and zero values are unset.

func memoryV2Set(mem *rspec.LinuxMemory) bool {
	return mem != nil && (val(mem.Limit) != 0 || val(mem.Reservation) != 0 || val(mem.Swap) != 0)
}

func memorySet(mem *rspec.LinuxMemory) bool {
	return memoryV2Set(mem) || (mem != nil && (mem.Swappiness != nil ||
		val(mem.DisableOOMKiller) || val(mem.UseHierarchy)))
}

func cpuV2Set(c *rspec.LinuxCPU) bool {
	return c != nil && (val(c.Shares) != 0 || val(c.Quota) != 0 || val(c.Period) != 0 || c.Burst != nil || c.Idle != nil)
}

func cpuSet(c *rspec.LinuxCPU) bool {
	return cpuV2Set(c) || (c != nil && (val(c.RealtimeRuntime) != 0 || val(c.RealtimePeriod) != 0))
}

func cpusetSet(c *rspec.LinuxCPU) bool { return c != nil && (c.Cpus != "" || c.Mems != "") }

func blkioV2Set(b *rspec.LinuxBlockIO) bool {
	return b != nil && (val(b.Weight) != 0 || len(b.WeightDevice) > 0 ||
		len(b.ThrottleReadBpsDevice) > 0 || len(b.ThrottleWriteBpsDevice) > 0 ||
		len(b.ThrottleReadIOPSDevice) > 0 || len(b.ThrottleWriteIOPSDevice) > 0)
}

func blkioSet(b *rspec.LinuxBlockIO) bool {
	return blkioV2Set(b) || (b != nil && val(b.LeafWeight) != 0)
}

func hugetlbSet(limits []rspec.LinuxHugepageLimit) bool {
	return slices.ContainsFunc(limits, func(l rspec.LinuxHugepageLimit) bool { return l.Limit != 0 })
}

type neededController struct{ field, ctrl string }

// neededV2Controllers lists the cgroup2 controllers that the resources in
// r will be written to, with the config field needing each.
func (m *Manager) neededV2Controllers(r *rspec.LinuxResources) []neededController {
	if r == nil {
		return nil
	}
	var out []neededController
	add := func(set bool, field, v1, v2 string) {
		if !set || slices.ContainsFunc(out, func(n neededController) bool { return n.ctrl == v2 }) {
			return
		}
		if _, isV2, ok := m.locate(v1, v2); ok && isV2 {
			out = append(out, neededController{field, v2})
		}
	}
	add(memoryV2Set(r.Memory), "linux.resources.memory", "memory", "memory")
	add(cpuV2Set(r.CPU), "linux.resources.cpu", "cpu", "cpu")
	add(cpusetSet(r.CPU), "linux.resources.cpu.cpus/mems", "cpuset", "cpuset")
	add(r.Pids != nil && r.Pids.Limit != nil && *r.Pids.Limit >= 0, "linux.resources.pids.limit", "pids", "pids")
	add(blkioV2Set(r.BlockIO), "linux.resources.blockIO", "blkio", "io")
	add(hugetlbSet(r.HugepageLimits), "linux.resources.hugepageLimits", "hugetlb", "hugetlb")
	add(len(r.Rdma) > 0, "linux.resources.rdma", "rdma", "rdma")
	for _, k := range slices.Sorted(maps.Keys(r.Unified)) {
		if c, _, ok := strings.Cut(k, "."); ok && c != "cgroup" {
			add(true, fmt.Sprintf("linux.resources.unified[%q]", k), "", c)
		}
	}
	return out
}

// ensure finds a resource group's directory, or fails naming the field
// when the group sets something but its controller is nowhere. ok=false
// with a nil error means there is nothing to do.
func (m *Manager) ensure(set bool, field, v1, v2 string) (dir string, isV2 bool, ok bool, err error) {
	dir, isV2, ok = m.locate(v1, v2)
	if !ok && set {
		return "", false, false, m.unavailable(field, v1, v2)
	}
	return dir, isV2, ok, nil
}

func (m *Manager) setDevices(devs []rspec.LinuxDeviceCgroup) error {
	if len(devs) == 0 {
		return nil
	}
	rules, err := parseDeviceRules(devs)
	if err != nil {
		return err
	}
	if d, ok := m.paths["devices"]; ok {
		return setDevicesV1(m.fs, d, rules)
	}
	// The device hook needs no controller: it attaches to any cgroup2 dir.
	d := m.unifiedDir()
	if d == "" {
		return m.unavailable("linux.resources.devices", "devices", "")
	}
	if err := m.fs.attachDeviceFilter(d, deviceProgram(rules)); err != nil {
		return fieldErr("linux.resources.devices", err)
	}
	return nil
}

func (m *Manager) setMemory(mem *rspec.LinuxMemory, update bool) error {
	if mem == nil {
		return nil
	}
	dir, isV2, ok, err := m.ensure(memorySet(mem), "linux.resources.memory", "memory", "memory")
	if !ok {
		return err
	}
	if limit, swap := val(mem.Limit), val(mem.Swap); limit > 0 && swap > 0 && swap < limit {
		return fmt.Errorf("linux.resources.memory.swap: %d is below memory.limit %d (swap is the memory+swap limit)", swap, limit)
	}
	if isV2 {
		return setMemoryV2(m.fs, dir, mem, update)
	}
	return setMemoryV1(m.fs, dir, mem)
}

func (m *Manager) setCPU(c *rspec.LinuxCPU) error {
	if !cpuSet(c) {
		return nil
	}
	if s := val(c.Shares); s != 0 && (s < 2 || s > 262144) {
		// v1 silently clamps; refuse instead so v1 and v2 agree.
		return fmt.Errorf("linux.resources.cpu.shares: %d is outside [2, 262144]", s)
	}
	dir, isV2, ok, err := m.ensure(true, "linux.resources.cpu", "cpu", "cpu")
	if !ok {
		return err
	}
	if isV2 {
		return setCPUV2(m.fs, dir, c)
	}
	return setCPUV1(m.fs, dir, c)
}

func (m *Manager) setCpuset(c *rspec.LinuxCPU) error {
	if !cpusetSet(c) {
		return nil
	}
	dir, _, ok, err := m.ensure(true, "linux.resources.cpu.cpus/mems", "cpuset", "cpuset")
	if !ok {
		return err
	}
	// Same file names on v1 and v2.
	if c.Cpus != "" {
		if err := m.fs.writeFile(dir, "cpuset.cpus", c.Cpus); err != nil {
			return fieldErr("linux.resources.cpu.cpus", err)
		}
	}
	if c.Mems != "" {
		if err := m.fs.writeFile(dir, "cpuset.mems", c.Mems); err != nil {
			return fieldErr("linux.resources.cpu.mems", err)
		}
	}
	return nil
}

func (m *Manager) setPids(p *rspec.LinuxPids) error {
	if p == nil || p.Limit == nil {
		return nil
	}
	v := PidsMax(*p.Limit)
	dir, _, ok, err := m.ensure(v != "max", "linux.resources.pids.limit", "pids", "pids")
	if !ok {
		return err
	}
	// Same file on v1 and v2.
	if err := m.fs.writeFile(dir, "pids.max", v); err != nil {
		if v == "max" && isNotExist(err) {
			return nil // controller not enabled here: unlimited already
		}
		return fieldErr("linux.resources.pids.limit", err)
	}
	return nil
}

// PidsMax is pids.max for linux.resources.pids.limit: a negative limit is
// none ("max"), and 0 is a limit, written as 1 (the runtime spec's
// reading since 1.2.1, and runc's since 1.4: systemd's TasksMax cannot be
// 0, and a cgroup whose pids.max is 0 or 1 can fork no more either way).
func PidsMax(limit int64) string {
	switch {
	case limit < 0:
		return "max"
	case limit == 0:
		return "1"
	}
	return itoa(limit)
}

func (m *Manager) setBlockIO(b *rspec.LinuxBlockIO) error {
	if !blkioSet(b) {
		return nil
	}
	if err := checkBlkioWeights(b); err != nil {
		return err
	}
	dir, isV2, ok, err := m.ensure(true, "linux.resources.blockIO", "blkio", "io")
	if !ok {
		return err
	}
	if isV2 {
		return setIOV2(m.fs, dir, b)
	}
	return setBlkioV1(m.fs, dir, b)
}

// checkBlkioWeights enforces the blkio weight range; v2 converts weights
// linearly and would otherwise produce out-of-range io.weight values.
func checkBlkioWeights(b *rspec.LinuxBlockIO) error {
	check := func(field string, w *uint16) error {
		if w != nil && *w != 0 && (*w < 10 || *w > 1000) {
			return fmt.Errorf("%s: %d is outside [10, 1000]", field, *w)
		}
		return nil
	}
	if err := check("linux.resources.blockIO.weight", b.Weight); err != nil {
		return err
	}
	if err := check("linux.resources.blockIO.leafWeight", b.LeafWeight); err != nil {
		return err
	}
	for i, wd := range b.WeightDevice {
		if err := check(fmt.Sprintf("linux.resources.blockIO.weightDevice[%d].weight", i), wd.Weight); err != nil {
			return err
		}
		if err := check(fmt.Sprintf("linux.resources.blockIO.weightDevice[%d].leafWeight", i), wd.LeafWeight); err != nil {
			return err
		}
	}
	return nil
}

func (m *Manager) setHugetlb(limits []rspec.LinuxHugepageLimit) error {
	if len(limits) == 0 {
		return nil
	}
	dir, isV2, ok, err := m.ensure(hugetlbSet(limits), "linux.resources.hugepageLimits", "hugetlb", "hugetlb")
	if !ok {
		return err
	}
	for i, l := range limits {
		if !validPageSize(l.Pagesize) {
			return fmt.Errorf("linux.resources.hugepageLimits[%d].pageSize: invalid %q (want e.g. 2MB, 1GB)", i, l.Pagesize)
		}
		limitFile, rsvdFile := "hugetlb."+l.Pagesize+".limit_in_bytes", "hugetlb."+l.Pagesize+".rsvd.limit_in_bytes"
		if isV2 {
			limitFile, rsvdFile = "hugetlb."+l.Pagesize+".max", "hugetlb."+l.Pagesize+".rsvd.max"
		}
		v := utoa(l.Limit)
		if err := m.fs.writeFile(dir, limitFile, v); err != nil {
			return fieldErr(fmt.Sprintf("linux.resources.hugepageLimits[%d]", i), err)
		}
		// The reservation limit (kernel 5.7+) makes the limit apply at mmap
		// time instead of at fault time; older kernels lack the file.
		if err := m.fs.writeFile(dir, rsvdFile, v); err != nil && !isNotExist(err) {
			return fieldErr(fmt.Sprintf("linux.resources.hugepageLimits[%d]", i), err)
		}
	}
	return nil
}

// validPageSize accepts "<digits><K|M|G>B", the names hugetlb files use.
func validPageSize(s string) bool {
	if len(s) < 3 || !strings.HasSuffix(s, "B") || !strings.ContainsRune("KMG", rune(s[len(s)-2])) {
		return false
	}
	for _, c := range s[:len(s)-2] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// setNetwork writes the net_cls class ID and the net_prio priorities,
// controllers cgroup v2 does not have: on a host with cgroup2 alone they
// are ignored, as runc's cgroup v2 manager ignores them; on a v1 or
// hybrid host they need their hierarchy, as with runc.
func (m *Manager) setNetwork(n *rspec.LinuxNetwork) error {
	if n == nil || m.h.Mode() == Unified {
		return nil
	}
	if n.ClassID != nil {
		dir, _, ok, err := m.ensure(*n.ClassID != 0, "linux.resources.network.classID", "net_cls", "")
		if err != nil {
			return err
		}
		if ok {
			if err := m.fs.writeFile(dir, "net_cls.classid", utoa(uint64(*n.ClassID))); err != nil {
				return fieldErr("linux.resources.network.classID", err)
			}
		}
	}
	if len(n.Priorities) > 0 {
		dir, _, ok, err := m.ensure(true, "linux.resources.network.priorities", "net_prio", "")
		if !ok {
			return err
		}
		lines := make([]string, len(n.Priorities))
		for i, p := range n.Priorities {
			if p.Name == "" || strings.ContainsAny(p.Name, " \n") {
				return fmt.Errorf("linux.resources.network.priorities[%d].name: invalid interface name %q", i, p.Name)
			}
			lines[i] = p.Name + " " + utoa(uint64(p.Priority))
		}
		if err := m.fs.writeLines(dir, "net_prio.ifpriomap", lines); err != nil {
			return fieldErr("linux.resources.network.priorities", err)
		}
	}
	return nil
}

func (m *Manager) setRdma(rdma map[string]rspec.LinuxRdma) error {
	if len(rdma) == 0 {
		return nil
	}
	dir, _, ok, err := m.ensure(true, "linux.resources.rdma", "rdma", "rdma")
	if !ok {
		return err
	}
	var lines []string
	for _, dev := range slices.Sorted(maps.Keys(rdma)) {
		l := rdma[dev]
		if dev == "" || strings.ContainsAny(dev, " \n") {
			return fmt.Errorf("linux.resources.rdma: invalid device name %q", dev)
		}
		line := dev
		if l.HcaHandles != nil {
			line += " hca_handle=" + utoa(uint64(*l.HcaHandles))
		}
		if l.HcaObjects != nil {
			line += " hca_object=" + utoa(uint64(*l.HcaObjects))
		}
		if line != dev {
			lines = append(lines, line)
		}
	}
	if len(lines) == 0 {
		return nil
	}
	// Same file on v1 and v2.
	if err := m.fs.writeLines(dir, "rdma.max", lines); err != nil {
		return fieldErr("linux.resources.rdma", err)
	}
	return nil
}

// setUnified writes linux.resources.unified keys verbatim into the
// container's cgroup2 directory, one write per line of the value.
func (m *Manager) setUnified(unified map[string]string) error {
	if len(unified) == 0 {
		return nil
	}
	dir := m.unifiedDir()
	if dir == "" {
		return errors.New("linux.resources.unified: requires cgroup v2, but this host mounts only cgroup v1")
	}
	for _, k := range slices.Sorted(maps.Keys(unified)) {
		field := fmt.Sprintf("linux.resources.unified[%q]", k)
		ctrl, _, ok := strings.Cut(k, ".")
		// A plain file name keeps the write inside the container's directory.
		if !ok || ctrl == "" || strings.Contains(k, "/") || k == "." || k == ".." {
			return fmt.Errorf("%s: key must be a cgroup file name of the form <controller>.<file>", field)
		}
		var lines []string
		for l := range strings.SplitSeq(unified[k], "\n") {
			if l != "" {
				lines = append(lines, l)
			}
		}
		if len(lines) == 0 {
			return fmt.Errorf("%s: empty value", field)
		}
		if err := m.fs.writeLines(dir, k, lines); err != nil {
			if isNotExist(err) && ctrl != "cgroup" {
				return fmt.Errorf("%s: %w (is the %q controller enabled for this cgroup?)", field, err, ctrl)
			}
			return fieldErr(field, err)
		}
	}
	return nil
}
