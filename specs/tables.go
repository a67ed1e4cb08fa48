package specs

import "golang.org/x/sys/unix"

// Capabilities lists the capability names known to husk in kernel order:
// the index of a name is its capability number (see linux/capability.h).
var Capabilities = []string{
	"CAP_CHOWN",
	"CAP_DAC_OVERRIDE",
	"CAP_DAC_READ_SEARCH",
	"CAP_FOWNER",
	"CAP_FSETID",
	"CAP_KILL",
	"CAP_SETGID",
	"CAP_SETUID",
	"CAP_SETPCAP",
	"CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE",
	"CAP_NET_BROADCAST",
	"CAP_NET_ADMIN",
	"CAP_NET_RAW",
	"CAP_IPC_LOCK",
	"CAP_IPC_OWNER",
	"CAP_SYS_MODULE",
	"CAP_SYS_RAWIO",
	"CAP_SYS_CHROOT",
	"CAP_SYS_PTRACE",
	"CAP_SYS_PACCT",
	"CAP_SYS_ADMIN",
	"CAP_SYS_BOOT",
	"CAP_SYS_NICE",
	"CAP_SYS_RESOURCE",
	"CAP_SYS_TIME",
	"CAP_SYS_TTY_CONFIG",
	"CAP_MKNOD",
	"CAP_LEASE",
	"CAP_AUDIT_WRITE",
	"CAP_AUDIT_CONTROL",
	"CAP_SETFCAP",
	"CAP_MAC_OVERRIDE",
	"CAP_MAC_ADMIN",
	"CAP_SYSLOG",
	"CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND",
	"CAP_AUDIT_READ",
	"CAP_PERFMON",
	"CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
}

// CapabilityNumber returns the number of a "CAP_X" name, ok=false if unknown.
// Names are case-sensitive, as in runc.
func CapabilityNumber(name string) (int, bool) {
	// A linear scan over 41 short strings is cheaper than building a map
	// at init time in a package that runs on every container start.
	for i, c := range Capabilities {
		if c == name {
			return i, true
		}
	}
	return 0, false
}

// rlimits names the 16 Linux resource limits. The numbers come from
// x/sys/unix because they differ between architectures (mips, sparc and
// alpha do not use the asm-generic numbering).
var rlimits = [...]struct {
	name string
	num  int
}{
	{"RLIMIT_CPU", unix.RLIMIT_CPU},
	{"RLIMIT_FSIZE", unix.RLIMIT_FSIZE},
	{"RLIMIT_DATA", unix.RLIMIT_DATA},
	{"RLIMIT_STACK", unix.RLIMIT_STACK},
	{"RLIMIT_CORE", unix.RLIMIT_CORE},
	{"RLIMIT_RSS", unix.RLIMIT_RSS},
	{"RLIMIT_NPROC", unix.RLIMIT_NPROC},
	{"RLIMIT_NOFILE", unix.RLIMIT_NOFILE},
	{"RLIMIT_MEMLOCK", unix.RLIMIT_MEMLOCK},
	{"RLIMIT_AS", unix.RLIMIT_AS},
	{"RLIMIT_LOCKS", unix.RLIMIT_LOCKS},
	{"RLIMIT_SIGPENDING", unix.RLIMIT_SIGPENDING},
	{"RLIMIT_MSGQUEUE", unix.RLIMIT_MSGQUEUE},
	{"RLIMIT_NICE", unix.RLIMIT_NICE},
	{"RLIMIT_RTPRIO", unix.RLIMIT_RTPRIO},
	{"RLIMIT_RTTIME", unix.RLIMIT_RTTIME},
}

// RlimitNumber maps "RLIMIT_NOFILE" etc. to the resource number of the
// architecture husk was built for.
func RlimitNumber(name string) (int, bool) {
	for _, r := range rlimits {
		if r.name == name {
			return r.num, true
		}
	}
	return 0, false
}

// MemoryPolicyModes are the modes of linux.memoryPolicy, in the order
// `husk features` lists them, with their set_mempolicy(2) numbers.
var MemoryPolicyModes = []struct {
	Name string
	Num  int
}{
	{"MPOL_BIND", 2}, {"MPOL_DEFAULT", 0}, {"MPOL_INTERLEAVE", 3}, {"MPOL_LOCAL", 4},
	{"MPOL_PREFERRED", 1}, {"MPOL_PREFERRED_MANY", 5}, {"MPOL_WEIGHTED_INTERLEAVE", 6},
}

// MemoryPolicyFlags are the mode flags of linux.memoryPolicy.
var MemoryPolicyFlags = []struct {
	Name string
	Num  int
}{
	{"MPOL_F_NUMA_BALANCING", 1 << 13}, {"MPOL_F_RELATIVE_NODES", 1 << 14}, {"MPOL_F_STATIC_NODES", 1 << 15},
}

// MemoryPolicyMode returns the number of a mode name, ok=false if unknown.
func MemoryPolicyMode(name string) (int, bool) {
	for _, m := range MemoryPolicyModes {
		if m.Name == name {
			return m.Num, true
		}
	}
	return 0, false
}

// MemoryPolicyFlag returns the bit of a mode flag name, ok=false if unknown.
func MemoryPolicyFlag(name string) (int, bool) {
	for _, f := range MemoryPolicyFlags {
		if f.Name == name {
			return f.Num, true
		}
	}
	return 0, false
}
