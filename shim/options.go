package shim

import (
	"fmt"
	"strings"

	"github.com/containerd/containerd/api/types/runc/options"
	runtimeoptions "github.com/containerd/containerd/api/types/runtimeoptions/v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/husk-runtime/husk/shim/backend"
	"github.com/husk-runtime/husk/shim/launch"
)

// runtimeOptions is what the shim takes from containerd's runtime options.
// Existing containerd configurations keep working unchanged: they carry
// runc's options (containerd.runc.v1.Options, e.g. from dockerd or a CRI
// runtime with options.BinaryName), or the CRI plugin's generic ones for
// a runtime it does not know (runtimeoptions.v1.Options).
type runtimeOptions struct {
	// SystemdCgroup: the systemd cgroup driver (runc's SystemdCgroup, as
	// kubeadm configures containerd); ConfigPath: the CRI plugin's
	// runtime configuration file.
	backend.Options
	// ignored names what was given and has no meaning for husk, for the
	// log.
	ignored []string
}

// parseOptions decodes CreateTaskRequest.Options. Any other type is an
// error: a configuration meant for another shim should not run silently.
func parseOptions(a *anypb.Any, runtime string) (*runtimeOptions, error) {
	o := &runtimeOptions{}
	if a == nil || (a.TypeUrl == "" && len(a.Value) == 0) {
		return o, nil
	}
	name := a.TypeUrl[strings.LastIndexByte(a.TypeUrl, '/')+1:]
	switch name {
	case "containerd.runc.v1.Options":
		var ro options.Options
		if err := proto.Unmarshal(a.Value, &ro); err != nil {
			return nil, fmt.Errorf("runtime options %s: %w", name, err)
		}
		o.NoPivotRoot, o.NoNewKeyring, o.SystemdCgroup = ro.NoPivotRoot, ro.NoNewKeyring, ro.SystemdCgroup
		for _, f := range []struct {
			set  bool
			what string
		}{
			{ro.BinaryName != "", "BinaryName=" + ro.BinaryName + " (husk runs containers in-process)"},
			{ro.Root != "", "Root=" + ro.Root + " (husk keeps its state in containerd's state directory)"},
			{ro.ShimCgroup != "", "ShimCgroup=" + ro.ShimCgroup},
			{ro.IoUid != 0 || ro.IoGid != 0, "IoUid/IoGid (the FIFOs are passed as they are)"},
			{ro.CriuImagePath != "" || ro.CriuWorkPath != "", "Criu* (no checkpoint/restore)"},
		} {
			if f.set {
				o.ignored = append(o.ignored, f.what)
			}
		}
	case "runtimeoptions.v1.Options":
		var ro runtimeoptions.Options
		if err := proto.Unmarshal(a.Value, &ro); err != nil {
			return nil, fmt.Errorf("runtime options %s: %w", name, err)
		}
		o.ConfigPath = ro.ConfigPath
		if o.ConfigPath != "" && runtime != launch.VMRuntimeName {
			o.ignored = append(o.ignored, "ConfigPath="+ro.ConfigPath+" (the container class has no configuration file)")
		}
	default:
		return nil, fmt.Errorf("runtime options of type %q are not husk's: %s takes containerd.runc.v1.Options or runtimeoptions.v1.Options", a.TypeUrl, runtime)
	}
	return o, nil
}
