/*
 * proto.h: the contract between the Go side of husk (which compiles a
 * container's config into a plan) and husk-init (which executes it).
 *
 * Every value here has a twin in ../proto.go; proto_test.go parses this
 * file and fails if the two drift apart.
 */
#ifndef HUSK_PROTO_H
#define HUSK_PROTO_H

#include <stdint.h>

#define PLAN_MAGIC 0x4b535548u /* "HUSK" little endian */
#define PLAN_VERSION 1u

/* The plan is one sealed memfd: a header, an array of ops, then data. */
struct plan_hdr {
	uint32_t magic;
	uint32_t version;
	uint32_t nops;
	uint32_t ops_off;
	uint32_t size;
	uint32_t flags; /* PLANF_* */
};

#define PLANF_TRACE 1u /* send MSG_TRACE after every op */

/*
 * One primitive operation. a[] are integers, s[] are offsets of data in the
 * plan (0 = none): a NUL-terminated string, a list (u32 count, then u32
 * offsets of strings) or a blob (u32 length, then bytes), depending on the op.
 */
struct plan_op {
	uint32_t code;
	uint32_t flags;
	int64_t a[6];
	uint32_t s[4];
};

/* Op codes. */
enum {
	OP_SETNS = 1,
	OP_UNSHARE_USER,  /* ask the parent for uid/gid maps, then become root in the namespace; WAITF_DUMPABLE */
	OP_UNSHARE,
	OP_FORK,  /* fork; the parent reports the child's pid and exits (no reply awaited) */
	OP_REPORT_PID,  /* report our own pid (no fork was needed) */
	OP_WAIT_PARENT,  /* send MSG_SYNC and wait for MSG_ACK; WAITF_DUMPABLE */
	OP_SETHOSTNAME,
	OP_SETDOMAINNAME,
	OP_PROCFS,  /* open a private procfs into SLOT_PROC (PROCF_*) */
	OP_ROOT_PROPAGATION,
	OP_ROOTFS,  /* bind the rootfs onto itself (unless ROOTF_NOBIND), open it as the root handle */
	OP_MOUNT,  /* MNTF_* flags */
	OP_MKNOD,
	OP_BIND_DEV,
	OP_SYMLINK,
	OP_SETATTR_SLOT,
	OP_HOOKS,  /* ask the parent to run prestart/createRuntime; receive the state JSON */
	OP_RUN_HOOK,
	OP_PIVOT_ROOT,
	OP_MOVE_ROOT,  /* --no-pivot: MS_MOVE + chroot */
	OP_CHROOT,  /* no mount namespace: chroot into the rootfs */
	OP_MASK,
	OP_READONLY,
	OP_ROOT_READONLY,
	OP_ROOT_PROPAGATION_AFTER,
	OP_SYSCTL,
	OP_RLIMIT,
	OP_PERSONALITY,
	OP_SCHED,
	OP_IOPRIO,
	OP_AFFINITY,
	OP_KEYRING,
	OP_CONSOLE,  /* pty in the container, master to the parent */
	OP_SETGROUPS,
	OP_SETRESGID,
	OP_SETRESUID,
	OP_CAPS,
	OP_NO_NEW_PRIVS,
	OP_LSM_ATTR,  /* LSM label for the next exec */
	OP_SECCOMP,  /* SECF_NOTIFY */
	OP_UMASK,
	OP_CHDIR,
	OP_STDIO_CONSOLE,  /* make the pty slave our controlling terminal and stdio */
	OP_LOOKUP_EXEC,
	OP_CLOEXEC_FROM,  /* mark every fd from the first given on close-on-exec */
	OP_DROP_HANDLES,  /* close every slot but SLOT_CONSOLE: nothing of the host is held from here on */
	OP_READY,  /* report success, wait for the parent to finish; READYF_KEEP_SYNC */
	OP_WAIT_START,  /* accept `husk start`, keep its connection until exec */
	OP_EXEC,
	OP_MKDIR,  /* create a directory in the root and missing parents (0755) */
	OP_MOUNT_TREE,  /* attach a detached mount husk prepared (an id-mapped bind), passed as an fd */
	OP_MEMPOLICY,  /* set_mempolicy(2) */
	OP_LOOPBACK_UP,  /* bring up "lo" of our (new) network namespace */
	OP_MAX
};

