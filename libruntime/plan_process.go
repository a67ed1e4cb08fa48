package libruntime

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/libruntime/initproc"
	"github.com/husk-runtime/husk/libruntime/seccomp"
	"github.com/husk-runtime/husk/specs"
)

// process compiles the container process's attributes, in the order runc
// applies them: limits and scheduling as root, the bounding set while
// CAP_SETPCAP is still there, then the uid switch, then the final
// capability sets, no_new_privs and the seccomp filter last.
func (p *planner) process() error {
	proc := p.spec.Process
	for i, rl := range proc.Rlimits {
		res, ok := specs.RlimitNumber(rl.Type)
		if !ok {
			return fmt.Errorf("process.rlimits[%d].type: unknown rlimit %q", i, rl.Type)
		}
		p.add(fmt.Sprintf("process.rlimits[%d] (%s)", i, rl.Type),
			initproc.Rlimit{Resource: int64(res), Soft: int64(rl.Soft), Hard: int64(rl.Hard)})
	}
	if err := p.scheduling(); err != nil {
		return err
	}
	if !p.noNewKeyring {
		p.add("session keyring", initproc.Keyring{Name: p.id})
	}

	// Every fd of ours closes at exec, whatever the container's seccomp
	// profile allows later.
	p.add("init", initproc.CloexecFrom{First: int64(3 + p.preserveFDs)})

	// Without process.capabilities the process keeps the capabilities it
	// has, as with runc.
	caps, setCaps := p.capabilities()
	if setCaps {
		bounding := caps
		bounding.OpFlags = initproc.CapsBounding
		p.add("process.capabilities", bounding)
	}
	p.add("process.cwd", initproc.Chdir{Dir: proc.Cwd, OpFlags: initproc.ChdirTry})

	// LSM labels apply at exec; they are written through the private
	// procfs, which goes with every other handle of the host's before
	// the switch to the container's credentials.
	if err := p.lsm(); err != nil {
		return err
	}
	p.add("init", initproc.DropHandles{})

	filter, err := p.seccompFilter()
	if err != nil {
		return err
	}
	// Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: do it
	// while we are still root.
	if filter != nil && !proc.NoNewPrivileges {
		p.seccompOp(filter)
	}
	u := proc.User
	gids := make([]byte, 0, 4*len(u.AdditionalGids))
	for _, g := range u.AdditionalGids {
		gids = binary.NativeEndian.AppendUint32(gids, g)
	}
	// Root drops the groups it came with; without root there are none to
	// drop, and setgroups(2) is denied in its user namespace anyway.
	if !p.rootless || len(gids) > 0 {
		p.add("process.user.additionalGids", initproc.Setgroups{GIDs: gids})
	}
	p.add("process.user.gid", initproc.Setresgid{GID: int64(u.GID)})
	p.add("process.user.uid", initproc.Setresuid{UID: int64(u.UID)})
	p.add("process.cwd", initproc.Chdir{Dir: proc.Cwd, OpFlags: initproc.ChdirIfPending})
	if setCaps {
		p.add("process.capabilities", caps)
	}
	if proc.NoNewPrivileges {
		p.add("process.noNewPrivileges", initproc.NoNewPrivs{})
	}
	// A notify listener must get its fd while husk create still runs; any
	// other filter waits until just before exec (in lateSeccomp) so that
	// the fewest syscalls of ours run under it.
	if filter != nil && proc.NoNewPrivileges && filter.Notify {
		p.seccompOp(filter)
	}
	umask := uint32(0o022)
	if u.Umask != nil {
		umask = *u.Umask
	}
	p.add("process.user.umask", initproc.Umask{Mask: int64(umask)})
	if p.terminal {
		p.add("process.terminal", initproc.StdioConsole{})
	}
	p.add("process.args[0]", initproc.LookupExec{Name: proc.Args[0], Path: envValue(proc.Env, "PATH")})
	return nil
}

// lateSeccomp loads a no_new_privs filter right before exec.
func (p *planner) lateSeccomp() error {
	filter, err := p.seccompFilter()
	if err != nil || filter == nil {
		return err
	}
	if p.spec.Process.NoNewPrivileges && !filter.Notify {
		p.seccompOp(filter)
	}
	return nil
}

