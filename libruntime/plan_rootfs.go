package libruntime

import (
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/cgroups"
	"github.com/husk-runtime/husk/libruntime/initproc"
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
	for _, d := range deferred {
		p.add(d.what, initproc.SetattrSlot{Slot: int64(d.slot), Set: unix.MOUNT_ATTR_RDONLY})
	}

	// Masked and read-only paths are resolved in the root like every other
	// path, and applied before pivot_root while the host's /dev/null (the
	// source of every masking bind) is still in our mount namespace.
	for i, path := range l.ReadonlyPaths {
		what := fmt.Sprintf("linux.readonlyPaths[%d] (%s)", i, path)
		p.add(what, initproc.Readonly{Path: inRoot(path)})
	}
	for i, path := range l.MaskedPaths {
		what := fmt.Sprintf("linux.maskedPaths[%d] (%s)", i, path)
		p.add(what, initproc.Mask{Path: inRoot(path)})
	}
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
	if hasProp {
		after := initproc.RootPropagationAfter{Propagation: int64(configProp &^ unix.MS_REC)}
		if configProp&unix.MS_REC != 0 {
			after.OpFlags = initproc.MntPropRec
		}
		p.add("linux.rootfsPropagation", after)
	}
	if p.terminal {
		var c initproc.Console
		if cs := s.Process.ConsoleSize; cs != nil {
			c.Rows, c.Cols = int64(cs.Height), int64(cs.Width)
		}
		p.add("process.terminal", c)
	}
	if s.Root.Readonly {
		p.add("root.readonly", initproc.RootReadonly{})
	}
	keys := make([]string, 0, len(l.Sysctl))
	for k := range l.Sysctl {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := l.Sysctl[k]
		p.add(fmt.Sprintf("linux.sysctl[%q]", k), initproc.Sysctl{Key: strings.ReplaceAll(k, ".", "/"), Value: v})
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
	for i := range p.spec.Mounts {
		m := &p.spec.Mounts[i]
		what := fmt.Sprintf("mounts[%d] (%s)", i, m.Destination)
		o, err := parseMountOptions(m)
		if err != nil {
			return nil, fmt.Errorf("mounts[%d].options: %w", i, err)
		}
		dest := inRoot(m.Destination)
		if dest == "" {
			return nil, fmt.Errorf("mounts[%d].destination: mounting over / is not supported", i)
		}
		if m.Type == "cgroup" || m.Type == "cgroup2" {
			s, err := p.cgroupMount(m, dest, o, what, takeSlot)
			if err != nil {
				return nil, fmt.Errorf("mounts[%d]: %w", i, err)
			}
			deferred = append(deferred, s...)
			continue
		}
		slot := -1
		if o.set&unix.MOUNT_ATTR_RDONLY != 0 && p.hasBelow(i, dest) {
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
			dir, err := p.host.isDir(src)
			if err != nil {
				return nil, fmt.Errorf("mounts[%d].source: %w", i, err)
			}
			p.bindOp(what, src, dest, !dir, o, slot)
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
		p.add(what, initproc.Mount{
			Source: m.Source, Dest: dest, FSType: m.Type, Options: o.data,
			Set: int64(o.fsmountAttrs()), Propagation: int64(o.prop), Slot: int64(slot), OpFlags: flags,
		})
	}
	return deferred, nil
}

func (p *planner) bindOp(what, src, dest string, file bool, o mountOpts, slot int) {
	flags := uint32(initproc.MntBind)
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
func (p *planner) cgroupMount(m *rspec.Mount, dest string, o mountOpts, what string,
	takeSlot func() (int, error)) ([]deferredRO, error) {
	cgns, joined := hasNamespace(p.spec, rspec.CgroupNamespace)
	cgns = cgns && !joined
	attrs := o
	attrs.data = nil

	mountV2 := func(dest string, slot int) {
		if cgns {
			p.add(what, initproc.Mount{Source: "cgroup2", Dest: dest, FSType: "cgroup2",
				Set: int64(attrs.fsmountAttrs()), Slot: int64(slot)})
			return
		}
		p.bindOp(what, p.cg["unified"], dest, false, attrs, slot)
	}
	if len(p.cg) == 0 && !cgns {
		// No cgroup of its own (rootless without a delegated one): nothing
		// of the container's to show; /sys shows what the host lets it see.
		return nil, nil
	}
	if p.hier.Mode() == cgroups.Unified {
		mountV2(dest, -1)
		return nil, nil
	}
	if m.Type == "cgroup2" {
		if p.hier.Unified == "" {
			return nil, errors.New("type cgroup2: the host has no cgroup2 hierarchy")
		}
		mountV2(dest, -1)
		return nil, nil
	}

	// cgroup v1: a tmpfs with one directory per hierarchy.
	slot, err := takeSlot()
	if err != nil {
		return nil, err
	}
	tmpfs := o
	tmpfs.set &^= unix.MOUNT_ATTR_RDONLY
	p.add(what, initproc.Mount{Source: "tmpfs", Dest: dest, FSType: "tmpfs", Options: []string{"mode=755"},
		Set: int64(tmpfs.fsmountAttrs()), Slot: int64(slot)})
	var deferred []deferredRO
	if o.set&unix.MOUNT_ATTR_RDONLY != 0 {
		deferred = append(deferred, deferredRO{slot, what})
	}

	byMount := map[string][]string{}
	for ctrl, mnt := range p.hier.V1 {
		byMount[mnt] = append(byMount[mnt], ctrl)
	}
	mnts := make([]string, 0, len(byMount))
	for mnt := range byMount {
		mnts = append(mnts, mnt)
	}
	sort.Strings(mnts)
	for _, mnt := range mnts {
		ctrls := byMount[mnt]
		sort.Strings(ctrls)
		name := filepath.Base(mnt)
		sub := dest + "/" + name
		if cgns {
			data := ctrls
			if len(ctrls) == 1 && strings.HasPrefix(ctrls[0], "name=") {
				data = []string{"none", ctrls[0]}
			}
			p.add(what, initproc.Mount{Source: "cgroup", Dest: sub, FSType: "cgroup", Options: data,
				Set: int64(attrs.fsmountAttrs()), Slot: -1})
		} else {
			dir, ok := p.cg[ctrls[0]]
			if !ok {
				continue
			}
			p.bindOp(what, dir, sub, false, attrs, -1)
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
	if p.hier.Unified != "" {
		mountV2(dest+"/"+filepath.Base(p.hier.Unified), -1)
	}
	return deferred, nil
}
