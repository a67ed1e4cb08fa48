package libruntime

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

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

	caps, err := p.capabilities()
	if err != nil {
		return err
	}
	bounding := caps
	bounding.OpFlags = initproc.CapsBounding
	p.add("process.capabilities", bounding)
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
	p.add("process.capabilities", caps)
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
// bitmasks. Capabilities this kernel does not know are dropped, as runc
// does, so one config works across kernel versions.
func (p *planner) capabilities() (initproc.Caps, error) {
	lastCap := p.host.lastCap()
	caps := initproc.Caps{LastCap: int64(lastCap)}
	c := p.spec.Process.Capabilities
	if c == nil {
		return caps, nil
	}
	sets := []struct {
		name  string
		names []string
		mask  *int64
	}{
		{"bounding", c.Bounding, &caps.Bounding}, {"effective", c.Effective, &caps.Effective},
		{"permitted", c.Permitted, &caps.Permitted}, {"inheritable", c.Inheritable, &caps.Inheritable},
		{"ambient", c.Ambient, &caps.Ambient},
	}
	for _, s := range sets {
		var mask uint64
		for i, name := range s.names {
			n, ok := specs.CapabilityNumber(name)
			if !ok {
				return caps, fmt.Errorf("process.capabilities.%s[%d]: unknown capability %q", s.name, i, name)
			}
			if n <= lastCap {
				mask |= 1 << uint(n)
			}
		}
		*s.mask = int64(mask)
	}
	// The kernel only lets a capability be ambient if it is permitted and
	// inheritable; like runc, leave the others out instead of failing.
	caps.Ambient &= caps.Permitted & caps.Inheritable
	return caps, nil
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

// scheduling compiles personality, scheduler, I/O priority and CPU affinity.
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
	if a := proc.ExecCPUAffinity; a != nil && a.Final != "" {
		mask, err := cpuMask(a.Final)
		if err != nil {
			return fmt.Errorf("process.execCPUAffinity.final: %w", err)
		}
		p.add("process.execCPUAffinity.final", initproc.Affinity{Mask: mask})
	}
	return nil
}

// initialAffinity pins husk-init, while it sets the process up, to the CPUs
// of process.execCPUAffinity.initial: the runtime's own work then stays
// off the CPUs the container's workload runs on.
func (p *planner) initialAffinity() error {
	a := p.spec.Process.ExecCPUAffinity
	if a == nil || a.Initial == "" {
		return nil
	}
	mask, err := cpuMask(a.Initial)
	if err != nil {
		return fmt.Errorf("process.execCPUAffinity.initial: %w", err)
	}
	p.add("process.execCPUAffinity.initial", initproc.Affinity{Mask: mask})
	return nil
}

// cpuMask parses a cpuset list ("0-3,5") into a sched_setaffinity mask.
func cpuMask(list string) ([]byte, error) {
	var mask []byte
	set := func(cpu int) {
		for len(mask) <= cpu/8 {
			mask = append(mask, 0)
		}
		mask[cpu/8] |= 1 << uint(cpu%8)
	}
	for _, part := range strings.Split(list, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 || a > 8191 {
			return nil, fmt.Errorf("bad cpu %q in %q", lo, list)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a || b > 8191 {
				return nil, fmt.Errorf("bad cpu range %q in %q", part, list)
			}
		}
		for c := a; c <= b; c++ {
			set(c)
		}
	}
	// The kernel wants whole longs.
	for len(mask)%8 != 0 {
		mask = append(mask, 0)
	}
	return mask, nil
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
