package seccomp

import (
	"fmt"
	"runtime"
	"slices"
	"sort"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The syscall tables (zsyscalls*.go) are generated from libseccomp's; go
// generate needs Debian's seccomp and libseccomp-dev packages. The argument
// widths (zargwidths.go) come from the kernel's prototypes, in the headers
// HUSK_KERNEL_HEADERS names (see internal/genargs).
//go:generate go run ./internal/gen
//go:generate go run ./internal/genargs -h ${HUSK_KERNEL_HEADERS}/include/linux/syscalls.h

// x32SyscallBit marks x32 syscalls. The kernel reports x32 calls with
// AUDIT_ARCH_X86_64 and this bit set in the number, so x86_64 and x32 share
// one audit value and split the number space at the bit.
const x32SyscallBit = 0x40000000

// arch is one seccomp architecture.
type arch struct {
	name  rspec.Arch
	audit uint32 // AUDIT_ARCH_*, as in seccomp_data.arch
	// first and last bound the syscall numbers the architecture owns
	// under its audit value.
	first, last uint32
	// bits32 makes argument comparisons look at the low 32 bits only, as
	// libseccomp does for 32-bit ABIs (x32 included): the upper half of
	// the register is not part of the ABI there.
	bits32 bool
	// bigEndian decides where the halves of the 64-bit arguments are in
	// seccomp_data; only the host's (native) value matters.
	bigEndian bool
	// muxZero: unknown syscalls arrive as syscall 0 on s390, which
	// multiplexes large numbers through it.
	muxZero bool
	nums    *[numSyscalls]int32
}

// arches are the architectures husk has syscall tables for: all that the
// runtime spec names and libseccomp 2.5 knows.
var arches = []*arch{
	{name: rspec.ArchX86_64, audit: unix.AUDIT_ARCH_X86_64, last: x32SyscallBit - 1, nums: &sysnumsX86_64},
	{name: rspec.ArchX32, audit: unix.AUDIT_ARCH_X86_64, first: x32SyscallBit, last: 1<<32 - 1, bits32: true, nums: &sysnumsX32},
	{name: rspec.ArchX86, audit: unix.AUDIT_ARCH_I386, last: 1<<32 - 1, bits32: true, nums: &sysnumsX86},
	{name: rspec.ArchAARCH64, audit: unix.AUDIT_ARCH_AARCH64, last: 1<<32 - 1, nums: &sysnumsAARCH64},
	{name: rspec.ArchARM, audit: unix.AUDIT_ARCH_ARM, last: 1<<32 - 1, bits32: true, nums: &sysnumsARM},
	{name: rspec.ArchRISCV64, audit: unix.AUDIT_ARCH_RISCV64, last: 1<<32 - 1, nums: &sysnumsRISCV64},
	{name: rspec.ArchPPC64LE, audit: unix.AUDIT_ARCH_PPC64LE, last: 1<<32 - 1, nums: &sysnumsPPC64LE},
	{name: rspec.ArchPPC64, audit: unix.AUDIT_ARCH_PPC64, last: 1<<32 - 1, bigEndian: true, nums: &sysnumsPPC64},
	{name: rspec.ArchPPC, audit: unix.AUDIT_ARCH_PPC, last: 1<<32 - 1, bits32: true, bigEndian: true, nums: &sysnumsPPC},
	{name: rspec.ArchS390X, audit: unix.AUDIT_ARCH_S390X, last: 1<<32 - 1, bigEndian: true, muxZero: true, nums: &sysnumsS390X},
	{name: rspec.ArchS390, audit: unix.AUDIT_ARCH_S390, last: 1<<32 - 1, bits32: true, bigEndian: true, muxZero: true, nums: &sysnumsS390},
	{name: rspec.ArchMIPS64, audit: unix.AUDIT_ARCH_MIPS64, last: 1<<32 - 1, bigEndian: true, nums: &sysnumsMIPS64},
	{name: rspec.ArchMIPS64N32, audit: unix.AUDIT_ARCH_MIPS64N32, last: 1<<32 - 1, bits32: true, bigEndian: true, nums: &sysnumsMIPS64N32},
	{name: rspec.ArchMIPS, audit: unix.AUDIT_ARCH_MIPS, last: 1<<32 - 1, bits32: true, bigEndian: true, nums: &sysnumsMIPS},
	{name: rspec.ArchMIPSEL64, audit: unix.AUDIT_ARCH_MIPSEL64, last: 1<<32 - 1, nums: &sysnumsMIPSEL64},
	{name: rspec.ArchMIPSEL64N32, audit: unix.AUDIT_ARCH_MIPSEL64N32, last: 1<<32 - 1, bits32: true, nums: &sysnumsMIPSEL64N32},
	{name: rspec.ArchMIPSEL, audit: unix.AUDIT_ARCH_MIPSEL, last: 1<<32 - 1, bits32: true, nums: &sysnumsMIPSEL},
	{name: rspec.ArchPARISC64, audit: unix.AUDIT_ARCH_PARISC64, last: 1<<32 - 1, bigEndian: true, nums: &sysnumsPARISC64},
	{name: rspec.ArchPARISC, audit: unix.AUDIT_ARCH_PARISC, last: 1<<32 - 1, bits32: true, bigEndian: true, nums: &sysnumsPARISC},
}

// unsupportedArches are named by the runtime spec but have no table: the
// libseccomp the tables come from does not know them.
var unsupportedArches = []rspec.Arch{rspec.ArchLOONGARCH64, rspec.ArchM68K, rspec.ArchSH, rspec.ArchSHEB}

// goarchArch maps GOARCH to the architecture husk runs as.
var goarchArch = map[string]rspec.Arch{
	"amd64":    rspec.ArchX86_64,
	"386":      rspec.ArchX86,
	"arm64":    rspec.ArchAARCH64,
	"arm":      rspec.ArchARM,
	"riscv64":  rspec.ArchRISCV64,
	"ppc64le":  rspec.ArchPPC64LE,
	"ppc64":    rspec.ArchPPC64,
	"s390x":    rspec.ArchS390X,
	"mips64":   rspec.ArchMIPS64,
	"mips64le": rspec.ArchMIPSEL64,
	"mips":     rspec.ArchMIPS,
	"mipsle":   rspec.ArchMIPSEL,
}

func lookupArch(name rspec.Arch) *arch {
	i := slices.IndexFunc(arches, func(a *arch) bool { return a.name == name })
	if i < 0 {
		return nil
	}
	return arches[i]
}

// hostArch is the architecture of the running husk binary, which is also
// the one the container's processes run as unless they say otherwise.
func hostArch() (*arch, error) {
	if a := lookupArch(goarchArch[runtime.GOARCH]); a != nil {
		return a, nil
	}
	return nil, fmt.Errorf("seccomp is not supported on GOARCH %s", runtime.GOARCH)
}

// sysnum returns the number of the named syscall on a.
func (a *arch) sysnum(name string) (uint32, bool) {
	i := sort.SearchStrings(syscallNames[:], name)
	if i == numSyscalls || syscallNames[i] != name || a.nums[i] < 0 {
		return 0, false
	}
	return uint32(a.nums[i]), true
}
