package parity

import (
	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

func init() { caseFamilies = append(caseFamilies, seccompCases) }

// umaskProbe calls umask(2) with each mask and prints the result; the
// shell then prints how the probe ended (a kill shows as its signal). A
// probe whose thread SCMP_ACT_KILL_THREAD killed lives on in its Go
// runtime's other threads: after 10 s it is killed (rc=137), rather than
// holding the case until the runtime command times out.
func umaskProbe(masks ...string) string {
	args := ""
	for _, m := range masks {
		args += " umask=" + m
	}
	return "timeout -s KILL 10 /bin/probe" + args + "; echo \"=== status\"; echo rc=$?; grep -E '^Seccomp' /proc/self/status"
}

// seccompWith allows everything but the rules given.
func seccompWith(def rspec.LinuxSeccompAction, rules ...rspec.LinuxSyscall) func(*rspec.Spec) {
	return func(s *rspec.Spec) {
		s.Linux.Seccomp = &rspec.LinuxSeccomp{DefaultAction: def, Syscalls: rules}
	}
}

func umaskRule(action rspec.LinuxSeccompAction, args ...rspec.LinuxSeccompArg) rspec.LinuxSyscall {
	return rspec.LinuxSyscall{Names: []string{"umask"}, Action: action, Args: args}
}

func seccompCases() []*Case {
	var cs []*Case
	for _, a := range []rspec.LinuxSeccompAction{
		rspec.ActKill, rspec.ActKillProcess, rspec.ActKillThread, rspec.ActTrap, rspec.ActErrno,
		rspec.ActTrace, rspec.ActAllow, rspec.ActLog, "SCMP_ACT_BOGUS",
	} {
		cs = append(cs, &Case{Name: "seccomp/rule-action/" + string(a), Script: umaskProbe("022"),
			Spec: seccompWith(rspec.ActAllow, umaskRule(a))})
	}
	for _, op := range []struct {
		op   rspec.LinuxSeccompOperator
		v, w uint64
	}{
		{rspec.OpEqualTo, 0o22, 0}, {rspec.OpNotEqual, 0o22, 0}, {rspec.OpLessThan, 0o22, 0},
		{rspec.OpLessEqual, 0o22, 0}, {rspec.OpGreaterThan, 0o22, 0}, {rspec.OpGreaterEqual, 0o22, 0},
		{rspec.OpMaskedEqual, 0o20, 0o20}, {"SCMP_CMP_BOGUS", 1, 0},
	} {
		cs = append(cs, &Case{Name: "seccomp/operator/" + string(op.op), Script: umaskProbe("0", "022", "077"),
			Spec: seccompWith(rspec.ActAllow, umaskRule(rspec.ActErrno, rspec.LinuxSeccompArg{Index: 0, Value: op.v, ValueTwo: op.w, Op: op.op}))})
	}
	for _, f := range []rspec.LinuxSeccompFlag{
		rspec.LinuxSeccompFlagLog, rspec.LinuxSeccompFlagSpecAllow, "SECCOMP_FILTER_FLAG_TSYNC",
		rspec.LinuxSeccompFlagWaitKillableRecv, "SECCOMP_FILTER_FLAG_BOGUS",
	} {
		cs = append(cs, &Case{Name: "seccomp/flag/" + string(f), Script: umaskProbe("022"),
			Spec: func(s *rspec.Spec) {
				seccompWith(rspec.ActAllow, umaskRule(rspec.ActErrno))(s)
				s.Linux.Seccomp.Flags = []rspec.LinuxSeccompFlag{f}
			}})
	}
	errno := func(ret uint) func(*rspec.Spec) {
		return func(s *rspec.Spec) {
			r := umaskRule(rspec.ActErrno)
			r.ErrnoRet = &ret
			seccompWith(rspec.ActAllow, r)(s)
		}
	}
	cs = append(cs,
		&Case{Name: "seccomp/errno-ret/EACCES", Script: umaskProbe("022"), Spec: errno(13)},
		&Case{Name: "seccomp/errno-ret/zero", Script: umaskProbe("022"), Spec: errno(0)},
		&Case{Name: "seccomp/default-errno-ret", Script: umaskProbe("022"), Spec: func(s *rspec.Spec) {
			ret := uint(38)
			seccompWith(rspec.ActAllow, umaskRule(rspec.ActErrno))(s)
			s.Linux.Seccomp.DefaultErrnoRet = &ret
		}},
		&Case{Name: "seccomp/unknown-syscall-name", Script: umaskProbe("022"), Spec: seccompWith(rspec.ActAllow,
			rspec.LinuxSyscall{Names: []string{"no_such_syscall", "umask"}, Action: rspec.ActErrno})},
		&Case{Name: "seccomp/only-unknown-syscall", Script: umaskProbe("022"), Spec: seccompWith(rspec.ActAllow,
			rspec.LinuxSyscall{Names: []string{"no_such_syscall"}, Action: rspec.ActErrno})},
		&Case{Name: "seccomp/empty-names", Script: umaskProbe("022"), Spec: seccompWith(rspec.ActAllow,
			rspec.LinuxSyscall{Names: []string{}, Action: rspec.ActErrno})},
		&Case{Name: "seccomp/rule-same-as-default", Script: umaskProbe("022"), Spec: seccompWith(rspec.ActAllow, umaskRule(rspec.ActAllow))},
		&Case{Name: "seccomp/arch-native", Script: umaskProbe("022"), Spec: func(s *rspec.Spec) {
			seccompWith(rspec.ActAllow, umaskRule(rspec.ActErrno))(s)
			s.Linux.Seccomp.Architectures = []rspec.Arch{rspec.ArchX86_64, rspec.ArchX86, rspec.ArchX32}
		}},
		&Case{Name: "seccomp/arch-foreign-only", Script: umaskProbe("022"), Spec: func(s *rspec.Spec) {
			seccompWith(rspec.ActAllow, umaskRule(rspec.ActErrno))(s)
			s.Linux.Seccomp.Architectures = []rspec.Arch{rspec.ArchAARCH64}
		}},
		&Case{Name: "seccomp/arch-bogus", Script: umaskProbe("022"), Spec: func(s *rspec.Spec) {
			seccompWith(rspec.ActAllow, umaskRule(rspec.ActErrno))(s)
			s.Linux.Seccomp.Architectures = []rspec.Arch{"SCMP_ARCH_BOGUS"}
		}},
		&Case{Name: "seccomp/empty-filter", Script: umaskProbe("022"), Spec: seccompWith(rspec.ActAllow)},
		&Case{Name: "seccomp/default-errno-allowlist", Script: "echo '=== out'; echo hi",
			Spec: seccompWith(rspec.ActErrno, rspec.LinuxSyscall{Names: []string{"write"}, Action: rspec.ActAllow})},
		&Case{Name: "seccomp/notify-without-listener", Script: umaskProbe("022"), Spec: seccompWith(rspec.ActAllow, umaskRule(rspec.ActNotify))},
		&Case{Name: "seccomp/notify-listener-missing", Script: umaskProbe("022"), Spec: func(s *rspec.Spec) {
			seccompWith(rspec.ActAllow, umaskRule(rspec.ActNotify))(s)
			s.Linux.Seccomp.ListenerPath = "{dir}/no-such-agent.sock"
		}},
		&Case{Name: "seccomp/listener-without-notify", Script: umaskProbe("022"), Spec: func(s *rspec.Spec) {
			seccompWith(rspec.ActAllow, umaskRule(rspec.ActErrno))(s)
			s.Linux.Seccomp.ListenerPath = "{dir}/agent.sock"
		}},
		&Case{Name: "seccomp/notify-write-syscall", Script: umaskProbe("022"), Spec: seccompWith(rspec.ActAllow,
			rspec.LinuxSyscall{Names: []string{"write"}, Action: rspec.ActNotify})},
		&Case{Name: "seccomp/exec-inherits", Spec: edits(sleeper, seccompWith(rspec.ActAllow, umaskRule(rspec.ActErrno))),
			Steps: steps(started(), []Step{execSh("exec", umaskProbe("022"))})},
		&Case{Name: "seccomp/exec-no-new-privs-flag", Spec: edits(sleeper, func(s *rspec.Spec) { s.Process.NoNewPrivileges = false }),
			Steps: steps(started(), []Step{execSh("exec", pStatus, "--no-new-privs")})},
		&Case{Name: "seccomp/without-no-new-privs", Script: umaskProbe("022"), Spec: edits(
			seccompWith(rspec.ActAllow, umaskRule(rspec.ActErrno)), func(s *rspec.Spec) { s.Process.NoNewPrivileges = false })},
		&Case{Name: "seccomp/without-no-new-privs-nonroot", Script: umaskProbe("022"), Spec: edits(
			seccompWith(rspec.ActAllow, umaskRule(rspec.ActErrno)), func(s *rspec.Spec) {
				s.Process.NoNewPrivileges = false
				s.Process.User = rspec.User{UID: 1000, GID: 1000}
			})},
	)
	return cs
}
