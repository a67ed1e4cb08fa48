package specs

// fastDecode's decoders for the "linux" section of config.json (see
// fastdecode_spec.go for the conventions). The file name avoids a _linux
// suffix, which would be a build constraint.

import (
	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/husk-runtime/husk/internal/fastjson"
)

var linuxFields = []string{"uidMappings", "gidMappings", "sysctl", "resources", "cgroupsPath", "namespaces", "devices",
	"netDevices", "seccomp", "rootfsPropagation", "maskedPaths", "readonlyPaths", "mountLabel", "intelRdt",
	"memoryPolicy", "personality", "timeOffsets"}

func fdLinux(d *fastjson.Decoder, l *rspec.Linux) {
	if d.Null() {
		return
	}
	for more := d.ObjStart(); more; more = d.ObjNext() {
		switch k := d.Key(); k {
		case "uidMappings":
			fastjson.Slice(d, &l.UIDMappings, fdIDMapping)
		case "gidMappings":
			fastjson.Slice(d, &l.GIDMappings, fdIDMapping)
		case "sysctl":
			fastjson.Map(d, &l.Sysctl, fastjson.String[string])
		case "resources":
			fastjson.Ptr(d, &l.Resources, fdResources)
		case "cgroupsPath":
			fastjson.String(d, &l.CgroupsPath)
		case "namespaces":
			fastjson.Slice(d, &l.Namespaces, fdNamespace)
		case "devices":
			fastjson.Slice(d, &l.Devices, fdDevice)
		case "netDevices":
			fastjson.Map(d, &l.NetDevices, fdNetDevice)
		case "seccomp":
			fastjson.Ptr(d, &l.Seccomp, fdSeccomp)
		case "rootfsPropagation":
			fastjson.String(d, &l.RootfsPropagation)
		case "maskedPaths":
			fastjson.Slice(d, &l.MaskedPaths, fastjson.String[string])
		case "readonlyPaths":
			fastjson.Slice(d, &l.ReadonlyPaths, fastjson.String[string])
		case "mountLabel":
			fastjson.String(d, &l.MountLabel)
		case "intelRdt":
			fastjson.Ptr(d, &l.IntelRdt, fdIntelRdt)
		case "memoryPolicy":
			fastjson.Ptr(d, &l.MemoryPolicy, fdMemoryPolicy)
		case "personality":
			fastjson.Ptr(d, &l.Personality, fdPersonality)
		case "timeOffsets":
			fastjson.Map(d, &l.TimeOffsets, fdTimeOffset)
		default:
			d.Unknown(k, linuxFields)
		}
	}
}

var idMappingFields = []string{"containerID", "hostID", "size"}

func fdIDMapping(d *fastjson.Decoder, m *rspec.LinuxIDMapping) {
	if d.Null() {
		return
	}
	for more := d.ObjStart(); more; more = d.ObjNext() {
		switch k := d.Key(); k {
		case "containerID":
			fastjson.Uint(d, &m.ContainerID)
		case "hostID":
			fastjson.Uint(d, &m.HostID)
		case "size":
			fastjson.Uint(d, &m.Size)
		default:
			d.Unknown(k, idMappingFields)
		}
	}
}

var namespaceFields = []string{"type", "path"}

func fdNamespace(d *fastjson.Decoder, n *rspec.LinuxNamespace) {
	if d.Null() {
		return
	}
	for more := d.ObjStart(); more; more = d.ObjNext() {
		switch k := d.Key(); k {
		case "type":
			fastjson.String(d, &n.Type)
		case "path":
			fastjson.String(d, &n.Path)
		default:
			d.Unknown(k, namespaceFields)
		}
	}
}

var deviceFields = []string{"path", "type", "major", "minor", "fileMode", "uid", "gid"}

