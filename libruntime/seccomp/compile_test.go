package seccomp

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

const (
	retAllow       = unix.SECCOMP_RET_ALLOW
	retKillThread  = unix.SECCOMP_RET_KILL_THREAD
	retKillProcess = unix.SECCOMP_RET_KILL_PROCESS
	retTrap        = unix.SECCOMP_RET_TRAP
	retLog         = unix.SECCOMP_RET_LOG
	retNotify      = unix.SECCOMP_RET_USER_NOTIF
)

func retErrno(e unix.Errno) uint32 { return unix.SECCOMP_RET_ERRNO | uint32(e) }

func ptr[T any](v T) *T { return &v }

var (
	archX86_64  = lookupArch(rspec.ArchX86_64)
	archX86     = lookupArch(rspec.ArchX86)
	archX32     = lookupArch(rspec.ArchX32)
	archAARCH64 = lookupArch(rspec.ArchAARCH64)
	archS390X   = lookupArch(rspec.ArchS390X)
)

// nr returns a syscall number from the tables.
func nr(t *testing.T, a *arch, name string) uint32 {
	t.Helper()
	n, ok := a.sysnum(name)
	if !ok {
		t.Fatalf("no syscall %q on %s", name, a.name)
	}
	return n
}

func mustCompile(t *testing.T, s *rspec.LinuxSeccomp, host *arch) *Filter {
	t.Helper()
	f, err := compile(s, host)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return f
}

// on builds the seccomp_data of a syscall on x86_64 (the default) or on
// another architecture.
func on(a *arch, nr uint32, args ...uint64) call {
	c := call{arch: a.audit, nr: nr}
	copy(c.args[:], args)
	return c
}

type check struct {
	name string
	c    call
	want uint32
}

func expect(t *testing.T, f *Filter, host *arch, checks []check) {
	t.Helper()
	for _, ch := range checks {
		if got, _ := run(t, f.Program, ch.c, host.bigEndian); got != ch.want {
			t.Errorf("%s (arch %#x nr %#x args %#x): verdict %#x, want %#x", ch.name, ch.c.arch, ch.c.nr, ch.c.args, got, ch.want)
		}
	}
}

func TestTables(t *testing.T) {
	if !slices.IsSorted(syscallNames[:]) {
		t.Fatal("syscallNames is not sorted")
	}
	for _, tc := range []struct {
		a    *arch
		name string
		want uint32
	}{
		{archX86_64, "read", 0},
		{archX86_64, "open", 2},
		{archX86_64, "clone3", 435},
		{archX86_64, "mseal", 462}, // newer than libseccomp 2.5.4, from x/sys
		{archX86, "open", 5},
		{archX86, "socketcall", 102},
		{archX32, "read", x32SyscallBit},
		{archX32, "rt_sigaction", x32SyscallBit + 512},
		{archX32, "mseal", x32SyscallBit + 462},
		{archAARCH64, "openat", 56},
		{lookupArch(rspec.ArchMIPS), "read", 4003},
		{lookupArch(rspec.ArchMIPS64N32), "mseal", 6462},
		{archS390X, "read", 3},
	} {
		if got := nr(t, tc.a, tc.name); got != tc.want {
			t.Errorf("%s on %s: %d, want %d", tc.name, tc.a.name, got, tc.want)
		}
	}
	for _, name := range []string{"open", "socketcall", "arch_prctl"} {
		if _, ok := archAARCH64.sysnum(name); ok {
			t.Errorf("%s exists on aarch64", name)
		}
	}
	if _, ok := archX86_64.sysnum("no_such_syscall"); ok {
		t.Error("no_such_syscall resolves")
	}
	// Syscalls from 424 on have the same number everywhere, above the
	// architecture's base.
	bases := map[rspec.Arch]uint32{
		rspec.ArchX32: x32SyscallBit, rspec.ArchMIPS: 4000, rspec.ArchMIPSEL: 4000,
		rspec.ArchMIPS64: 5000, rspec.ArchMIPSEL64: 5000, rspec.ArchMIPS64N32: 6000, rspec.ArchMIPSEL64N32: 6000,
	}
	for _, a := range arches {
		for name, want := range map[string]uint32{"clone3": 435, "futex_requeue": 456, "listmount": 458} {
			if got := nr(t, a, name); got != bases[a.name]+want {
				t.Errorf("%s on %s is %d, want %d", name, a.name, got, bases[a.name]+want)
			}
		}
	}
}

