package cgroups

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"testing"
	"unsafe"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// runDeviceProgram interprets prog (only the opcodes deviceProgram emits)
// for one device access, like the kernel's BPF_CGROUP_DEVICE hook.
func runDeviceProgram(t *testing.T, prog []bpfInsn, typ byte, major, minor uint32, access uint32) uint64 {
	t.Helper()
	devType := uint32(unix.BPF_DEVCG_DEV_CHAR)
	if typ == 'b' {
		devType = unix.BPF_DEVCG_DEV_BLOCK
	}
	// struct bpf_cgroup_dev_ctx
	ctx := make([]byte, 12)
	binary.LittleEndian.PutUint32(ctx[0:], devType|access<<16)
	binary.LittleEndian.PutUint32(ctx[4:], major)
	binary.LittleEndian.PutUint32(ctx[8:], minor)

	var regs [11]uint64
	var init [11]bool
	init[regCtx] = true
	for pc, steps := 0, 0; ; pc, steps = pc+1, steps+1 {
		if pc < 0 || pc >= len(prog) || steps > 10000 {
			t.Fatalf("pc %d out of program (len %d) or looping", pc, len(prog))
		}
		in := prog[pc]
		dst, src := in.regs&0xf, in.regs>>4
		if isBigEndian() {
			dst, src = in.regs>>4, in.regs&0xf
		}
		use := func(r uint8) uint64 {
			if !init[r] {
				t.Fatalf("pc %d: r%d read before written", pc, r)
			}
			return regs[r]
		}
		set32 := func(v uint64) { regs[dst], init[dst] = v&0xffffffff, true }
		switch in.code {
		case opLdxW:
			if src != regCtx {
				t.Fatalf("pc %d: load from r%d", pc, src)
			}
			if in.off < 0 || int(in.off)+4 > len(ctx) || in.off%4 != 0 {
				t.Fatalf("pc %d: bad ctx offset %d", pc, in.off)
			}
			set32(uint64(binary.LittleEndian.Uint32(ctx[in.off:])))
		case opAndImm:
			set32(use(dst) & uint64(uint32(in.imm)))
		case opRshImm:
			set32(uint64(uint32(use(dst)) >> uint(in.imm)))
		case opMovImm:
			set32(uint64(uint32(in.imm)))
		case opMovReg:
			set32(use(src))
		case opJneImm:
			if use(dst) != uint64(int64(in.imm)) {
				pc += int(in.off)
			}
		case opJeqImm:
			if use(dst) == uint64(int64(in.imm)) {
				pc += int(in.off)
			}
		case opExit:
			return use(regRet)
		default:
			t.Fatalf("pc %d: unexpected opcode %#x", pc, in.code)
		}
	}
}

func devRules(t *testing.T, rules ...string) []rspec.LinuxDeviceCgroup {
	t.Helper()
	var out []rspec.LinuxDeviceCgroup
	for _, r := range rules {
		var verb, typ, maj, min, acc string
		if _, err := fmt.Sscan(r, &verb, &typ, &maj, &min, &acc); err != nil {
			t.Fatalf("rule %q: %v", r, err)
		}
		d := rspec.LinuxDeviceCgroup{Allow: verb == "allow", Type: typ, Access: acc}
		num := func(s string) *int64 {
			if s == "*" {
				return nil
			}
			var n int64
			fmt.Sscan(s, &n)
			return &n
		}
		d.Major, d.Minor = num(maj), num(min)
		out = append(out, d)
	}
	return out
}

type access struct {
	typ          byte
	major, minor uint32
	acc          uint32
	want         uint64
}

