package initproc

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The C and Go sides of the plan protocol are written by hand; this test
// reads c/proto.h and fails when a value differs from proto.go.
func TestProtoMatchesHeader(t *testing.T) {
	data, err := os.ReadFile("c/proto.h")
	if err != nil {
		t.Fatal(err)
	}
	h := string(data)

	enum := func(first string) []string {
		i := strings.Index(h, first+" = ")
		if i < 0 {
			t.Fatalf("enum starting at %s not found", first)
		}
		body := h[i : strings.Index(h[i:], "}")+i]
		var names []string
		for _, m := range regexp.MustCompile(`(?m)^\s*([A-Z_0-9]+)`).FindAllStringSubmatch(body, -1) {
			names = append(names, m[1])
		}
		names[0] = first
		return names
	}
	ops := enum("OP_SETNS")
	goOps := []int{OpSetns, OpUnshareUser, OpUnshare, OpFork, OpReportPid, OpWaitParent,
		OpSethostname, OpSetdomainname, OpProcfs, OpRootPropagation, OpRootfs, OpMount, OpMknod, OpBindDev,
		OpSymlink, OpSetattrSlot, OpHooks, OpRunHook, OpPivotRoot, OpMoveRoot, OpChroot, OpMask, OpReadonly,
		OpRootReadonly, OpRootPropagationAfter, OpSysctl, OpRlimit, OpPersonality, OpSched,
		OpIoprio, OpAffinity, OpKeyring, OpConsole, OpSetgroups, OpSetresgid, OpSetresuid, OpCaps,
		OpNoNewPrivs, OpLsmAttr, OpSeccomp, OpUmask, OpChdir, OpStdioConsole, OpLookupExec, OpCloexecFrom, OpDropHandles, OpReady,
		OpWaitStart, OpExec, OpMkdir, opMax}
	if len(ops) != len(goOps) {
		t.Fatalf("proto.h has %d op codes (incl. OP_MAX), proto.go %d", len(ops), len(goOps))
	}
	for i, v := range goOps {
		if v != i+1 {
			t.Errorf("Go op #%d (%s in C) = %d, want %d", i, ops[i], v, i+1)
		}
	}

	msgs := enum("MSG_USERMAP")
	goMsgs := []int{MsgUsermap, MsgPid, MsgSync, MsgHooks, MsgConsole, MsgSeccomp, MsgReady, MsgError, MsgTrace}
	for i, v := range goMsgs {
		if v != i+1 || msgs[i] == "" {
			t.Errorf("Go message #%d (%s in C) = %d, want %d", i, msgs[i], v, i+1)
		}
	}

	defines := map[string]int64{
		"PLAN_MAGIC": planMagic, "PLAN_VERSION": planVersion, "PLANF_TRACE": planFlagTrace,
		"MNTF_BIND": MntBind, "MNTF_REC": MntRec, "MNTF_FILE": MntFile, "MNTF_PROP_REC": MntPropRec,
		"MNTF_SYSFS_FALLBACK": MntSysfsFallback, "MNTF_DEVPTS_NOGID": MntDevptsNoGid, "SECF_NOTIFY": SecNotify, "ROOTF_NOBIND": RootNoBind, "ROOTF_CURRENT": RootCurrent,
		"PROCF_FALLBACK": ProcFallback, "PROCF_NODEVNULL": ProcNoDevNull, "PROCF_NOPROC": ProcNoProc, "CONSF_NODEVCONSOLE": ConsNoDevConsole,
		"WAITF_DUMPABLE": WaitDumpable, "READYF_KEEP_SYNC": ReadyKeepSync,
		"SLOT_PROC": SlotProc, "SLOT_DEVNULL": SlotDevNull, "SLOT_CONSOLE": SlotConsole, "SLOT_USER": SlotUser,
		"NSLOTS": numSlots,
	}
	for name, want := range defines {
		m := regexp.MustCompile(`#define ` + name + `\s+(0x[0-9a-fA-F]+|\d+)`).FindStringSubmatch(h)
		if m == nil {
			t.Errorf("#define %s not found", name)
			continue
		}
		got, err := strconv.ParseInt(m[1], 0, 64)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s: C %d, Go %d", name, got, want)
		}
	}
	// MSG_DONE follows MSG_ACK = 100 in the C enum.
	if !regexp.MustCompile(`MSG_ACK = 100,[^\n]*\n\s*MSG_DONE,`).MatchString(h) || MsgAck != 100 || MsgDone != 101 {
		t.Errorf("MSG_ACK/MSG_DONE differ between proto.h and proto.go")
	}
}