/*
 * Arguments of each op, named: husk-init reads op->ARG_MOUNT_DEST, never
 * op->s[1]. Each macro ARG_<OP>_<FIELD> has a twin field in ../args.go (struct Mount,
 * field Dest, tag op:"s1"); proto_test.go fails when they differ.
 */
#define ARG_SETNS_FD a[0]
#define ARG_SETNS_TYPE a[1]
#define ARG_UNSHARE_CLONE a[0]
#define ARG_WAIT_PARENT_KIND a[0]
#define ARG_SETHOSTNAME_NAME s[0]
#define ARG_SETDOMAINNAME_NAME s[0]
#define ARG_ROOT_PROPAGATION_PROPAGATION a[0]
#define ARG_ROOTFS_PATH s[0]
#define ARG_ROOTFS_PRIVATE_PARENT s[1]
#define ARG_MOUNT_SOURCE s[0]
#define ARG_MOUNT_DEST s[1]
#define ARG_MOUNT_FS_TYPE s[2]
#define ARG_MOUNT_OPTIONS s[3]
#define ARG_MOUNT_SET a[0]
#define ARG_MOUNT_CLR a[1]
#define ARG_MOUNT_REC_SET a[2]
#define ARG_MOUNT_REC_CLR a[3]
#define ARG_MOUNT_PROPAGATION a[4]
#define ARG_MOUNT_SLOT a[5]
#define ARG_MKNOD_PATH s[0]
#define ARG_MKNOD_MODE a[0]
#define ARG_MKNOD_DEV a[1]
#define ARG_MKNOD_UID a[2]
#define ARG_MKNOD_GID a[3]
#define ARG_BIND_DEV_PATH s[0]
#define ARG_BIND_DEV_HOST_PATH s[1]
#define ARG_SYMLINK_TARGET s[0]
#define ARG_SYMLINK_LINK s[1]
#define ARG_SETATTR_SLOT_SLOT a[0]
#define ARG_SETATTR_SLOT_SET a[1]
#define ARG_SETATTR_SLOT_CLR a[2]
#define ARG_RUN_HOOK_PATH s[0]
#define ARG_RUN_HOOK_ARGS s[1]
#define ARG_RUN_HOOK_ENV s[2]
#define ARG_RUN_HOOK_TIMEOUT a[0]
#define ARG_MASK_PATH s[0]
#define ARG_READONLY_PATH s[0]
#define ARG_ROOT_PROPAGATION_AFTER_PROPAGATION a[0]
#define ARG_SYSCTL_KEY s[0]
#define ARG_SYSCTL_VALUE s[1]
#define ARG_RLIMIT_RESOURCE a[0]
#define ARG_RLIMIT_SOFT a[1]
#define ARG_RLIMIT_HARD a[2]
#define ARG_PERSONALITY_PERSONA a[0]
#define ARG_SCHED_POLICY a[0]
#define ARG_SCHED_NICE a[1]
#define ARG_SCHED_PRIORITY a[2]
#define ARG_SCHED_FLAGS a[3]
#define ARG_SCHED_RUNTIME a[4]
#define ARG_SCHED_DEADLINE a[5]
#define ARG_SCHED_PERIOD s[0]
#define ARG_IOPRIO_VALUE a[0]
#define ARG_AFFINITY_MASK s[0]
#define ARG_KEYRING_NAME s[0]
#define ARG_CONSOLE_ROWS a[0]
#define ARG_CONSOLE_COLS a[1]
#define ARG_SETGROUPS_GIDS s[0]
#define ARG_SETRESGID_GID a[0]
#define ARG_SETRESUID_UID a[0]
#define ARG_CAPS_BOUNDING a[0]
#define ARG_CAPS_EFFECTIVE a[1]
#define ARG_CAPS_PERMITTED a[2]
#define ARG_CAPS_INHERITABLE a[3]
#define ARG_CAPS_AMBIENT a[4]
#define ARG_CAPS_LAST_CAP a[5]
#define ARG_LSM_ATTR_FILE s[0]
#define ARG_LSM_ATTR_VALUE s[1]
#define ARG_SECCOMP_PROGRAM s[0]
#define ARG_SECCOMP_FILTER_FLAGS a[0]
#define ARG_UMASK_MASK a[0]
#define ARG_CHDIR_DIR s[0]
#define ARG_LOOKUP_EXEC_NAME s[0]
#define ARG_LOOKUP_EXEC_PATH s[1]
#define ARG_CLOEXEC_FROM_FIRST a[0]
#define ARG_WAIT_START_LISTENER a[0]
#define ARG_EXEC_ARGS s[0]
#define ARG_EXEC_ENV s[1]
#define ARG_MKDIR_PATH s[0]
#define ARG_MOUNT_TREE_FD a[0]
#define ARG_MOUNT_TREE_DEST s[0]
#define ARG_MOUNT_TREE_PROPAGATION a[1]
#define ARG_MOUNT_TREE_SLOT a[2]
#define ARG_MEMPOLICY_MODE a[0]
#define ARG_MEMPOLICY_NODES s[0]

