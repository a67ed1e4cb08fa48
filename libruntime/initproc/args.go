package initproc

// The typed arguments of each op. A field tagged op:"aN" is the op's
// integer argument a[N], op:"sN" its data s[N] (string: a NUL-terminated
// string; *string: the same or none; []string: a list; []byte: a blob),
// op:"flags" the op's flags. The tags are the argument layout on the Go
// side; c/proto.h names the same slots with a macro per argument
// (OPNAME_FIELD), which husk-init reads them by, and proto_test.go fails
// when the two differ.

// Args is the typed arguments of one op. Its op method is generated from
// the tags (zargs.go).
type Args interface{ op(what string) Op }

//go:generate go run ./internal/genargs

type (
	Setns struct {
		FD   int64 `op:"a0"`
		Type int64 `op:"a1"` // CLONE_NEW* of the namespace(s)
	}
	UnshareUser struct {
		OpFlags uint32 `op:"flags"` // WaitDumpable
	}
	Unshare struct {
		Clone int64 `op:"a0"` // CLONE_NEW* flags
	}
	Fork      struct{}
	ReportPid struct{}
	// WaitParent sends MSG_SYNC with Kind and waits for the parent.
	WaitParent struct {
		Kind    int64  `op:"a0"`
		OpFlags uint32 `op:"flags"` // WaitDumpable
	}
	Sethostname struct {
		Name string `op:"s0"`
	}
	Setdomainname struct {
		Name string `op:"s0"`
	}
	Procfs struct {
		OpFlags uint32 `op:"flags"` // Proc*
	}
	RootPropagation struct {
		Propagation int64 `op:"a0"` // mount(2) flags for "/"
	}
	// Rootfs opens the root handle (and binds the rootfs onto itself).
	Rootfs struct {
		Path          string  `op:"s0"`
		PrivateParent *string `op:"s1"` // a shared mount to make private first
		OpFlags       uint32  `op:"flags"`
	}
	// Mount attaches a filesystem or a bind at Dest, relative to the root
	// handle (cleaned, no ".."). Set/Clr are MOUNT_ATTR_* for the top
	// mount, RecSet/RecClr for the whole tree; Propagation is MS_SHARED
	// and the like; Slot keeps the mount's fd for OpSetattrSlot (-1: no).
	Mount struct {
		Source      string   `op:"s0"`
		Dest        string   `op:"s1"`
		FSType      string   `op:"s2"`
		Options     []string `op:"s3"` // fsconfig "key" or "key=value"
		Set         int64    `op:"a0"`
		Clr         int64    `op:"a1"`
		RecSet      int64    `op:"a2"`
		RecClr      int64    `op:"a3"`
		Propagation int64    `op:"a4"`
		Slot        int64    `op:"a5"`
		OpFlags     uint32   `op:"flags"` // Mnt*
	}
	Mknod struct {
		Path string `op:"s0"`
		Mode int64  `op:"a0"`
		Dev  int64  `op:"a1"`
		UID  int64  `op:"a2"`
		GID  int64  `op:"a3"`
	}
	// BindDev binds a device node of the host's (user namespaces).
	BindDev struct {
		Path     string `op:"s0"`
		HostPath string `op:"s1"`
	}
	Symlink struct {
		Target string `op:"s0"`
		Link   string `op:"s1"`
	}
	SetattrSlot struct {
		Slot int64 `op:"a0"`
		Set  int64 `op:"a1"`
		Clr  int64 `op:"a2"`
	}
	// Hooks asks the parent to run prestart and createRuntime hooks.
	Hooks   struct{}
	RunHook struct {
		Path    string   `op:"s0"`
		Args    []string `op:"s1"`
		Env     []string `op:"s2"`
		Timeout int64    `op:"a0"` // seconds, 0: none
	}
	PivotRoot struct{}
	MoveRoot  struct{}
	Chroot    struct{}
	Mask      struct {
		Path string `op:"s0"`
	}
	Readonly struct {
		Path string `op:"s0"`
	}
	RootReadonly         struct{}
	RootPropagationAfter struct {
		Propagation int64  `op:"a0"`
		OpFlags     uint32 `op:"flags"` // MntPropRec
	}
	Sysctl struct {
		Key   string `op:"s0"` // path below /proc/sys
		Value string `op:"s1"`
	}
	Rlimit struct {
		Resource int64 `op:"a0"`
		Soft     int64 `op:"a1"`
		Hard     int64 `op:"a2"`
	}
	Personality struct {
		Persona int64 `op:"a0"`
	}
	Sched struct {
		Policy   int64  `op:"a0"`
		Nice     int64  `op:"a1"`
		Priority int64  `op:"a2"`
		Flags    int64  `op:"a3"`
		Runtime  int64  `op:"a4"`
		Deadline int64  `op:"a5"`
		Period   []byte `op:"s0"` // u64, native endian
	}
	Ioprio struct {
		Value int64 `op:"a0"`
	}
	Affinity struct {
		Mask []byte `op:"s0"` // sched_setaffinity mask
	}
	Keyring struct {
		Name string `op:"s0"`
	}
	// Console makes a pty in the container and sends its master.
	Console struct {
		Rows    int64  `op:"a0"`
		Cols    int64  `op:"a1"`
		OpFlags uint32 `op:"flags"` // ConsNoDevConsole
	}
	Setgroups struct {
		GIDs []byte `op:"s0"` // u32s, native endian
	}
	Setresgid struct {
		GID int64 `op:"a0"`
	}
	Setresuid struct {
		UID int64 `op:"a0"`
	}
	// Caps sets the capability sets (bitmasks); with CapsBounding only
	// drops the bounding set.
	Caps struct {
		Bounding    int64  `op:"a0"`
		Effective   int64  `op:"a1"`
		Permitted   int64  `op:"a2"`
		Inheritable int64  `op:"a3"`
		Ambient     int64  `op:"a4"`
		LastCap     int64  `op:"a5"`
		OpFlags     uint32 `op:"flags"`
	}
	NoNewPrivs struct{}
	LsmAttr    struct {
		File  string `op:"s0"` // under /proc/<pid>/attr
		Value string `op:"s1"`
	}
	Seccomp struct {
		Program     []byte `op:"s0"` // struct sock_filter[]
		FilterFlags int64  `op:"a0"`
		OpFlags     uint32 `op:"flags"` // SecNotify
	}
	Umask struct {
		Mask int64 `op:"a0"`
	}
	Chdir struct {
		Dir     string `op:"s0"`
		OpFlags uint32 `op:"flags"` // Chdir*
	}
	StdioConsole struct{}
	LookupExec   struct {
		Name string  `op:"s0"`
		Path *string `op:"s1"` // $PATH; none: the default path
	}
	CloexecFrom struct {
		First int64 `op:"a0"`
	}
	DropHandles struct{}
	Ready       struct {
		OpFlags uint32 `op:"flags"` // ReadyKeepSync
	}
	WaitStart struct {
		Listener int64 `op:"a0"` // fd of the listening start socket
	}
	Exec struct {
		Args []string `op:"s0"`
		Env  []string `op:"s1"`
	}
	Mkdir struct {
		Path string `op:"s0"`
	}
	// MountTree attaches at Dest (relative to the root handle) a detached
	// mount husk prepared on the host and passed as fd FD (an id-mapped
	// bind, whose attributes are already set): Propagation and Slot as
	// for Mount; MntFile when the tree is a file.
	MountTree struct {
		FD          int64  `op:"a0"`
		Dest        string `op:"s0"`
		Propagation int64  `op:"a1"`
		Slot        int64  `op:"a2"`
		OpFlags     uint32 `op:"flags"` // MntFile, MntPropRec
	}
	// Mempolicy sets the NUMA memory policy (set_mempolicy(2)).
	Mempolicy struct {
		Mode  int64  `op:"a0"` // MPOL_* mode | MPOL_F_* flags
		Nodes []byte `op:"s0"` // nodemask in whole longs; none: no nodes
	}
	LoopbackUp struct{}
)

// NewOp lays typed arguments out as an op; what names it in errors.
func NewOp(what string, args Args) Op { return args.op(what) }
