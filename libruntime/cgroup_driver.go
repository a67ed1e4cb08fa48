package libruntime

import (
	"errors"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/cgroups"
	"github.com/husk-runtime/husk/cgroups/systemd"
)

// cgroupManager is a container's cgroups as create, exec, delete and the
// management commands use them, whichever driver placed the container:
// *cgroups.Manager (cgroupfs, the default) or *systemd.Manager.
//
// Create and Apply run before the container's init exists, AddProc once
// it does; a driver whose cgroup only comes into being with its first
// process (systemd's scope) makes it in AddProc, with the resources
// Create was given.
type cgroupManager interface {
	Intent() cgroups.State
	State() cgroups.State
	Create(r *rspec.LinuxResources) error
	Apply(r *rspec.LinuxResources) error
	AddProc(pid int) error
	AddProcSub(pid int, sub map[string]string) error
	Update(r *rspec.LinuxResources) error
	Destroy() error
	Freeze() error
	Thaw() error
	Frozen() (bool, error)
	KillAll() error
	Signal(sig unix.Signal) (int, error)
	Pids() ([]int, error)
	Stats() (*cgroups.Stats, error)
	OOMKillCount() (uint64, error)
}

// WithSystemdBus makes the systemd cgroup driver available: containers
// created with CreateOpts.SystemdCgroup, and those loaded from a state
// that names a systemd unit, reach systemd through connect. Connecting
// happens only when such a container needs systemd.
func WithSystemdBus(connect systemd.Connector) Option {
	return func(r *Runtime) { r.systemd = connect }
}

// errNoSystemdBus is the error of a Runtime without WithSystemdBus asked
// for the systemd driver.
var errNoSystemdBus = errors.New("this program was built without a way to reach systemd")

func (r *Runtime) systemdOptions() systemd.Options {
	connect := r.systemd
	if connect == nil {
		connect = func() (systemd.Bus, error) {
			return nil, errNoSystemdBus
		}
	}
	return systemd.Options{Connect: connect, Warnf: r.log.Warnf}
}

// newCgroup resolves where a new container's cgroups go.
func (r *Runtime) newCgroup(h *cgroups.Hierarchy, cgroupsPath, id string, useSystemd bool) (cgroupManager, error) {
	if useSystemd {
		return systemd.New(h, cgroupsPath, id, r.systemdOptions())
	}
	return cgroups.New(h, cgroupsPath, id)
}

// loadCgroup rebuilds the manager that placed an existing container.
func (r *Runtime) loadCgroup(h *cgroups.Hierarchy, st cgroups.State) cgroupManager {
	if st.Unit != "" {
		return systemd.Load(h, st, r.systemdOptions())
	}
	return cgroups.Load(h, st)
}