func fdDevice(d *fastjson.Decoder, v *rspec.LinuxDevice) {
	if d.Null() {
		return
	}
	for more := d.ObjStart(); more; more = d.ObjNext() {
		switch k := d.Key(); k {
		case "path":
			fastjson.String(d, &v.Path)
		case "type":
			fastjson.String(d, &v.Type)
		case "major":
			fastjson.Int(d, &v.Major)
		case "minor":
			fastjson.Int(d, &v.Minor)
		case "fileMode": // os.FileMode is a uint32, decoded as a number
			fastjson.Ptr(d, &v.FileMode, fastjson.Uint)
		case "uid":
			fastjson.Ptr(d, &v.UID, fastjson.Uint[uint32])
		case "gid":
			fastjson.Ptr(d, &v.GID, fastjson.Uint[uint32])
		default:
			d.Unknown(k, deviceFields)
		}
	}
}

var netDeviceFields = []string{"name"}

func fdNetDevice(d *fastjson.Decoder, n *rspec.LinuxNetDevice) {
	if d.Null() {
		return
	}
	for more := d.ObjStart(); more; more = d.ObjNext() {
		switch k := d.Key(); k {
		case "name":
			fastjson.String(d, &n.Name)
		default:
			d.Unknown(k, netDeviceFields)
		}
	}
}

var timeOffsetFields = []string{"secs", "nanosecs"}

func fdTimeOffset(d *fastjson.Decoder, t *rspec.LinuxTimeOffset) {
	if d.Null() {
		return
	}
	for more := d.ObjStart(); more; more = d.ObjNext() {
		switch k := d.Key(); k {
		case "secs":
			fastjson.Int(d, &t.Secs)
		case "nanosecs":
			fastjson.Uint(d, &t.Nanosecs)
		default:
			d.Unknown(k, timeOffsetFields)
		}
	}
}

var personalityFields = []string{"domain", "flags"}

func fdPersonality(d *fastjson.Decoder, p *rspec.LinuxPersonality) {
	if d.Null() {
		return
	}
	for more := d.ObjStart(); more; more = d.ObjNext() {
		switch k := d.Key(); k {
		case "domain":
			fastjson.String(d, &p.Domain)
		case "flags":
			fastjson.Slice(d, &p.Flags, fastjson.String[rspec.LinuxPersonalityFlag])
		default:
			d.Unknown(k, personalityFields)
		}
	}
}

var intelRdtFields = []string{"closID", "schemata", "l3CacheSchema", "memBwSchema", "enableMonitoring"}

func fdIntelRdt(d *fastjson.Decoder, r *rspec.LinuxIntelRdt) {
	if d.Null() {
		return
	}
	for more := d.ObjStart(); more; more = d.ObjNext() {
		switch k := d.Key(); k {
		case "closID":
			fastjson.String(d, &r.ClosID)
		case "schemata":
			fastjson.Slice(d, &r.Schemata, fastjson.String[string])
		case "l3CacheSchema":
			fastjson.String(d, &r.L3CacheSchema)
		case "memBwSchema":
			fastjson.String(d, &r.MemBwSchema)
		case "enableMonitoring":
			fastjson.Bool(d, &r.EnableMonitoring)
		default:
			d.Unknown(k, intelRdtFields)
		}
	}
}

var memoryPolicyFields = []string{"mode", "nodes", "flags"}

func fdMemoryPolicy(d *fastjson.Decoder, p *rspec.LinuxMemoryPolicy) {
	if d.Null() {
		return
	}
	for more := d.ObjStart(); more; more = d.ObjNext() {
		switch k := d.Key(); k {
		case "mode":
			fastjson.String(d, &p.Mode)
		case "nodes":
			fastjson.String(d, &p.Nodes)
		case "flags":
			fastjson.Slice(d, &p.Flags, fastjson.String[rspec.MemoryPolicyFlagType])
		default:
			d.Unknown(k, memoryPolicyFields)
		}
	}
}

// Seccomp.

var seccompFields = []string{"defaultAction", "defaultErrnoRet", "architectures", "flags", "listenerPath",
	"listenerMetadata", "syscalls"}

