package libruntime

import (
	"sort"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"

	"github.com/husk-runtime/husk/cgroups"
	"github.com/husk-runtime/husk/libruntime/seccomp"
	"github.com/husk-runtime/husk/nsutil"
	"github.com/husk-runtime/husk/specs"
)

// Features is the OCI features document (`husk features`): what this
// build of husk supports on this host.
func Features() *features.Features {
	yes, no := true, false
	f := &features.Features{
		OCIVersionMin: "1.0.0",
		OCIVersionMax: rspec.Version,
		Hooks:         []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"},
		MountOptions:  mountOptionNames(),
		Linux: &features.Linux{
			Capabilities: append([]string(nil), specs.Capabilities...),
			NetDevices:   &features.NetDevices{Enabled: &yes},
			Cgroup: &features.Cgroup{
				V1: &yes, V2: &yes, Systemd: &yes, SystemdUser: &no, Rdma: &yes,
			},
			Seccomp:  seccomp.Features(),
			Apparmor: &features.Apparmor{Enabled: &yes},
			Selinux:  &features.Selinux{Enabled: &yes},
			IntelRdt: &features.IntelRdt{Enabled: &no},
			MountExtensions: &features.MountExtensions{
				IDMap: &features.IDMap{Enabled: &yes},
			},
		},
		Annotations: map[string]string{
			"io.github.husk-runtime.init":         "husk-init (static C, sealed memfd)",
			"io.github.husk-runtime.seccomp":      "pure-Go BPF compiler",
			"io.github.husk-runtime.cgroups.mode": cgroupMode(),
		},
	}
	mp := &features.MemoryPolicy{}
	for _, m := range specs.MemoryPolicyModes {
		mp.Modes = append(mp.Modes, m.Name)
	}
	for _, fl := range specs.MemoryPolicyFlags {
		mp.Flags = append(mp.Flags, fl.Name)
	}
	f.Linux.MemoryPolicy = mp
	for _, t := range nsutil.JoinOrder {
		f.Linux.Namespaces = append(f.Linux.Namespaces, string(t))
	}
	sort.Strings(f.Linux.Namespaces)
	return f
}

func mountOptionNames() []string {
	out := knownMountOptions()
	sort.Strings(out)
	return out
}

func cgroupMode() string {
	h, err := cgroups.Detect()
	if err != nil {
		return "unknown"
	}
	return h.Mode().String()
}
