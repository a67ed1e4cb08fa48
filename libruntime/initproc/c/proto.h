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
	OP_SETNS = 1,        /* a0 fd, a1 nstype */
	OP_UNSHARE_USER,     /* ask the parent for uid/gid maps, then become root in the namespace; WAITF_DUMPABLE */
	OP_UNSHARE,          /* a0 clone flags */
	OP_FORK,             /* fork; the parent reports the child's pid and exits (no reply awaited) */
	OP_REPORT_PID,       /* report our own pid (no fork was needed) */
	OP_WAIT_PARENT,      /* a0 kind: send MSG_SYNC and wait for MSG_ACK; WAITF_DUMPABLE */
	OP_SETHOSTNAME,      /* s0 */
	OP_SETDOMAINNAME,    /* s0 */
	OP_PROCFS,           /* open a private procfs into SLOT_PROC, the host's /dev/null into SLOT_DEVNULL (PROCF_*) */
	OP_ROOT_PROPAGATION, /* a0 mount flags for "/" (e.g. MS_SLAVE|MS_REC) */
	OP_ROOTFS,           /* s0 rootfs path: bind it onto itself (unless ROOTF_NOBIND), open it as the root handle; s1 mount to make private first */
	OP_MOUNT,            /* see MNTF_* / a[] / s[] layout below */
	OP_MKNOD,            /* s0 path, a0 mode, a1 dev, a2 uid, a3 gid */
	OP_BIND_DEV,         /* s0 path, s1 host device path */
	OP_SYMLINK,          /* s0 target, s1 link path */
	OP_SETATTR_SLOT,     /* a0 slot, a1 attr_set, a2 attr_clr */
	OP_HOOKS,            /* ask the parent to run prestart/createRuntime; receive the state JSON */
	OP_RUN_HOOK,         /* s0 path, s1 argv list, s2 env list, a0 timeout s */
	OP_PIVOT_ROOT,
	OP_MOVE_ROOT,        /* --no-pivot: MS_MOVE + chroot */
	OP_CHROOT,           /* no mount namespace: chroot into the rootfs */
	OP_MASK,             /* s0 path */
	OP_READONLY,         /* s0 path */
	OP_ROOT_READONLY,
	OP_ROOT_PROPAGATION_AFTER, /* a0 propagation flags applied to "/" after pivot */
	OP_SYSCTL,           /* s0 path below /proc/sys, s1 value */
	OP_RLIMIT,           /* a0 resource, a1 soft, a2 hard */
	OP_PERSONALITY,      /* a0 */
	OP_SCHED,            /* a0 policy, a1 nice, a2 priority, a3 flags, a4 runtime, a5 deadline; s0 "period" as blob u64 */
	OP_IOPRIO,           /* a0 ioprio value */
	OP_AFFINITY,         /* s0 blob: cpu mask bytes */
	OP_KEYRING,          /* s0 name */
	OP_CONSOLE,          /* a0 rows, a1 cols: pty in the container, master to the parent */
	OP_SETGROUPS,        /* s0 blob: u32 gids */
	OP_SETRESGID,        /* a0 gid */
	OP_SETRESUID,        /* a0 uid (keeps capabilities across the switch) */
	OP_CAPS,             /* a0 bounding, a1 effective, a2 permitted, a3 inheritable, a4 ambient, a5 last cap */
	OP_NO_NEW_PRIVS,
	OP_LSM_ATTR,         /* s0 file under /proc/<pid>/attr, s1 value: LSM label for the next exec */
	OP_SECCOMP,          /* s0 blob: struct sock_filter[], a0 filter flags; MNTF-like flag SECF_NOTIFY */
	OP_UMASK,            /* a0 */
	OP_CHDIR,            /* s0 */
	OP_STDIO_CONSOLE,    /* make the pty slave our controlling terminal and stdio */
	OP_LOOKUP_EXEC,      /* s0 argv[0], s1 PATH value */
	OP_CLOEXEC_FROM,     /* a0 first fd: mark every fd >= a0 close-on-exec */
	OP_DROP_HANDLES,     /* close every slot but SLOT_CONSOLE: nothing of the host is held from here on */
	OP_READY,            /* report success, wait for the parent to finish; READYF_KEEP_SYNC */
	OP_WAIT_START,       /* a0 listening start socket: accept `husk start`, keep its connection until exec */
	OP_EXEC,             /* s0 argv list, s1 env list */
	OP_MKDIR,            /* s0 path in the root: create it and missing parents (0755) */
	OP_MAX
};

/* OP_MOUNT layout:
 *   s0 source (host path for binds and device nodes; may be 0)
 *   s1 destination, relative to the root handle, cleaned, no ".."
 *   s2 filesystem type (non-bind)
 *   s3 list of fsconfig options "key" or "key=value" (non-bind)
 *   a0 attr_set for the top mount, a1 attr_clr for the top mount
 *   a2 attr_set for the whole tree, a3 attr_clr for the whole tree
 *   a4 propagation (MS_SHARED/MS_SLAVE/MS_PRIVATE/MS_UNBINDABLE) or 0
 *   a5 slot to keep the mount fd in, or -1
 */
#define MNTF_BIND 0x1u      /* clone the source instead of creating a filesystem */
#define MNTF_REC 0x2u       /* recursive bind (rbind) */
#define MNTF_FILE 0x4u      /* the destination is a file, not a directory */
#define MNTF_PROP_REC 0x8u  /* apply a4 recursively */
#define MNTF_SYSFS_FALLBACK 0x10u /* on EPERM, rbind the host's /sys instead (user namespaces) */
#define MNTF_DEVPTS_NOGID 0x20u   /* on EINVAL retry without the gid= option (unmapped gid 5) */

#define SECF_NOTIFY 0x1u

#define ROOTF_NOBIND 0x1u  /* no mount namespace: do not touch the host's mounts */
#define ROOTF_CURRENT 0x2u /* exec: the root is our current root (after setns) */

#define PROCF_FALLBACK 0x1u  /* exec: if no new procfs can be made, use the container's, verified */
#define PROCF_NODEVNULL 0x2u /* no /dev/null handle needed */
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
#define SLOT_DEVNULL 1
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