func fdSeccomp(d *fastjson.Decoder, s *rspec.LinuxSeccomp) {
	if d.Null() {
		return
	}
	for more := d.ObjStart(); more; more = d.ObjNext() {
		switch k := d.Key(); k {
		case "defaultAction":
			fastjson.String(d, &s.DefaultAction)
		case "defaultErrnoRet":
			fastjson.Ptr(d, &s.DefaultErrnoRet, fastjson.Uint[uint])
		case "architectures":
			fastjson.Slice(d, &s.Architectures, fastjson.String[rspec.Arch])
		case "flags":
			fastjson.Slice(d, &s.Flags, fastjson.String[rspec.LinuxSeccompFlag])
		case "listenerPath":
			fastjson.String(d, &s.ListenerPath)
		case "listenerMetadata":
			fastjson.String(d, &s.ListenerMetadata)
		case "syscalls":
			fastjson.Slice(d, &s.Syscalls, fdSyscall)
		default:
			d.Unknown(k, seccompFields)
		}
	}
}

var syscallFields = []string{"names", "action", "errnoRet", "args"}

func fdSyscall(d *fastjson.Decoder, s *rspec.LinuxSyscall) {
	if d.Null() {
		return
	}
	for more := d.ObjStart(); more; more = d.ObjNext() {
		switch k := d.Key(); k {
		case "names":
			fastjson.Slice(d, &s.Names, fastjson.String[string])
		case "action":
			fastjson.String(d, &s.Action)
		case "errnoRet":
			fastjson.Ptr(d, &s.ErrnoRet, fastjson.Uint[uint])
		case "args":
			fastjson.Slice(d, &s.Args, fdSeccompArg)
		default:
			d.Unknown(k, syscallFields)
		}
	}
}

var seccompArgFields = []string{"index", "value", "valueTwo", "op"}

func fdSeccompArg(d *fastjson.Decoder, a *rspec.LinuxSeccompArg) {
	if d.Null() {
		return
	}
	for more := d.ObjStart(); more; more = d.ObjNext() {
		switch k := d.Key(); k {
		case "index":
			fastjson.Uint(d, &a.Index)
		case "value":
			fastjson.Uint(d, &a.Value)
		case "valueTwo":
			fastjson.Uint(d, &a.ValueTwo)
		case "op":
			fastjson.String(d, &a.Op)
		default:
			d.Unknown(k, seccompArgFields)
		}
	}
}

// Resources (cgroups).

var resourcesFields = []string{"devices", "memory", "cpu", "pids", "blockIO", "hugepageLimits", "network", "rdma",
	"unified"}

func fdResources(d *fastjson.Decoder, r *rspec.LinuxResources) {
	if d.Null() {
		return
	}
	for more := d.ObjStart(); more; more = d.ObjNext() {
		switch k := d.Key(); k {
		case "devices":
			fastjson.Slice(d, &r.Devices, fdDeviceCgroup)
		case "memory":
			fastjson.Ptr(d, &r.Memory, fdMemory)
		case "cpu":
			fastjson.Ptr(d, &r.CPU, fdCPU)
		case "pids":
			fastjson.Ptr(d, &r.Pids, fdPids)
		case "blockIO":
			fastjson.Ptr(d, &r.BlockIO, fdBlockIO)
		case "hugepageLimits":
			fastjson.Slice(d, &r.HugepageLimits, fdHugepageLimit)
		case "network":
			fastjson.Ptr(d, &r.Network, fdNetwork)
		case "rdma":
			fastjson.Map(d, &r.Rdma, fdRdma)
		case "unified":
			fastjson.Map(d, &r.Unified, fastjson.String[string])
		default:
			d.Unknown(k, resourcesFields)
		}
	}
}

var deviceCgroupFields = []string{"allow", "type", "major", "minor", "access"}

func fdDeviceCgroup(d *fastjson.Decoder, c *rspec.LinuxDeviceCgroup) {
	if d.Null() {
		return
	}
	for more := d.ObjStart(); more; more = d.ObjNext() {
		switch k := d.Key(); k {
		case "allow":
			fastjson.Bool(d, &c.Allow)
		case "type":
			fastjson.String(d, &c.Type)
		case "major":
			fastjson.Ptr(d, &c.Major, fastjson.Int[int64])
		case "minor":
			fastjson.Ptr(d, &c.Minor, fastjson.Int[int64])
		case "access":
			fastjson.String(d, &c.Access)
		default:
			d.Unknown(k, deviceCgroupFields)
		}
	}
}

var memoryFields = []string{"limit", "reservation", "swap", "kernel", "kernelTCP", "swappiness", "disableOOMKiller",
	"useHierarchy", "checkBeforeUpdate"}

