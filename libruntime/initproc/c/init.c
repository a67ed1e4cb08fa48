/*
 * husk-init: executes a container setup plan compiled by husk.
 *
 * husk (Go) decides everything: which namespaces to join or create, which
 * mounts to make in which order and with which attributes, the credentials,
 * capabilities and seccomp filter. It writes that decision as a flat list of
 * primitive operations into a sealed memfd and starts this small static
 * program from another sealed memfd. husk-init runs the operations one by one
 * and reports back over a SOCK_SEQPACKET socket; it never decides anything
 * itself, so the logic stays in Go where it is unit-tested.
 *
 * Why a separate C program: joining mount and user namespaces needs a
 * single-threaded process, and the container's init must wait (between
 * `create` and `start`) without the Go runtime's startup cost (~5 ms per exec
 * on small VMs). Why from a sealed memfd: a container process that opens
 * /proc/<pid>/exe of this process gets an immutable anonymous copy, never a
 * host binary it could overwrite (CVE-2019-5736).
 *
 * Every path inside the container is resolved with openat2(HUSK_RESOLVE_IN_ROOT),
 * and every mount is made with the new mount API on file descriptors, so a
 * symlink planted in the rootfs (or swapped in by a racing process) can never
 * send a mount outside the container.
 */
#include "sys.h"
#include "proto.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>

#define PROC_SUPER_MAGIC 0x9fa0
#define SYSFS_MAGIC 0x62656572
#define MAX_PAYLOAD (1 << 20)

static int syncfd = -1;
static const uint8_t *plan;
static size_t plansize;
static int cur_op = -1;
static int slots[NSLOTS];
static int rootfd = -1;
static char *state_json;
static size_t state_len;
static char exec_path[PATH_MAX];
static int chdir_pending;

/* ---- exit --------------------------------------------------------------- */

/* Exits even when a seccomp filter denies exit_group(2) and exit(2) (a
 * profile allowing next to nothing): musl's _exit would retry exit(2)
 * forever. An illegal instruction needs no syscall, and its signal's
 * default action ends the process. */
__attribute__((noreturn)) static void die(int code)
{
	syscall(SYS_exit_group, code);
	syscall(SYS_exit, code);
	for (;;)
		__builtin_trap();
}

__attribute__((noreturn, format(printf, 2, 3))) static void fail(int err, const char *fmt, ...);

/* Exit status of a failure once the container is created (after OP_READY):
 * it becomes the container's exit status, runc init's 255. */
#define EXIT_INIT_FAILED 255

/* ---- messages ---------------------------------------------------------- */

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void send_msg(uint32_t type, int64_t val, int err, const char *text, int fd)
{
	struct msg m = {
		.type = type, .op = cur_op, .err = err,
		.len = text ? (uint32_t)strlen(text) : 0, .val = val, .ts_ns = now_ns(),
	};
	struct iovec iov[2] = {{&m, sizeof m}, {(void *)text, m.len}};
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = m.len ? 2 : 1};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cbuf;

	if (syncfd < 0)
		return;
	if (fd >= 0) {
		struct cmsghdr *c;
		mh.msg_control = cbuf.buf;
		mh.msg_controllen = sizeof cbuf.buf;
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof fd);
	}
	if (sendmsg(syncfd, &mh, MSG_NOSIGNAL) >= 0)
		return;
	/* A seccomp filter already in place may deny sendmsg(2) but allow
	 * write(2), which sends the same record on a SOCK_SEQPACKET socket
	 * when there is no descriptor to pass. */
	if (fd < 0 && errno != EPIPE && errno != ECONNRESET && errno != ENOTCONN) {
		char buf[sizeof m + 1024];
		size_t n = sizeof m + (m.len < 1024 ? m.len : 1024);
		if (n > sizeof m)
			m.len = (uint32_t)(n - sizeof m);
		memcpy(buf, &m, sizeof m);
		if (m.len)
			memcpy(buf + sizeof m, text, m.len);
		if (write(syncfd, buf, n) == (ssize_t)n)
			return;
	}
	/* The parent is gone (killed create): nobody will ever start us. */
	die(1);
}

/* Blocks for the parent's next message; a closed socket means husk died
 * during setup, and a half-made container must not live on. */
static struct msg recv_msg(void)
{
	static char *buf;
	struct msg m;
	ssize_t n;

	if (!buf && !(buf = malloc(sizeof m + MAX_PAYLOAD)))
		die(1);
	do
		n = recv(syncfd, buf, sizeof m + MAX_PAYLOAD, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno != ECONNRESET)
		fail(errno, "receive from husk");
	if (n < (ssize_t)sizeof m)
		die(1);
	memcpy(&m, buf, sizeof m);
	if (m.len > (size_t)n - sizeof m)
		die(1);
	/* The state JSON for the hooks run in the container: with the ack to
	 * MSG_HOOKS (createContainer), then with MSG_DONE (startContainer). */
	if ((m.type == MSG_ACK || m.type == MSG_DONE) && m.len) {
		free(state_json);
		state_json = malloc(m.len);
		if (!state_json)
			die(1);
		memcpy(state_json, buf + sizeof m, m.len);
		state_len = m.len;
	}
	return m;
}

static void wait_for(uint32_t type)
{
	struct msg m = recv_msg();
	if (m.type != type)
		die(1);
}

static void vfail(int err, const char *fmt, va_list ap)
{
	char text[1024];
	vsnprintf(text, sizeof text, fmt, ap);
	if (syncfd >= 0) {
		send_msg(MSG_ERROR, 0, err, text, -1);
		die(1);
	}
	if (err)
		dprintf(2, "husk-init: %s: %s\n", text, strerror(err));
	else
		dprintf(2, "husk-init: %s\n", text);
	die(EXIT_INIT_FAILED);
}

__attribute__((noreturn, format(printf, 2, 3))) static void fail(int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfail(err, fmt, ap);
	va_end(ap);
	die(1);
}

/* ---- plan data --------------------------------------------------------- */

static const char *str(uint32_t off)
{
	if (!off)
		return NULL;
	if (off >= plansize || !memchr(plan + off, 0, plansize - off))
		fail(EINVAL, "corrupt plan: string at %u", off);
	return (const char *)plan + off;
}

static const uint8_t *blob(uint32_t off, uint32_t *len)
{
	uint32_t n;
	if (!off) {
		*len = 0;
		return NULL;
	}
	if (off > plansize || plansize - off < 4)
		fail(EINVAL, "corrupt plan: blob at %u", off);
	memcpy(&n, plan + off, 4);
	if (n > plansize - off - 4)
		fail(EINVAL, "corrupt plan: blob at %u", off);
	*len = n;
	return plan + off + 4;
}

/* A NULL-terminated array of the strings in a list. */
static char **list(uint32_t off)
{
	uint32_t n, i, len;
	const uint8_t *b = blob(off, &len);
	char **v;

	n = len / 4;
	v = calloc(n + 1, sizeof *v);
	if (!v)
		fail(ENOMEM, "plan list");
	for (i = 0; i < n; i++) {
		uint32_t o;
		memcpy(&o, b + 4 * i, 4);
		v[i] = (char *)str(o);
	}
	return v;
}

/* ---- small syscall wrappers ------------------------------------------ */

static int openat2_(int dirfd, const char *path, uint64_t flags, uint64_t resolve)
{
	struct husk_open_how how = {.flags = flags | O_CLOEXEC, .resolve = resolve};
	return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}

/* Resolves path inside the container root: symlinks and ".." can never
 * leave it, and magic links (/proc/self/fd/...) are refused outright. */
static int open_in_root(const char *path, uint64_t flags)
{
	return openat2_(rootfd, *path ? path : ".", flags, HUSK_RESOLVE_IN_ROOT | HUSK_RESOLVE_NO_MAGICLINKS);
}

static int mount_setattr_(int fd, const char *path, unsigned int flags, uint64_t set, uint64_t clr, uint64_t prop)
{
	struct husk_mount_attr a = {.attr_set = set, .attr_clr = clr, .propagation = prop};
	return (int)syscall(SYS_mount_setattr, fd, path, flags, &a, sizeof a);
}

static int open_tree_(int dirfd, const char *path, unsigned int flags)
{
	return (int)syscall(SYS_open_tree, dirfd, path, flags | HUSK_OPEN_TREE_CLOEXEC);
}