func (p *planner) seccompFilter() (*seccomp.Filter, error) {
	if p.spec.Linux == nil || p.spec.Linux.Seccomp == nil {
		return nil, nil
	}
	if p.seccomp == nil {
		f, err := seccomp.Compile(p.spec.Linux.Seccomp)
		if err != nil {
			return nil, err
		}
		p.seccomp = f
	}
	return p.seccomp, nil
}

func (p *planner) seccompOp(f *seccomp.Filter) {
	s := initproc.Seccomp{Program: f.Bytes(), FilterFlags: int64(f.Flags)}
	if f.Notify {
		s.OpFlags = initproc.SecNotify
	}
	p.add("linux.seccomp", s)
}

// capabilities compiles process.capabilities into the five sets as
// bitmasks; set is false when the config has none, and the process keeps
// the capabilities it has. As runc does, names this kernel does not know
// (unknown or newer than it) are left out of every set with one warning,
// so one config works across kernels, and an ambient capability that is
// not both permitted and inheritable, which the kernel would refuse to
// raise, is left out with a warning of its own.
func (p *planner) capabilities() (caps initproc.Caps, set bool) {
	lastCap := p.host.lastCap()
	caps = initproc.Caps{LastCap: int64(lastCap)}
	c := p.spec.Process.Capabilities
	if c == nil {
		return caps, false
	}
	sets := []struct {
		names []string
		mask  *int64
	}{
		{c.Bounding, &caps.Bounding}, {c.Effective, &caps.Effective}, {c.Permitted, &caps.Permitted},
		{c.Inheritable, &caps.Inheritable}, {c.Ambient, &caps.Ambient},
	}
	var unknown []string
	for _, s := range sets {
		var mask uint64
		for _, name := range s.names {
			n, ok := specs.CapabilityNumber(name)
			if !ok || n > lastCap {
				if !slices.Contains(unknown, name) {
					unknown = append(unknown, name)
				}
				continue
			}
			mask |= 1 << uint(n)
		}
		*s.mask = int64(mask)
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		p.warnf("ignoring unknown or unavailable capabilities: [%s]", strings.Join(unknown, " "))
	}
	if lost := caps.Ambient &^ (caps.Permitted & caps.Inheritable); lost != 0 {
		for n := 0; n <= lastCap; n++ {
			if lost&(1<<uint(n)) != 0 {
				p.setupWarnings = append(p.setupWarnings,
					fmt.Sprintf("can't raise ambient capability %s: %v", specs.Capabilities[n], unix.EPERM))
			}
		}
		caps.Ambient &^= lost
	}
	return caps, true
}

var schedPolicies = map[rspec.LinuxSchedulerPolicy]int64{
	rspec.SchedOther: 0, rspec.SchedFIFO: 1, rspec.SchedRR: 2, rspec.SchedBatch: 3,
	rspec.SchedISO: 4, rspec.SchedIdle: 5, rspec.SchedDeadline: 6,
}

var schedFlags = map[rspec.LinuxSchedulerFlag]int64{
	rspec.SchedFlagResetOnFork: 0x01, rspec.SchedFlagReclaim: 0x02, rspec.SchedFlagDLOverrun: 0x04,
	rspec.SchedFlagKeepPolicy: 0x08, rspec.SchedFlagKeepParams: 0x10, rspec.SchedFlagUtilClampMin: 0x20,
	rspec.SchedFlagUtilClampMax: 0x40,
}

var ioprioClasses = map[rspec.IOPriorityClass]int64{
	rspec.IOPRIO_CLASS_RT: 1, rspec.IOPRIO_CLASS_BE: 2, rspec.IOPRIO_CLASS_IDLE: 3,
}

