package specs

// fastDecode's decoders for the "linux" section of config.json (see
// fastdecode_spec.go for the conventions). The file name avoids a _linux
// suffix, which would be a build constraint.

import (
	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

var linuxFields = []string{"uidMappings", "gidMappings", "sysctl", "resources", "cgroupsPath", "namespaces", "devices",
	"netDevices", "seccomp", "rootfsPropagation", "maskedPaths", "readonlyPaths", "mountLabel", "intelRdt",
	"memoryPolicy", "personality", "timeOffsets"}

func fdLinux(d *fdec, l *rspec.Linux) {
	if d.null() {
		return
	}
	for more := d.objStart(); more; more = d.objNext() {
		switch k := d.key(); k {
		case "uidMappings":
			fdSlice(d, &l.UIDMappings, fdIDMapping)
		case "gidMappings":
			fdSlice(d, &l.GIDMappings, fdIDMapping)
		case "sysctl":
			fdMap(d, &l.Sysctl, fdString[string])
		case "resources":
			fdPtr(d, &l.Resources, fdResources)
		case "cgroupsPath":
			fdString(d, &l.CgroupsPath)
		case "namespaces":
			fdSlice(d, &l.Namespaces, fdNamespace)
		case "devices":
			fdSlice(d, &l.Devices, fdDevice)
		case "netDevices":
			fdMap(d, &l.NetDevices, fdNetDevice)
		case "seccomp":
			fdPtr(d, &l.Seccomp, fdSeccomp)
		case "rootfsPropagation":
			fdString(d, &l.RootfsPropagation)
		case "maskedPaths":
			fdSlice(d, &l.MaskedPaths, fdString[string])
		case "readonlyPaths":
			fdSlice(d, &l.ReadonlyPaths, fdString[string])
		case "mountLabel":
			fdString(d, &l.MountLabel)
		case "intelRdt":
			fdPtr(d, &l.IntelRdt, fdIntelRdt)
		case "memoryPolicy":
			fdPtr(d, &l.MemoryPolicy, fdMemoryPolicy)
		case "personality":
			fdPtr(d, &l.Personality, fdPersonality)
		case "timeOffsets":
			fdMap(d, &l.TimeOffsets, fdTimeOffset)
		default:
			d.unknown(k, linuxFields)
		}
	}
}

var idMappingFields = []string{"containerID", "hostID", "size"}

func fdIDMapping(d *fdec, m *rspec.LinuxIDMapping) {
	if d.null() {
		return
	}
	for more := d.objStart(); more; more = d.objNext() {
		switch k := d.key(); k {
		case "containerID":
			fdUint(d, &m.ContainerID)
		case "hostID":
			fdUint(d, &m.HostID)
		case "size":
			fdUint(d, &m.Size)
		default:
			d.unknown(k, idMappingFields)
		}
	}
}

var namespaceFields = []string{"type", "path"}

func fdNamespace(d *fdec, n *rspec.LinuxNamespace) {
	if d.null() {
		return
	}
	for more := d.objStart(); more; more = d.objNext() {
		switch k := d.key(); k {
		case "type":
			fdString(d, &n.Type)
		case "path":
			fdString(d, &n.Path)
		default:
			d.unknown(k, namespaceFields)
		}
	}
}

var deviceFields = []string{"path", "type", "major", "minor", "fileMode", "uid", "gid"}

func fdDevice(d *fdec, v *rspec.LinuxDevice) {
	if d.null() {
		return
	}
	for more := d.objStart(); more; more = d.objNext() {
		switch k := d.key(); k {
		case "path":
			fdString(d, &v.Path)
		case "type":
			fdString(d, &v.Type)
		case "major":
			fdInt(d, &v.Major)
		case "minor":
			fdInt(d, &v.Minor)
		case "fileMode": // os.FileMode is a uint32, decoded as a number
			fdPtr(d, &v.FileMode, fdUint)
		case "uid":
			fdPtr(d, &v.UID, fdUint[uint32])
		case "gid":
			fdPtr(d, &v.GID, fdUint[uint32])
		default:
			d.unknown(k, deviceFields)
		}
	}
}

var netDeviceFields = []string{"name"}

func fdNetDevice(d *fdec, n *rspec.LinuxNetDevice) {
	if d.null() {
		return
	}
	for more := d.objStart(); more; more = d.objNext() {
		switch k := d.key(); k {
		case "name":
			fdString(d, &n.Name)
		default:
			d.unknown(k, netDeviceFields)
		}
	}
}

var timeOffsetFields = []string{"secs", "nanosecs"}

func fdTimeOffset(d *fdec, t *rspec.LinuxTimeOffset) {
	if d.null() {
		return
	}
	for more := d.objStart(); more; more = d.objNext() {
		switch k := d.key(); k {
		case "secs":
			fdInt(d, &t.Secs)
		case "nanosecs":
			fdUint(d, &t.Nanosecs)
		default:
			d.unknown(k, timeOffsetFields)
		}
	}
}

var personalityFields = []string{"domain", "flags"}

func fdPersonality(d *fdec, p *rspec.LinuxPersonality) {
	if d.null() {
		return
	}
	for more := d.objStart(); more; more = d.objNext() {
		switch k := d.key(); k {
		case "domain":
			fdString(d, &p.Domain)
		case "flags":
			fdSlice(d, &p.Flags, fdString[rspec.LinuxPersonalityFlag])
		default:
			d.unknown(k, personalityFields)
		}
	}
}

var intelRdtFields = []string{"closID", "schemata", "l3CacheSchema", "memBwSchema", "enableMonitoring"}

func fdIntelRdt(d *fdec, r *rspec.LinuxIntelRdt) {
	if d.null() {
		return
	}
	for more := d.objStart(); more; more = d.objNext() {
		switch k := d.key(); k {
		case "closID":
			fdString(d, &r.ClosID)
		case "schemata":
			fdSlice(d, &r.Schemata, fdString[string])
		case "l3CacheSchema":
			fdString(d, &r.L3CacheSchema)
		case "memBwSchema":
			fdString(d, &r.MemBwSchema)
		case "enableMonitoring":
			fdBool(d, &r.EnableMonitoring)
		default:
			d.unknown(k, intelRdtFields)
		}
	}
}

var memoryPolicyFields = []string{"mode", "nodes", "flags"}

func fdMemoryPolicy(d *fdec, p *rspec.LinuxMemoryPolicy) {
	if d.null() {
		return
	}
	for more := d.objStart(); more; more = d.objNext() {
		switch k := d.key(); k {
		case "mode":
			fdString(d, &p.Mode)
		case "nodes":
			fdString(d, &p.Nodes)
		case "flags":
			fdSlice(d, &p.Flags, fdString[rspec.MemoryPolicyFlagType])
		default:
			d.unknown(k, memoryPolicyFields)
		}
	}
}

// Seccomp.

var seccompFields = []string{"defaultAction", "defaultErrnoRet", "architectures", "flags", "listenerPath",
	"listenerMetadata", "syscalls"}

func fdSeccomp(d *fdec, s *rspec.LinuxSeccomp) {
	if d.null() {
		return
	}
	for more := d.objStart(); more; more = d.objNext() {
		switch k := d.key(); k {
		case "defaultAction":
			fdString(d, &s.DefaultAction)
		case "defaultErrnoRet":
			fdPtr(d, &s.DefaultErrnoRet, fdUint[uint])
		case "architectures":
			fdSlice(d, &s.Architectures, fdString[rspec.Arch])
		case "flags":
			fdSlice(d, &s.Flags, fdString[rspec.LinuxSeccompFlag])
		case "listenerPath":
			fdString(d, &s.ListenerPath)
		case "listenerMetadata":
			fdString(d, &s.ListenerMetadata)
		case "syscalls":
			fdSlice(d, &s.Syscalls, fdSyscall)
		default:
			d.unknown(k, seccompFields)
		}
	}
}

var syscallFields = []string{"names", "action", "errnoRet", "args"}

func fdSyscall(d *fdec, s *rspec.LinuxSyscall) {
	if d.null() {
		return
	}
	for more := d.objStart(); more; more = d.objNext() {
		switch k := d.key(); k {
		case "names":
			fdSlice(d, &s.Names, fdString[string])
		case "action":
			fdString(d, &s.Action)
		case "errnoRet":
			fdPtr(d, &s.ErrnoRet, fdUint[uint])
		case "args":
			fdSlice(d, &s.Args, fdSeccompArg)
		default:
			d.unknown(k, syscallFields)
		}
	}
}

var seccompArgFields = []string{"index", "value", "valueTwo", "op"}

func fdSeccompArg(d *fdec, a *rspec.LinuxSeccompArg) {
	if d.null() {
		return
	}
	for more := d.objStart(); more; more = d.objNext() {
		switch k := d.key(); k {
		case "index":
			fdUint(d, &a.Index)
		case "value":
			fdUint(d, &a.Value)
		case "valueTwo":
			fdUint(d, &a.ValueTwo)
		case "op":
			fdString(d, &a.Op)
		default:
			d.unknown(k, seccompArgFields)
		}
	}
}

// Resources (cgroups).

var resourcesFields = []string{"devices", "memory", "cpu", "pids", "blockIO", "hugepageLimits", "network", "rdma",
	"unified"}

func fdResources(d *fdec, r *rspec.LinuxResources) {
	if d.null() {
		return
	}
	for more := d.objStart(); more; more = d.objNext() {
		switch k := d.key(); k {
		case "devices":
			fdSlice(d, &r.Devices, fdDeviceCgroup)
		case "memory":
			fdPtr(d, &r.Memory, fdMemory)
		case "cpu":
			fdPtr(d, &r.CPU, fdCPU)
		case "pids":
			fdPtr(d, &r.Pids, fdPids)
		case "blockIO":
			fdPtr(d, &r.BlockIO, fdBlockIO)
		case "hugepageLimits":
			fdSlice(d, &r.HugepageLimits, fdHugepageLimit)
		case "network":
			fdPtr(d, &r.Network, fdNetwork)
		case "rdma":
			fdMap(d, &r.Rdma, fdRdma)
		case "unified":
			fdMap(d, &r.Unified, fdString[string])
		default:
			d.unknown(k, resourcesFields)
		}
	}
}

var deviceCgroupFields = []string{"allow", "type", "major", "minor", "access"}

func fdDeviceCgroup(d *fdec, c *rspec.LinuxDeviceCgroup) {
	if d.null() {
		return
	}
	for more := d.objStart(); more; more = d.objNext() {
		switch k := d.key(); k {
		case "allow":
			fdBool(d, &c.Allow)
		case "type":
			fdString(d, &c.Type)
		case "major":
			fdPtr(d, &c.Major, fdInt[int64])
		case "minor":
			fdPtr(d, &c.Minor, fdInt[int64])
		case "access":
			fdString(d, &c.Access)
		default:
			d.unknown(k, deviceCgroupFields)
		}
	}
}

var memoryFields = []string{"limit", "reservation", "swap", "kernel", "kernelTCP", "swappiness", "disableOOMKiller",
	"useHierarchy", "checkBeforeUpdate"}

func fdMemory(d *fdec, m *rspec.LinuxMemory) {
	if d.null() {
		return
	}
	for more := d.objStart(); more; more = d.objNext() {
		switch k := d.key(); k {
		case "limit":
			fdPtr(d, &m.Limit, fdInt[int64])
		case "reservation":
			fdPtr(d, &m.Reservation, fdInt[int64])
		case "swap":
			fdPtr(d, &m.Swap, fdInt[int64])
		case "kernel":
			fdPtr(d, &m.Kernel, fdInt[int64]) // deprecated, but encoding/json decodes it
		case "kernelTCP":
			fdPtr(d, &m.KernelTCP, fdInt[int64])
		case "swappiness":
			fdPtr(d, &m.Swappiness, fdUint[uint64])
		case "disableOOMKiller":
			fdPtr(d, &m.DisableOOMKiller, fdBool)
		case "useHierarchy":
			fdPtr(d, &m.UseHierarchy, fdBool)
		case "checkBeforeUpdate":
			fdPtr(d, &m.CheckBeforeUpdate, fdBool)
		default:
			d.unknown(k, memoryFields)
		}
	}
}

var cpuFields = []string{"shares", "quota", "burst", "period", "realtimeRuntime", "realtimePeriod", "cpus", "mems",
	"idle"}

func fdCPU(d *fdec, c *rspec.LinuxCPU) {
	if d.null() {
		return
	}
	for more := d.objStart(); more; more = d.objNext() {
		switch k := d.key(); k {
		case "shares":
			fdPtr(d, &c.Shares, fdUint[uint64])
		case "quota":
			fdPtr(d, &c.Quota, fdInt[int64])
		case "burst":
			fdPtr(d, &c.Burst, fdUint[uint64])
		case "period":
			fdPtr(d, &c.Period, fdUint[uint64])
		case "realtimeRuntime":
			fdPtr(d, &c.RealtimeRuntime, fdInt[int64])
		case "realtimePeriod":
			fdPtr(d, &c.RealtimePeriod, fdUint[uint64])
		case "cpus":
			fdString(d, &c.Cpus)
		case "mems":
			fdString(d, &c.Mems)
		case "idle":
			fdPtr(d, &c.Idle, fdInt[int64])
		default:
			d.unknown(k, cpuFields)
		}
	}
}

var pidsFields = []string{"limit"}

func fdPids(d *fdec, p *rspec.LinuxPids) {
	if d.null() {
		return
	}
	for more := d.objStart(); more; more = d.objNext() {
		switch k := d.key(); k {
		case "limit":
			fdPtr(d, &p.Limit, fdInt[int64])
		default:
			d.unknown(k, pidsFields)
		}
	}
}

var blockIOFields = []string{"weight", "leafWeight", "weightDevice", "throttleReadBpsDevice", "throttleWriteBpsDevice",
	"throttleReadIOPSDevice", "throttleWriteIOPSDevice"}

func fdBlockIO(d *fdec, b *rspec.LinuxBlockIO) {
	if d.null() {
		return
	}
	for more := d.objStart(); more; more = d.objNext() {
		switch k := d.key(); k {
		case "weight":
			fdPtr(d, &b.Weight, fdUint[uint16])
		case "leafWeight":
			fdPtr(d, &b.LeafWeight, fdUint[uint16])
		case "weightDevice":
			fdSlice(d, &b.WeightDevice, fdWeightDevice)
		case "throttleReadBpsDevice":
			fdSlice(d, &b.ThrottleReadBpsDevice, fdThrottleDevice)
		case "throttleWriteBpsDevice":
			fdSlice(d, &b.ThrottleWriteBpsDevice, fdThrottleDevice)
		case "throttleReadIOPSDevice":
			fdSlice(d, &b.ThrottleReadIOPSDevice, fdThrottleDevice)
		case "throttleWriteIOPSDevice":
			fdSlice(d, &b.ThrottleWriteIOPSDevice, fdThrottleDevice)
		default:
			d.unknown(k, blockIOFields)
		}
	}
}

// major and minor are promoted from the embedded LinuxBlockIODevice;
// encoding/json treats them as the struct's own fields.
var weightDeviceFields = []string{"major", "minor", "weight", "leafWeight"}

func fdWeightDevice(d *fdec, w *rspec.LinuxWeightDevice) {
	if d.null() {
		return
	}
	for more := d.objStart(); more; more = d.objNext() {
		switch k := d.key(); k {
		case "major":
			fdInt(d, &w.Major)
		case "minor":
			fdInt(d, &w.Minor)
		case "weight":
			fdPtr(d, &w.Weight, fdUint[uint16])
		case "leafWeight":
			fdPtr(d, &w.LeafWeight, fdUint[uint16])
		default:
			d.unknown(k, weightDeviceFields)
		}
	}
}

var throttleDeviceFields = []string{"major", "minor", "rate"}

func fdThrottleDevice(d *fdec, t *rspec.LinuxThrottleDevice) {
	if d.null() {
		return
	}
	for more := d.objStart(); more; more = d.objNext() {
		switch k := d.key(); k {
		case "major":
			fdInt(d, &t.Major)
		case "minor":
			fdInt(d, &t.Minor)
		case "rate":
			fdUint(d, &t.Rate)
		default:
			d.unknown(k, throttleDeviceFields)
		}
	}
}

var hugepageLimitFields = []string{"pageSize", "limit"}

func fdHugepageLimit(d *fdec, h *rspec.LinuxHugepageLimit) {
	if d.null() {
		return
	}
	for more := d.objStart(); more; more = d.objNext() {
		switch k := d.key(); k {
		case "pageSize":
			fdString(d, &h.Pagesize)
		case "limit":
			fdUint(d, &h.Limit)
		default:
			d.unknown(k, hugepageLimitFields)
		}
	}
}

var networkFields = []string{"classID", "priorities"}

func fdNetwork(d *fdec, n *rspec.LinuxNetwork) {
	if d.null() {
		return
	}
	for more := d.objStart(); more; more = d.objNext() {
		switch k := d.key(); k {
		case "classID":
			fdPtr(d, &n.ClassID, fdUint[uint32])
		case "priorities":
			fdSlice(d, &n.Priorities, fdInterfacePriority)
		default:
			d.unknown(k, networkFields)
		}
	}
}

var interfacePriorityFields = []string{"name", "priority"}

func fdInterfacePriority(d *fdec, p *rspec.LinuxInterfacePriority) {
	if d.null() {
		return
	}
	for more := d.objStart(); more; more = d.objNext() {
		switch k := d.key(); k {
		case "name":
			fdString(d, &p.Name)
		case "priority":
			fdUint(d, &p.Priority)
		default:
			d.unknown(k, interfacePriorityFields)
		}
	}
}

var rdmaFields = []string{"hcaHandles", "hcaObjects"}

func fdRdma(d *fdec, r *rspec.LinuxRdma) {
	if d.null() {
		return
	}
	for more := d.objStart(); more; more = d.objNext() {
		switch k := d.key(); k {
		case "hcaHandles":
			fdPtr(d, &r.HcaHandles, fdUint[uint32])
		case "hcaObjects":
			fdPtr(d, &r.HcaObjects, fdUint[uint32])
		default:
			d.unknown(k, rdmaFields)
		}
	}
}