func TestDeviceProgramVerdicts(t *testing.T) {
	const r, w, m = accRead, accWrite, accMknod
	// The usual runtime default list.
	defaults := []string{
		"deny a * * rwm",
		"allow c * * m",
		"allow b * * m",
		"allow c 1 3 rwm",   // null
		"allow c 1 5 rwm",   // zero
		"allow c 1 7 rwm",   // full
		"allow c 5 0 rwm",   // tty
		"allow c 1 8 rwm",   // random
		"allow c 1 9 rwm",   // urandom
		"allow c 136 * rwm", // pts
		"allow c 5 2 rwm",   // ptmx
		"allow c 10 200 rwm",
	}
	tests := []struct {
		name  string
		rules []string
		cases []access
	}{
		{"defaults", defaults, []access{
			{'c', 1, 3, r, 1}, {'c', 1, 3, w, 1}, {'c', 1, 3, r | w, 1}, {'c', 1, 3, m, 1},
			{'c', 1, 4, r, 0}, {'c', 1, 4, m, 1}, // mknod of any char device, no access
			{'b', 8, 0, r, 0}, {'b', 8, 0, m, 1},
			{'c', 136, 4, w, 1}, {'c', 137, 4, w, 0}, {'c', 10, 200, r | w, 1}, {'c', 10, 229, r, 0},
		}},
		{"empty list denies everything", nil, []access{{'c', 1, 3, r, 0}, {'b', 8, 0, m, 0}}},
		{"allow all then deny one", []string{"allow a * * rwm", "deny c 1 3 w"}, []access{
			{'c', 1, 3, r, 1}, {'c', 1, 3, w, 0}, {'c', 1, 3, r | w, 0}, {'c', 1, 3, m, 1}, {'b', 1, 3, w, 1}, {'c', 1, 4, w, 1},
		}},
		{"last match wins", []string{"deny a * * rwm", "allow c 1 3 rwm", "deny c 1 3 rwm", "allow c 1 * r"}, []access{
			{'c', 1, 3, r, 1}, {'c', 1, 3, w, 0}, {'c', 1, 4, r, 1}, {'c', 1, 4, w, 0},
		}},
		{"access bits combine across rules", []string{"deny a * * rwm", "allow c 1 3 r", "allow c 1 3 w"}, []access{
			{'c', 1, 3, r | w, 1}, {'c', 1, 3, r, 1}, {'c', 1, 3, m, 0}, {'c', 1, 3, r | m, 0},
		}},
		{"deny punches a hole in a wildcard", []string{"deny a * * rwm", "allow c * * rwm", "deny c 1 * w", "allow c 1 9 w"}, []access{
			{'c', 1, 3, w, 0}, {'c', 1, 3, r, 1}, {'c', 1, 3, r | w, 0}, {'c', 1, 9, w, 1}, {'c', 2, 3, w, 1}, {'b', 1, 3, r, 0},
		}},
		{"a resets earlier rules", []string{"allow c 1 3 rwm", "deny a * * rwm", "allow b 8 * rw"}, []access{
			{'c', 1, 3, r, 0}, {'b', 8, 1, w, 1}, {'b', 8, 1, m, 0},
		}},
		{"allow all resets to allow", []string{"deny c 1 3 rwm", "allow a * * rwm"}, []access{
			{'c', 1, 3, r, 1}, {'b', 254, 0, w, 1},
		}},
		{"block vs char", []string{"deny a * * rwm", "allow b 8 0 r"}, []access{
			{'b', 8, 0, r, 1}, {'c', 8, 0, r, 0}, {'b', 8, 0, w, 0},
		}},
		{"minor wildcard only", []string{"deny a * * rwm", "allow c * 5 rwm"}, []access{
			{'c', 1, 5, r, 1}, {'c', 7, 5, w, 1}, {'c', 1, 6, r, 0},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rules, err := parseDeviceRules(devRules(t, tt.rules...))
			if err != nil {
				t.Fatal(err)
			}
			prog := deviceProgram(rules)
			for _, c := range tt.cases {
				if got := runDeviceProgram(t, prog, c.typ, c.major, c.minor, c.acc); got != c.want {
					t.Errorf("%c %d:%d access %03b = %d, want %d", c.typ, c.major, c.minor, c.acc, got, c.want)
				}
			}
		})
	}
}

