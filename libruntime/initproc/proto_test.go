package initproc

import (
	"os"
	"reflect"
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
		OpWaitStart, OpExec, OpMkdir, OpMountTree, OpMempolicy, OpLoopbackUp, opMax}
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
		"MNTF_SYSFS_FALLBACK": MntSysfsFallback, "MNTF_DEVPTS_NOGID": MntDevptsNoGid,
		"MNTF_ORDINARY_DIR": MntOrdinaryDir, "MNTF_TMPFS_MODE": MntTmpfsMode, "MNTF_COPYUP": MntCopyUp, "MNTF_SOURCE_IN_ROOT": MntSourceInRoot, "SECF_NOTIFY": SecNotify, "ROOTF_NOBIND": RootNoBind, "ROOTF_CURRENT": RootCurrent,
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

// allArgs lists every typed argument struct (args.go).
var allArgs = []Args{
	Setns{}, UnshareUser{}, Unshare{}, Fork{}, ReportPid{}, WaitParent{}, Sethostname{}, Setdomainname{},
	Procfs{}, RootPropagation{}, Rootfs{}, Mount{}, Mknod{}, BindDev{}, Symlink{}, SetattrSlot{}, Hooks{},
	RunHook{}, PivotRoot{}, MoveRoot{}, Chroot{}, Mask{}, Readonly{}, RootReadonly{}, RootPropagationAfter{},
	Sysctl{}, Rlimit{}, Personality{}, Sched{}, Ioprio{}, Affinity{}, Keyring{}, Console{}, Setgroups{},
	Setresgid{}, Setresuid{}, Caps{}, NoNewPrivs{}, LsmAttr{}, Seccomp{}, Umask{}, Chdir{}, StdioConsole{},
	LookupExec{}, CloexecFrom{}, DropHandles{}, Ready{}, WaitStart{}, Exec{}, Mkdir{}, MountTree{}, Mempolicy{}, LoopbackUp{},
}

// Each argument's slot in args.go is the one its ARG_<OP>_<FIELD> macro in
// proto.h names (husk-init reads arguments only through those), and no op
// or argument is on one side only.
func TestArgsMatchHeader(t *testing.T) {
	data, err := os.ReadFile("c/proto.h")
	if err != nil {
		t.Fatal(err)
	}
	h := string(data)
	var opNames []string // by code - 1
	i := strings.Index(h, "OP_SETNS = 1")
	for _, m := range regexp.MustCompile(`(?m)^\s*OP_([A-Z_]+)`).FindAllStringSubmatch(h[i:strings.Index(h[i:], "}")+i], -1) {
		opNames = append(opNames, m[1])
	}
	macros := map[string]string{} // ARG_... -> "a0"
	for _, m := range regexp.MustCompile(`#define (ARG_[A-Z_]+) ([as])\[(\d)\]`).FindAllStringSubmatch(h, -1) {
		macros[m[1]] = m[2] + m[3]
	}
	norm := func(s string) string { return strings.ToLower(strings.ReplaceAll(s, "_", "")) }
	claimed := map[string]bool{}
	codes := map[uint32]bool{}
	for _, a := range allArgs {
		code := NewOp("", a).Code
		if codes[code] {
			t.Errorf("%T: op code %d has two argument types", a, code)
		}
		codes[code] = true
		op := opNames[code-1]
		typ := reflect.TypeOf(a)
		if norm(typ.Name()) != norm(op) {
			t.Errorf("%s is the arguments of OP_%s", typ.Name(), op)
		}
		for j := 0; j < typ.NumField(); j++ {
			f := typ.Field(j)
			slot := f.Tag.Get("op")
			if slot == "flags" {
				continue
			}
			found := ""
			for name, s := range macros {
				rest, ok := strings.CutPrefix(name, "ARG_"+op+"_")
				// The longest op name wins: ROOT_PROPAGATION_AFTER's
				// arguments also start with ARG_ROOT_PROPAGATION_.
				if ok && norm(rest) == norm(f.Name) && s == slot {
					found = name
				}
			}
			if found == "" {
				t.Errorf("%s.%s (%s): no ARG_%s_%s %s[%s] in proto.h", typ.Name(), f.Name, slot, op,
					strings.ToUpper(f.Name), slot[:1], slot[1:])
				continue
			}
			claimed[found] = true
		}
	}
	for name := range macros {
		if !claimed[name] {
			t.Errorf("proto.h: %s has no field in args.go", name)
		}
	}
	if len(codes) != len(opNames)-1 { // OP_MAX has none
		t.Errorf("%d ops have argument types, proto.h has %d ops", len(codes), len(opNames)-1)
	}
}

// NewOp (the generated zargs.go) puts each field where its tag says: a
// stale zargs.go fails here.
func TestNewOpFollowsTags(t *testing.T) {
	for _, a := range allArgs {
		v := reflect.New(reflect.TypeOf(a)).Elem()
		want := Op{What: "w"}
		for i := 0; i < v.NumField(); i++ {
			f, tag := v.Field(i), v.Type().Field(i).Tag.Get("op")
			n := int64(i + 1)
			slot, _ := strconv.Atoi(tag[1:])
			switch f.Kind() {
			case reflect.Int64:
				f.SetInt(n)
				want.A[slot] = n
			case reflect.Uint32:
				f.SetUint(uint64(n))
				want.Flags = uint32(n)
			case reflect.String:
				f.SetString(tag)
				want.S[slot] = Str(tag)
			case reflect.Pointer:
				s := tag
				f.Set(reflect.ValueOf(&s))
				want.S[slot] = Str(tag)
			case reflect.Slice:
				if f.Type().Elem().Kind() == reflect.String {
					f.Set(reflect.ValueOf([]string{tag}))
					want.S[slot] = List{tag}
				} else {
					f.Set(reflect.ValueOf([]byte(tag)))
					want.S[slot] = Blob(tag)
				}
			default:
				t.Fatalf("%T: field of kind %s", a, f.Kind())
			}
		}
		got := NewOp("w", v.Interface().(Args))
		want.Code = got.Code
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%T: NewOp gives %+v, the tags say %+v (go generate ./libruntime/initproc)", a, got, want)
		}
	}
	path := "/usr/bin"
	if op := NewOp("x", LookupExec{Name: "sh"}); op.S[1] != nil {
		t.Errorf("LookupExec without PATH: s1 %v, want none", op.S[1])
	}
	if op := NewOp("x", LookupExec{Name: "sh", Path: &path}); op.S[1] != Str(path) {
		t.Errorf("LookupExec with PATH: s1 %v", op.S[1])
	}
}
