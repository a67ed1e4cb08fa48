package systemd

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/husk-runtime/husk/cgroups"
)

// Options are what the driver needs besides the container.
type Options struct {
	// Connect opens systemd's bus; called at most once per Manager
	// operation that needs systemd (create, update, delete).
	Connect Connector
	// Warnf receives what systemd cannot express (nil: dropped).
	Warnf func(format string, args ...any)
	// ProcDevices reads /proc/devices (nil: the real one).
	ProcDevices func() (string, error)
}

// Manager places one container in a systemd unit. It embeds the cgroupfs
// manager of the unit's directories for everything that needs no systemd.
// It is not safe for concurrent use.
type Manager struct {
	*cgroups.Manager
	h       *cgroups.Hierarchy
	unit    Unit
	id      string
	paths   map[string]string
	created []string
	opts    Options

	// started: the unit exists (it holds the container's init).
	started bool
	// res and props are what Create computed, for the start in AddProc.
	res   *rspec.LinuxResources
	props []Property
	bus   Bus
}

// New resolves the container's unit and directories, touching nothing.
func New(h *cgroups.Hierarchy, cgroupsPath, id string, opts Options) (*Manager, error) {
	if opts.Connect == nil {
		return nil, errors.New("systemd cgroup driver: no way to reach systemd")
	}
	u, err := ParsePath(cgroupsPath, id)
	if err != nil {
		return nil, err
	}
	paths, err := Paths(h, u)
	if err != nil {
		return nil, err
	}
	m := &Manager{h: h, unit: u, id: id, paths: paths, opts: opts}
	m.Manager = cgroups.Load(h, m.State())
	return m, nil
}

// Load rebuilds the Manager of an existing container from its State.
func Load(h *cgroups.Hierarchy, st cgroups.State, opts Options) *Manager {
	m := &Manager{
		h: h, unit: Unit{Name: st.Unit}, paths: maps.Clone(st.Paths), created: slices.Clone(st.Created),
		opts: opts, started: true,
	}
	m.Manager = cgroups.Load(h, st)
	return m
}

// Unit returns the container's unit.
func (m *Manager) Unit() Unit { return m.unit }

// State returns what must be persisted to Load this Manager later.
func (m *Manager) State() cgroups.State {
	return cgroups.State{Paths: maps.Clone(m.paths), Created: slices.Clone(m.created), Unit: m.unit.Name}
}

// Intent is the State to record before Create: the unit, and the
// container's directories, which `delete --force` removes (if systemd has
// not) after stopping the unit.
func (m *Manager) Intent() cgroups.State {
	st := m.State()
	st.Created = m.leafDirs()
	return st
}

func (m *Manager) leafDirs() []string {
	dirs := slices.Collect(maps.Values(m.paths))
	slices.Sort(dirs)
	return slices.Compact(dirs)
}

// Create reaches systemd and works out the unit's properties, so that
// every error (no systemd, a resource it refuses to convert) comes before
// the container's init exists. The unit itself needs a process: AddProc
// starts it.
func (m *Manager) Create(r *rspec.LinuxResources) error {
	if os.Geteuid() != 0 {
		return errors.New("systemd cgroup driver: needs root (systemd user instances are not supported)")
	}
	if r != nil && len(r.Unified) > 0 && m.h.Unified == "" {
		return errors.New("linux.resources.unified: requires cgroup v2, but this host mounts only cgroup v1")
	}
	bus, err := m.connect()
	if err != nil {
		return err
	}
	conv := m.converter(bus)
	start, err := conv.startOnlyProperties(r)
	if err != nil {
		return err
	}
	props, res, err := conv.resourceProperties(r)
	if err != nil {
		return err
	}
	m.props = append(start, props...)
	m.res = res
	return nil
}

// Apply sets the resources of a unit that exists; before that (during
// create) Create's conversion is what AddProc uses.
func (m *Manager) Apply(r *rspec.LinuxResources) error {
	if !m.started {
		return nil
	}
	return m.Update(r)
}

