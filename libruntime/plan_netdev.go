package libruntime

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/husk-runtime/husk/libruntime/initproc"
)

// resctrlSchemata is what a mounted resctrl filesystem (Intel RDT) has.
const resctrlSchemata = "/sys/fs/resctrl/schemata"

// intelRdt refuses linux.intelRdt, as runc refuses it without resctrl:
// husk does not implement Intel RDT (README, known limits), and running
// the container without the cache or memory bandwidth allocation it asks
// for would be silently wrong.
func (p *planner) intelRdt() error {
	if p.spec.Linux == nil || p.spec.Linux.IntelRdt == nil {
		return nil
	}
	if !p.host.exists(resctrlSchemata) {
		return errors.New("linux.intelRdt: Intel RDT is not enabled on this host (no resctrl filesystem at /sys/fs/resctrl)")
	}
	return errors.New("linux.intelRdt: Intel RDT is not supported by husk")
}

// network brings up the loopback device of a new network namespace, as
// runc does, then has husk-init wait, in the container's network
// namespace, while husk moves linux.netDevices there (moveNetDevices).
// As with runc, devices need a network namespace (a new one or one to
// join) and root.
func (p *planner) network() error {
	if found, joined := hasNamespace(p.spec, rspec.NetworkNamespace); found && !joined {
		p.add("linux.namespaces (network)", initproc.LoopbackUp{})
	}
	if p.spec.Linux == nil || len(p.spec.Linux.NetDevices) == 0 {
		return nil
	}
	if found, _ := hasNamespace(p.spec, rspec.NetworkNamespace); !found {
		return errors.New("linux.netDevices: needs a network namespace to move the devices to (linux.namespaces has none)")
	}
	if p.rootless {
		return errors.New("linux.netDevices: moving network devices needs root")
	}
	newNames := map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(p.spec.Linux.NetDevices)) {
		field := fmt.Sprintf("linux.netDevices[%q]", name)
		if !validIfName(name) {
			return fmt.Errorf("%s: invalid network device name", field)
		}
		to := p.spec.Linux.NetDevices[name].Name
		if to != "" && !validIfName(to) {
			return fmt.Errorf("%s.name: invalid network device name %q", field, to)
		}
		if to == "" {
			to = name
		}
		if other, dup := newNames[to]; dup {
			return fmt.Errorf("%s: %q and %q would both be named %q in the container", field, other, name, to)
		}
		newNames[to] = name
	}
	p.add("linux.netDevices", initproc.WaitParent{Kind: waitNetdev})
	return nil
}

// validIfName is a name the kernel takes for a network device: 1 to 15
// bytes, not "." or "..", without "/", ":" or whitespace.
func validIfName(name string) bool {
	if name == "" || len(name) > 15 || name == "." || name == ".." {
		return false
	}
	return !strings.ContainsAny(name, "/: \t\n")
}
