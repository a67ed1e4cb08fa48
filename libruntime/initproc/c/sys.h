/*
 * sys.h: kernel interfaces husk-init needs that libc headers (musl in
 * particular) do not declare. Values are from the kernel UAPI; syscall
 * numbers >= 424 are the same on every architecture.
 */
#ifndef HUSK_SYS_H
#define HUSK_SYS_H

#define _GNU_SOURCE
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef SYS_fsopen
#define SYS_fsopen 430
#endif
#ifndef SYS_fsconfig
#define SYS_fsconfig 431
#endif
#ifndef SYS_fsmount
#define SYS_fsmount 432
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef SYS_pivot_root
#define SYS_pivot_root __NR_pivot_root
#endif

struct husk_open_how {
	uint64_t flags;
	uint64_t mode;
	uint64_t resolve;
};
#define HUSK_RESOLVE_NO_XDEV 0x01
#define HUSK_RESOLVE_NO_MAGICLINKS 0x02
#define HUSK_RESOLVE_NO_SYMLINKS 0x04
#define HUSK_RESOLVE_BENEATH 0x08
#define HUSK_RESOLVE_IN_ROOT 0x10

struct husk_mount_attr {
	uint64_t attr_set;
	uint64_t attr_clr;
	uint64_t propagation;
	uint64_t userns_fd;
};

#define HUSK_OPEN_TREE_CLONE 1
#define HUSK_OPEN_TREE_CLOEXEC 02000000
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#define HUSK_MOVE_MOUNT_F_EMPTY_PATH 0x04
#define HUSK_MOVE_MOUNT_T_EMPTY_PATH 0x40
#define HUSK_FSOPEN_CLOEXEC 0x1
#define HUSK_FSMOUNT_CLOEXEC 0x1
#define HUSK_FSCONFIG_SET_FLAG 0
#define HUSK_FSCONFIG_SET_STRING 1
#define HUSK_FSCONFIG_CMD_CREATE 6
#define HUSK_MOUNT_ATTR_RDONLY 0x1
#define HUSK_MOUNT_ATTR_NOSUID 0x2
#define HUSK_MOUNT_ATTR_NODEV 0x4
#define HUSK_MOUNT_ATTR_NOEXEC 0x8
#define HUSK_CLOSE_RANGE_CLOEXEC (1U << 2)

/* capabilities */
#define HUSK_CAP_V3 0x20080522
struct husk_cap_header {
	uint32_t version;
	int pid;
};
struct husk_cap_data {
	uint32_t effective;
	uint32_t permitted;
	uint32_t inheritable;
};
#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_RAISE 2
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif
#ifndef PR_CAPBSET_DROP
#define PR_CAPBSET_DROP 24
#endif
#ifndef PR_SET_NO_NEW_PRIVS
#define PR_SET_NO_NEW_PRIVS 38
#endif

/* seccomp */
#define HUSK_SECCOMP_SET_MODE_FILTER 1
#define HUSK_SECCOMP_FILTER_FLAG_NEW_LISTENER (1UL << 3)
struct husk_sock_filter {
	uint16_t code;
	uint8_t jt;
	uint8_t jf;
	uint32_t k;
};
struct husk_sock_fprog {
	unsigned short len;
	struct husk_sock_filter *filter;
};

/* scheduling */
struct husk_sched_attr {
	uint32_t size;
	uint32_t sched_policy;
	uint64_t sched_flags;
	int32_t sched_nice;
	uint32_t sched_priority;
	uint64_t sched_runtime;
	uint64_t sched_deadline;
	uint64_t sched_period;
};
#ifndef SYS_sched_setattr
#define SYS_sched_setattr __NR_sched_setattr
#endif
#define HUSK_IOPRIO_WHO_PROCESS 1

/* keyrings */
#define HUSK_KEYCTL_JOIN_SESSION_KEYRING 1
#define HUSK_KEYCTL_SETPERM 5

/* terminals */
#ifndef TIOCGPTPEER
#define TIOCGPTPEER 0x5441
#endif
#ifndef TIOCSPTLCK
#define TIOCSPTLCK 0x40045431
#endif

#endif
