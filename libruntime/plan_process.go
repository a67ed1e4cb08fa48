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
		p.add(initproc.OpRlimit, fmt.Sprintf("process.rlimits[%d] (%s)", i, rl.Type), func(op *initproc.Op) {
			op.A[0], op.A[1], op.A[2] = int64(res), int64(rl.Soft), int64(rl.Hard)
		})
	}
	if err := p.scheduling(); err != nil {
		return err
	}
	if !p.noNewKeyring {
		p.add(initproc.OpKeyring, "session keyring", func(op *initproc.Op) { op.S[0] = initproc.Str(p.id) })
	}

	// Every fd of ours closes at exec, whatever the container's seccomp
	// profile allows later.
	first := 3 + p.preserveFDs
	p.add(initproc.OpCloexecFrom, "init", func(op *initproc.Op) { op.A[0] = int64(first) })

	caps, err := p.capabilities()
	if err != nil {
		return err
	}
	bounding := caps
	bounding.Flags = initproc.CapsBounding
	p.plan.Add(bounding)
	cwd := proc.Cwd
	p.add(initproc.OpChdir, "process.cwd", func(op *initproc.Op) {
		op.Flags = initproc.ChdirTry
		op.S[0] = initproc.Str(cwd)
	})

	// LSM labels apply at exec; they are written through the private
	// procfs, which goes with every other handle of the host's before
	// the switch to the container's credentials.
	if err := p.lsm(); err != nil {
		return err
	}
	p.add(initproc.OpDropHandles, "init", nil)

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
		p.add(initproc.OpSetgroups, "process.user.additionalGids", func(op *initproc.Op) { op.S[0] = initproc.Blob(gids) })
	}
	p.add(initproc.OpSetresgid, "process.user.gid", func(op *initproc.Op) { op.A[0] = int64(u.GID) })
	p.add(initproc.OpSetresuid, "process.user.uid", func(op *initproc.Op) { op.A[0] = int64(u.UID) })
	p.add(initproc.OpChdir, "process.cwd", func(op *initproc.Op) {
		op.Flags = initproc.ChdirIfPending
		op.S[0] = initproc.Str(cwd)
	})
	p.plan.Add(caps)
	if proc.NoNewPrivileges {
		p.add(initproc.OpNoNewPrivs, "process.noNewPrivileges", nil)
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
	p.add(initproc.OpUmask, "process.user.umask", func(op *initproc.Op) { op.A[0] = int64(umask) })
	if p.terminal {
		p.add(initproc.OpStdioConsole, "process.terminal", nil)
	}
	path := envValue(proc.Env, "PATH")
	p.add(initproc.OpLookupExec, "process.args[0]", func(op *initproc.Op) {
		op.S[0] = initproc.Str(proc.Args[0])
		if path != nil {
			op.S[1] = initproc.Str(*path)
		}
	})
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
	p.add(initproc.OpSeccomp, "linux.seccomp", func(op *initproc.Op) {
		op.S[0] = initproc.Blob(f.Bytes())
		op.A[0] = int64(f.Flags)
		if f.Notify {
			op.Flags = initproc.SecNotify
		}
	})
}

// capabilities compiles process.capabilities into one OpCaps with all five
// sets as bitmasks. Capabilities this kernel does not know are dropped, as
// runc does, so one config works across kernel versions.
func (p *planner) capabilities() (initproc.Op, error) {
	op := initproc.Op{Code: initproc.OpCaps, What: "process.capabilities"}
	c := p.spec.Process.Capabilities
	op.A[5] = int64(p.lastCap)
	if c == nil {
		return op, nil
	}
	sets := []struct {
		name  string
		names []string
		slot  int
	}{
		{"bounding", c.Bounding, 0}, {"effective", c.Effective, 1}, {"permitted", c.Permitted, 2},
		{"inheritable", c.Inheritable, 3}, {"ambient", c.Ambient, 4},
	}
	for _, s := range sets {
		var mask uint64
		for i, name := range s.names {
			n, ok := specs.CapabilityNumber(name)
			if !ok {
				return op, fmt.Errorf("process.capabilities.%s[%d]: unknown capability %q", s.name, i, name)
			}
			if n <= p.lastCap {
				mask |= 1 << uint(n)
			}
		}
		op.A[s.slot] = int64(mask)
	}
	// The kernel only lets a capability be ambient if it is permitted and
	// inheritable; like runc, leave the others out instead of failing.
	op.A[4] &= op.A[2] & op.A[3]
	return op, nil
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
		p.add(initproc.OpPersonality, "linux.personality", func(op *initproc.Op) { op.A[0] = persona })
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
		period := binary.NativeEndian.AppendUint64(nil, s.Period)
		p.add(initproc.OpSched, "process.scheduler", func(op *initproc.Op) {
			op.A[0], op.A[1], op.A[2], op.A[3] = policy, int64(s.Nice), int64(s.Priority), flags
			op.A[4], op.A[5] = int64(s.Runtime), int64(s.Deadline)
			op.S[0] = initproc.Blob(period)
		})
	}
	if io := proc.IOPriority; io != nil {
		class, ok := ioprioClasses[io.Class]
		if !ok {
			return fmt.Errorf("process.ioPriority.class: unknown class %q", io.Class)
		}
		p.add(initproc.OpIoprio, "process.ioPriority", func(op *initproc.Op) { op.A[0] = class<<13 | int64(io.Priority) })
	}
	if a := proc.ExecCPUAffinity; a != nil && a.Final != "" {
		mask, err := cpuMask(a.Final)
		if err != nil {
			return fmt.Errorf("process.execCPUAffinity.final: %w", err)
		}
		p.add(initproc.OpAffinity, "process.execCPUAffinity.final", func(op *initproc.Op) { op.S[0] = initproc.Blob(mask) })
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
	p.add(initproc.OpAffinity, "process.execCPUAffinity.initial", func(op *initproc.Op) { op.S[0] = initproc.Blob(mask) })
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
