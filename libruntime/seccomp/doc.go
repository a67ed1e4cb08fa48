// Package seccomp compiles the OCI linux.seccomp object into a classic BPF
// program for seccomp(SECCOMP_SET_MODE_FILTER).
//
// # Why a compiler of our own
//
// runc builds its filters with libseccomp through cgo. husk is a static
// CGO_ENABLED=0 binary: linking libseccomp would bring cgo back, with its
// startup cost on every husk create and a C library to ship. The filter is
// compiled in the husk parent and handed to the container's init as bytes
// (Filter.Bytes); the init, a small C program, only loads it. No
// third-party Go generator covers the whole OCI object (several
// architectures including x32, argument conditions, SCMP_ACT_NOTIFY,
// defaultErrnoRet), so this package generates the program itself. The
// syscall tables come from libseccomp (see internal/gen), so that a
// profile names the same syscalls as it does under runc.
//
// # Semantics
//
// They follow runc with libseccomp:
//
//   - SCMP_ACT_KILL is SCMP_ACT_KILL_THREAD. SCMP_ACT_ERRNO and
//     SCMP_ACT_TRACE carry errnoRet, EPERM when it is missing (the runtime
//     spec's default; defaultErrnoRet is for the default action only).
//   - A rule whose action equals the default action is skipped, as runc
//     does (libseccomp would refuse it).
//   - Comparisons of different arguments in one entry must all hold. When
//     an entry compares the same argument twice, runc makes each comparison
//     a rule of its own, so any one suffices; so does husk.
//   - SCMP_CMP_MASKED_EQ holds when arg & value == valueTwo.
//   - Several rules for one syscall are tried in profile order and the
//     first whose comparisons hold decides; if none does, the default
//     action applies. libseccomp merges such rules into a tree instead;
//     the two agree whenever the rules do not overlap with different
//     actions, which is how real profiles (Docker's among them) are made.
//   - Arguments are 64-bit and compared in two 32-bit halves. On 32-bit
//     ABIs (x86, arm, x32, ...) only the low half is compared and values
//     are truncated to it, as libseccomp does.
//   - Syscall names that do not exist on an architecture are skipped for
//     it; names that exist on none of the filter's architectures are
//     reported in Filter.Warnings (runc logs them at debug level).
//
// # Architectures
//
// The program first checks seccomp_data.arch against the host's
// architecture and every one in linux.seccomp.architectures. Any other
// architecture gets SECCOMP_RET_KILL_THREAD: libseccomp's default
// bad-architecture action, which runc does not change. Letting the
// default action apply instead would be wrong when it allows, since
// syscall numbers mean different things on each architecture.
//
// x32 syscalls arrive with AUDIT_ARCH_X86_64 and __X32_SYSCALL_BIT
// (0x40000000) set in the number. x86_64 owns the numbers below the bit
// and x32 those from it up; the half of an architecture that is not listed
// gets the bad-architecture action too, so an x86_64 filter does not let
// x32 calls through under numbers it never looked at (libseccomp checks
// the bit the same way).
//
// # ENOSYS for syscalls newer than the profile
//
// Like runc's patched filters, a syscall numbered above the largest one
// the profile names on its architecture returns ENOSYS instead of the
// default action, when that action is not permissive (ALLOW, LOG, TRACE).
// A libc that tries a syscall newer than the profile, clone3 for one, then
// falls back to the old call instead of failing with the default errno;
// syscalls the profile does not list but knows about (numbered below its
// largest) still get the default action. runc does this only for the
// architectures the profile lists; husk also does it for the host's when
// the list is empty. On s390 and s390x syscall 0 gets ENOSYS as well:
// the kernel passes numbers it does not know through it.
//
// # Program shape and size
//
// Each architecture's syscall numbers are dispatched through a balanced
// binary search over ranges of numbers with the same verdict (see
// program.go), not a chain of comparisons, and conditional jumps out of
// the 8-bit range get BPF_JA trampolines. Docker's default profile
// compiles to a few hundred instructions; a profile needing more than the
// kernel's 4096 is refused.
package seccomp
