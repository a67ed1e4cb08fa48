package libruntime

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/cgroups"
	"github.com/husk-runtime/husk/libruntime/initproc"
	"github.com/husk-runtime/husk/specs"
)

var propagationFlags = map[string]uint64{
	"shared": unix.MS_SHARED, "rshared": unix.MS_SHARED | unix.MS_REC,
	"slave": unix.MS_SLAVE, "rslave": unix.MS_SLAVE | unix.MS_REC,
	"private": unix.MS_PRIVATE, "rprivate": unix.MS_PRIVATE | unix.MS_REC,
	"unbindable": unix.MS_UNBINDABLE, "runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

// inRoot turns an absolute container path into the relative, cleaned form
// husk-init resolves under the root ("/dev/pts" -> "dev/pts").
func inRoot(p string) string {
	return strings.TrimPrefix(filepath.Clean("/"+p), "/")
}

// rootfsSetup compiles hostname, mounts, devices, hooks before pivot_root,
// pivot_root, and what is done to the finished root.
func (p *planner) rootfsSetup() error {
	s := p.spec
	l := s.Linux
	if l == nil {
		l = &rspec.Linux{}
	}
	// Without a mount namespace the container shares the host's mounts, as
	// the config asks: its mounts are made (and seen) there, delete
	// removes them, and chroot replaces pivot_root.
	p.mntns, _ = hasNamespace(s, rspec.MountNamespace)
	if !p.mntns {
		if l.RootfsPropagation != "" {
			return errors.New("linux.rootfsPropagation: needs a mount namespace (it would change the host's mounts)")
		}
		if s.Root.Readonly {
			return errors.New("root.readonly: needs a mount namespace (it would change the host's mounts)")
		}
	}
	if s.Hostname != "" {
		p.add("hostname", initproc.Sethostname{Name: s.Hostname})
	}
	if s.Domainname != "" {
		p.add("domainname", initproc.Setdomainname{Name: s.Domainname})
	}

	// Until pivot_root, "/" is a slave of the host's (or shared with it if
	// the config says so); an unbindable "/" would refuse the rootfs bind,
	// so that mode is applied only after pivot_root.
	rootProp := uint64(unix.MS_SLAVE | unix.MS_REC)
	configProp, hasProp := propagationFlags[l.RootfsPropagation]
	if hasProp && configProp&unix.MS_UNBINDABLE == 0 {
		rootProp = configProp
	}
	if p.mntns {
		p.add("linux.rootfsPropagation", initproc.RootPropagation{Propagation: int64(rootProp)})
	}
	// pivot_root refuses a new root under a shared mount. Only a recursive
	// slave or private "/" guarantees none is left; otherwise make (our
	// copy of) the mount holding the rootfs private, as runc does.
	root := initproc.Rootfs{Path: p.rootfs}
	if p.mntns && (rootProp&unix.MS_SHARED != 0 || rootProp&unix.MS_REC == 0) {
		mnt, err := p.host.mountPointOf(p.rootfs)
		if err != nil {
			return fmt.Errorf("root.path: %w", err)
		}
		root.PrivateParent = &mnt
	}
	if !p.mntns {
		root.OpFlags = initproc.RootNoBind
	}
	p.add("root.path", root)

	deferred, err := p.mounts()
	if err != nil {
		return err
	}
	p.devices()

	// A missing cwd is created (as root, before the root may turn
	// read-only), as runc and crun do: images rely on it for WORKDIR.
	if cwd := inRoot(s.Process.Cwd); cwd != "" {
		p.add("process.cwd", initproc.Mkdir{Path: cwd})
	}
	if s.Hooks != nil && (len(s.Hooks.Prestart) > 0 || len(s.Hooks.CreateRuntime) > 0 ||
		len(s.Hooks.CreateContainer) > 0 || len(s.Hooks.StartContainer) > 0) {
		p.add("hooks", initproc.Hooks{})
		if err := p.hooks("createContainer", s.Hooks.CreateContainer); err != nil {
			return err
		}
	}

	switch {
	case !p.mntns:
		p.add("root.path", initproc.Chroot{})
	case p.noPivot:
		p.add("root.path", initproc.MoveRoot{})
	default:
		p.add("root.path", initproc.PivotRoot{})
	}
	propagationAfter := func() {
		after := initproc.RootPropagationAfter{Propagation: int64(configProp &^ unix.MS_REC)}
		if configProp&unix.MS_REC != 0 {
			after.OpFlags = initproc.MntPropRec
		}
		p.add("linux.rootfsPropagation", after)
	}
	// Right after pivot_root, as runc; an unbindable root only once the
	// read-only and masked paths, which are clones of its mounts, exist.
	unbindable := configProp&unix.MS_UNBINDABLE != 0
	if hasProp && !unbindable {
		propagationAfter()
	}
	if p.terminal {
		var c initproc.Console
		if cs := s.Process.ConsoleSize; cs != nil {
			c.Rows, c.Cols = int64(cs.Height), int64(cs.Width)
		}
		p.add("process.terminal", c)
	}
	// What runc does last, in its order: read-only mounts with mounts (or
	// the console) below them turn read-only, then the root; then the
	// read-only and masked paths, resolved in the new root like every
	// other path. A masked file is covered by the container's own
	// /dev/null (verified to be the null device), a masked directory by a
	// read-only, empty tmpfs that all of them share; a path listed twice
	// is masked once.
	for _, d := range deferred {
		p.add(d.what, initproc.SetattrSlot{Slot: int64(d.slot), Set: unix.MOUNT_ATTR_RDONLY})
	}
	if s.Root.Readonly {
		p.add("root.readonly", initproc.RootReadonly{})
	}
	for i, path := range l.ReadonlyPaths {
		what := fmt.Sprintf("linux.readonlyPaths[%d] (%s)", i, path)
		p.add(what, initproc.Readonly{Path: inRoot(path)})
	}
	masked := map[string]bool{}
	for i, path := range l.MaskedPaths {
		rel := inRoot(path)
		if masked[rel] {
			continue
		}
		masked[rel] = true
		what := fmt.Sprintf("linux.maskedPaths[%d] (%s)", i, path)
		p.add(what, initproc.Mask{Path: rel})
	}
	if hasProp && unbindable {
		propagationAfter()
	}
	keys := make([]string, 0, len(l.Sysctl))
	for k := range l.Sysctl {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := l.Sysctl[k]
		p.add(fmt.Sprintf("linux.sysctl[%q]", k), initproc.Sysctl{Key: specs.SysctlPath(k), Value: v})
	}
	return nil
}

// deferredRO is a mount made writable that becomes read-only once the
// mounts and devices below it exist.
type deferredRO struct {
	slot int
	what string
}

// mounts compiles config.json's mounts in order.
func (p *planner) mounts() ([]deferredRO, error) {
	var deferred []deferredRO
	nextSlot := initproc.SlotUser
	takeSlot := func() (int, error) {
		if nextSlot >= 16 {
			return 0, errors.New("too many read-only mounts with mounts below them")
		}
		nextSlot++
		return nextSlot - 1, nil
	}
	// User namespaces made for id-mapped mounts, by mapping: needed only
	// while the mounts are prepared.
	usernses := map[string]*os.File{}
	defer func() {
		for _, f := range usernses {
			f.Close()
		}
	}()
	for i := range p.spec.Mounts {
		m := &p.spec.Mounts[i]
		what := fmt.Sprintf("mounts[%d] (%s)", i, m.Destination)
		o := parseMountOptions(m)
		if o.remount {
			return nil, fmt.Errorf("mounts[%d].options: option \"remount\": remounting is not supported in config.json", i)
		}
		dest := inRoot(m.Destination)
		if dest == "" {
			return nil, fmt.Errorf("mounts[%d].destination: mounting over / is not supported", i)
		}
		if !path.IsAbs(m.Destination) {
			p.warnf("mounts[%d].destination: %q is a relative path, taken relative to the container's root: write /%s", i, m.Destination, dest)
		}
		idmapped := o.idmap || m.UIDMappings != nil || m.GIDMappings != nil
		if idmapped && !o.bind {
			return nil, fmt.Errorf("mounts[%d]: id-mapped mounts (uidMappings, gidMappings, idmap, ridmap) are only supported for bind mounts", i)
		}
		if o.bind && len(o.data) > 0 {
			// The kernel ignores them on a bind: refuse rather than
			// pretend, as runc does.
			return nil, fmt.Errorf("mounts[%d].options: %s: bind mounts cannot have filesystem options", i, strings.Join(o.data, ","))
		}
		if m.Type == "cgroup" || m.Type == "cgroup2" {
			if err := p.cgroupMount(m, dest, o, what); err != nil {
				return nil, fmt.Errorf("mounts[%d]: %w", i, err)
			}
			continue
		}
		readonly := o.set&unix.MOUNT_ATTR_RDONLY != 0
		slot := -1
		if readonly && p.hasBelow(i, dest) {
			var err error
			if slot, err = takeSlot(); err != nil {
				return nil, fmt.Errorf("mounts[%d]: %w", i, err)
			}
			o.set &^= unix.MOUNT_ATTR_RDONLY
			deferred = append(deferred, deferredRO{slot, what})
		}
		if o.bind {
			src := m.Source
			if !filepath.IsAbs(src) {
				src = filepath.Join(p.bundle, src)
			}
			src = filepath.Clean(src)
			inRootfs := src == p.rootfs || strings.HasPrefix(src, p.rootfs+"/")
			if idmapped {
				if inRootfs {
					return nil, fmt.Errorf("mounts[%d].source: an id-mapped bind of a path inside the rootfs is not supported", i)
				}
				if err := p.idmappedBind(i, m, what, src, dest, o, slot, usernses); err != nil {
					return nil, err
				}
				continue
			}
			if inRootfs {
				// Resolved in the container's root (its symlinks stay
				// inside it), after the mounts before this one.
				rel, _ := filepath.Rel(p.rootfs, src)
				p.bindOp(what, inRoot(rel), dest, false, o, slot, initproc.MntSourceInRoot)
				continue
			}
			dir, err := p.host.isDir(src)
			if err != nil {
				return nil, fmt.Errorf("mounts[%d].source: %w", i, err)
			}
			p.bindOp(what, src, dest, !dir, o, slot, 0)
			continue
		}
		var flags uint32
		if p.userns && m.Type == "sysfs" {
			flags |= initproc.MntSysfsFallback
		}
		if p.userns && m.Type == "devpts" {
			flags |= initproc.MntDevptsNoGid
		}
		if o.propRec {
			flags |= initproc.MntPropRec
		}
		data := o.data
		switch m.Type {
		case "proc", "sysfs":
			// Never mounted through a symlink: an existing mount point
			// must be a directory (runc refuses the same).
			flags |= initproc.MntOrdinaryDir
		case "tmpfs":
			// A tmpfs over an existing directory takes its mode, unless
			// the options give one; tmpcopyup also takes its content.
			flags |= initproc.MntTmpfsMode
			if o.copyUp {
				flags |= initproc.MntCopyUp
			}
		}
		if readonly && m.Type != "tmpfs" && dest != "dev" {
			// As mount(2) with MS_RDONLY: the new filesystem itself is
			// read-only, not only this mount of it. A tmpfs and /dev are
			// made read-only per mount (runc remounts them).
			data = append(append([]string(nil), data...), "ro")
		}
		p.add(what, initproc.Mount{
			Source: m.Source, Dest: dest, FSType: m.Type, Options: data,
			Set: int64(o.fsmountAttrs()), Propagation: int64(o.prop), Slot: int64(slot), OpFlags: flags,
		})
	}
	return deferred, nil
}

func (p *planner) bindOp(what, src, dest string, file bool, o mountOpts, slot int, flags uint32) {
	flags |= initproc.MntBind
	if o.rec {
		flags |= initproc.MntRec
	}
	if file {
		flags |= initproc.MntFile
	}
	if o.propRec {
		flags |= initproc.MntPropRec
	}
	p.add(what, initproc.Mount{
		Source: src, Dest: dest,
		Set: int64(o.set), Clr: int64(o.clr), RecSet: int64(o.recSet), RecClr: int64(o.recClr),
		Propagation: int64(o.prop), Slot: int64(slot), OpFlags: flags,
	})
}

// idmappedBind prepares an id-mapped bind on the host (husk-init may run
// in a user namespace, where it could not map a filesystem of the host's)
// and has husk-init attach it. The mapping is the mount's own, else that
// of the container's user namespace, as runc does.
func (p *planner) idmappedBind(i int, m *rspec.Mount, what, src, dest string, o mountOpts, slot int,
	usernses map[string]*os.File) error {
	if p.rootless {
		return fmt.Errorf("mounts[%d]: id-mapped mounts need root (they map ids of the host's filesystem)", i)
	}
	dir, err := p.host.isDir(src)
	if err != nil {
		return fmt.Errorf("mounts[%d].source: %w", i, err)
	}
	uids, gids := m.UIDMappings, m.GIDMappings
	var userns *os.File
	switch {
	case uids != nil || gids != nil:
		if len(uids) == 0 || len(gids) == 0 {
			return fmt.Errorf("mounts[%d]: id-mapped mounts need both uidMappings and gidMappings", i)
		}
	case p.spec.Linux != nil:
		if found, joined := hasNamespace(p.spec, rspec.UserNamespace); found && joined {
			for j, ns := range p.spec.Linux.Namespaces {
				if ns.Type != rspec.UserNamespace {
					continue
				}
				key := "path:" + ns.Path
				if userns = usernses[key]; userns == nil {
					if userns, err = p.host.openNamespace(ns.Path, rspec.UserNamespace); err != nil {
						return fmt.Errorf("linux.namespaces[%d].path: %w", j, err)
					}
					usernses[key] = userns
				}
			}
		} else if found {
			uids, gids = p.spec.Linux.UIDMappings, p.spec.Linux.GIDMappings
		}
	}
	if userns == nil {
		if len(uids) == 0 || len(gids) == 0 {
			return fmt.Errorf("mounts[%d]: id-mapped mounts need both uidMappings and gidMappings (or a user namespace to take them from)", i)
		}
		key := mappingKey(uids, gids)
		if userns = usernses[key]; userns == nil {
			if userns, err = p.host.mappedUserns(uids, gids); err != nil {
				return fmt.Errorf("mounts[%d]: user namespace for the id mapping: %w", i, err)
			}
			usernses[key] = userns
		}
	}
	tree, err := p.host.idmappedTree(idmapRequest{
		source: src, recursive: o.rec, idmapRecursive: o.idmapRec, userns: userns,
		set: o.set, clr: o.clr, recSet: o.recSet, recClr: o.recClr,
	})
	if err != nil {
		return fmt.Errorf("mounts[%d]: %w", i, err)
	}
	var flags uint32
	if !dir {
		flags |= initproc.MntFile
	}
	if o.propRec {
		flags |= initproc.MntPropRec
	}
	p.add(what, initproc.MountTree{FD: p.file(tree), Dest: dest, Propagation: int64(o.prop), Slot: int64(slot), OpFlags: flags})
	return nil
}

// mappingKey names an id mapping, whatever the order of its ranges.
func mappingKey(uids, gids []rspec.LinuxIDMapping) string {
	ranges := func(ms []rspec.LinuxIDMapping) string {
		out := make([]string, len(ms))
		for i, m := range ms {
			out[i] = fmt.Sprintf("%d:%d:%d", m.ContainerID, m.HostID, m.Size)
		}
		sort.Strings(out)
		return strings.Join(out, ",")
	}
	return "uid=" + ranges(uids) + ";gid=" + ranges(gids)
}

// hasBelow tells whether a later mount, or a device, lives under dest.
func (p *planner) hasBelow(i int, dest string) bool {
	prefix := dest + "/"
	for _, m := range p.spec.Mounts[i+1:] {
		if strings.HasPrefix(inRoot(m.Destination), prefix) {
			return true
		}
	}
	if dest == "dev" && p.needsDevSetup() {
		return true
	}
	if p.spec.Linux != nil {
		for _, d := range p.spec.Linux.Devices {
			if strings.HasPrefix(inRoot(d.Path), prefix) {
				return true
			}
		}
	}
	return false
}

// cgroupMount shows the container its cgroups. With a cgroup namespace it
// mounts the hierarchies afresh (the namespace roots them at the
// container's cgroup); without one it binds the container's own cgroup
// directories, never the host's whole tree.
func (p *planner) cgroupMount(m *rspec.Mount, dest string, o mountOpts, what string) error {
	cgns, joined := hasNamespace(p.spec, rspec.CgroupNamespace)
	cgns = cgns && !joined
	attrs := o
	attrs.data = nil

	mountV2 := func(dest string, slot int) {
		if cgns {
			// The config's source names the mount, as runc's does.
			p.add(what, initproc.Mount{Source: m.Source, Dest: dest, FSType: "cgroup2",
				Set: int64(attrs.fsmountAttrs()), Slot: int64(slot)})
			return
		}
		p.bindOp(what, p.cg["unified"], dest, false, attrs, slot, 0)
	}
	if len(p.cg) == 0 && !cgns {
		// No cgroup of its own (rootless without a delegated one): nothing
		// of the container's to show; /sys shows what the host lets it see.
		return nil
	}
	if p.hier.Mode() == cgroups.Unified {
		mountV2(dest, -1)
		return nil
	}
	if m.Type == "cgroup2" {
		if p.hier.Unified == "" {
			return errors.New("type cgroup2: the host has no cgroup2 hierarchy")
		}
		mountV2(dest, -1)
		return nil
	}

	// cgroup v1: a tmpfs with one directory per v1 hierarchy, as runc
	// makes it: writable, nosuid, nodev, noexec whatever the options (only
	// the hierarchies take them), and without the cgroup2 hierarchy of a
	// hybrid host.
	p.add(what, initproc.Mount{Source: "tmpfs", Dest: dest, FSType: "tmpfs", Options: []string{"mode=755"},
		Set: unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV | unix.MOUNT_ATTR_NOEXEC, Slot: -1})

	byMount := map[string][]string{}
	for ctrl, mnt := range p.hier.V1 {
		byMount[mnt] = append(byMount[mnt], ctrl)
	}
	// In the host's mount order (as runc lists them), else by name.
	mnts := make([]string, 0, len(byMount))
	for _, mnt := range p.hier.V1Mounts {
		if _, ok := byMount[mnt]; ok && !slices.Contains(mnts, mnt) {
			mnts = append(mnts, mnt)
		}
	}
	var rest []string
	for mnt := range byMount {
		if !slices.Contains(mnts, mnt) {
			rest = append(rest, mnt)
		}
	}
	sort.Strings(rest)
	mnts = append(mnts, rest...)
	for _, mnt := range mnts {
		ctrls := byMount[mnt]
		sort.Strings(ctrls)
		name := filepath.Base(mnt)
		sub := dest + "/" + name
		if cgns {
			data, source := ctrls, "cgroup"
			if len(ctrls) == 1 && strings.HasPrefix(ctrls[0], "name=") {
				// A named hierarchy (name=systemd): its name is the
				// source, as runc mounts it.
				data, source = []string{"none", ctrls[0]}, strings.TrimPrefix(ctrls[0], "name=")
			}
			p.add(what, initproc.Mount{Source: source, Dest: sub, FSType: "cgroup", Options: data,
				Set: int64(attrs.fsmountAttrs()), Slot: -1})
		} else {
			dir, ok := p.cg[ctrls[0]]
			if !ok {
				continue
			}
			p.bindOp(what, dir, sub, false, attrs, -1, 0)
		}
		// Co-mounted controllers (cpu,cpuacct) are also reachable by name.
		if len(ctrls) > 1 {
			for _, c := range ctrls {
				if c != name {
					p.add(what, initproc.Symlink{Target: name, Link: dest + "/" + c})
				}
			}
		}
	}
	return nil
}