func fdMemory(d *fastjson.Decoder, m *rspec.LinuxMemory) {
	if d.Null() {
		return
	}
	for more := d.ObjStart(); more; more = d.ObjNext() {
		switch k := d.Key(); k {
		case "limit":
			fastjson.Ptr(d, &m.Limit, fastjson.Int[int64])
		case "reservation":
			fastjson.Ptr(d, &m.Reservation, fastjson.Int[int64])
		case "swap":
			fastjson.Ptr(d, &m.Swap, fastjson.Int[int64])
		case "kernel":
			fastjson.Ptr(d, &m.Kernel, fastjson.Int[int64]) // deprecated, but encoding/json decodes it
		case "kernelTCP":
			fastjson.Ptr(d, &m.KernelTCP, fastjson.Int[int64])
		case "swappiness":
			fastjson.Ptr(d, &m.Swappiness, fastjson.Uint[uint64])
		case "disableOOMKiller":
			fastjson.Ptr(d, &m.DisableOOMKiller, fastjson.Bool)
		case "useHierarchy":
			fastjson.Ptr(d, &m.UseHierarchy, fastjson.Bool)
		case "checkBeforeUpdate":
			fastjson.Ptr(d, &m.CheckBeforeUpdate, fastjson.Bool)
		default:
			d.Unknown(k, memoryFields)
		}
	}
}

var cpuFields = []string{"shares", "quota", "burst", "period", "realtimeRuntime", "realtimePeriod", "cpus", "mems",
	"idle"}

func fdCPU(d *fastjson.Decoder, c *rspec.LinuxCPU) {
	if d.Null() {
		return
	}
	for more := d.ObjStart(); more; more = d.ObjNext() {
		switch k := d.Key(); k {
		case "shares":
			fastjson.Ptr(d, &c.Shares, fastjson.Uint[uint64])
		case "quota":
			fastjson.Ptr(d, &c.Quota, fastjson.Int[int64])
		case "burst":
			fastjson.Ptr(d, &c.Burst, fastjson.Uint[uint64])
		case "period":
			fastjson.Ptr(d, &c.Period, fastjson.Uint[uint64])
		case "realtimeRuntime":
			fastjson.Ptr(d, &c.RealtimeRuntime, fastjson.Int[int64])
		case "realtimePeriod":
			fastjson.Ptr(d, &c.RealtimePeriod, fastjson.Uint[uint64])
		case "cpus":
			fastjson.String(d, &c.Cpus)
		case "mems":
			fastjson.String(d, &c.Mems)
		case "idle":
			fastjson.Ptr(d, &c.Idle, fastjson.Int[int64])
		default:
			d.Unknown(k, cpuFields)
		}
	}
}

var pidsFields = []string{"limit"}

func fdPids(d *fastjson.Decoder, p *rspec.LinuxPids) {
	if d.Null() {
		return
	}
	for more := d.ObjStart(); more; more = d.ObjNext() {
		switch k := d.Key(); k {
		case "limit":
			fastjson.Ptr(d, &p.Limit, fastjson.Int[int64])
		default:
			d.Unknown(k, pidsFields)
		}
	}
}

var blockIOFields = []string{"weight", "leafWeight", "weightDevice", "throttleReadBpsDevice", "throttleWriteBpsDevice",
	"throttleReadIOPSDevice", "throttleWriteIOPSDevice"}

func fdBlockIO(d *fastjson.Decoder, b *rspec.LinuxBlockIO) {
	if d.Null() {
		return
	}
	for more := d.ObjStart(); more; more = d.ObjNext() {
		switch k := d.Key(); k {
		case "weight":
			fastjson.Ptr(d, &b.Weight, fastjson.Uint[uint16])
		case "leafWeight":
			fastjson.Ptr(d, &b.LeafWeight, fastjson.Uint[uint16])
		case "weightDevice":
			fastjson.Slice(d, &b.WeightDevice, fdWeightDevice)
		case "throttleReadBpsDevice":
			fastjson.Slice(d, &b.ThrottleReadBpsDevice, fdThrottleDevice)
		case "throttleWriteBpsDevice":
			fastjson.Slice(d, &b.ThrottleWriteBpsDevice, fdThrottleDevice)
		case "throttleReadIOPSDevice":
			fastjson.Slice(d, &b.ThrottleReadIOPSDevice, fdThrottleDevice)
		case "throttleWriteIOPSDevice":
			fastjson.Slice(d, &b.ThrottleWriteIOPSDevice, fdThrottleDevice)
		default:
			d.Unknown(k, blockIOFields)
		}
	}
}

