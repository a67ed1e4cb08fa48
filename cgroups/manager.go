package cgroups

import (
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// State is what the engine persists in the container's state.json and
// gives back to Load.
type State struct {
	// Paths maps each controller (v1 names, "name=systemd", and "unified"
	// for the cgroup2 directory) to the container's absolute cgroup dir.
	Paths map[string]string `json:"paths"`
	// Created lists the directories husk itself created, top-down; only
	// those may be removed.
	Created []string `json:"created"`
	// Unit is the systemd unit (a scope) holding the container when the
	// systemd driver placed it (cgroups/systemd); "" for the cgroupfs
	// driver. systemd made its directories; delete stops the unit.
	Unit string `json:"unit,omitempty"`
}

// Manager places one container in its cgroups. It is not safe for
// concurrent use.
type Manager struct {
	h       *Hierarchy
	paths   map[string]string
	created []string
	fs      cgfs
	// offered caches the cgroup2 root's cgroup.controllers on hybrid hosts,
	// read only when a resource has no v1 hierarchy.
	offered map[string]bool
}

// New resolves where the container's cgroup goes, touching nothing.
//
// cgroupsPath is linux.cgroupsPath from config.json: an absolute path is
// taken relative to each hierarchy's root, a relative path is joined to
// the calling process's own cgroup in that hierarchy (its parent on a
// cgroup v2 host), and empty means the relative path <id>, all as runc
// does. Paths containing ".." are rejected.
func New(h *Hierarchy, cgroupsPath, id string) (*Manager, error) {
	return newManager(h, cgroupsPath, id, readSelfCgroup, osFS{})
}

func newManager(h *Hierarchy, cgroupsPath, id string, self selfCgroupReader, fs cgfs) (*Manager, error) {
	paths, err := resolvePaths(h, cgroupsPath, id, self)
	if err != nil {
		return nil, err
	}
	return &Manager{h: h, paths: paths, fs: fs}, nil
}

// Load rebuilds the Manager of an existing container from its State.
func Load(h *Hierarchy, st State) *Manager {
	return loadManager(h, st, osFS{})
}

func loadManager(h *Hierarchy, st State, fs cgfs) *Manager {
	if h == nil {
		h = &Hierarchy{}
	}
	return &Manager{h: h, paths: maps.Clone(st.Paths), created: slices.Clone(st.Created), fs: fs}
}

// State returns what must be persisted to Load this Manager later.
func (m *Manager) State() State {
	return State{Paths: maps.Clone(m.paths), Created: slices.Clone(m.created)}
}

// Intent is the State to record before Create: the container directories
// that do not exist yet, which Create is about to make. If husk is killed
// while creating, `delete --force` removes them from this record; a
// directory that already existed is never listed (Create refuses it).
func (m *Manager) Intent() State {
	st := State{Paths: maps.Clone(m.paths)}
	for _, d := range m.dirs() {
		if !m.fs.exists(d) {
			st.Created = append(st.Created, d)
		}
	}
	return st
}

// dirs returns the container's distinct directories (co-mounted
// controllers share one), sorted.
func (m *Manager) dirs() []string {
	seen := make(map[string]bool, len(m.paths))
	var out []string
	for _, d := range m.paths {
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	slices.Sort(out)
	return out
}

// mountOf returns the mountpoint of the hierarchy holding dir.
func (m *Manager) mountOf(dir string) string {
	best := ""
	consider := func(mnt string) {
		if (dir == mnt || strings.HasPrefix(dir, mnt+"/")) && len(mnt) > len(best) {
			best = mnt
		}
	}
	for _, mnt := range m.h.V1 {
		consider(mnt)
	}
	if m.h.Unified != "" {
		consider(m.h.Unified)
	}
	return best
}

func (m *Manager) unifiedDir() string { return m.paths[unifiedKey] }

// hybrid reports whether the container spans v1 hierarchies and cgroup2.
func (m *Manager) hybrid() bool {
	_, ok := m.paths[unifiedKey]
	return ok && len(m.paths) > 1
}

// v2Offers reports whether cgroup2 can host controller ctrl. On a
// unified host every controller lives there (availability is checked by
// Create against the parent's cgroup.subtree_control); on a hybrid host
// only those the root lists in cgroup.controllers (not bound to v1).
func (m *Manager) v2Offers(ctrl string) bool {
	if _, ok := m.paths[unifiedKey]; !ok {
		return false
	}
	if !m.hybrid() {
		return true
	}
	if m.offered == nil {
		m.offered = map[string]bool{}
		if m.h.Unified != "" {
			if s, err := m.fs.readFile(m.h.Unified, "cgroup.controllers"); err == nil {
				for _, c := range strings.Fields(s) {
					m.offered[c] = true
				}
			}
		}
	}
	return m.offered[ctrl]
}

// locate finds where a controller's files are: its v1 hierarchy if mounted,
// else cgroup2 if that offers the v2 controller ("" = none).
func (m *Manager) locate(v1, v2 string) (dir string, isV2 bool, ok bool) {
	if d, found := m.paths[v1]; found && v1 != "" {
		return d, false, true
	}
	if v2 != "" && m.v2Offers(v2) {
		return m.unifiedDir(), true, true
	}
	return "", false, false
}

// Create makes the container's directories in every mounted hierarchy
// (v1 including named ones, and cgroup2), records which it created, makes
// new v1 cpusets usable, and on cgroup2 enables the needed controllers in
// the directories it created. A container directory that exists already
// is used, as runc uses it, if no process is in it (or below it) and it is
// not frozen; it is not recorded as created, so Destroy leaves it (husk
// removes only the cgroups it made). On error, whatever it created is
// removed again.
func (m *Manager) Create(r *rspec.LinuxResources) (err error) {
	var created []string
	defer func() {
		if err != nil {
			m.removeCreated(created)
		}
	}()
	createdIn := map[string][]string{} // container dir -> dirs created for it, top-down
	existing := map[string]bool{}
	for _, d := range m.dirs() {
		c, existed, err := m.mkdirAll(d, m.mountOf(d))
		created = append(created, c...)
		if err != nil {
			return err
		}
		if existed {
			if err := m.checkReusable(d); err != nil {
				return err
			}
			existing[d] = true
		}
		createdIn[d] = c
	}
	if d, ok := m.paths["cpuset"]; ok {
		init := createdIn[d]
		if existing[d] && m.cpusetEmpty(d) {
			init = []string{d}
		}
		if err := m.initCpuset(init, m.mountOf(d)); err != nil {
			return err
		}
	}
	if d := m.unifiedDir(); d != "" {
		if existing[d] {
			if err := m.checkV2Controllers(d, r); err != nil {
				return err
			}
		} else if err := m.enableV2Controllers(createdIn[d], r); err != nil {
			return err
		}
	}
	m.created = append(m.created, created...)
	return nil
}

// checkReusable refuses an existing container directory that holds
// processes (here or in a child cgroup) or is frozen, as runc does: the
// container would share it, or its init would never run.
func (m *Manager) checkReusable(dir string) error {
	n := 0
	if err := m.walkProcs(dir, func(int) { n++ }); err != nil && !isNotExist(err) {
		return fmt.Errorf("cgroup %s exists: %w", dir, err)
	}
	if n > 0 {
		return fmt.Errorf("cgroup %s exists and is not empty (%d process(es) in it): choose another linux.cgroupsPath", dir, n)
	}
	frozen := false
	if dir == m.paths["freezer"] {
		s, err := m.fs.readFile(dir, "freezer.state")
		frozen = err == nil && strings.TrimSpace(s) != "THAWED"
	} else if dir == m.unifiedDir() {
		s, err := m.fs.readFile(dir, "cgroup.freeze")
		frozen = err == nil && strings.TrimSpace(s) == "1"
	}
	if frozen {
		return fmt.Errorf("cgroup %s exists and is frozen: thaw it or choose another linux.cgroupsPath", dir)
	}
	return nil
}

// cpusetEmpty reports whether a v1 cpuset has no CPUs or no memory nodes
// (a process cannot join it).
func (m *Manager) cpusetEmpty(dir string) bool {
	for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
		if s, err := m.fs.readFile(dir, f); err == nil && strings.TrimSpace(s) == "" {
			return true
		}
	}
	return false
}

// mkdirAll creates dir and any missing parents below mnt, returning those
// it created top-down, and whether dir itself already existed.
func (m *Manager) mkdirAll(dir, mnt string) (created []string, existed bool, err error) {
	err = m.fs.mkdir(dir)
	switch {
	case err == nil:
		return []string{dir}, false, nil
	case errors.Is(err, unix.EEXIST):
		return nil, true, nil
	case !errors.Is(err, unix.ENOENT) || dir == mnt || mnt == "" || !strings.HasPrefix(dir, mnt):
		return nil, false, err
	}
	created, _, err = m.mkdirAll(path.Dir(dir), mnt)
	if err != nil {
		return created, false, err
	}
	if err := m.fs.mkdir(dir); err != nil {
		return created, errors.Is(err, unix.EEXIST), err
	}
	return append(created, dir), false, nil
}

// Destroy removes the directories husk created, deepest first. A container
// directory is removed together with any child cgroups the container made
// inside it. EBUSY is retried for about a second because processes may
// still be exiting; a created intermediate directory still holding other
// containers' cgroups is left in place. ENOENT counts as success.
func (m *Manager) Destroy() error {
	leaf := make(map[string]bool, len(m.paths))
	for _, d := range m.paths {
		leaf[d] = true
	}
	order := slices.Clone(m.created)
	slices.SortStableFunc(order, func(a, b string) int {
		return strings.Count(b, "/") - strings.Count(a, "/")
	})
	deadline := time.Now().Add(time.Second)
	var errs []error
	var kept []string
	for _, d := range order {
		var err error
		if leaf[d] {
			err = m.removeTree(d, deadline)
		} else {
			err = m.removeShared(d, deadline)
		}
		if err != nil {
			errs = append(errs, err)
			kept = append(kept, d)
		}
	}
	// Keep what could not be removed so a later Destroy can retry.
	m.created = slices.DeleteFunc(m.created, func(d string) bool { return !slices.Contains(kept, d) })
	return errors.Join(errs...)
}

// removeTree removes dir and its descendants, deepest first. The common
// case is a single rmdir; only a busy directory is searched for children.
func (m *Manager) removeTree(dir string, deadline time.Time) error {
	err := m.fs.rmdir(dir)
	if err == nil || isNotExist(err) {
		return nil
	}
	if !errors.Is(err, unix.EBUSY) && !errors.Is(err, unix.ENOTEMPTY) {
		return err
	}
	subs, err := subdirs(m.fs, dir)
	if err != nil {
		if isNotExist(err) {
			return nil
		}
		return err
	}
	for _, s := range subs {
		if err := m.removeTree(dir+"/"+s, deadline); err != nil {
			return err
		}
	}
	return m.rmdirRetry(dir, deadline)
}

// removeShared removes a created intermediate directory unless other
// cgroups (another container's) still live below it.
func (m *Manager) removeShared(dir string, deadline time.Time) error {
	err := m.fs.rmdir(dir)
	if err == nil || isNotExist(err) {
		return nil
	}
	if errors.Is(err, unix.EBUSY) || errors.Is(err, unix.ENOTEMPTY) {
		if subs, serr := subdirs(m.fs, dir); serr == nil && len(subs) > 0 {
			return nil
		}
		return m.rmdirRetry(dir, deadline)
	}
	return err
}

func (m *Manager) rmdirRetry(dir string, deadline time.Time) error {
	delay := 5 * time.Millisecond
	for {
		err := m.fs.rmdir(dir)
		if err == nil || isNotExist(err) {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(delay)
		delay = min(2*delay, 100*time.Millisecond)
	}
}

// removeCreated undoes a failed Create.
func (m *Manager) removeCreated(created []string) {
	for i := len(created) - 1; i >= 0; i-- {
		_ = m.fs.rmdir(created[i])
	}
}

// AddProc moves pid into the container's cgroup in every hierarchy.
func (m *Manager) AddProc(pid int) error {
	p := strconv.Itoa(pid)
	for _, d := range m.dirs() {
		if err := m.fs.writeFile(d, "cgroup.procs", p); err != nil {
			return fmt.Errorf("add pid %d: %w", pid, err)
		}
	}
	return nil
}

// AddProcSub moves pid into sub-cgroups of the container's cgroup, which
// must exist (runc's exec --cgroup): sub[""] is one relative path for
// every hierarchy (on a cgroup v2 host the only one used), other keys
// name a v1 controller ("pids", "name=systemd") whose hierarchy gets its
// own path, the rest staying in the container's cgroup. A path must stay
// below the container's cgroup.
func (m *Manager) AddProcSub(pid int, sub map[string]string) error {
	targets := map[string]string{} // container dir -> target dir
	for _, d := range m.dirs() {
		targets[d] = d
	}
	set := func(key, base, rel string) error {
		t := path.Join(base, rel)
		if t != base && !strings.HasPrefix(t, base+"/") {
			return fmt.Errorf("sub-cgroup %q is not below the container's cgroup", rel)
		}
		if prev := targets[base]; prev != base && prev != t {
			return fmt.Errorf("sub-cgroup of %s: %s shares its hierarchy with another controller given a different path", key, base)
		}
		targets[base] = t
		return nil
	}
	if rel, ok := sub[""]; ok {
		for _, d := range m.dirs() {
			if err := set("", d, rel); err != nil {
				return err
			}
		}
	} else if m.h.Mode() != Unified {
		for _, ctrl := range slices.Sorted(maps.Keys(sub)) {
			base, ok := m.paths[ctrl]
			if !ok || ctrl == unifiedKey {
				return fmt.Errorf("sub-cgroup for %q: the container has no cgroup of that controller", ctrl)
			}
			if err := set(ctrl, base, sub[ctrl]); err != nil {
				return err
			}
		}
	}
	p := strconv.Itoa(pid)
	for _, d := range slices.Sorted(maps.Keys(targets)) {
		if err := m.fs.writeFile(targets[d], "cgroup.procs", p); err != nil {
			return fmt.Errorf("add pid %d: %w", pid, err)
		}
	}
	return nil
}

// pidsDir picks the hierarchy whose membership lists the container's
// processes: a v1 hierarchy that processes cannot leave on their own, else
// cgroup2.
func (m *Manager) pidsDir() string {
	for _, c := range []string{"pids", "freezer", "memory"} {
		if d, ok := m.paths[c]; ok {
			return d
		}
	}
	if d := m.unifiedDir(); d != "" {
		return d
	}
	return m.dirs()[0]
}

// Pids returns every pid in the container's cgroup and its descendants.
func (m *Manager) Pids() ([]int, error) {
	var pids []int
	err := m.walkProcs(m.pidsDir(), func(pid int) { pids = append(pids, pid) })
	return pids, err
}

func (m *Manager) walkProcs(dir string, fn func(int)) error {
	s, err := m.fs.readFile(dir, "cgroup.procs")
	if err != nil {
		return err
	}
	for f := range strings.FieldsSeq(s) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			return fmt.Errorf("%s/cgroup.procs: %w", dir, err)
		}
		fn(pid)
	}
	subs, err := subdirs(m.fs, dir)
	if err != nil {
		return err
	}
	for _, sub := range subs {
		if err := m.walkProcs(dir+"/"+sub, fn); err != nil && !isNotExist(err) {
			return err
		}
	}
	return nil
}