// base is a small valid profile that the error cases break.
func base() *rspec.LinuxSeccomp {
	return &rspec.LinuxSeccomp{
		DefaultAction: rspec.ActErrno,
		Architectures: []rspec.Arch{rspec.ArchX86_64, rspec.ArchX86},
		Flags:         []rspec.LinuxSeccompFlag{rspec.LinuxSeccompFlagLog},
		Syscalls: []rspec.LinuxSyscall{
			{Names: []string{"read", "write"}, Action: rspec.ActAllow},
			{Names: []string{"getpid"}, Action: rspec.ActErrno, ErrnoRet: ptr(uint(1))},
			{Names: []string{"personality"}, Action: rspec.ActAllow, Args: []rspec.LinuxSeccompArg{{Index: 0, Value: 8, Op: rspec.OpEqualTo}}},
			{Names: []string{"getppid"}, Action: rspec.ActNotify},
		},
	}
}

func TestCompileErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*rspec.LinuxSeccomp)
		want   string
	}{
		{"default unknown", func(s *rspec.LinuxSeccomp) { s.DefaultAction = "SCMP_ACT_FOO" },
			`linux.seccomp.defaultAction: unknown action "SCMP_ACT_FOO"`},
		{"default missing", func(s *rspec.LinuxSeccomp) { s.DefaultAction = "" }, "linux.seccomp.defaultAction: required"},
		{"default notify", func(s *rspec.LinuxSeccomp) { s.DefaultAction = rspec.ActNotify },
			"linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action"},
		{"default errno too large", func(s *rspec.LinuxSeccomp) { s.DefaultErrnoRet = ptr(uint(4096)) },
			"linux.seccomp.defaultErrnoRet: 4096 is out of range [0, 4095] for SCMP_ACT_ERRNO"},
		{"trace data too large", func(s *rspec.LinuxSeccomp) {
			s.Syscalls[1].Action = rspec.ActTrace
			s.Syscalls[1].ErrnoRet = ptr(uint(1 << 16))
		}, "linux.seccomp.syscalls[1].errnoRet: 65536 is out of range [0, 65535] for SCMP_ACT_TRACE"},
		{"arch unknown", func(s *rspec.LinuxSeccomp) { s.Architectures[1] = "SCMP_ARCH_FOO" },
			`linux.seccomp.architectures[1]: unknown architecture "SCMP_ARCH_FOO"`},
		{"arch unsupported", func(s *rspec.LinuxSeccomp) { s.Architectures[0] = rspec.ArchM68K },
			`linux.seccomp.architectures[0]: architecture "SCMP_ARCH_M68K" is not supported`},
		{"flag unknown", func(s *rspec.LinuxSeccomp) { s.Flags = append(s.Flags, "SECCOMP_FILTER_FLAG_FOO") },
			`linux.seccomp.flags[1]: unknown flag "SECCOMP_FILTER_FLAG_FOO"`},
		{"wait killable without notify", func(s *rspec.LinuxSeccomp) {
			s.Flags = append(s.Flags, rspec.LinuxSeccompFlagWaitKillableRecv)
			s.Syscalls = s.Syscalls[:3]
		}, "linux.seccomp.flags[1]: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV needs a syscall with SCMP_ACT_NOTIFY"},
		{"action unknown", func(s *rspec.LinuxSeccomp) { s.Syscalls[3].Action = "SCMP_ACT_FOO" },
			`linux.seccomp.syscalls[3].action: unknown action "SCMP_ACT_FOO"`},
		{"action missing", func(s *rspec.LinuxSeccomp) { s.Syscalls[0].Action = "" }, "linux.seccomp.syscalls[0].action: required"},
		{"empty name", func(s *rspec.LinuxSeccomp) { s.Syscalls[0].Names[1] = "" }, "linux.seccomp.syscalls[0].names[1]: empty syscall name"},
		{"op unknown", func(s *rspec.LinuxSeccomp) { s.Syscalls[2].Args[0].Op = "SCMP_CMP_XOR" },
			`linux.seccomp.syscalls[2].args[0].op: unknown operator "SCMP_CMP_XOR"`},
		{"index out of range", func(s *rspec.LinuxSeccomp) { s.Syscalls[2].Args[0].Index = 6 },
			"linux.seccomp.syscalls[2].args[0].index: 6 is out of range [0, 5]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := base()
			tc.mutate(s)
			_, err := compile(s, archX86_64)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := compile(base(), archX86_64); err != nil {
		t.Fatalf("base profile: %v", err)
	}
	if _, err := compile(nil, archX86_64); err == nil {
		t.Fatal("nil profile compiles")
	}
}

// What cannot apply is ignored, as runc (libseccomp) ignores it: an errno
// for an action without one, a rule naming no syscall.
func TestCompileIgnores(t *testing.T) {
	for _, tc := range []struct {
		name           string
		plain, ignored func(*rspec.LinuxSeccomp)
	}{
		{"default errno with allow",
			func(s *rspec.LinuxSeccomp) { s.DefaultAction = rspec.ActAllow },
			func(s *rspec.LinuxSeccomp) { s.DefaultErrnoRet = ptr(uint(1)) }},
		{"errnoRet with allow", func(*rspec.LinuxSeccomp) {}, func(s *rspec.LinuxSeccomp) { s.Syscalls[0].ErrnoRet = ptr(uint(1)) }},
		{"no names", func(*rspec.LinuxSeccomp) {}, func(s *rspec.LinuxSeccomp) {
			s.Syscalls = append(s.Syscalls, rspec.LinuxSyscall{Action: rspec.ActKill})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := base()
			tc.plain(s)
			want := mustCompile(t, s, archX86_64)
			tc.ignored(s)
			got := mustCompile(t, s, archX86_64)
			if !slices.Equal(got.Bytes(), want.Bytes()) || got.Flags != want.Flags || got.Notify != want.Notify {
				t.Error("the filter changed")
			}
		})
	}
}

// Without any flags a filter gets runc's default, SPEC_ALLOW; an empty
// list means none.
func TestDefaultFlags(t *testing.T) {
	s := base()
	s.Flags = nil
	if f := mustCompile(t, s, archX86_64); f.Flags != unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW {
		t.Errorf("nil flags: %#x", f.Flags)
	}
	s.Flags = []rspec.LinuxSeccompFlag{}
	if f := mustCompile(t, s, archX86_64); f.Flags != 0 {
		t.Errorf("empty flags: %#x", f.Flags)
	}
}

func TestActions(t *testing.T) {
	getpid := nr(t, archX86_64, "getpid")
	read := nr(t, archX86_64, "read")
	for _, tc := range []struct {
		def      rspec.LinuxSeccompAction
		defErrno *uint
		rule     rspec.LinuxSeccompAction
		errno    *uint
		wantDef  uint32
		wantRule uint32
	}{
		{rspec.ActAllow, nil, rspec.ActKill, nil, retAllow, retKillThread},
		{rspec.ActAllow, nil, rspec.ActKillThread, nil, retAllow, retKillThread},
		{rspec.ActAllow, nil, rspec.ActKillProcess, nil, retAllow, retKillProcess},
		{rspec.ActAllow, nil, rspec.ActTrap, nil, retAllow, retTrap},
		{rspec.ActAllow, nil, rspec.ActLog, nil, retAllow, retLog},
		{rspec.ActAllow, nil, rspec.ActNotify, nil, retAllow, retNotify},
		{rspec.ActAllow, nil, rspec.ActErrno, nil, retAllow, retErrno(unix.EPERM)},
		{rspec.ActAllow, nil, rspec.ActErrno, ptr(uint(0)), retAllow, unix.SECCOMP_RET_ERRNO},
		{rspec.ActAllow, nil, rspec.ActTrace, nil, retAllow, unix.SECCOMP_RET_TRACE | uint32(unix.EPERM)},
		{rspec.ActAllow, nil, rspec.ActTrace, ptr(uint(0xbeef)), retAllow, unix.SECCOMP_RET_TRACE | 0xbeef},
		{rspec.ActKillProcess, nil, rspec.ActAllow, nil, retKillProcess, retAllow},
		{rspec.ActKill, nil, rspec.ActAllow, nil, retKillThread, retAllow},
		{rspec.ActTrap, nil, rspec.ActAllow, nil, retTrap, retAllow},
		{rspec.ActLog, nil, rspec.ActAllow, nil, retLog, retAllow},
		{rspec.ActErrno, nil, rspec.ActAllow, nil, retErrno(unix.EPERM), retAllow},
		{rspec.ActErrno, ptr(uint(unix.EACCES)), rspec.ActAllow, nil, retErrno(unix.EACCES), retAllow},
		// defaultErrnoRet is the default action's: a rule's errno
		// without errnoRet is EPERM, as in the spec and runc.
		{rspec.ActErrno, ptr(uint(unix.EACCES)), rspec.ActErrno, nil, retErrno(unix.EACCES), retErrno(unix.EPERM)},
		{rspec.ActErrno, nil, rspec.ActErrno, ptr(uint(unix.EXDEV)), retErrno(unix.EPERM), retErrno(unix.EXDEV)},
		{rspec.ActTrace, ptr(uint(7)), rspec.ActAllow, nil, unix.SECCOMP_RET_TRACE | 7, retAllow},
	} {
		name := fmt.Sprintf("%s/%s", tc.def, tc.rule)
		t.Run(name, func(t *testing.T) {
			f := mustCompile(t, &rspec.LinuxSeccomp{
				DefaultAction:   tc.def,
				DefaultErrnoRet: tc.defErrno,
				Syscalls:        []rspec.LinuxSyscall{{Names: []string{"getpid"}, Action: tc.rule, ErrnoRet: tc.errno}},
			}, archX86_64)
			expect(t, f, archX86_64, []check{
				{"rule", on(archX86_64, getpid), tc.wantRule},
				{"default", on(archX86_64, read), tc.wantDef},
			})
			if f.Notify != (tc.rule == rspec.ActNotify) {
				t.Errorf("Notify = %v", f.Notify)
			}
		})
	}
}

// TestArgComparisons checks every operator against Go's arithmetic on
// values around the 32-bit boundaries, on a 64-bit ABI and on a 32-bit
// one, where only the low words count.
func TestArgComparisons(t *testing.T) {
	values := []uint64{0, 1, 5, 0x7fffffff, 0xffffffff, 1 << 32, 1<<32 + 4, 1<<32 + 5, 1<<32 + 6,
		2<<32 + 5, 0xffffffff_00000005, 1 << 63, 1<<64 - 1}
	ops := map[rspec.LinuxSeccompOperator]func(a, v uint64) bool{
		rspec.OpEqualTo:      func(a, v uint64) bool { return a == v },
		rspec.OpNotEqual:     func(a, v uint64) bool { return a != v },
		rspec.OpLessThan:     func(a, v uint64) bool { return a < v },
		rspec.OpLessEqual:    func(a, v uint64) bool { return a <= v },
		rspec.OpGreaterThan:  func(a, v uint64) bool { return a > v },
		rspec.OpGreaterEqual: func(a, v uint64) bool { return a >= v },
	}
	for op, holds := range ops {
		for _, v := range values {
			f := mustCompile(t, &rspec.LinuxSeccomp{
				DefaultAction: rspec.ActAllow,
				Architectures: []rspec.Arch{rspec.ArchX86},
				Syscalls: []rspec.LinuxSyscall{{
					Names: []string{"lseek"}, Action: rspec.ActErrno, ErrnoRet: ptr(uint(unix.EDOM)),
					Args: []rspec.LinuxSeccompArg{{Index: 3, Value: v, Op: op}},
				}},
			}, archX86_64)
			for _, arg := range values {
				for _, a := range []*arch{archX86_64, archX86} {
					want := holds(arg, v)
					if a.bits32 {
						want = holds(uint64(uint32(arg)), uint64(uint32(v)))
					}
					c := on(a, nr(t, a, "lseek"))
					c.args[3] = arg
					got, _ := run(t, f.Program, c, false)
					if (got == retErrno(unix.EDOM)) != want {
						t.Errorf("%s: arg %#x %s %#x: verdict %#x, want match=%v", a.name, arg, op, v, got, want)
					}
				}
			}
		}
	}
}

func TestMaskedEqual(t *testing.T) {
	const cloneNS = 0x7E020000 // Docker's mask of the namespace flags
	for _, tc := range []struct {
		mask, want uint64
		arg        uint64
		match      bool
	}{
		{cloneNS, 0, 0, true},
		{cloneNS, 0, unix.CLONE_VM | unix.CLONE_THREAD | uint64(unix.SIGCHLD), true},
		{cloneNS, 0, unix.CLONE_NEWUSER, false},
		{cloneNS, 0, unix.CLONE_NEWNS | unix.CLONE_VM, false},
		{cloneNS, 0, 1<<32 | unix.CLONE_VM, true}, // high bits outside the mask
		{0xff, 0x12, 0xab12, true},
		{0xff, 0x12, 0xab13, false},
		{0xff00000000, 0x1200000000, 0x12_0000_ffff, true},
		{0xff00000000, 0x1200000000, 0x13_0000_ffff, false},
		{1<<64 - 1, 1<<32 + 1, 1<<32 + 1, true},
		{1<<64 - 1, 1<<32 + 1, 1, false},
		{0, 1 << 32, 1 << 32, false}, // nothing survives a zero mask
		{0, 0, 12345, true},
	} {
		f := mustCompile(t, &rspec.LinuxSeccomp{
			DefaultAction: rspec.ActErrno,
			Syscalls: []rspec.LinuxSyscall{{
				Names: []string{"clone"}, Action: rspec.ActAllow,
				Args: []rspec.LinuxSeccompArg{{Index: 0, Value: tc.mask, ValueTwo: tc.want, Op: rspec.OpMaskedEqual}},
			}},
		}, archX86_64)
		got, _ := run(t, f.Program, on(archX86_64, nr(t, archX86_64, "clone"), tc.arg), false)
		if (got == retAllow) != tc.match {
			t.Errorf("arg %#x & %#x == %#x: verdict %#x, want match=%v", tc.arg, tc.mask, tc.want, got, tc.match)
		}
	}
}

func TestRules(t *testing.T) {
	eq := func(i uint, v uint64) rspec.LinuxSeccompArg {
		return rspec.LinuxSeccompArg{Index: i, Value: v, Op: rspec.OpEqualTo}
	}
	errno := func(e unix.Errno) *uint { return ptr(uint(e)) }
	f := mustCompile(t, &rspec.LinuxSeccomp{
		DefaultAction: rspec.ActErrno,
		Syscalls: []rspec.LinuxSyscall{
			// Redundant: skipped, so the allow below decides getpid.
			{Names: []string{"getpid"}, Action: rspec.ActErrno},
			{Names: []string{"getpid", "getppid"}, Action: rspec.ActAllow},
			// In order; the first that holds decides.
			{Names: []string{"personality"}, Action: rspec.ActErrno, ErrnoRet: errno(unix.EDOM), Args: []rspec.LinuxSeccompArg{eq(0, 1)}},
			{Names: []string{"personality"}, Action: rspec.ActErrno, ErrnoRet: errno(unix.ERANGE), Args: []rspec.LinuxSeccompArg{eq(1, 2)}},
			{Names: []string{"personality"}, Action: rspec.ActAllow, Args: []rspec.LinuxSeccompArg{eq(0, 0)}},
			// Different arguments: all must hold.
			{Names: []string{"lseek"}, Action: rspec.ActAllow, Args: []rspec.LinuxSeccompArg{eq(1, 10), eq(2, 0)}},
			// The same argument twice: either may hold (runc).
			{Names: []string{"kill"}, Action: rspec.ActAllow, Args: []rspec.LinuxSeccompArg{eq(1, 0), eq(1, 15), eq(0, 99)}},
			// An unconditional rule ends the list.
			{Names: []string{"umask"}, Action: rspec.ActTrap},
			{Names: []string{"umask"}, Action: rspec.ActAllow},
		},
	}, archX86_64)
	x := func(name string, args ...uint64) call { return on(archX86_64, nr(t, archX86_64, name), args...) }
	expect(t, f, archX86_64, []check{
		{"redundant rule skipped", x("getpid"), retAllow},
		{"second name", x("getppid"), retAllow},
		{"first rule", x("personality", 1, 2), retErrno(unix.EDOM)},
		{"second rule", x("personality", 3, 2), retErrno(unix.ERANGE)},
		{"third rule", x("personality", 0, 0), retAllow},
		{"no rule", x("personality", 3, 3), retErrno(unix.EPERM)},
		{"and: both", x("lseek", 3, 10, 0), retAllow},
		{"and: one", x("lseek", 3, 10, 1), retErrno(unix.EPERM)},
		{"and: other", x("lseek", 3, 11, 0), retErrno(unix.EPERM)},
		{"or: first", x("kill", 1, 0), retAllow},
		{"or: second", x("kill", 1, 15), retAllow},
		{"or: third", x("kill", 99, 9), retAllow},
		{"or: none", x("kill", 1, 9), retErrno(unix.EPERM)},
		{"unconditional first", x("umask"), retTrap},
	})
}

func TestArchitectures(t *testing.T) {
	profile := func(archs ...rspec.Arch) *rspec.LinuxSeccomp {
		return &rspec.LinuxSeccomp{
			DefaultAction: rspec.ActErrno,
			Architectures: archs,
			Syscalls: []rspec.LinuxSyscall{
				{Names: []string{"open", "arch_prctl", "rt_sigaction"}, Action: rspec.ActAllow},
				{Names: []string{"close"}, Action: rspec.ActErrno, ErrnoRet: ptr(uint(unix.EBADF))},
			},
		}
	}
	x32 := func(n uint32) call { return on(archX86_64, x32SyscallBit|n) }
	all := mustCompile(t, profile(rspec.ArchX86_64, rspec.ArchX86, rspec.ArchX32), archX86_64)
	expect(t, all, archX86_64, []check{
		{"x86_64 open", on(archX86_64, 2), retAllow},
		{"x86_64 fstat (x86's open)", on(archX86_64, 5), retErrno(unix.EPERM)},
		{"x86_64 rt_sigaction", on(archX86_64, 13), retAllow},
		{"x86_64 close", on(archX86_64, 3), retErrno(unix.EBADF)},
		{"x86 open", on(archX86, 5), retAllow},
		{"x86 close", on(archX86, 6), retErrno(unix.EBADF)},
		{"x86 read (x86_64's close)", on(archX86, 3), retErrno(unix.EPERM)},
		{"x32 open", x32(2), retAllow},
		{"x32 rt_sigaction", x32(512), retAllow},
		{"x32 has no 64-bit rt_sigaction", x32(13), retErrno(unix.EPERM)},
		{"x32 close", x32(3), retErrno(unix.EBADF)},
		{"aarch64", on(archAARCH64, 56), retKillThread},
		{"arm", call{arch: unix.AUDIT_ARCH_ARM, nr: 5}, retKillThread},
	})

	noX32 := mustCompile(t, profile(rspec.ArchX86_64, rspec.ArchX86), archX86_64)
	expect(t, noX32, archX86_64, []check{
		{"x86_64 open", on(archX86_64, 2), retAllow},
		{"x32 open", x32(2), retKillThread},
		{"x32 number space", on(archX86_64, 0xffffffff), retKillThread},
		{"x86 open", on(archX86, 5), retAllow},
	})

	hostOnly := mustCompile(t, profile(), archX86_64)
	expect(t, hostOnly, archX86_64, []check{
		{"x86_64 open", on(archX86_64, 2), retAllow},
		{"x86 open", on(archX86, 5), retKillThread},
		{"x32 open", x32(2), retKillThread},
	})

	onlyX32 := mustCompile(t, profile(rspec.ArchX32), archAARCH64)
	expect(t, onlyX32, archAARCH64, []check{
		{"aarch64 openat", on(archAARCH64, 56), retErrno(unix.EPERM)},
		{"aarch64 close", on(archAARCH64, 57), retErrno(unix.EBADF)},
		{"x32 open", x32(2), retAllow},
		{"x86_64 open", on(archX86_64, 2), retKillThread},
	})
}

func TestENOSYS(t *testing.T) {
	profile := func(def rspec.LinuxSeccompAction, defErrno *uint) *rspec.LinuxSeccomp {
		return &rspec.LinuxSeccomp{
			DefaultAction:   def,
			DefaultErrnoRet: defErrno,
			Architectures:   []rspec.Arch{rspec.ArchX86_64, rspec.ArchX86, rspec.ArchX32},
			Syscalls: []rspec.LinuxSyscall{
				{Names: []string{"read", "write"}, Action: rspec.ActAllow},
				// Names the largest syscall on all three, with the
				// default action: it still counts as known.
				{Names: []string{"futex_requeue"}, Action: def, ErrnoRet: defErrno},
			},
		}
	}
	x86max := nr(t, archX86, "futex_requeue")
	x32max := nr(t, archX32, "futex_requeue")
	for _, tc := range []struct {
		def      rspec.LinuxSeccompAction
		defErrno *uint
		defRet   uint32
		highRet  uint32
	}{
		{rspec.ActErrno, nil, retErrno(unix.EPERM), retErrno(unix.ENOSYS)},
		{rspec.ActErrno, ptr(uint(unix.ENOSYS)), retErrno(unix.ENOSYS), retErrno(unix.ENOSYS)},
		{rspec.ActKillProcess, nil, retKillProcess, retErrno(unix.ENOSYS)},
		{rspec.ActTrap, nil, retTrap, retErrno(unix.ENOSYS)},
		{rspec.ActAllow, nil, retAllow, retAllow},
		{rspec.ActLog, nil, retLog, retLog},
		{rspec.ActTrace, nil, unix.SECCOMP_RET_TRACE | uint32(unix.EPERM), unix.SECCOMP_RET_TRACE | uint32(unix.EPERM)},
	} {
		t.Run(string(tc.def), func(t *testing.T) {
			f := mustCompile(t, profile(tc.def, tc.defErrno), archX86_64)
			expect(t, f, archX86_64, []check{
				{"x86_64 known, unlisted", on(archX86_64, 100), tc.defRet},
				{"x86_64 largest", on(archX86_64, 456), tc.defRet},
				{"x86_64 above", on(archX86_64, 457), tc.highRet},
				{"x86_64 top", on(archX86_64, x32SyscallBit-1), tc.highRet},
				{"x86 largest", on(archX86, x86max), tc.defRet},
				{"x86 above", on(archX86, x86max+1), tc.highRet},
				{"x86 top", on(archX86, 0xffffffff), tc.highRet},
				{"x32 unlisted", on(archX86_64, x32SyscallBit|100), tc.defRet},
				{"x32 largest", on(archX86_64, x32max), tc.defRet},
				{"x32 above", on(archX86_64, x32max+1), tc.highRet},
				{"x32 top", on(archX86_64, 0xffffffff), tc.highRet},
				{"x86_64 read", on(archX86_64, 0), retAllow},
			})
		})
	}
}

// TestBigEndianHost compiles for an s390x host: argument halves swap
// places, and syscall 0 (the multiplexer for unknown syscalls) gets ENOSYS.
func TestBigEndianHost(t *testing.T) {
	f := mustCompile(t, &rspec.LinuxSeccomp{
		DefaultAction: rspec.ActErrno,
		Architectures: []rspec.Arch{rspec.ArchS390X, rspec.ArchS390},
		Syscalls: []rspec.LinuxSyscall{
			{Names: []string{"read"}, Action: rspec.ActAllow},
			{Names: []string{"lseek"}, Action: rspec.ActAllow, Args: []rspec.LinuxSeccompArg{{Index: 1, Value: 1<<32 + 7, Op: rspec.OpEqualTo}}},
		},
	}, archS390X)
	s390 := lookupArch(rspec.ArchS390)
	lseek := nr(t, archS390X, "lseek")
	for _, bad := range []bool{false, true} {
		c := on(archS390X, lseek, 0, 1<<32+7)
		got, _ := run(t, f.Program, c, !bad)
		if (got == retAllow) == bad {
			t.Errorf("lseek(0, 1<<32+7) laid out big-endian=%v: verdict %#x", !bad, got)
		}
	}
	expect(t, f, archS390X, []check{
		{"s390x read", on(archS390X, 3), retAllow},
		{"s390x 0", on(archS390X, 0), retErrno(unix.ENOSYS)},
		{"s390 0", on(s390, 0), retErrno(unix.ENOSYS)},
		{"s390x unlisted", on(archS390X, 4), retErrno(unix.EPERM)},
		{"s390 lseek, low word only", on(s390, nr(t, s390, "lseek"), 0, 7), retAllow},
		{"x86_64", on(archX86_64, 0), retKillThread},
	})
}

func TestFlags(t *testing.T) {
	s := base()
	s.Flags = []rspec.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_TSYNC", rspec.LinuxSeccompFlagLog,
		rspec.LinuxSeccompFlagSpecAllow, rspec.LinuxSeccompFlagWaitKillableRecv}
	f := mustCompile(t, s, archX86_64)
	want := uint(unix.SECCOMP_FILTER_FLAG_TSYNC | unix.SECCOMP_FILTER_FLAG_LOG | unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW |
		unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV | unix.SECCOMP_FILTER_FLAG_TSYNC_ESRCH)
	if f.Flags != want || !f.Notify {
		t.Errorf("Flags %#x Notify %v, want %#x true", f.Flags, f.Notify, want)
	}

	s.Syscalls = s.Syscalls[:3]
	s.Flags = []rspec.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_TSYNC", rspec.LinuxSeccompFlagSpecAllow}
	f = mustCompile(t, s, archX86_64)
	if want := uint(unix.SECCOMP_FILTER_FLAG_TSYNC | unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW); f.Flags != want || f.Notify {
		t.Errorf("Flags %#x Notify %v, want %#x false", f.Flags, f.Notify, want)
	}
}

