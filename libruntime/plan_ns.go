package libruntime

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"syscall"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/libruntime/initproc"
	"github.com/husk-runtime/husk/nsutil"
	"github.com/husk-runtime/husk/specs"
)

// Kinds of OpWaitParent: what husk does before it answers.
const (
	// husk-init is in its cgroup; husk writes its oom_score_adj.
	waitCgroup = 1
	// husk-init unshared its time namespace; husk writes the offsets.
	waitTimens = 2
	// The container's init is in its network namespace; husk moves
	// linux.netDevices there.
	waitNetdev = 3
)

// parentWrites are the flags of an op after which husk writes husk-init's
// /proc files: without root, husk may open them only while husk-init is
// dumpable (see initproc.WaitDumpable).
func (p *planner) parentWrites() uint32 {
	if p.rootless {
		return initproc.WaitDumpable
	}
	return 0
}

// waitForCgroup is the first op of every plan.
func (p *planner) waitForCgroup(what string) {
	w := initproc.WaitParent{Kind: waitCgroup}
	if p.spec.Process.OOMScoreAdj != nil {
		w.OpFlags = p.parentWrites()
	}
	p.add(what, w)
}

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
	p.waitForCgroup("linux.cgroupsPath")
	if err := p.startAffinity(); err != nil {
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
		f, err := p.host.openNamespace(path, t)
		if err != nil {
			return fmt.Errorf("linux.namespaces[%d].path: %w", i, err)
		}
		if t == rspec.NetworkNamespace {
			if err := p.checkNetSysctls(f); err != nil {
				f.Close()
				return err
			}
		}
		if t == rspec.UserNamespace {
			if err := p.checkJoinedMappings(f); err != nil {
				f.Close()
				return fmt.Errorf("linux.namespaces[%d] (%s): %w", i, path, err)
			}
		}
		flag, _ := nsutil.CloneFlag(t)
		fd := p.file(f)
		what := fmt.Sprintf("linux.namespaces[%d] (%s)", i, path)
		p.add(what, initproc.Setns{FD: fd, Type: int64(flag)})
		if t == rspec.UserNamespace {
			// Root in the namespace joined, as after creating one: what
			// is made from here on (mounts, device nodes, directories)
			// belongs to ids it maps.
			p.add(what, initproc.Setresgid{GID: 0})
			p.add(what, initproc.Setresuid{UID: 0})
		}
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
			p.add(fmt.Sprintf("linux.namespaces[%d] (user)", i), initproc.UnshareUser{OpFlags: p.parentWrites()})
		}
	}
	if unshare != 0 {
		p.add("linux.namespaces", initproc.Unshare{Clone: int64(unshare)})
	}
	if unshare&unix.CLONE_NEWTIME != 0 && len(l.TimeOffsets) > 0 {
		p.add("linux.timeOffsets", initproc.WaitParent{Kind: waitTimens, OpFlags: p.parentWrites()})
	}
	pidIdx, pidFound := index[rspec.PIDNamespace]
	p.pidns = pidFound && l.Namespaces[pidIdx].Path == ""
	if pidFound || unshare&unix.CLONE_NEWTIME != 0 {
		p.forks = true
		p.add("linux.namespaces (pid)", initproc.Fork{})
	} else {
		p.add("init", initproc.ReportPid{})
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
	_, userns := index[rspec.UserNamespace]
	for _, ns := range l.Namespaces {
		if ns.Path != "" || ns.Type == rspec.TimeNamespace {
			return false
		}
		// With a user namespace, the IPC namespace waits until husk-init
		// is root in it: its mqueue filesystem is owned by whoever made
		// it (an unmapped host root would show as nobody).
		if ns.Type != rspec.CgroupNamespace && !(userns && ns.Type == rspec.IPCNamespace) {
			f, _ := nsutil.CloneFlag(ns.Type)
			flags |= f
		}
	}
	attr := &syscall.SysProcAttr{Cloneflags: flags}
	if userns {
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
		attr.GidMappingsEnableSetgroups = !p.rootless
		attr.Credential = &syscall.Credential{NoSetGroups: !attr.GidMappingsEnableSetgroups}
	}
	if _, ok := index[rspec.CgroupNamespace]; ok {
		p.add("linux.namespaces (cgroup)", initproc.Unshare{Clone: unix.CLONE_NEWCGROUP})
	}
	if _, ok := index[rspec.IPCNamespace]; ok && userns {
		p.add("linux.namespaces (ipc)", initproc.Unshare{Clone: unix.CLONE_NEWIPC})
	}
	_, p.pidns = index[rspec.PIDNamespace]
	p.clone = attr
	p.add("init", initproc.ReportPid{})
	return true
}

// checkJoinedMappings checks uid and gid mappings given with a user
// namespace to join, as runc does: they must be the namespace's own (a
// warning says they are redundant), else the config is refused.
func (p *planner) checkJoinedMappings(ns *os.File) error {
	l := p.spec.Linux
	if len(l.UIDMappings) == 0 && len(l.GIDMappings) == 0 {
		return nil
	}
	uid, gid, err := p.host.userNSMappings(ns)
	if err != nil {
		return fmt.Errorf("read the mappings of the user namespace: %w", err)
	}
	if !nsutil.SameIDMaps(uid, l.UIDMappings) || !nsutil.SameIDMaps(gid, l.GIDMappings) {
		return fmt.Errorf("linux.uidMappings/gidMappings differ from the mappings of the user namespace joined (give none)")
	}
	p.warnings = append(p.warnings, "linux.uidMappings/gidMappings are given with a user namespace to join: they are its own, and ignored (give none)")
	return nil
}

// checkNetSysctls refuses net.* sysctls when the network namespace the
// container joins (open as ns) is husk's own: they would change the
// host's network settings. runc refuses them too.
func (p *planner) checkNetSysctls(ns *os.File) error {
	var keys []string
	for k := range p.spec.Linux.Sysctl {
		if strings.HasPrefix(specs.SysctlName(k), "net.") {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	own, err := p.host.isOwnNamespace(ns, rspec.NetworkNamespace)
	if err != nil {
		return fmt.Errorf("linux.namespaces (network): %w", err)
	}
	if own {
		sort.Strings(keys)
		return fmt.Errorf("linux.sysctl[%q]: not allowed in the host's network namespace", keys[0])
	}
	return nil
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