#define MNTF_BIND 0x1u      /* clone the source instead of creating a filesystem */
#define MNTF_REC 0x2u       /* recursive bind (rbind) */
#define MNTF_FILE 0x4u      /* the destination is a file, not a directory */
#define MNTF_PROP_REC 0x8u  /* apply a4 recursively */
#define MNTF_SYSFS_FALLBACK 0x10u /* on EPERM, rbind the host's /sys instead (user namespaces) */
#define MNTF_DEVPTS_NOGID 0x20u   /* on EINVAL retry without the gid= option (unmapped gid 5) */
#define MNTF_ORDINARY_DIR 0x40u   /* proc, sysfs: an existing mount point must be a directory (no symlink) */
#define MNTF_TMPFS_MODE 0x80u     /* tmpfs: an existing mount point's mode is the default mode= */
#define MNTF_COPYUP 0x100u        /* tmpfs: copy what the directory holds into the new tmpfs */
#define MNTF_SOURCE_IN_ROOT 0x200u /* bind: the source is a path in the root, resolved there */

#define SECF_NOTIFY 0x1u

#define ROOTF_NOBIND 0x1u  /* no mount namespace: do not touch the host's mounts */
#define ROOTF_CURRENT 0x2u /* exec: the root is our current root (after setns) */

#define PROCF_FALLBACK 0x1u  /* exec: if no new procfs can be made, use the container's, verified */
#define PROCF_NODEVNULL 0x2u /* obsolete (no host /dev/null is opened: masks use the container's own) */
#define PROCF_NOPROC 0x4u    /* no procfs needed (only /dev/null) */

/* OP_WAIT_PARENT, OP_UNSHARE_USER: be dumpable while the parent writes our
 * /proc/<pid> files (uid_map, oom_score_adj, timens_offsets); a parent
 * without root may only open them when we are. */
#define WAITF_DUMPABLE 0x1u

/* OP_READY: keep the sync socket open until exec (husk exec learns from its
 * close that the process was executed). */
#define READYF_KEEP_SYNC 0x1u

#define CONSF_NODEVCONSOLE 0x1u /* exec: a pty, but no /dev/console bind */ /* the filter returns a notify fd: hand it to the parent */

/* fd slots an op can keep a descriptor in for a later op. */
#define SLOT_PROC 0
#define SLOT_DEVNULL 1 /* unused (was the host's /dev/null) */
#define SLOT_CONSOLE 2
#define SLOT_USER 3 /* first slot the Go side may allocate */
#define NSLOTS 16

/* Messages on the sync socket (SOCK_SEQPACKET). */
struct msg {
	uint32_t type;
	int32_t op;    /* index of the op concerned, -1 if none */
	int32_t err;   /* errno, 0 if none */
	uint32_t len;  /* bytes of text following the header */
	int64_t val;
	int64_t ts_ns; /* CLOCK_MONOTONIC when sent */
};

/* husk-init -> husk */
enum {
	MSG_USERMAP = 1, /* write our uid_map/gid_map (husk uses the pid it started, not val) */
	MSG_PID,         /* val = host pid of the container's init */
	MSG_SYNC,        /* val = kind from OP_WAIT_PARENT */
	MSG_HOOKS,       /* run prestart + createRuntime now */
	MSG_CONSOLE,     /* carries the pty master (SCM_RIGHTS) */
	MSG_SECCOMP,     /* carries the seccomp notify fd (SCM_RIGHTS) */
	MSG_READY,       /* setup done */
	MSG_ERROR,       /* text = what failed */
	MSG_TRACE,       /* op finished; ts_ns = when */
	/* husk -> husk-init */
	MSG_ACK = 100,   /* text = optional payload (the state JSON for hooks) */
	MSG_DONE,        /* parent finished; init may wait for start */
};

#endif