func TestWarnings(t *testing.T) {
	f := mustCompile(t, &rspec.LinuxSeccomp{
		DefaultAction: rspec.ActErrno,
		Architectures: []rspec.Arch{rspec.ArchX86_64, rspec.ArchX86},
		Syscalls: []rspec.LinuxSyscall{
			// socketcall exists on x86 only, cacheflush on none of them.
			{Names: []string{"read", "socketcall", "no_such_syscall", "cacheflush"}, Action: rspec.ActAllow},
		},
	}, archX86_64)
	want := []string{
		`linux.seccomp.syscalls[0].names[2]: syscall "no_such_syscall" does not exist on SCMP_ARCH_X86_64, SCMP_ARCH_X86; skipped`,
		`linux.seccomp.syscalls[0].names[3]: syscall "cacheflush" does not exist on SCMP_ARCH_X86_64, SCMP_ARCH_X86; skipped`,
	}
	if !slices.Equal(f.Warnings, want) {
		t.Errorf("Warnings:\n%s\nwant:\n%s", strings.Join(f.Warnings, "\n"), strings.Join(want, "\n"))
	}
}

// TestLongJumps gives every syscall its own argument rule, which makes
// the search tree's jumps to the rule code and to the returns far longer
// than 255 instructions, and checks that every syscall still gets its
// verdict.
func TestLongJumps(t *testing.T) {
	var calls []rspec.LinuxSyscall
	want := map[uint32]uint32{}
	for i, name := range syscallNames {
		n, ok := archX86_64.sysnum(name)
		if !ok || i%3 == 0 {
			continue
		}
		e := uint(1 + i%200)
		calls = append(calls, rspec.LinuxSyscall{
			Names: []string{name}, Action: rspec.ActErrno, ErrnoRet: &e,
			Args: []rspec.LinuxSeccompArg{{Index: 0, Value: uint64(i), Op: rspec.OpEqualTo}},
		})
		want[n] = retErrno(unix.Errno(e))
	}
	f := mustCompile(t, &rspec.LinuxSeccomp{DefaultAction: rspec.ActAllow, Syscalls: calls}, archX86_64)
	if len(f.Program) < 600 {
		t.Fatalf("only %d instructions: the test does not need long jumps", len(f.Program))
	}
	trampolines := 0
	for i, in := range f.Program {
		if in.Code == unix.BPF_JMP|unix.BPF_JA && in.K > 255 {
			trampolines++
		}
		far := uint32(max(in.Jt, in.Jf))
		if in.Code == unix.BPF_JMP|unix.BPF_JA {
			far = in.K
		}
		if in.Code&0x07 == unix.BPF_JMP && i+1+int(far) >= len(f.Program) {
			t.Fatalf("instruction %d jumps out of the program", i)
		}
	}
	if trampolines == 0 {
		t.Error("no long BPF_JA in the program")
	}
	t.Logf("%d instructions, %d long jumps", len(f.Program), trampolines)
	for i, name := range syscallNames {
		n, ok := archX86_64.sysnum(name)
		if !ok {
			continue
		}
		match, miss := on(archX86_64, n, uint64(i)), on(archX86_64, n, uint64(i)+1)
		if w, ok := want[n]; ok {
			expect(t, f, archX86_64, []check{{name, match, w}, {name + " other arg", miss, retAllow}})
		} else {
			expect(t, f, archX86_64, []check{{name, match, retAllow}})
		}
	}
}

