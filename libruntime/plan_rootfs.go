package libruntime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/moby/sys/mountinfo"
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
		p.add(initproc.OpSethostname, "hostname", func(op *initproc.Op) { op.S[0] = initproc.Str(s.Hostname) })
	}
	if s.Domainname != "" {
		p.add(initproc.OpSetdomainname, "domainname", func(op *initproc.Op) { op.S[0] = initproc.Str(s.Domainname) })
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
		p.add(initproc.OpRootPropagation, "linux.rootfsPropagation", func(op *initproc.Op) { op.A[0] = int64(rootProp) })
	}
	// pivot_root refuses a new root under a shared mount. Only a recursive
	// slave or private "/" guarantees none is left; otherwise make (our
	// copy of) the mount holding the rootfs private, as runc does.
	var privateParent initproc.Str
	if p.mntns && (rootProp&unix.MS_SHARED != 0 || rootProp&unix.MS_REC == 0) {
		mnt, err := mountPointOf(p.rootfs)
		if err != nil {
			return fmt.Errorf("root.path: %w", err)
		}
		privateParent = initproc.Str(mnt)
	}
	p.add(initproc.OpRootfs, "root.path", func(op *initproc.Op) {
		if !p.mntns {
			op.Flags = initproc.RootNoBind
		}
		op.S[0] = initproc.Str(p.rootfs)
		if privateParent != "" {
			op.S[1] = privateParent
		}
	})

	deferred, err := p.mounts()
	if err != nil {
		return err
	}
	p.devices()
	for _, d := range deferred {
		p.add(initproc.OpSetattrSlot, d.what, func(op *initproc.Op) {
			op.A[0], op.A[1] = int64(d.slot), unix.MOUNT_ATTR_RDONLY
		})
	}

	// Masked and read-only paths are resolved in the root like every other
	// path, and applied before pivot_root while the host's /dev/null (the
	// source of every masking bind) is still in our mount namespace.
	for i, path := range l.ReadonlyPaths {
		what := fmt.Sprintf("linux.readonlyPaths[%d] (%s)", i, path)
		p.add(initproc.OpReadonly, what, func(op *initproc.Op) { op.S[0] = initproc.Str(inRoot(path)) })
	}
	for i, path := range l.MaskedPaths {
		what := fmt.Sprintf("linux.maskedPaths[%d] (%s)", i, path)
		p.add(initproc.OpMask, what, func(op *initproc.Op) { op.S[0] = initproc.Str(inRoot(path)) })
	}
	// A missing cwd is created (as root, before the root may turn
	// read-only), as runc and crun do: images rely on it for WORKDIR.
	if cwd := inRoot(s.Process.Cwd); cwd != "" {
		p.add(initproc.OpMkdir, "process.cwd", func(op *initproc.Op) { op.S[0] = initproc.Str(cwd) })
	}
	if s.Hooks != nil && (len(s.Hooks.Prestart) > 0 || len(s.Hooks.CreateRuntime) > 0 ||
		len(s.Hooks.CreateContainer) > 0 || len(s.Hooks.StartContainer) > 0) {
		p.add(initproc.OpHooks, "hooks", nil)
		if err := p.hooks("createContainer", s.Hooks.CreateContainer); err != nil {
			return err
		}
	}

	switch {
	case !p.mntns:
		p.add(initproc.OpChroot, "root.path", nil)
	case p.noPivot:
		p.add(initproc.OpMoveRoot, "root.path", nil)
	default:
		p.add(initproc.OpPivotRoot, "root.path", nil)
	}
	if hasProp {
		p.add(initproc.OpRootPropagationAfter, "linux.rootfsPropagation", func(op *initproc.Op) {
			op.A[0] = int64(configProp &^ unix.MS_REC)
			if configProp&unix.MS_REC != 0 {
				op.Flags = initproc.MntPropRec
			}
		})
	}
	if p.terminal {
		p.add(initproc.OpConsole, "process.terminal", func(op *initproc.Op) {
			if cs := s.Process.ConsoleSize; cs != nil {
				op.A[0], op.A[1] = int64(cs.Height), int64(cs.Width)
			}
		})
	}
	if s.Root.Readonly {
		p.add(initproc.OpRootReadonly, "root.readonly", nil)
	}
	keys := make([]string, 0, len(l.Sysctl))
	for k := range l.Sysctl {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := l.Sysctl[k]
		p.add(initproc.OpSysctl, fmt.Sprintf("linux.sysctl[%q]", k), func(op *initproc.Op) {
			op.S[0] = initproc.Str(strings.ReplaceAll(k, ".", "/"))
			op.S[1] = initproc.Str(v)
		})
	}
	return nil
}