// scheduling compiles personality, scheduler, I/O priority, memory policy
// and exec's final CPU affinity.
func (p *planner) scheduling() error {
	proc := p.spec.Process
	if l := p.spec.Linux; l != nil && l.Personality != nil {
		// PER_LINUX and PER_LINUX32 from <sys/personality.h>.
		var persona int64
		switch l.Personality.Domain {
		case rspec.PerLinux:
			persona = 0x0000
		case rspec.PerLinux32:
			persona = 0x0008
		default:
			return fmt.Errorf("linux.personality.domain: unknown domain %q", l.Personality.Domain)
		}
		if len(l.Personality.Flags) > 0 {
			// runc sets none either, and says so.
			p.warnf("ignoring unsupported personality flags: %v", l.Personality.Flags)
		}
		p.add("linux.personality", initproc.Personality{Persona: persona})
	}
	if s := proc.Scheduler; s != nil {
		policy, ok := schedPolicies[s.Policy]
		if !ok {
			return fmt.Errorf("process.scheduler.policy: unknown policy %q", s.Policy)
		}
		var flags int64
		for i, f := range s.Flags {
			bit, ok := schedFlags[f]
			if !ok {
				return fmt.Errorf("process.scheduler.flags[%d]: unknown flag %q", i, f)
			}
			flags |= bit
		}
		p.add("process.scheduler", initproc.Sched{
			Policy: policy, Nice: int64(s.Nice), Priority: int64(s.Priority), Flags: flags,
			Runtime: int64(s.Runtime), Deadline: int64(s.Deadline),
			Period: binary.NativeEndian.AppendUint64(nil, s.Period),
		})
	}
	if io := proc.IOPriority; io != nil {
		class, ok := ioprioClasses[io.Class]
		if !ok {
			return fmt.Errorf("process.ioPriority.class: unknown class %q", io.Class)
		}
		p.add("process.ioPriority", initproc.Ioprio{Value: class<<13 | int64(io.Priority)})
	}
	if err := p.memoryPolicy(); err != nil {
		return err
	}
	// As runc: the affinity is exec's; the container's init runs on the
	// CPUs of its cgroup (startAffinity).
	if a := proc.ExecCPUAffinity; p.execing && a != nil && a.Final != "" {
		mask, err := specs.ParseList(a.Final)
		if err != nil {
			return fmt.Errorf("process.execCPUAffinity.final: %w", err)
		}
		p.add("process.execCPUAffinity.final", initproc.Affinity{Mask: mask})
	}
	return nil
}

// memoryPolicy compiles linux.memoryPolicy (validated by specs) into one
// set_mempolicy(2), for the container's init and for every exec, as runc.
func (p *planner) memoryPolicy() error {
	l := p.spec.Linux
	if l == nil || l.MemoryPolicy == nil {
		return nil
	}
	mp := l.MemoryPolicy
	mode, ok := specs.MemoryPolicyMode(string(mp.Mode))
	if !ok {
		return fmt.Errorf("linux.memoryPolicy.mode: invalid memory policy mode %q", mp.Mode)
	}
	for i, f := range mp.Flags {
		bit, ok := specs.MemoryPolicyFlag(string(f))
		if !ok {
			return fmt.Errorf("linux.memoryPolicy.flags[%d]: invalid memory policy flag %q", i, f)
		}
		mode |= bit
	}
	nodes, err := specs.ParseList(mp.Nodes)
	if err != nil {
		return fmt.Errorf("linux.memoryPolicy.nodes: %w", err)
	}
	p.add("linux.memoryPolicy", initproc.Mempolicy{Mode: int64(mode), Nodes: nodes})
	return nil
}

// allCPUs is a sched_setaffinity mask of every CPU a kernel can have
// (8192): the kernel keeps those of the cgroup's cpuset.
var allCPUs = func() []byte {
	m := make([]byte, 8192/8)
	for i := range m {
		m[i] = 0xff
	}
	return m
}()

// startAffinity sets husk-init's CPU affinity once it is in its cgroup.
// The container's init, and an exec without process.execCPUAffinity, run
// on the CPUs of the cgroup's cpuset and not on husk's own affinity (a
// `taskset husk run` must not pin the container); an exec with
// execCPUAffinity.initial runs on those CPUs while husk-init sets it up,
// keeping the runtime's work off the CPUs its workload will use. As runc.
func (p *planner) startAffinity() error {
	a := p.spec.Process.ExecCPUAffinity
	if !p.execing || a == nil || a.Initial == "" && a.Final == "" {
		p.add("process.execCPUAffinity", initproc.Affinity{Mask: allCPUs})
		return nil
	}
	if a.Initial == "" {
		return nil
	}
	mask, err := specs.ParseList(a.Initial)
	if err != nil {
		return fmt.Errorf("process.execCPUAffinity.initial: %w", err)
	}
	p.add("process.execCPUAffinity.initial", initproc.Affinity{Mask: mask})
	return nil
}

// envValue returns the value of name in a KEY=VALUE list, nil if unset.
func envValue(env []string, name string) *string {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == name {
			return &v
		}
	}
	return nil
}