func TestTooLarge(t *testing.T) {
	var args []rspec.LinuxSeccompArg
	for i := range 2000 {
		args = append(args, rspec.LinuxSeccompArg{Index: 0, Value: uint64(i), Op: rspec.OpEqualTo})
	}
	_, err := compile(&rspec.LinuxSeccomp{
		DefaultAction: rspec.ActErrno,
		Syscalls:      []rspec.LinuxSyscall{{Names: []string{"ioctl", "fcntl", "prctl"}, Action: rspec.ActAllow, Args: args}},
	}, archX86_64)
	if err == nil || !strings.Contains(err.Error(), "more than the kernel's limit of 4096") {
		t.Fatalf("error %v", err)
	}
}

func TestBytes(t *testing.T) {
	f := mustCompile(t, base(), archX86_64)
	b := f.Bytes()
	if len(b) != 8*len(f.Program) {
		t.Fatalf("%d bytes for %d instructions", len(b), len(f.Program))
	}
	for i, in := range f.Program {
		got := unix.SockFilter{
			Code: binary.NativeEndian.Uint16(b[8*i:]), Jt: b[8*i+2], Jf: b[8*i+3],
			K: binary.NativeEndian.Uint32(b[8*i+4:]),
		}
		if got != in {
			t.Fatalf("instruction %d: %+v, want %+v", i, got, in)
		}
	}
}
