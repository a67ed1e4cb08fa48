package initproc

// Twins of the values in c/proto.h; proto_test.go keeps them in step.

const (
	planMagic   = 0x4b535548
	planVersion = 1

	planFlagTrace = 1
)

// Op codes.
const (
	OpSetns = iota + 1
	OpUnshareUser
	OpUnshare
	OpFork
	OpReportPid
	OpWaitParent
	OpSethostname
	OpSetdomainname
	OpProcfs
	OpRootPropagation
	OpRootfs
	OpMount
	OpMknod
	OpBindDev
	OpSymlink
	OpSetattrSlot
	OpHooks
	OpRunHook
	OpPivotRoot
	OpMoveRoot
	OpChroot
	OpMask
	OpReadonly
	OpRootReadonly
	OpRootPropagationAfter
	OpSysctl
	OpRlimit
	OpPersonality
	OpSched
	OpIoprio
	OpAffinity
	OpKeyring
	OpConsole
	OpSetgroups
	OpSetresgid
	OpSetresuid
	OpCaps
	OpNoNewPrivs
	OpLsmAttr
	OpSeccomp
	OpUmask
	OpChdir
	OpStdioConsole
	OpLookupExec
	OpCloexecFrom
	OpDropHandles
	OpReady
	OpWaitStart
	OpExec
	OpMkdir
	OpMountTree
	OpMempolicy
	OpLoopbackUp
	opMax
)

// OpMount flags.
const (
	MntBind          = 0x1
	MntRec           = 0x2
	MntFile          = 0x4
	MntPropRec       = 0x8
	MntSysfsFallback = 0x10
	MntDevptsNoGid   = 0x20
	MntOrdinaryDir   = 0x40  // proc, sysfs: an existing mount point must be a directory, not a symlink
	MntTmpfsMode     = 0x80  // tmpfs: an existing mount point's mode becomes the default mode=
	MntCopyUp        = 0x100 // tmpfs: copy the directory's content into the new tmpfs (tmpcopyup)
	MntSourceInRoot  = 0x200 // bind: the source is a path inside the root, resolved there
)

// OpSeccomp flags.
const SecNotify = 0x1

// OpRootfs flags.
const (
	RootNoBind  = 0x1 // no mount namespace: leave the host's mounts alone
	RootCurrent = 0x2 // exec: the root is husk-init's current root
)

// OpProcfs flags.
const (
	ProcFallback  = 0x1 // exec: else use the container's /proc, verified
	ProcNoDevNull = 0x2 // obsolete: no host /dev/null is opened any more (masks use the container's)
	ProcNoProc    = 0x4 // no procfs (only /dev/null)
)

// OpWaitParent and OpUnshareUser flags: dumpable while the parent writes
// husk-init's /proc files (a parent without root needs it).
const WaitDumpable = 0x1

// OpReady flags: keep the sync socket open until exec (husk exec watches
// for its close).
const ReadyKeepSync = 0x1

// OpConsole flags: exec gets a pty but no /dev/console bind.
const ConsNoDevConsole = 0x1

// OpCaps flags: 1 = only drop the bounding set (before the uid switch).
const CapsBounding = 0x1

// OpChdir flags.
const (
	ChdirTry       = 0x1 // as root; defer permission errors
	ChdirIfPending = 0x2 // retry a deferred chdir as the container user
)

// Fd slots.
const (
	SlotProc    = 0
	SlotDevNull = 1 // unused (was the host's /dev/null)
	SlotConsole = 2
	SlotUser    = 3
	numSlots    = 16
)

// Message types.
const (
	MsgUsermap = iota + 1
	MsgPid
	MsgSync
	MsgHooks
	MsgConsole
	MsgSeccomp
	MsgReady
	MsgError
	MsgTrace
)

// Messages from husk to husk-init.
const (
	MsgAck  = 100
	MsgDone = 101
)

// Sizes of the C structs, for the encoder and the protocol reader.
const (
	hdrSize = 24
	opSize  = 72
	msgSize = 32
)
