package specs

import (
	"slices"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// The seccomp vocabularies of runtime-spec 1.3.0 (config-linux.md). The
// flags include SECCOMP_FILTER_FLAG_TSYNC, which the spec lists but
// specs-go has no constant for.
var (
	seccompActions = [...]rspec.LinuxSeccompAction{
		rspec.ActKill, rspec.ActKillProcess, rspec.ActKillThread, rspec.ActTrap,
		rspec.ActErrno, rspec.ActTrace, rspec.ActAllow, rspec.ActLog, rspec.ActNotify,
	}
	seccompArches = [...]rspec.Arch{
		rspec.ArchX86, rspec.ArchX86_64, rspec.ArchX32, rspec.ArchARM, rspec.ArchAARCH64,
		rspec.ArchMIPS, rspec.ArchMIPS64, rspec.ArchMIPS64N32, rspec.ArchMIPSEL,
		rspec.ArchMIPSEL64, rspec.ArchMIPSEL64N32, rspec.ArchPPC, rspec.ArchPPC64,
		rspec.ArchPPC64LE, rspec.ArchS390, rspec.ArchS390X, rspec.ArchPARISC,
		rspec.ArchPARISC64, rspec.ArchRISCV64, rspec.ArchLOONGARCH64, rspec.ArchM68K,
		rspec.ArchSH, rspec.ArchSHEB,
	}
	seccompFlags = [...]rspec.LinuxSeccompFlag{
		"SECCOMP_FILTER_FLAG_TSYNC",
		rspec.LinuxSeccompFlagLog,
		rspec.LinuxSeccompFlagSpecAllow,
		rspec.LinuxSeccompFlagWaitKillableRecv,
	}
	seccompOps = [...]rspec.LinuxSeccompOperator{
		rspec.OpNotEqual, rspec.OpLessThan, rspec.OpLessEqual, rspec.OpEqualTo,
		rspec.OpGreaterEqual, rspec.OpGreaterThan, rspec.OpMaskedEqual,
	}
)

// maxSyscallArgs is the number of syscall arguments seccomp can compare.
const maxSyscallArgs = 6

func checkSeccomp(sc *rspec.LinuxSeccomp) error {
	if sc == nil {
		return nil
	}
	const f = "linux.seccomp"
	if err := checkAction(f+".defaultAction", sc.DefaultAction); err != nil {
		return err
	}
	if sc.DefaultAction == rspec.ActNotify {
		// Every syscall of the runtime after the filter is installed,
		// including the ones that hand the notify fd over, would block.
		return fieldErrorf(f+".defaultAction", "SCMP_ACT_NOTIFY cannot be the default action")
	}
	// A defaultErrnoRet or errnoRet for an action that returns no errno
	// is ignored, as runc does.
	for i, a := range sc.Architectures {
		if !slices.Contains(seccompArches[:], a) {
			return fieldErrorf(index(f+".architectures", i), "unknown architecture %q", a)
		}
	}
	for i, fl := range sc.Flags {
		if !slices.Contains(seccompFlags[:], fl) {
			return fieldErrorf(index(f+".flags", i), "unknown flag %q (want SECCOMP_FILTER_FLAG_TSYNC, SECCOMP_FILTER_FLAG_LOG, SECCOMP_FILTER_FLAG_SPEC_ALLOW or SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV)", fl)
		}
	}
	// A listenerPath (and listenerMetadata) without a notify rule is
	// unused, as with runc: no listener is made.
	notify := slices.IndexFunc(sc.Syscalls, func(s rspec.LinuxSyscall) bool {
		return s.Action == rspec.ActNotify && len(s.Names) > 0
	})
	if notify >= 0 {
		if sc.ListenerPath == "" {
			return fieldErrorf(f+".listenerPath", "required because %s.action is SCMP_ACT_NOTIFY", index(f+".syscalls", notify))
		}
		if err := checkAbs(f+".listenerPath", sc.ListenerPath); err != nil {
			return err
		}
	}
	for i, s := range sc.Syscalls {
		if err := checkSyscall(index(f+".syscalls", i), s); err != nil {
			return err
		}
	}
	return nil
}

func checkSyscall(p string, s rspec.LinuxSyscall) error {
	// A rule with no names adds nothing (runc accepts it).
	for j, n := range s.Names {
		if n == "" {
			return fieldErrorf(index(p+".names", j), "empty syscall name")
		}
		if n == "write" && s.Action == rspec.ActNotify {
			// As in runc: the container's init still writes to the runtime
			// after loading the filter, before the agent has the notify fd,
			// so it would block forever.
			return fieldErrorf(index(p+".names", j), "SCMP_ACT_NOTIFY cannot be used for write")
		}
	}
	if err := checkAction(p+".action", s.Action); err != nil {
		return err
	}
	for j, a := range s.Args {
		ap := index(p+".args", j)
		if a.Index >= maxSyscallArgs {
			return fieldErrorf(ap+".index", "%d is out of range [0, %d]", a.Index, maxSyscallArgs-1)
		}
		if !slices.Contains(seccompOps[:], a.Op) {
			return fieldErrorf(ap+".op", "unknown operator %q (want SCMP_CMP_NE, SCMP_CMP_LT, SCMP_CMP_LE, SCMP_CMP_EQ, SCMP_CMP_GE, SCMP_CMP_GT or SCMP_CMP_MASKED_EQ)", a.Op)
		}
	}
	return nil
}

func checkAction(field string, a rspec.LinuxSeccompAction) error {
	if a == "" {
		return required(field)
	}
	if !slices.Contains(seccompActions[:], a) {
		return fieldErrorf(field, "unknown action %q", a)
	}
	return nil
}
