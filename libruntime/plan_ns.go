package libruntime

import (
	"fmt"
	"os"
	"strings"
	"syscall"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/libruntime/initproc"
	"github.com/husk-runtime/husk/nsutil"
)

// Kinds of OpWaitParent.
const waitCgroup = 1

// namespaces compiles linux.namespaces into the ops described in nsutil's
// package documentation.
func (p *planner) namespaces() error {
	var l *rspec.Linux = p.spec.Linux
	if l == nil {
		l = &rspec.Linux{}
	}
	index := make(map[rspec.LinuxNamespaceType]int, len(l.Namespaces))
	for i, ns := range l.Namespaces {
		index[ns.Type] = i
	}

	// Everything below runs in the container's cgroup: husk moves
	// husk-init there while it waits here.
	p.add(initproc.OpWaitParent, "linux.cgroupsPath", func(op *initproc.Op) { op.A[0] = waitCgroup })
	// After joining the cgroup, whose cpuset may have reset our affinity.
	if err := p.initialAffinity(); err != nil {
		return err
	}
	if p.cloneNamespaces(l, index) {
		return nil
	}

	for _, t := range nsutil.JoinOrder {
		i, ok := index[t]
		if !ok || l.Namespaces[i].Path == "" {
			continue
		}
		path := l.Namespaces[i].Path
		f, err := nsutil.Open(path, t)
		if err != nil {
			return fmt.Errorf("linux.namespaces[%d].path: %w", i, err)
		}
		flag, _ := nsutil.CloneFlag(t)
		fd := p.file(f)
		p.add(initproc.OpSetns, fmt.Sprintf("linux.namespaces[%d] (%s)", i, path), func(op *initproc.Op) {
			op.A[0], op.A[1] = fd, int64(flag)
		})
	}

	var unshare uintptr
	for _, ns := range l.Namespaces {
		if ns.Path != "" || ns.Type == rspec.UserNamespace {
			continue
		}
		flag, _ := nsutil.CloneFlag(ns.Type)
		unshare |= flag
	}
	if i, ok := index[rspec.UserNamespace]; ok {
		p.userns = true
		if l.Namespaces[i].Path == "" {
			p.add(initproc.OpUnshareUser, fmt.Sprintf("linux.namespaces[%d] (user)", i), nil)
		}
	}
	if unshare != 0 {
		p.add(initproc.OpUnshare, "linux.namespaces", func(op *initproc.Op) { op.A[0] = int64(unshare) })
	}
	if unshare&unix.CLONE_NEWTIME != 0 && len(l.TimeOffsets) > 0 {
		p.add(initproc.OpTimensOffsets, "linux.timeOffsets", func(op *initproc.Op) {
			op.S[0] = initproc.Str(timensOffsets(l.TimeOffsets))
		})
	}
	pidIdx, pidFound := index[rspec.PIDNamespace]
	p.pidns = pidFound && l.Namespaces[pidIdx].Path == ""
	if pidFound || unshare&unix.CLONE_NEWTIME != 0 {
		p.forks = true
		p.add(initproc.OpFork, "linux.namespaces (pid)", nil)
	} else {
		p.add(initproc.OpReportPid, "init", nil)
	}
	return nil
}

// cloneNamespaces handles the common case, where the config creates all
// its namespaces and joins none: they are made by the clone(2) that starts
// husk-init, which is then the container's init (pid 1) without a fork of
// its own. Only the cgroup namespace waits until husk-init is in its
// cgroup, where it must be rooted. A join (which must come before new
// namespaces, for their ownership), time offsets (written between unshare
// and fork) and id maps needing newuidmap keep the general path.
func (p *planner) cloneNamespaces(l *rspec.Linux, index map[rspec.LinuxNamespaceType]int) bool {
	var flags uintptr
	for _, ns := range l.Namespaces {
		if ns.Path != "" || ns.Type == rspec.TimeNamespace {
			return false
		}
		if ns.Type != rspec.CgroupNamespace {
			f, _ := nsutil.CloneFlag(ns.Type)
			flags |= f
		}
	}
	attr := &syscall.SysProcAttr{Cloneflags: flags}
	if _, ok := index[rspec.UserNamespace]; ok {
		// husk-init must be root in the namespace to keep its
		// capabilities across its exec.
		if nsutil.NeedHelpers(l.UIDMappings, l.GIDMappings) ||
			!nsutil.MapsID(l.UIDMappings, 0) || !nsutil.MapsID(l.GIDMappings, 0) {
			return false
		}
		p.userns = true
		attr.UidMappings = nsutil.ProcIDMaps(l.UIDMappings)
		attr.GidMappings = nsutil.ProcIDMaps(l.GIDMappings)
		// Root (unlike a user mapping only its own ids) may keep setgroups.
		attr.GidMappingsEnableSetgroups = os.Geteuid() == 0
		attr.Credential = &syscall.Credential{NoSetGroups: !attr.GidMappingsEnableSetgroups}
	}
	if _, ok := index[rspec.CgroupNamespace]; ok {
		p.add(initproc.OpUnshare, "linux.namespaces (cgroup)", func(op *initproc.Op) { op.A[0] = unix.CLONE_NEWCGROUP })
	}
	_, p.pidns = index[rspec.PIDNamespace]
	p.clone = attr
	p.add(initproc.OpReportPid, "init", nil)
	return true
}

// timensOffsets renders linux.timeOffsets for /proc/self/timens_offsets.
func timensOffsets(offs map[string]rspec.LinuxTimeOffset) string {
	var b strings.Builder
	for _, clock := range []string{"monotonic", "boottime"} {
		if o, ok := offs[clock]; ok {
			fmt.Fprintf(&b, "%s %d %d\n", clock, o.Secs, o.Nanosecs)
		}
	}
	return b.String()
}

// hasNamespace tells whether the config has a namespace of type t, new or joined.
func hasNamespace(s *rspec.Spec, t rspec.LinuxNamespaceType) (found, joined bool) {
	if s.Linux == nil {
		return false, false
	}
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == t {
			return true, ns.Path != ""
		}
	}
	return false, false
}