// mountPointOf returns the mount point of the filesystem holding path.
func mountPointOf(path string) (string, error) {
	mounts, err := mountinfo.GetMounts(mountinfo.ParentsFilter(path))
	if err != nil {
		return "", err
	}
	best := ""
	for _, m := range mounts {
		if len(m.Mountpoint) > len(best) {
			best = m.Mountpoint
		}
	}
	if best == "" {
		return "", fmt.Errorf("no mount point found for %s", path)
	}
	return best, nil
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
			st, err := os.Stat(src)
			if err != nil {
				return nil, fmt.Errorf("mounts[%d].source: %w", i, err)
			}
			p.bindOp(what, src, dest, !st.IsDir(), o, slot)
			continue
		}
		var flags uint32
		if p.userns && m.Type == "sysfs" {
			flags |= initproc.MntSysfsFallback
		}
		if p.userns && m.Type == "devpts" {
			flags |= initproc.MntDevptsNoGid
		}
		p.add(initproc.OpMount, what, func(op *initproc.Op) {
			op.Flags = flags
			op.S[0] = initproc.Str(m.Source)
			op.S[1] = initproc.Str(dest)
			op.S[2] = initproc.Str(m.Type)
			op.S[3] = initproc.List(o.data)
			op.A[0] = int64(o.fsmountAttrs())
			op.A[4] = int64(o.prop)
			op.A[5] = int64(slot)
			if o.propRec {
				op.Flags |= initproc.MntPropRec
			}
		})
	}
	return deferred, nil
}

func (p *planner) bindOp(what, src, dest string, file bool, o mountOpts, slot int) {
	p.add(initproc.OpMount, what, func(op *initproc.Op) {
		op.Flags = initproc.MntBind
		if o.rec {
			op.Flags |= initproc.MntRec
		}
		if file {
			op.Flags |= initproc.MntFile
		}
		if o.propRec {
			op.Flags |= initproc.MntPropRec
		}
		op.S[0] = initproc.Str(src)
		op.S[1] = initproc.Str(dest)
		op.A[0], op.A[1] = int64(o.set), int64(o.clr)
		op.A[2], op.A[3] = int64(o.recSet), int64(o.recClr)
		op.A[4] = int64(o.prop)
		op.A[5] = int64(slot)
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
			p.add(initproc.OpMount, what, func(op *initproc.Op) {
				op.S[0] = initproc.Str("cgroup2")
				op.S[1] = initproc.Str(dest)
				op.S[2] = initproc.Str("cgroup2")
				op.A[0] = int64(attrs.fsmountAttrs())
				op.A[5] = int64(slot)
			})
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
	p.add(initproc.OpMount, what, func(op *initproc.Op) {
		op.S[0] = initproc.Str("tmpfs")
		op.S[1] = initproc.Str(dest)
		op.S[2] = initproc.Str("tmpfs")
		op.S[3] = initproc.List([]string{"mode=755"})
		op.A[0] = int64(tmpfs.fsmountAttrs())
		op.A[5] = int64(slot)
	})
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
			p.add(initproc.OpMount, what, func(op *initproc.Op) {
				op.S[0] = initproc.Str("cgroup")
				op.S[1] = initproc.Str(sub)
				op.S[2] = initproc.Str("cgroup")
				op.S[3] = initproc.List(data)
				op.A[0] = int64(attrs.fsmountAttrs())
				op.A[5] = -1
			})
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
					p.add(initproc.OpSymlink, what, func(op *initproc.Op) {
						op.S[0] = initproc.Str(name)
						op.S[1] = initproc.Str(dest + "/" + c)
					})
				}
			}
		}
	}
	if p.hier.Unified != "" {
		mountV2(dest+"/"+filepath.Base(p.hier.Unified), -1)
	}
	return deferred, nil
}