// AddProc starts the unit with pid as its process during create, and
// afterwards (exec) moves pid into the container's directories.
func (m *Manager) AddProc(pid int) error {
	if m.started {
		return m.Manager.AddProc(pid)
	}
	defer m.closeBus()
	bus, err := m.connect()
	if err != nil {
		return err
	}
	props := append(baseProperties(m.unit, m.id, pid, m.h.Mode() == cgroups.Unified), m.props...)
	err = bus.StartTransientUnit(m.unit.Name, props)
	if errors.Is(err, ErrUnitExists) {
		// A failed unit of an earlier container of that name lingers
		// until reset; an active one belongs to someone else.
		if rerr := bus.ResetFailedUnit(m.unit.Name); rerr == nil {
			err = bus.StartTransientUnit(m.unit.Name, props)
		}
	}
	if errors.Is(err, ErrUnitExists) {
		// Someone else's: Destroy must leave it alone.
		return fmt.Errorf("linux.cgroupsPath: systemd unit %s already exists: husk only uses units it creates (choose another name)", m.unit.Name)
	}
	// From here on the unit may exist (a job that failed or timed out
	// can leave it behind): Destroy stops it and removes its directories.
	m.started = true
	m.created = m.leafDirs()
	m.Manager = cgroups.Load(m.h, m.State())
	if err != nil {
		return fmt.Errorf("linux.cgroupsPath: start systemd unit %s in %s: %w", m.unit.Name, m.unit.Slice, err)
	}
	if err := m.joinMissing(pid); err != nil {
		return err
	}
	if err := m.Manager.Apply(m.res); err != nil {
		return err
	}
	return nil
}

// joinMissing makes the container's directories that systemd did not (v1
// hierarchies it does not manage: cpuset, freezer, net_cls, perf_event,
// hugetlb, ...) and moves pid into them, as runc does.
func (m *Manager) joinMissing(pid int) error {
	missing := map[string]string{}
	for k, d := range m.paths {
		if _, err := os.Stat(d); errors.Is(err, os.ErrNotExist) {
			missing[k] = d
		}
	}
	if len(missing) == 0 {
		return nil
	}
	own := cgroups.Load(m.h, cgroups.State{Paths: missing})
	err := own.Create(m.res)
	// Whatever Create made (parents too) is the container's to remove.
	for _, d := range own.State().Created {
		if !slices.Contains(m.created, d) {
			m.created = append(m.created, d)
		}
	}
	m.Manager = cgroups.Load(m.h, m.State())
	if err != nil {
		return err
	}
	return own.AddProc(pid)
}

// Update changes the unit's properties, then writes the resources through
// the cgroupfs. Device rules stay as create set them: runc's update leaves
// them alone too (and systemd would rewrite a v1 devices cgroup starting
// with "deny all").
func (m *Manager) Update(r *rspec.LinuxResources) error {
	if r == nil {
		return nil
	}
	if len(r.Devices) > 0 {
		cp := *r
		cp.Devices = nil
		r = &cp
	}
	defer m.closeBus()
	bus, err := m.connect()
	if err != nil {
		return err
	}
	props, res, err := m.converter(bus).resourceProperties(r)
	if err != nil {
		return err
	}
	if len(props) > 0 {
		if err := bus.SetUnitProperties(m.unit.Name, props); err != nil {
			return fmt.Errorf("set properties of systemd unit %s: %w", m.unit.Name, err)
		}
	}
	return m.Manager.Update(res)
}

// Destroy stops the unit (systemd kills what is left in it and removes
// its directories), then removes whatever directories of the container
// remain. A unit systemd no longer knows (the container exited and
// systemd collected it) is no error. A create that failed before the
// unit was asked for has nothing to stop.
func (m *Manager) Destroy() error {
	defer m.closeBus()
	if !m.started {
		return nil
	}
	var stopErr error
	if bus, err := m.connect(); err != nil {
		stopErr = err
	} else if err := bus.StopUnit(m.unit.Name); err != nil {
		stopErr = fmt.Errorf("stop systemd unit %s: %w", m.unit.Name, err)
	} else {
		// A unit that failed (its init was killed) stays listed until reset.
		_ = bus.ResetFailedUnit(m.unit.Name)
	}
	fsErr := m.Manager.Destroy()
	m.created = m.Manager.State().Created
	return errors.Join(stopErr, fsErr)
}

func (m *Manager) connect() (Bus, error) {
	if m.bus != nil {
		return m.bus, nil
	}
	bus, err := m.opts.Connect()
	if err != nil {
		return nil, fmt.Errorf("systemd cgroup driver: %w", err)
	}
	m.bus = bus
	return bus, nil
}

func (m *Manager) closeBus() {
	if m.bus != nil {
		m.bus.Close()
		m.bus = nil
	}
}

func (m *Manager) converter(bus Bus) *converter {
	warnf := m.opts.Warnf
	if warnf == nil {
		warnf = func(string, ...any) {}
	}
	read := m.opts.ProcDevices
	if read == nil {
		read = func() (string, error) {
			b, err := os.ReadFile("/proc/devices")
			return string(b), err
		}
	}
	var devices *string
	return &converter{
		unified: m.h.Mode() == cgroups.Unified,
		version: bus.Version(),
		warnf:   warnf,
		deviceGroup: func(typ byte, major int64) (string, error) {
			if devices == nil {
				s, err := read()
				if err != nil {
					return "", fmt.Errorf("linux.resources.devices: %w", err)
				}
				devices = &s
			}
			return deviceGroupIn(*devices, typ, major), nil
		},
	}
}