func TestBpfInsnLayout(t *testing.T) {
	if s := unsafe.Sizeof(bpfInsn{}); s != 8 {
		t.Fatalf("sizeof(bpfInsn) = %d, want 8 like struct bpf_insn", s)
	}
	if s := unsafe.Sizeof(bpfProgLoadAttr{}); s != 72 {
		t.Errorf("sizeof(bpfProgLoadAttr) = %d, want 72 (through expected_attach_type)", s)
	}
	in := insn(opLdxW, 2, 1, 4, 0)
	if !isBigEndian() && in.regs != 0x12 {
		t.Errorf("regs = %#x, want dst in the low nibble", in.regs)
	}
}

func TestDeviceRuleStrings(t *testing.T) {
	rules, err := parseDeviceRules(devRules(t, "allow c 1 3 rwm", "allow b * 2 mr", "deny u 4 * w", "deny a 5 5 r"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a *:* rwm", "c 1:3 rwm", "b *:2 rm", "c 4:* w", "a *:* rwm"}
	for i, r := range rules {
		if r.String() != want[i] {
			t.Errorf("rule %d = %q, want %q", i, r, want[i])
		}
	}
	if rules[0].allow || rules[4].allow {
		t.Error("implicit deny-all or 'a' deny became allow")
	}
	// An explicit leading "a" rule replaces the implicit deny-all.
	rules, _ = parseDeviceRules(devRules(t, "allow a * * rwm"))
	if len(rules) != 1 || !rules[0].allow {
		t.Errorf("rules = %v", rules)
	}
	// Empty access means rwm; out-of-range numbers are rejected.
	rules, _ = parseDeviceRules([]rspec.LinuxDeviceCgroup{{Allow: true, Type: "c", Major: ptr[int64](1), Minor: ptr[int64](-1)}})
	if got := rules[1].String(); got != "c 1:* rwm" {
		t.Errorf("got %q", got)
	}
	if _, err := parseDeviceRules([]rspec.LinuxDeviceCgroup{{Type: "c", Major: ptr[int64](1 << 40)}}); err == nil {
		t.Error("huge major accepted")
	}
}

func TestEffectiveDevices(t *testing.T) {
	i := func(v int64) *int64 { return &v }
	allow, exc, err := EffectiveDevices([]rspec.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		{Allow: true, Type: "c", Major: i(1), Minor: i(3), Access: "rw"},
		{Allow: true, Type: "c", Major: i(136), Access: "rwm"},
		{Allow: true, Type: "c", Major: i(1), Minor: i(3), Access: "m"},
		{Allow: true, Type: "b", Access: "m"},
		{Allow: true, Type: "c", Major: i(10), Minor: i(200), Access: "rwm"},
		{Allow: false, Type: "c", Major: i(10), Minor: i(200), Access: "rwm"},
	})
	if err != nil || allow {
		t.Fatalf("EffectiveDevices: allow=%v err=%v", allow, err)
	}
	want := []DeviceAccess{
		{Type: 'b', Major: -1, Minor: -1, Access: "m"},
		{Type: 'c', Major: 1, Minor: 3, Access: "rwm"},
		{Type: 'c', Major: 136, Minor: -1, Access: "rwm"},
	}
	if !slices.Equal(exc, want) {
		t.Errorf("exceptions = %+v, want %+v", exc, want)
	}
	allow, exc, err = EffectiveDevices([]rspec.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}})
	if err != nil || !allow || len(exc) != 0 {
		t.Errorf("allow all: allow=%v exc=%v err=%v", allow, exc, err)
	}
	if _, _, err := EffectiveDevices([]rspec.LinuxDeviceCgroup{{Type: "x"}}); err == nil || !strings.Contains(err.Error(), "linux.resources.devices[0]") {
		t.Errorf("bad type: err = %v", err)
	}
}
