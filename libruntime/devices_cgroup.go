package libruntime

import (
	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

func i64(v int64) *int64 { return &v }

// alwaysAllowed are the device cgroup rules every container gets after its
// configured ones and its default devices, as runc's default list:
// creating any node (the "m" rules), the ptys, /dev/ptmx and /dev/net/tun.
// Not /dev/console (5:1): a container's console is a pty (136:*).
var alwaysAllowed = []rspec.LinuxDeviceCgroup{
	{Allow: true, Type: "c", Access: "m"},
	{Allow: true, Type: "b", Access: "m"},
	{Allow: true, Type: "c", Major: i64(136), Access: "rwm"},
	{Allow: true, Type: "c", Major: i64(5), Minor: i64(2), Access: "rwm"},
	{Allow: true, Type: "c", Major: i64(10), Minor: i64(200), Access: "rwm"},
}

// resourcesWithDevices returns linux.resources with device rules that let
// the container use the device nodes husk makes for it: a config denying
// all devices still gets a working /dev/null.
func resourcesWithDevices(s *rspec.Spec, devs []containerDevice) *rspec.LinuxResources {
	var r rspec.LinuxResources
	if s.Linux != nil && s.Linux.Resources != nil {
		r = *s.Linux.Resources
	}
	rules := make([]rspec.LinuxDeviceCgroup, 0, len(r.Devices)+len(devs)+len(alwaysAllowed))
	rules = append(rules, r.Devices...)
	for _, cd := range devs {
		if cd.index >= 0 {
			continue // configured devices are governed by the configured rules
		}
		d := cd.dev
		rules = append(rules, rspec.LinuxDeviceCgroup{
			Allow: true, Type: d.Type, Major: i64(d.Major), Minor: i64(d.Minor), Access: "rwm",
		})
	}
	rules = append(rules, alwaysAllowed...)
	r.Devices = rules
	return &r
}

// kernelMemoryIgnored is the warning for linux.resources.memory.kernel
// and kernelTCP, which husk ignores as runc does (kernel memory limits
// are deprecated; Linux 5.16 and later refuse them).
const kernelMemoryIgnored = "linux.resources.memory.kernel and kernelTCP are ignored (kernel memory limits are obsolete)"

// setsKernelMemory reports whether r asks for a kernel memory limit.
func setsKernelMemory(r *rspec.LinuxResources) bool {
	// Kernel is deprecated in the runtime spec: read only to warn.
	return r != nil && r.Memory != nil && (r.Memory.Kernel != nil || r.Memory.KernelTCP != nil)
}