// major and minor are promoted from the embedded LinuxBlockIODevice;
// encoding/json treats them as the struct's own fields.
var weightDeviceFields = []string{"major", "minor", "weight", "leafWeight"}

func fdWeightDevice(d *fastjson.Decoder, w *rspec.LinuxWeightDevice) {
	if d.Null() {
		return
	}
	for more := d.ObjStart(); more; more = d.ObjNext() {
		switch k := d.Key(); k {
		case "major":
			fastjson.Int(d, &w.Major)
		case "minor":
			fastjson.Int(d, &w.Minor)
		case "weight":
			fastjson.Ptr(d, &w.Weight, fastjson.Uint[uint16])
		case "leafWeight":
			fastjson.Ptr(d, &w.LeafWeight, fastjson.Uint[uint16])
		default:
			d.Unknown(k, weightDeviceFields)
		}
	}
}

var throttleDeviceFields = []string{"major", "minor", "rate"}

func fdThrottleDevice(d *fastjson.Decoder, t *rspec.LinuxThrottleDevice) {
	if d.Null() {
		return
	}
	for more := d.ObjStart(); more; more = d.ObjNext() {
		switch k := d.Key(); k {
		case "major":
			fastjson.Int(d, &t.Major)
		case "minor":
			fastjson.Int(d, &t.Minor)
		case "rate":
			fastjson.Uint(d, &t.Rate)
		default:
			d.Unknown(k, throttleDeviceFields)
		}
	}
}

var hugepageLimitFields = []string{"pageSize", "limit"}

func fdHugepageLimit(d *fastjson.Decoder, h *rspec.LinuxHugepageLimit) {
	if d.Null() {
		return
	}
	for more := d.ObjStart(); more; more = d.ObjNext() {
		switch k := d.Key(); k {
		case "pageSize":
			fastjson.String(d, &h.Pagesize)
		case "limit":
			fastjson.Uint(d, &h.Limit)
		default:
			d.Unknown(k, hugepageLimitFields)
		}
	}
}

var networkFields = []string{"classID", "priorities"}

func fdNetwork(d *fastjson.Decoder, n *rspec.LinuxNetwork) {
	if d.Null() {
		return
	}
	for more := d.ObjStart(); more; more = d.ObjNext() {
		switch k := d.Key(); k {
		case "classID":
			fastjson.Ptr(d, &n.ClassID, fastjson.Uint[uint32])
		case "priorities":
			fastjson.Slice(d, &n.Priorities, fdInterfacePriority)
		default:
			d.Unknown(k, networkFields)
		}
	}
}

var interfacePriorityFields = []string{"name", "priority"}

func fdInterfacePriority(d *fastjson.Decoder, p *rspec.LinuxInterfacePriority) {
	if d.Null() {
		return
	}
	for more := d.ObjStart(); more; more = d.ObjNext() {
		switch k := d.Key(); k {
		case "name":
			fastjson.String(d, &p.Name)
		case "priority":
			fastjson.Uint(d, &p.Priority)
		default:
			d.Unknown(k, interfacePriorityFields)
		}
	}
}

var rdmaFields = []string{"hcaHandles", "hcaObjects"}

func fdRdma(d *fastjson.Decoder, r *rspec.LinuxRdma) {
	if d.Null() {
		return
	}
	for more := d.ObjStart(); more; more = d.ObjNext() {
		switch k := d.Key(); k {
		case "hcaHandles":
			fastjson.Ptr(d, &r.HcaHandles, fastjson.Uint[uint32])
		case "hcaObjects":
			fastjson.Ptr(d, &r.HcaObjects, fastjson.Uint[uint32])
		default:
			d.Unknown(k, rdmaFields)
		}
	}
}