static int move_mount_(int from, int to)
{
	return (int)syscall(SYS_move_mount, from, "", to, "", HUSK_MOVE_MOUNT_F_EMPTY_PATH | HUSK_MOVE_MOUNT_T_EMPTY_PATH);
}

static void write_all(int fd, const char *data, size_t len, const char *what)
{
	while (len) {
		ssize_t n = write(fd, data, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fail(errno, "write %s", what);
		}
		data += n;
		len -= (size_t)n;
	}
}

static void reset_signals(void)
{
	struct sigaction sa = {.sa_handler = SIG_DFL};
	sigset_t all;
	int s;

	for (s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			sigaction(s, &sa, NULL);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
}

/* ---- paths in the root ------------------------------------------------ */

/*
 * Returns an O_PATH descriptor of path inside the root, creating missing
 * directories (and the last component as an empty file when file is set).
 * Each new component is created with *at() in the directory resolved so
 * far, so creation follows exactly the resolution the kernel did. A
 * component that is a symlink to something missing is followed: its
 * target, taken as a path inside the root, is created instead (as
 * securejoin's MkdirAll does), never anything outside the root.
 */
static int mkpath_depth(const char *path, int file, int depth)
{
	char buf[PATH_MAX];
	char *p, *slash;
	int parent, fd;

	if (depth > 40) {
		errno = ELOOP;
		return -1;
	}
	fd = open_in_root(path, O_PATH);
	if (fd >= 0 || errno != ENOENT)
		return fd;
	if (strlen(path) >= sizeof buf) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(buf, path);
	parent = open_in_root("", O_PATH);
	if (parent < 0)
		return -1;
	for (p = buf;; p = slash + 1) {
		int last;
		slash = strchr(p, '/');
		last = slash == NULL;
		if (!last)
			*slash = 0;
		fd = open_in_root(buf, O_PATH);
		if (fd < 0 && errno == ENOENT) {
			int made;
			if (last && file) {
				int f = openat(parent, p, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
				made = f >= 0;
				if (made)
					close(f);
			} else {
				made = mkdirat(parent, p, 0755) == 0;
			}
			if (made) {
				fd = open_in_root(buf, O_PATH);
			} else if (errno == EEXIST) {
				/* Made meanwhile by another container sharing this
				 * rootfs (it resolves now), or a dangling symlink. */
				fd = open_in_root(buf, O_PATH);
				if (fd < 0 && errno == ENOENT) {
					/* A dangling symlink: resolve its target in the root. */
					char target[PATH_MAX], next[PATH_MAX];
					ssize_t n = readlinkat(parent, p, target, sizeof target - 1);
					if (n < 0)
						goto out;
					target[n] = 0;
					if (target[0] == '/')
						n = snprintf(next, sizeof next, "%s", target + strspn(target, "/"));
					else if (p == buf)
						n = snprintf(next, sizeof next, "%s", target);
					else
						n = snprintf(next, sizeof next, "%.*s/%s", (int)(p - buf - 1), buf, target);
					if (!last && n >= 0 && (size_t)n < sizeof next)
						n += snprintf(next + n, sizeof next - (size_t)n, "/%s", slash + 1);
					close(parent);
					if (n < 0 || (size_t)n >= sizeof next) {
						errno = ENAMETOOLONG;
						return -1;
					}
					return mkpath_depth(next, file, depth + 1);
				}
			} else {
				goto out;
			}
		}
		if (fd < 0)
			goto out;
		close(parent);
		parent = fd;
		if (last)
			return parent;
		*slash = '/';
	}
out:
	{
		int e = errno;
		close(parent);
		errno = e;
		return -1;
	}
}

static int mkpath_in_root(const char *path, int file)
{
	return mkpath_depth(path, file, 0);
}

/* Splits "dir/name": returns an fd of dir (created if missing) and points
 * *name at the last component. */
static int parent_in_root(const char *path, char *buf, size_t size, const char **name)
{
	char *slash;
	if (strlen(path) >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(buf, path);
	slash = strrchr(buf, '/');
	if (!slash) {
		*name = buf;
		return open_in_root("", O_PATH);
	}
	*slash = 0;
	*name = slash + 1;
	return mkpath_in_root(buf, 0);
}

/* ---- mounts ------------------------------------------------------------ */

/* Appends the messages the kernel logged on an fs context to text. Each
 * one reads as "<level> <text>\n" (level e, w or i): keep the text only,
 * so the error stays one line for the clients that show it. */
static void fs_log(int fsfd, char *text, size_t size)
{
	char line[256];
	ssize_t n;
	while ((n = read(fsfd, line, sizeof line - 1)) > 0) {
		size_t used = strlen(text);
		char *msg = line;
		line[n] = 0;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == ' '))
			line[--n] = 0;
		if (n > 2 && line[1] == ' ' && strchr("ewi", line[0]))
			msg += 2;
		snprintf(text + used, size - used, " (kernel: %s)", msg);
	}
}

/* Creates a filesystem instance and returns a detached mount of it, or -1
 * with errno set and why describing the step that failed. */
static int new_fs(const char *fstype, const char *src, char **opts, uint64_t attrs, int skip_gid,
		  char *why, size_t whysize)
{
	int fsfd, mfd, e;
	char **o;

	fsfd = (int)syscall(SYS_fsopen, fstype, HUSK_FSOPEN_CLOEXEC);
	if (fsfd < 0) {
		snprintf(why, whysize, "fsopen %s", fstype);
		return -1;
	}
	if (src && *src && syscall(SYS_fsconfig, fsfd, HUSK_FSCONFIG_SET_STRING, "source", src, 0) < 0) {
		snprintf(why, whysize, "source %s", src);
		goto err;
	}
	for (o = opts; o && *o; o++) {
		char key[256];
		const char *eq = strchr(*o, '=');
		long r;
		if (skip_gid && !strncmp(*o, "gid=", 4))
			continue;
		if (eq) {
			size_t kl = (size_t)(eq - *o);
			if (kl >= sizeof key)
				kl = sizeof key - 1;
			memcpy(key, *o, kl);
			key[kl] = 0;
			r = syscall(SYS_fsconfig, fsfd, HUSK_FSCONFIG_SET_STRING, key, eq + 1, 0);
		} else {
			r = syscall(SYS_fsconfig, fsfd, HUSK_FSCONFIG_SET_FLAG, *o, NULL, 0);
		}
		if (r < 0) {
			snprintf(why, whysize, "option %s", *o);
			goto err;
		}
	}
	if (syscall(SYS_fsconfig, fsfd, HUSK_FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
		snprintf(why, whysize, "create %s", fstype);
		goto err;
	}
	mfd = (int)syscall(SYS_fsmount, fsfd, HUSK_FSMOUNT_CLOEXEC, attrs);
	if (mfd < 0) {
		snprintf(why, whysize, "fsmount %s", fstype);
		goto err;
	}
	close(fsfd);
	return mfd;
err:
	e = errno;
	fs_log(fsfd, why, whysize);
	close(fsfd);
	errno = e;
	return -1;
}

/* ---- tmpcopyup ---------------------------------------------------------- */

static int copy_tree(int from, int to, const char *where, int depth);

/* Copies one directory entry of from (a name, never followed) into to,
 * with its mode and owner. */
static int copy_entry(int from, int to, const char *name, const char *where, int depth)
{
	struct stat st;
	int in = -1, out = -1, r = -1;

	if (fstatat(from, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -1;
	switch (st.st_mode & S_IFMT) {
	case S_IFDIR:
		if (mkdirat(to, name, st.st_mode & 07777) < 0)
			return -1;
		in = openat(from, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		out = openat(to, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (in < 0 || out < 0)
			goto out;
		if (copy_tree(in, out, where, depth + 1) < 0)
			goto out;
		break;
	case S_IFREG: {
		/* One buffer: husk-init is single-threaded, and the stack of a
		 * deep copy stays small. */
		static char buf[65536];
		struct stat got;
		ssize_t n;
		/* Opened without following, without blocking, and checked to be
		 * the regular file just seen (a FIFO put there since must not
		 * hang us). */
		in = openat(from, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (in < 0 || fstat(in, &got) < 0)
			goto out;
		if (!S_ISREG(got.st_mode)) {
			errno = EINVAL;
			goto out;
		}
		out = openat(to, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, st.st_mode & 0777);
		if (out < 0)
			goto out;
		while ((n = read(in, buf, sizeof buf)) != 0) {
			if (n < 0) {
				if (errno == EINTR)
					continue;
				goto out;
			}
			for (char *p = buf; n > 0;) {
				ssize_t w = write(out, p, (size_t)n);
				if (w < 0) {
					if (errno == EINTR)
						continue;
					goto out;
				}
				p += w;
				n -= w;
			}
		}
		break;
	}
	case S_IFLNK: {
		char target[PATH_MAX];
		ssize_t n = readlinkat(from, name, target, sizeof target - 1);
		if (n < 0)
			return -1;
		target[n] = 0;
		if (symlinkat(target, to, name) < 0)
			return -1;
		break;
	}
	default: /* devices, FIFOs, sockets */
		if (mknodat(to, name, st.st_mode, st.st_rdev) < 0)
			return -1;
	}
	/* Owner, then mode: chown clears the set-id bits. */
	if (fchownat(to, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0)
		goto out;
	if (!S_ISLNK(st.st_mode) && fchmodat(to, name, st.st_mode & 07777, 0) < 0)
		goto out;
	r = 0;
out:
	{
		int e = errno;
		if (in >= 0)
			close(in);
		if (out >= 0)
			close(out);
		errno = e;
	}
	return r;
}

/* Copies what directory from (opened for reading) holds into directory to. */
static int copy_tree(int from, int to, const char *where, int depth)
{
	DIR *d;
	struct dirent *e;
	int fd, r = 0;

	if (depth > 64) {
		errno = ELOOP;
		return -1;
	}
	fd = dup(from);
	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((errno = 0, e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (copy_entry(from, to, e->d_name, where, depth) < 0) {
			fail(errno, "tmpcopyup: copy %s/%s", where, e->d_name);
		}
	}
	if (errno)
		r = -1;
	closedir(d);
	return r;
}

/* ---- mounts, continued ---------------------------------------------------- */

/* Attaches the detached mount mfd on dfd (the mount point /dst), sets its
 * propagation, and keeps it in a slot for a later OP_SETATTR_SLOT (or
 * closes it). */
static void attach_mount(int mfd, int dfd, const char *dst, int64_t prop, int prop_rec, int64_t slot)
{
	if (move_mount_(mfd, dfd) < 0) {
		int err = errno;
		struct stat ms, ds;

		/* A directory on a file, or the reverse: the kernel's EINVAL
		 * here is mount(2)'s ENOTDIR, runc's words, which dockerd
		 * looks for to tell the user (exit 127 and a hint). */
		if (err == EINVAL && fstat(mfd, &ms) == 0 && fstat(dfd, &ds) == 0 &&
		    S_ISDIR(ms.st_mode) != S_ISDIR(ds.st_mode))
			err = ENOTDIR;
		fail(err, "attach mount on /%s", dst);
	}
	if (prop && mount_setattr_(mfd, "", AT_EMPTY_PATH | (prop_rec ? AT_RECURSIVE : 0), 0, 0, (uint64_t)prop) < 0)
		fail(errno, "set propagation of /%s", dst);
	close(dfd);
	if (slot >= 0 && slot < NSLOTS)
		slots[slot] = mfd;
	else
		close(mfd);
}

static void op_mount(const struct plan_op *op)
{
	const char *src = str(op->ARG_MOUNT_SOURCE), *dst = str(op->ARG_MOUNT_DEST), *fstype = str(op->ARG_MOUNT_FS_TYPE);
	char why[512] = "";
	int dfd = -1, mfd, file = op->flags & MNTF_FILE;
	uint64_t attrs = (uint64_t)op->ARG_MOUNT_SET;
	struct stat st;

	if (op->flags & MNTF_ORDINARY_DIR) {
		/* proc and sysfs go on a directory, never through a symlink
		 * (the last component is not followed). */
		dfd = open_in_root(dst, O_PATH | O_NOFOLLOW);
		if (dfd < 0 && errno != ENOENT)
			fail(errno, "open mount point /%s", dst);
		if (dfd >= 0 && fstat(dfd, &st) < 0)
			fail(errno, "stat mount point /%s", dst);
		if (dfd >= 0 && !S_ISDIR(st.st_mode))
			fail(ENOTDIR, "filesystem %s must be mounted on ordinary directory: /%s is not one", fstype, dst);
	} else if (op->flags & (MNTF_TMPFS_MODE | MNTF_COPYUP)) {
		/* An existing directory lends the tmpfs its mode (and content). */
		dfd = open_in_root(dst, O_PATH);
		if (dfd < 0 && errno != ENOENT)
			fail(errno, "open mount point /%s", dst);
	}
	if (op->flags & MNTF_BIND) {
		int sfd = -1;
		if (op->flags & MNTF_SOURCE_IN_ROOT) {
			/* A source inside the container: resolved in its root,
			 * with what the mounts before this one made there. */
			sfd = open_in_root(src, O_PATH);
			if (sfd < 0 || fstat(sfd, &st) < 0)
				fail(errno, "bind source /%s", src);
			file = !S_ISDIR(st.st_mode);
			mfd = open_tree_(sfd, "", AT_EMPTY_PATH | HUSK_OPEN_TREE_CLONE | ((op->flags & MNTF_REC) ? AT_RECURSIVE : 0));
			close(sfd);
		} else {
			mfd = open_tree_(AT_FDCWD, src, HUSK_OPEN_TREE_CLONE | ((op->flags & MNTF_REC) ? AT_RECURSIVE : 0));
		}
		if (mfd < 0)
			fail(errno, "bind %s", src);
	} else {
		char **opts = list(op->ARG_MOUNT_OPTIONS), **all = opts, mode[32];
		int copyup = (op->flags & MNTF_COPYUP) && dfd >= 0;

		if ((op->flags & MNTF_TMPFS_MODE) && dfd >= 0) {
			/* Given first: a mode= in the options wins. */
			size_t n = 0;
			if (fstat(dfd, &st) < 0)
				fail(errno, "stat mount point /%s", dst);
			snprintf(mode, sizeof mode, "mode=%o", (unsigned)(st.st_mode & 07777));
			while (opts[n])
				n++;
			all = calloc(n + 2, sizeof *all);
			if (!all)
				fail(ENOMEM, "mount options");
			all[0] = mode;
			memcpy(all + 1, opts, n * sizeof *opts);
		}
		/* Writable until the copy is made. */
		if (copyup)
			attrs &= ~(uint64_t)HUSK_MOUNT_ATTR_RDONLY;
		mfd = new_fs(fstype, src, all, attrs, 0, why, sizeof why);
		if (mfd < 0 && errno == EINVAL && (op->flags & MNTF_DEVPTS_NOGID))
			mfd = new_fs(fstype, src, all, attrs, 1, why, sizeof why);
		if (mfd < 0 && errno == EPERM && (op->flags & MNTF_SYSFS_FALLBACK)) {
			/* The host's /sys, with the flags the config asked of the
			 * sysfs (ro, nosuid, nodev, noexec) on every mount of it. */
			mfd = open_tree_(AT_FDCWD, "/sys", HUSK_OPEN_TREE_CLONE | AT_RECURSIVE);
			if (mfd >= 0 && mount_setattr_(mfd, "", AT_EMPTY_PATH | AT_RECURSIVE, attrs, 0, 0) < 0)
				fail(errno, "set mount attributes on the host's /sys");
		}
		if (all != opts)
			free(all);
		free(opts);
		if (mfd < 0)
			fail(errno, "mount %s: %s", fstype, why);
		if (copyup) {
			int from = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (from < 0)
				fail(errno, "tmpcopyup: open /%s", dst);
			if (copy_tree(from, mfd, dst, 0) < 0)
				fail(errno, "tmpcopyup: read /%s", dst);
			close(from);
			if ((uint64_t)op->ARG_MOUNT_SET & HUSK_MOUNT_ATTR_RDONLY &&
			    mount_setattr_(mfd, "", AT_EMPTY_PATH, HUSK_MOUNT_ATTR_RDONLY, 0, 0) < 0)
				fail(errno, "make the tmpfs on /%s read-only", dst);
		}
	}
	if ((op->ARG_MOUNT_SET || op->ARG_MOUNT_CLR) && (op->flags & MNTF_BIND) &&
	    mount_setattr_(mfd, "", AT_EMPTY_PATH, (uint64_t)op->ARG_MOUNT_SET, (uint64_t)op->ARG_MOUNT_CLR, 0) < 0)
		fail(errno, "set mount attributes on %s", src);
	if ((op->ARG_MOUNT_REC_SET || op->ARG_MOUNT_REC_CLR) &&
	    mount_setattr_(mfd, "", AT_EMPTY_PATH | AT_RECURSIVE, (uint64_t)op->ARG_MOUNT_REC_SET, (uint64_t)op->ARG_MOUNT_REC_CLR, 0) < 0)
		fail(errno, "set recursive mount attributes on %s", src ? src : fstype);
	if (dfd < 0) {
		dfd = mkpath_in_root(dst, file);
		if (dfd < 0)
			fail(errno, "create mount point /%s", dst);
	}
	attach_mount(mfd, dfd, dst, op->ARG_MOUNT_PROPAGATION, op->flags & MNTF_PROP_REC, op->ARG_MOUNT_SLOT);
}

/* A mount husk prepared on the host (an id-mapped bind, attributes set). */
static void op_mount_tree(const struct plan_op *op)
{
	const char *dst = str(op->ARG_MOUNT_TREE_DEST);
	int mfd = (int)op->ARG_MOUNT_TREE_FD, dfd;
	struct stat st;

	if (fstat(mfd, &st) < 0)
		fail(errno, "corrupt plan: no mount at fd %d", mfd);
	dfd = mkpath_in_root(dst, !S_ISDIR(st.st_mode));
	if (dfd < 0)
		fail(errno, "create mount point /%s", dst);
	attach_mount(mfd, dfd, dst, op->ARG_MOUNT_TREE_PROPAGATION, op->flags & MNTF_PROP_REC, op->ARG_MOUNT_TREE_SLOT);
}

static void op_rootfs(const struct plan_op *op)
{
	const char *path = str(op->ARG_ROOTFS_PATH), *parent = str(op->ARG_ROOTFS_PRIVATE_PARENT);

	if (op->flags & ROOTF_CURRENT) {
		rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (rootfd < 0)
			fail(errno, "open /");
		return;
	}
	/* pivot_root refuses a new root whose parent mount is shared; with a
	 * shared root propagation, make our copy of that parent private. */
	if (parent && mount(NULL, parent, NULL, MS_PRIVATE, NULL) < 0)
		fail(errno, "make %s private", parent);
	/* A mount of its own, so that pivot_root has a mount point to pivot to. */
	if (!(op->flags & ROOTF_NOBIND) && mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0)
		fail(errno, "bind rootfs %s", path);
	rootfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		fail(errno, "open rootfs %s", path);
}

/* A trusted handle opened before anything of the container is mounted: a
 * private procfs instance (for sysctls and LSM labels: writes never go
 * through the container's own /proc, which a container could have
 * redirected). */
static void op_procfs(const struct plan_op *op)
{
	char why[256] = "";
	struct stat st;
	struct statfs sfs;
	int fd;

	if (op->flags & PROCF_NOPROC)
		return;
	/* Nothing is ever executed or opened as a device through it. */
	fd = new_fs("proc", "proc", NULL, HUSK_MOUNT_ATTR_NOSUID | HUSK_MOUNT_ATTR_NODEV | HUSK_MOUNT_ATTR_NOEXEC, 0, why,
		    sizeof why);
	if (fd < 0 && (op->flags & PROCF_FALLBACK)) {
		/* Joining a user-namespaced container whose /proc has masked
		 * paths, a fresh procfs is refused (it would be less masked).
		 * Use the container's own, after checking it is a procfs root:
		 * every write below it is confined to that mount. */
		fd = open_in_root("proc", O_PATH | O_DIRECTORY);
		if (fd < 0 || fstatfs(fd, &sfs) < 0 || fstat(fd, &st) < 0)
			fail(errno, "open the container's /proc");
		if (sfs.f_type != PROC_SUPER_MAGIC || st.st_ino != 1)
			fail(EINVAL, "the container's /proc is not a procfs root");
	}
	if (fd < 0)
		fail(errno, "private procfs: %s", why);
	slots[SLOT_PROC] = fd;
}

static void op_mknod(const struct plan_op *op)
{
	char buf[PATH_MAX];
	const char *name;
	int dfd = parent_in_root(str(op->ARG_MKNOD_PATH), buf, sizeof buf, &name);
	if (dfd < 0)
		fail(errno, "create parent of /%s", str(op->ARG_MKNOD_PATH));
	if (mknodat(dfd, name, (mode_t)op->ARG_MKNOD_MODE, (dev_t)op->ARG_MKNOD_DEV) < 0 && errno != EEXIST)
		fail(errno, "mknod /%s", str(op->ARG_MKNOD_PATH));
	if (fchownat(dfd, name, (uid_t)op->ARG_MKNOD_UID, (gid_t)op->ARG_MKNOD_GID, AT_SYMLINK_NOFOLLOW) < 0)
		fail(errno, "chown /%s", str(op->ARG_MKNOD_PATH));
	close(dfd);
}

/* Device nodes cannot be created in a user namespace: bind the host's. */
static void op_bind_dev(const struct plan_op *op)
{
	int dfd = mkpath_in_root(str(op->ARG_BIND_DEV_PATH), 1);
	int mfd;
	if (dfd < 0)
		fail(errno, "create /%s", str(op->ARG_BIND_DEV_PATH));
	mfd = open_tree_(AT_FDCWD, str(op->ARG_BIND_DEV_HOST_PATH), HUSK_OPEN_TREE_CLONE);
	if (mfd < 0)
		fail(errno, "bind %s", str(op->ARG_BIND_DEV_HOST_PATH));
	if (move_mount_(mfd, dfd) < 0)
		fail(errno, "attach %s on /%s", str(op->ARG_BIND_DEV_HOST_PATH), str(op->ARG_BIND_DEV_PATH));
	close(mfd);
	close(dfd);
}

static void op_symlink(const struct plan_op *op)
{
	char buf[PATH_MAX];
	const char *name;
	int dfd = parent_in_root(str(op->ARG_SYMLINK_LINK), buf, sizeof buf, &name);
	if (dfd < 0)
		fail(errno, "create parent of /%s", str(op->ARG_SYMLINK_LINK));
	if (symlinkat(str(op->ARG_SYMLINK_TARGET), dfd, name) < 0 && errno != EEXIST)
		fail(errno, "symlink /%s", str(op->ARG_SYMLINK_LINK));
	close(dfd);
}

/* After the root changed: start at it, and resolve from it from now on. */
static void enter_new_root(void)
{
	if (chdir("/") < 0)
		fail(errno, "chdir /");
	close(rootfd);
	rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		fail(errno, "open new root");
}

static void op_pivot_root(void)
{
	int oldroot = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (oldroot < 0)
		fail(errno, "open old root");
	if (fchdir(rootfd) < 0)
		fail(errno, "chdir to rootfs");
	/* Stack the old root under the new one, then detach it: no directory
	 * for put_old is needed in the (possibly read-only) rootfs. */
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		fail(errno, "pivot_root");
	/* "." would name the new root for mount(2) (which does not step into
	 * the old root stacked on it): work on the old root by its fd. */
	if (fchdir(oldroot) < 0)
		fail(errno, "chdir to old root");
	/* Keep the unmount of the old root from propagating to the host. */
	if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
		fail(errno, "make old root a slave");
	if (umount2(".", MNT_DETACH) < 0)
		fail(errno, "detach old root");
	close(oldroot);
	enter_new_root();
}

static void op_move_root(void)
{
	if (fchdir(rootfd) < 0)
		fail(errno, "chdir to rootfs");
	if (mount(".", "/", NULL, MS_MOVE, NULL) < 0)
		fail(errno, "move rootfs to /");
	if (chroot(".") < 0)
		fail(errno, "chroot");
	enter_new_root();
}

/* Without a mount namespace there is nothing to pivot: chroot. */
static void op_chroot(void)
{
	if (fchdir(rootfd) < 0)
		fail(errno, "chdir to rootfs");
	if (chroot(".") < 0)
		fail(errno, "chroot");
	enter_new_root();
}

/* What masks are made of, found once: the container's /dev/null (checked
 * to be the null device) and the read-only tmpfs of the first masked
 * directory, which the others share. Both are the container's own;
 * drop_handles closes them anyway. */
static int mask_null = -1, mask_dir = -1;

static int container_null(void)
{
	struct stat st;

	if (mask_null >= 0)
		return mask_null;
	/* Resolved in the root: whatever it names (a symlink, a node a
	 * container sharing this rootfs swapped in) must be the null device,
	 * and the bind is made from this very descriptor. */
	mask_null = open_in_root("dev/null", O_PATH);
	if (mask_null < 0)
		fail(errno, "can't mask paths: open the container's /dev/null");
	if (fstat(mask_null, &st) < 0)
		fail(errno, "can't mask paths: stat the container's /dev/null");
	if (!S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3))
		fail(EINVAL, "can't mask paths: the container's /dev/null is not the null device");
	return mask_null;
}

/* An empty tmpfs, read-only down to its superblock, with room for
 * nothing (some kernels refuse fewer than 2 inodes). */
static int mask_tmpfs(const char *path)
{
	char why[256] = "";
	char *one[] = {"nr_blocks=1", "nr_inodes=1", "ro", NULL}, *two[] = {"nr_blocks=1", "nr_inodes=2", "ro", NULL};
	int mfd = new_fs("tmpfs", "tmpfs", one, HUSK_MOUNT_ATTR_RDONLY, 0, why, sizeof why);
	if (mfd < 0 && errno == EINVAL) {
		why[0] = 0;
		mfd = new_fs("tmpfs", "tmpfs", two, HUSK_MOUNT_ATTR_RDONLY, 0, why, sizeof why);
	}
	if (mfd < 0)
		fail(errno, "mask /%s: %s", path, why);
	return mfd;
}

static void op_mask(const struct plan_op *op)
{
	const char *path = str(op->ARG_MASK_PATH);
	struct stat st;
	int fd, mfd, dir;

	fd = open_in_root(path, O_PATH);
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return;
		fail(errno, "open /%s", path);
	}
	if (fstat(fd, &st) < 0)
		fail(errno, "stat /%s", path);
	dir = S_ISDIR(st.st_mode);
	if (dir) {
		mfd = mask_dir >= 0 ? open_tree_(mask_dir, "", AT_EMPTY_PATH | HUSK_OPEN_TREE_CLONE) : -1;
		if (mfd < 0)
			mfd = mask_tmpfs(path);
	} else {
		mfd = open_tree_(container_null(), "", AT_EMPTY_PATH | HUSK_OPEN_TREE_CLONE);
		if (mfd < 0)
			fail(errno, "mask /%s: bind /dev/null", path);
	}
	if (move_mount_(mfd, fd) < 0)
		fail(errno, "mask /%s", path);
	/* Once attached, the first directory's tmpfs can be cloned. */
	if (dir && mask_dir < 0)
		mask_dir = mfd;
	else
		close(mfd);
	close(fd);
}

static void op_readonly(const struct plan_op *op)
{
	const char *path = str(op->ARG_READONLY_PATH);
	int fd, mfd;

	fd = open_in_root(path, O_PATH);
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return;
		fail(errno, "open /%s", path);
	}
	mfd = open_tree_(fd, "", AT_EMPTY_PATH | HUSK_OPEN_TREE_CLONE | AT_RECURSIVE);
	if (mfd < 0)
		fail(errno, "bind /%s", path);
	if (mount_setattr_(mfd, "", AT_EMPTY_PATH | AT_RECURSIVE, HUSK_MOUNT_ATTR_RDONLY, 0, 0) < 0)
		fail(errno, "make /%s read-only", path);
	if (move_mount_(mfd, fd) < 0)
		fail(errno, "attach read-only /%s", path);
	close(mfd);
	close(fd);
}

/* ---- /proc writes through the private instance ---------------------- */

static void proc_write(const char *path, const char *value)
{
	int fd = openat2_(slots[SLOT_PROC], path, O_WRONLY | O_TRUNC,
			  HUSK_RESOLVE_BENEATH | HUSK_RESOLVE_NO_SYMLINKS | HUSK_RESOLVE_NO_MAGICLINKS | HUSK_RESOLVE_NO_XDEV);
	if (fd < 0)
		fail(errno, "open /proc/%s", path);
	write_all(fd, value, strlen(value), path);
	close(fd);
}

static void op_sysctl(const struct plan_op *op)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "sys/%s", str(op->ARG_SYSCTL_KEY));
	proc_write(path, str(op->ARG_SYSCTL_VALUE));
}

/* ---- hooks ------------------------------------------------------------ */

/* Runs one OCI hook with the container state on stdin; its output is
 * returned in the error so the user sees why it failed. */
static void op_run_hook(const struct plan_op *op)
{
	const char *path = str(op->ARG_RUN_HOOK_PATH);
	char **argv = list(op->ARG_RUN_HOOK_ARGS), **envp = list(op->ARG_RUN_HOOK_ENV);
	int in[2], out[2], status, pidfd;
	char output[2048] = "";
	size_t used = 0;
	int timeout_ms = op->ARG_RUN_HOOK_TIMEOUT <= 0 ? -1 : op->ARG_RUN_HOOK_TIMEOUT > INT_MAX / 1000 ? INT_MAX : (int)op->ARG_RUN_HOOK_TIMEOUT * 1000;
	pid_t pid;
	struct sigaction ign = {.sa_handler = SIG_IGN}, dfl = {.sa_handler = SIG_DFL};

	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0)
		fail(errno, "hook %s: pipe", path);
	pid = fork();
	if (pid < 0)
		fail(errno, "hook %s: fork", path);
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(out[1], 2);
		/* A hook gets its state and nothing else of ours (preserved fds
		 * are not yet close-on-exec when createContainer hooks run). */
		syscall(SYS_close_range, 3, ~0U, 0);
		execve(path, argv[0] ? argv : (char *[]){(char *)path, NULL}, envp);
		dprintf(2, "exec %s: %s", path, strerror(errno));
		die(127);
	}
	close(in[0]);
	close(out[1]);
	/* A hook that does not read its stdin must not kill us with SIGPIPE. */
	sigaction(SIGPIPE, &ign, NULL);
	if (state_len)
		(void)!write(in[1], state_json, state_len);
	close(in[1]);
	sigaction(SIGPIPE, &dfl, NULL);

	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	/* Collect output until the hook exits (or, without pidfds, until its
	 * output closes); a daemon it leaves behind holding the pipe must not
	 * keep us waiting. */
	for (;;) {
		struct pollfd p[2] = {{out[0], POLLIN, 0}, {pidfd, POLLIN, 0}};
		int64_t start = now_ns();
		int r = poll(p, 2, timeout_ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0) {
			/* Our unreaped child: its pid cannot have been reused. */
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			fail(ETIMEDOUT, "hook %s timed out after %llds", path, (long long)op->ARG_RUN_HOOK_TIMEOUT);
		}
		if (timeout_ms > 0) {
			timeout_ms -= (int)((now_ns() - start) / 1000000);
			if (timeout_ms <= 0)
				timeout_ms = 1;
		}
		if (p[0].revents) {
			char sink[512];
			ssize_t n = used < sizeof output - 1 ? read(out[0], output + used, sizeof output - 1 - used)
							     : read(out[0], sink, sizeof sink);
			if (n > 0 && used < sizeof output - 1)
				used += (size_t)n;
			if (n <= 0) {
				close(out[0]);
				out[0] = -1;
			}
		}
		if (p[1].revents || (out[0] < 0 && pidfd < 0))
			break;
	}
	output[used] = 0;
	if (waitpid(pid, &status, 0) < 0)
		fail(errno, "hook %s: wait", path);
	if (out[0] >= 0)
		close(out[0]);
	if (pidfd >= 0)
		close(pidfd);
	free(argv);
	free(envp);
	if (WIFSIGNALED(status))
		fail(0, "hook %s killed by signal %d: %s", path, WTERMSIG(status), output);
	if (WEXITSTATUS(status))
		fail(0, "hook %s exited with status %d: %s", path, WEXITSTATUS(status), output);
}

/* ---- process ---------------------------------------------------------- */

static void op_caps(const struct plan_op *op)
{
	uint64_t bnd = (uint64_t)op->ARG_CAPS_BOUNDING, eff = (uint64_t)op->ARG_CAPS_EFFECTIVE, prm = (uint64_t)op->ARG_CAPS_PERMITTED;
	uint64_t inh = (uint64_t)op->ARG_CAPS_INHERITABLE, amb = (uint64_t)op->ARG_CAPS_AMBIENT;
	int last = (int)op->ARG_CAPS_LAST_CAP, c;

	if (op->flags & 1) { /* bounding set: needs CAP_SETPCAP, so before dropping uid 0 */
		for (c = 0; c <= last; c++)
			if (!(bnd & (1ULL << c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
				fail(errno, "drop capability %d from the bounding set", c);
		return;
	}
	{
		struct husk_cap_header h = {.version = HUSK_CAP_V3};
		struct husk_cap_data d[2] = {
			{(uint32_t)eff, (uint32_t)prm, (uint32_t)inh},
			{(uint32_t)(eff >> 32), (uint32_t)(prm >> 32), (uint32_t)(inh >> 32)},
		};
		if (syscall(SYS_capset, &h, d) < 0)
			fail(errno, "capset");
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		fail(errno, "clear ambient capabilities");
	for (c = 0; c <= last; c++)
		if ((amb & (1ULL << c)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0)
			fail(errno, "raise ambient capability %d", c);
}

static void op_seccomp(const struct plan_op *op)
{
	uint32_t len;
	const uint8_t *b = blob(op->ARG_SECCOMP_PROGRAM, &len);
	struct husk_sock_filter *f = malloc(len ? len : 1);
	struct husk_sock_fprog prog = {.len = (unsigned short)(len / sizeof *f), .filter = f};
	uint64_t flags = (uint64_t)op->ARG_SECCOMP_FILTER_FLAGS;
	long r;

	if (!f)
		fail(ENOMEM, "seccomp");
	memcpy(f, b, len);
	if (op->flags & SECF_NOTIFY)
		flags |= HUSK_SECCOMP_FILTER_FLAG_NEW_LISTENER;
	r = syscall(SYS_seccomp, HUSK_SECCOMP_SET_MODE_FILTER, flags, &prog);
	if (r < 0)
		fail(errno, "load seccomp filter");
	if (op->flags & SECF_NOTIFY) {
		send_msg(MSG_SECCOMP, 0, 0, NULL, (int)r);
		close((int)r);
		wait_for(MSG_ACK);
	}
	free(f);
}

static void op_console(const struct plan_op *op)
{
	struct winsize ws = {.ws_row = (unsigned short)op->ARG_CONSOLE_ROWS, .ws_col = (unsigned short)op->ARG_CONSOLE_COLS};
	struct stat st;
	struct statfs sfs;
	int master, slave, unlock = 0, dfd, mfd;

	master = open_in_root("dev/ptmx", O_RDWR | O_NOCTTY);
	if (master < 0)
		fail(errno, "open /dev/ptmx");
	if (fstat(master, &st) < 0 || !S_ISCHR(st.st_mode) || major(st.st_rdev) != 5)
		fail(EINVAL, "/dev/ptmx is not a pty multiplexer");
	if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
		fail(errno, "unlock pty");
	/* The peer is opened from the master, not by a /dev/pts path a
	 * container could have replaced. */
	slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0)
		fail(errno, "open pty peer");
	if ((ws.ws_row || ws.ws_col) && ioctl(slave, TIOCSWINSZ, &ws) < 0)
		fail(errno, "set console size");
	if (op->flags & CONSF_NODEVCONSOLE)
		goto send;
	/* /dev/console must be a plain file or device of ours, never a symlink
	 * redirecting the bind mount (CVE-2025-52565). */
	dfd = open_in_root("dev/console", O_PATH | O_NOFOLLOW);
	if (dfd < 0 && errno == ENOENT)
		dfd = mkpath_in_root("dev/console", 1);
	if (dfd < 0 || fstat(dfd, &st) < 0 || fstatfs(dfd, &sfs) < 0)
		fail(errno, "create /dev/console");
	if (!(S_ISREG(st.st_mode) || S_ISCHR(st.st_mode)) || sfs.f_type == PROC_SUPER_MAGIC ||
	    sfs.f_type == SYSFS_MAGIC)
		fail(EINVAL, "/dev/console is not a regular file or device");
	mfd = open_tree_(slave, "", AT_EMPTY_PATH | HUSK_OPEN_TREE_CLONE);
	if (mfd < 0 || move_mount_(mfd, dfd) < 0)
		fail(errno, "bind pty on /dev/console");
	close(mfd);
	close(dfd);
send:
	send_msg(MSG_CONSOLE, 0, 0, NULL, master);
	close(master);
	wait_for(MSG_ACK);
	slots[SLOT_CONSOLE] = slave;
}

static void op_stdio_console(void)
{
	int slave = slots[SLOT_CONSOLE], i;
	if (setsid() < 0)
		fail(errno, "setsid");
	if (ioctl(slave, TIOCSCTTY, 0) < 0)
		fail(errno, "set controlling terminal");
	for (i = 0; i < 3; i++)
		if (dup3(slave, i, 0) < 0)
			fail(errno, "dup pty to fd %d", i);
}

static void op_chdir(const struct plan_op *op)
{
	const char *dir = str(op->ARG_CHDIR_DIR);
	struct stat want, got;
	int fd;

	/* flags 1: first attempt as root; a permission error is retried after
	 * the switch to the container user (directories only it may enter). */
	if ((op->flags & 2) && !chdir_pending)
		return;
	if (chdir(dir) < 0) {
		if ((op->flags & 1) && (errno == EACCES || errno == EPERM)) {
			chdir_pending = 1;
			return;
		}
		fail(errno, "chdir to cwd %s", dir);
	}
	chdir_pending = 0;
	/* The cwd must be the directory the path names inside the root. One
	 * reached through a leaked descriptor (/proc/self/fd/N, CVE-2024-21626)
	 * fails the in-root resolution, which refuses magic links. Comparing
	 * inodes needs no getcwd(2), which seccomp profiles may forbid. */
	fd = open_in_root(dir + strspn(dir, "/"), O_PATH | O_DIRECTORY);
	if (fd < 0 || fstat(fd, &want) < 0 || stat(".", &got) < 0)
		fail(errno ? errno : EPERM, "cwd %s is not a directory inside the container", dir);
	if (want.st_dev != got.st_dev || want.st_ino != got.st_ino)
		fail(EPERM, "cwd %s is outside the container", dir);
	close(fd);
}

/* Whether path is a file the process may execute, as Go's exec.LookPath
 * (runc's) judges it: with the effective ids and capabilities the process
 * has now (a user holding CAP_DAC_OVERRIDE executes a file only its owner
 * may), 0 or an errno. */
static int executable(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return errno;
	if (S_ISDIR(st.st_mode))
		return EISDIR;
	if (syscall(SYS_faccessat2, AT_FDCWD, path, X_OK, AT_EACCESS) == 0)
		return 0;
	if (errno != ENOSYS && errno != EPERM)
		return errno;
	return (st.st_mode & 0111) ? 0 : EACCES;
}

/* Finds the program as runc does (exec.LookPath in the process's
 * environment): a name with a slash as it is; any other only in $PATH,
 * and not at all without a $PATH. A match in a relative directory of
 * $PATH is refused, as Go refuses it (exec.ErrDot). */
static void op_lookup_exec(const struct plan_op *op)
{
	const char *name = str(op->ARG_LOOKUP_EXEC_NAME), *path = str(op->ARG_LOOKUP_EXEC_PATH);
	char cand[PATH_MAX];
	const char *p, *end;
	int e;

	if (strchr(name, '/')) {
		if ((e = executable(name)))
			fail(e, "exec: %s", name);
		if (snprintf(exec_path, sizeof exec_path, "%s", name) >= (int)sizeof exec_path)
			fail(ENAMETOOLONG, "exec: %s", name);
		return;
	}
	for (p = path; p && *p; p = end + 1) {
		size_t len;
		int n;
		end = strchr(p, ':');
		len = end ? (size_t)(end - p) : strlen(p);
		n = len == 0 ? snprintf(cand, sizeof cand, "./%s", name)
			     : snprintf(cand, sizeof cand, "%.*s/%s", (int)len, p, name);
		/* A candidate too long to name is no candidate. */
		if (n < (int)sizeof cand && executable(cand) == 0) {
			if (cand[0] != '/')
				fail(0, "exec: \"%s\": cannot run executable found relative to current directory", cand);
			memcpy(exec_path, cand, (size_t)n + 1);
			return;
		}
		if (!end)
			break;
	}
	fail(0, "exec: \"%s\": executable file not found in $PATH", name);
}

static void op_wait_start(const struct plan_op *op)
{
	int lfd = (int)op->ARG_WAIT_START_LISTENER, fd;

	/* `husk start` connects to the socket husk bound in the container's
	 * state directory. Unlike a FIFO, the listening socket is no inode of
	 * the host's that could be reopened through /proc/<pid>/fd. */
	do
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		fail(errno, "wait for start");
	close(lfd);
	/* Tells `husk start` we are past the wait: a process that then exits
	 * at once was still started. */
	if (send(fd, "0", 1, MSG_NOSIGNAL) != 1)
		fail(errno, "answer start");
	/* The connection stays open, close-on-exec: `husk start` sees it close
	 * exactly when the user's process has been executed (or we died). */
}

/* Closes the handles we keep in slots (the private procfs, mounts waiting
 * for attributes, id-mapped binds of the host's among them) and those the
 * masks were made of: planned before the switch to the container's
 * credentials, after which a process of the container could reach us. The
 * console's pty is the container's own. */
static void drop_handles(void)
{
	int i;
	for (i = 0; i < NSLOTS; i++)
		if (i != SLOT_CONSOLE && slots[i] >= 0) {
			close(slots[i]);
			slots[i] = -1;
		}
	if (mask_null >= 0)
		close(mask_null);
	if (mask_dir >= 0)
		close(mask_dir);
	mask_null = mask_dir = -1;
}

static void op_exec(const struct plan_op *op)
{
	char **argv = list(op->ARG_EXEC_ARGS), **envp = list(op->ARG_EXEC_ENV);
	/* Nothing of ours may survive into the container's process. */
	drop_handles();
	if (slots[SLOT_CONSOLE] >= 0)
		close(slots[SLOT_CONSOLE]);
	reset_signals();
	execve(exec_path, argv, envp);
	fail(errno, "exec %s", exec_path);
}

/* ---- namespaces ------------------------------------------------------- */

static void op_fork(void)
{
	int order[2];
	pid_t pid;
	char b;

	/* The parent reports the child's pid; the child must not speak before
	 * that message is out, or husk could hear of the init before its pid.
	 * A pipe orders the two without a round trip through husk. */
	if (pipe2(order, O_CLOEXEC) < 0)
		fail(errno, "pipe");
	/* CLONE_PARENT: the child is husk's, as runc's init is runc's, so
	 * `husk run` and `husk exec` wait for it without being a subreaper
	 * (--no-subreaper). A raw clone, not fork(3): libc's cached thread
	 * state is unused here, and the next fork(3) refreshes it. */
	pid = (pid_t)syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
	if (pid < 0)
		fail(errno, "fork into the new pid namespace");
	if (pid > 0) {
		/* husk reaps us; the child, our sibling (CLONE_PARENT), is
		 * the container's init. */
		close(order[0]);
		send_msg(MSG_PID, pid, 0, NULL, -1);
		(void)!write(order[1], "", 1);
		_exit(0);
	}
	close(order[1]);
	while (read(order[0], &b, 1) < 0 && errno == EINTR)
		;
	close(order[0]);
}

/* Dumpable (when the plan says so) only while the parent writes our /proc
 * files: at these points we have joined nothing of the container. */
static void set_dumpable(int on)
{
	if (prctl(PR_SET_DUMPABLE, on, 0, 0, 0) < 0)
		fail(errno, "set dumpable %d", on);
}

static void ask_parent(uint32_t type, int64_t val, uint32_t flags)
{
	if (flags & WAITF_DUMPABLE)
		set_dumpable(1);
	send_msg(type, val, 0, NULL, -1);
	wait_for(MSG_ACK);
	if (flags & WAITF_DUMPABLE)
		set_dumpable(0);
}

static void op_unshare_user(const struct plan_op *op)
{
	if (unshare(CLONE_NEWUSER) < 0)
		fail(errno, "unshare user namespace");
	ask_parent(MSG_USERMAP, getpid(), op->flags);
	if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
		fail(errno, "become root in the user namespace (is uid/gid 0 mapped?)");
}

/* ---- dispatcher ------------------------------------------------------- */

/* A new network namespace has only "lo", down: bring it up, as runc does
 * (ip link set lo up). */
static void op_loopback_up(void)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		fail(errno, "socket for lo");
	memset(&ifr, 0, sizeof ifr);
	memcpy(ifr.ifr_name, "lo", 3);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		fail(errno, "read the flags of lo");
	if (!(ifr.ifr_flags & IFF_UP)) {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
			fail(errno, "bring lo up");
	}
	close(fd);
}

static void run_op(const struct plan_op *op)
{
	switch (op->code) {
	case OP_SETNS:
		if (setns((int)op->ARG_SETNS_FD, (int)op->ARG_SETNS_TYPE) < 0)
			fail(errno, "setns");
		close((int)op->ARG_SETNS_FD);
		break;
	case OP_UNSHARE_USER:
		op_unshare_user(op);
		break;
	case OP_UNSHARE:
		if (unshare((int)op->ARG_UNSHARE_CLONE) < 0)
			fail(errno, "unshare");
		break;
	case OP_FORK:
		op_fork();
		break;
	case OP_REPORT_PID:
		send_msg(MSG_PID, getpid(), 0, NULL, -1);
		break;
	case OP_WAIT_PARENT:
		ask_parent(MSG_SYNC, op->ARG_WAIT_PARENT_KIND, op->flags);
		break;
	case OP_SETHOSTNAME:
		if (sethostname(str(op->ARG_SETHOSTNAME_NAME), strlen(str(op->ARG_SETHOSTNAME_NAME))) < 0)
			fail(errno, "sethostname");
		break;
	case OP_SETDOMAINNAME:
		if (setdomainname(str(op->ARG_SETDOMAINNAME_NAME), strlen(str(op->ARG_SETDOMAINNAME_NAME))) < 0)
			fail(errno, "setdomainname");
		break;
	case OP_PROCFS:
		op_procfs(op);
		break;
	case OP_ROOT_PROPAGATION:
		if (mount(NULL, "/", NULL, (unsigned long)op->ARG_ROOT_PROPAGATION_PROPAGATION, NULL) < 0)
			fail(errno, "set propagation of /");
		break;
	case OP_ROOTFS:
		op_rootfs(op);
		break;
	case OP_MOUNT:
		op_mount(op);
		break;
	case OP_MKNOD:
		op_mknod(op);
		break;
	case OP_BIND_DEV:
		op_bind_dev(op);
		break;
	case OP_SYMLINK:
		op_symlink(op);
		break;
	case OP_SETATTR_SLOT:
		if (op->ARG_SETATTR_SLOT_SLOT < 0 || op->ARG_SETATTR_SLOT_SLOT >= NSLOTS || slots[op->ARG_SETATTR_SLOT_SLOT] < 0)
			fail(EINVAL, "corrupt plan: no mount in slot %lld", (long long)op->ARG_SETATTR_SLOT_SLOT);
		if (mount_setattr_(slots[op->ARG_SETATTR_SLOT_SLOT], "", AT_EMPTY_PATH, (uint64_t)op->ARG_SETATTR_SLOT_SET, (uint64_t)op->ARG_SETATTR_SLOT_CLR, 0) < 0)
			fail(errno, "set mount attributes");
		break;
	case OP_HOOKS:
		send_msg(MSG_HOOKS, 0, 0, NULL, -1);
		wait_for(MSG_ACK);
		break;
	case OP_RUN_HOOK:
		op_run_hook(op);
		break;
	case OP_PIVOT_ROOT:
		op_pivot_root();
		break;
	case OP_MOVE_ROOT:
		op_move_root();
		break;
	case OP_CHROOT:
		op_chroot();
		break;
	case OP_MASK:
		op_mask(op);
		break;
	case OP_READONLY:
		op_readonly(op);
		break;
	case OP_ROOT_READONLY:
		if (mount_setattr_(rootfd, "", AT_EMPTY_PATH, HUSK_MOUNT_ATTR_RDONLY, 0, 0) < 0)
			fail(errno, "make / read-only");
		break;
	case OP_ROOT_PROPAGATION_AFTER:
		if (mount_setattr_(rootfd, "", AT_EMPTY_PATH | ((op->flags & MNTF_PROP_REC) ? AT_RECURSIVE : 0), 0,
				   0, (uint64_t)op->ARG_ROOT_PROPAGATION_AFTER_PROPAGATION) < 0)
			fail(errno, "set propagation of /");
		break;
	case OP_SYSCTL:
		op_sysctl(op);
		break;
	case OP_RLIMIT: {
		struct rlimit rl = {.rlim_cur = (rlim_t)op->ARG_RLIMIT_SOFT, .rlim_max = (rlim_t)op->ARG_RLIMIT_HARD};
		if (setrlimit((int)op->ARG_RLIMIT_RESOURCE, &rl) < 0)
			fail(errno, "setrlimit");
		break;
	}
	case OP_PERSONALITY:
		if (personality((unsigned long)op->ARG_PERSONALITY_PERSONA) < 0)
			fail(errno, "personality");
		break;
	case OP_SCHED: {
		struct husk_sched_attr a = {
			.size = sizeof a, .sched_policy = (uint32_t)op->ARG_SCHED_POLICY, .sched_nice = (int32_t)op->ARG_SCHED_NICE,
			.sched_priority = (uint32_t)op->ARG_SCHED_PRIORITY, .sched_flags = (uint64_t)op->ARG_SCHED_FLAGS,
			.sched_runtime = (uint64_t)op->ARG_SCHED_RUNTIME, .sched_deadline = (uint64_t)op->ARG_SCHED_DEADLINE,
		};
		uint32_t len;
		const uint8_t *p = blob(op->ARG_SCHED_PERIOD, &len);
		if (len == 8)
			memcpy(&a.sched_period, p, 8);
		if (syscall(SYS_sched_setattr, 0, &a, 0) < 0)
			fail(errno, "sched_setattr");
		break;
	}
	case OP_IOPRIO:
		if (syscall(SYS_ioprio_set, HUSK_IOPRIO_WHO_PROCESS, 0, (int)op->ARG_IOPRIO_VALUE) < 0)
			fail(errno, "ioprio_set");
		break;
	case OP_AFFINITY: {
		uint32_t len;
		const uint8_t *mask = blob(op->ARG_AFFINITY_MASK, &len);
		if (syscall(SYS_sched_setaffinity, 0, len, mask) < 0)
			fail(errno, "sched_setaffinity");
		break;
	}
	case OP_KEYRING: {
		long k = syscall(SYS_keyctl, HUSK_KEYCTL_JOIN_SESSION_KEYRING, str(op->ARG_KEYRING_NAME));
		/* Kernels without keyrings, or limits on keys: run without one. */
		if (k < 0 && errno != ENOSYS && errno != EDQUOT && errno != EACCES)
			fail(errno, "join session keyring");
		if (k >= 0 && syscall(SYS_keyctl, HUSK_KEYCTL_SETPERM, k, 0x3f1b0000) < 0)
			fail(errno, "set session keyring permissions");
		break;
	}
	case OP_CONSOLE:
		op_console(op);
		break;
	case OP_SETGROUPS: {
		uint32_t len;
		const uint8_t *b = blob(op->ARG_SETGROUPS_GIDS, &len);
		gid_t *g = malloc(len ? len : 1);
		if (!g)
			fail(ENOMEM, "setgroups");
		memcpy(g, b, len);
		if (setgroups(len / 4, g) < 0)
			fail(errno, "setgroups");
		free(g);
		break;
	}
	case OP_SETRESGID:
		if (setresgid((gid_t)op->ARG_SETRESGID_GID, (gid_t)op->ARG_SETRESGID_GID, (gid_t)op->ARG_SETRESGID_GID) < 0)
			fail(errno, "setresgid %lld", (long long)op->ARG_SETRESGID_GID);
		break;
	case OP_SETRESUID:
		if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
			fail(errno, "keep capabilities");
		if (setresuid((uid_t)op->ARG_SETRESUID_UID, (uid_t)op->ARG_SETRESUID_UID, (uid_t)op->ARG_SETRESUID_UID) < 0)
			fail(errno, "setresuid %lld", (long long)op->ARG_SETRESUID_UID);
		if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
			fail(errno, "clear keep capabilities");
		break;
	case OP_CAPS:
		op_caps(op);
		break;
	case OP_NO_NEW_PRIVS:
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
			fail(errno, "no_new_privs");
		break;
	case OP_LSM_ATTR: {
		char path[PATH_MAX];
		snprintf(path, sizeof path, "%d/attr/%s", (int)getpid(), str(op->ARG_LSM_ATTR_FILE));
		proc_write(path, str(op->ARG_LSM_ATTR_VALUE));
		break;
	}
	case OP_SECCOMP:
		op_seccomp(op);
		break;
	case OP_UMASK:
		umask((mode_t)op->ARG_UMASK_MASK);
		break;
	case OP_CHDIR:
		op_chdir(op);
		break;
	case OP_STDIO_CONSOLE:
		op_stdio_console();
		break;
	case OP_LOOKUP_EXEC:
		op_lookup_exec(op);
		break;
	case OP_CLOEXEC_FROM:
		if (syscall(SYS_close_range, (unsigned int)op->ARG_CLOEXEC_FROM_FIRST, ~0U, HUSK_CLOSE_RANGE_CLOEXEC) < 0)
			fail(errno, "close_range");
		break;
	case OP_DROP_HANDLES:
		drop_handles();
		break;
	case OP_READY:
		send_msg(MSG_READY, 0, 0, NULL, -1);
		wait_for(MSG_DONE);
		/* Kept for exec: the socket is close-on-exec, so husk exec,
		 * still listening, sees it close exactly when the process is
		 * executed. create's parent is gone: nothing waits on it. Errors
		 * from here on go to stderr. */
		if (!(op->flags & READYF_KEEP_SYNC))
			close(syncfd);
		syncfd = -1;
		break;
	case OP_WAIT_START:
		op_wait_start(op);
		break;
	case OP_EXEC:
		op_exec(op);
		break;
	case OP_MOUNT_TREE:
		op_mount_tree(op);
		break;
	case OP_MEMPOLICY: {
		uint32_t len;
		const uint8_t *nodes = blob(op->ARG_MEMPOLICY_NODES, &len);
		/* maxnode counts one more than the bits the kernel reads. */
		if (syscall(SYS_set_mempolicy, (int)op->ARG_MEMPOLICY_MODE, len ? nodes : NULL,
			    len ? (unsigned long)len * 8 + 1 : 0UL) < 0)
			fail(errno, "set_mempolicy");
		break;
	}
	case OP_MKDIR: {
		int fd = mkpath_in_root(str(op->ARG_MKDIR_PATH), 0);
		if (fd < 0)
			fail(errno, "create /%s", str(op->ARG_MKDIR_PATH));
		close(fd);
		break;
	}
	case OP_LOOPBACK_UP:
		op_loopback_up();
		break;
	default:
		fail(EINVAL, "unknown op %u", op->code);
	}
}

int main(int argc, char **argv)
{
	const struct plan_hdr *h;
	const struct plan_op *ops;
	struct stat st;
	void *m;
	int planfd, i;
	uint32_t n;

	/* Before anything else: no process of the container may read our
	 * memory or open our descriptors through /proc/<pid> (both need
	 * ptrace access, which a non-dumpable process denies to all but
	 * CAP_SYS_PTRACE in our user namespace). The kernel makes the user's
	 * program dumpable again when we execute it. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return 2;
	if (argc != 4) {
		dprintf(2, "husk-init is started by husk; it is not meant to be run by hand\n");
		return 2;
	}
	syncfd = atoi(argv[1]);
	planfd = atoi(argv[2]);
	/* The sealed memfd we were executed from is the last descriptor
	 * husk gave us: close it, and any above it, which husk only
	 * inherited from its caller and never meant for the container. */
	syscall(SYS_close_range, (unsigned int)atoi(argv[3]), ~0U, 0);
	for (i = 0; i < NSLOTS; i++)
		slots[i] = -1;
	reset_signals();
	/* Modes of created nodes are exactly what the plan says. */
	umask(0);

	if (fstat(planfd, &st) < 0)
		fail(errno, "stat plan");
	m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, planfd, 0);
	if (m == MAP_FAILED)
		fail(errno, "map plan");
	close(planfd);
	plan = m;
	plansize = (size_t)st.st_size;
	h = (const struct plan_hdr *)plan;
	if (plansize < sizeof *h || h->magic != PLAN_MAGIC || h->version != PLAN_VERSION || h->size != plansize ||
	    h->ops_off > plansize || h->nops > (plansize - h->ops_off) / sizeof(struct plan_op))
		fail(EINVAL, "bad plan header");
	ops = (const struct plan_op *)(plan + h->ops_off);
	for (n = 0; n < h->nops; n++) {
		cur_op = (int)n;
		run_op(&ops[n]);
		if (h->flags & PLANF_TRACE)
			send_msg(MSG_TRACE, 0, 0, NULL, -1);
	}
	fail(EINVAL, "plan ended without exec");
}
