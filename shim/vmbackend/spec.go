package vmbackend

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/husk-runtime/husk/vm/podnet"
)

// netnsPath is the network namespace containerd made for the pod (and
// ran CNI in): the sandbox's network namespace path ("" if none: a plain
// `ctr run`, or a host-network pod, gets no network device).
func netnsPath(spec *rspec.Spec) string {
	if spec.Linux == nil {
		return ""
	}
	for _, ns := range spec.Linux.Namespaces {
		if ns.Type == rspec.NetworkNamespace && ns.Path != "" && !strings.HasPrefix(ns.Path, "/proc/") {
			return ns.Path
		}
	}
	return ""
}

// guestNamespaces rewrites a pod container's namespaces for the guest:
//   - network: none of its own (the guest's, which has the pod's
//     interfaces and its lo, is shared by the pod's containers, as the
//     pod's namespace on the host is);
//   - a path /proc/<podPid>/ns/<type> (podPid is what containerd knows
//     as the pod's pid: the CRI plugin makes the pod's containers join the
//     sandbox's ipc, uts and maybe pid namespaces this way): the
//     sandbox's namespace in the guest, /proc/<sandboxPid>/ns/<type>;
//   - any other path names something of the host's, which the guest
//     cannot join: refused.
func guestNamespaces(spec *rspec.Spec, podPid, sandboxPid int) error {
	if spec.Linux == nil {
		return nil
	}
	prefix := "/proc/" + strconv.Itoa(podPid) + "/ns/"
	var out []rspec.LinuxNamespace
	for i, ns := range spec.Linux.Namespaces {
		switch {
		case ns.Type == rspec.NetworkNamespace:
			continue
		case ns.Path == "":
		case podPid > 0 && sandboxPid > 0 && strings.HasPrefix(ns.Path, prefix):
			kind := strings.TrimPrefix(ns.Path, prefix)
			if !validNSKind(kind) {
				return fmt.Errorf("config.json: linux.namespaces[%d]: %s: not a namespace", i, ns.Path)
			}
			ns.Path = "/proc/" + strconv.Itoa(sandboxPid) + "/ns/" + kind
		default:
			return fmt.Errorf("config.json: linux.namespaces[%d]: %s: only the pod's sandbox's namespaces can be joined in a VM", i, ns.Path)
		}
		out = append(out, ns)
	}
	l := *spec.Linux
	l.Namespaces = out
	spec.Linux = &l
	return nil
}

func validNSKind(k string) bool {
	switch k {
	case "ipc", "uts", "pid", "mnt", "cgroup", "user", "time":
		return true
	}
	return false
}

// resolvConf is the resolv.conf the CRI plugin gives the pod's
// containers (a bind mount of /etc/resolv.conf), for the guest's own; nil
// if there is none.
func resolvConf(spec *rspec.Spec, bundle string) []byte {
	for _, m := range spec.Mounts {
		if m.Destination != "/etc/resolv.conf" || m.Source == "" {
			continue
		}
		src := m.Source
		if !filepath.IsAbs(src) {
			src = filepath.Join(bundle, src)
		}
		f, err := os.Open(src)
		if err != nil {
			return nil
		}
		defer f.Close()
		data, err := io.ReadAll(io.LimitReader(f, podnet.ResolvConfMax))
		if err != nil {
			return nil
		}
		return data
	}
	return nil
}

// netSysctls takes the net.* sysctls out of a pod container's config:
// they are the pod network namespace's, which is the guest's own, shared
// by the pod's containers (libruntime refuses them for a container
// without a network namespace of its own). The agent sets them.
func netSysctls(spec *rspec.Spec) map[string]string {
	if spec.Linux == nil || len(spec.Linux.Sysctl) == 0 {
		return nil
	}
	var net map[string]string
	rest := map[string]string{}
	for k, v := range spec.Linux.Sysctl {
		if strings.HasPrefix(k, "net.") {
			if net == nil {
				net = map[string]string{}
			}
			net[k] = v
			continue
		}
		rest[k] = v
	}
	l := *spec.Linux
	l.Sysctl = rest
	spec.Linux = &l
	return net
}
