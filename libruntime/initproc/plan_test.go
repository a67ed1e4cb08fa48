package initproc

import (
	"encoding/binary"
	"strings"
	"testing"
)

func TestEncodeLayout(t *testing.T) {
	var p Plan
	p.Add(Op{Code: OpMount, Flags: MntBind, A: [6]int64{1, -2, 3, 4, 5, -1},
		S: [4]any{Str("/src"), Str("dst"), nil, List{"mode=755", "size=1k"}}, What: "mounts[0]"})
	p.Add(Op{Code: OpSeccomp, S: [4]any{Blob{1, 2, 3}}})
	p.Trace = true
	buf, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	if le.Uint32(buf) != planMagic || le.Uint32(buf[4:]) != planVersion || le.Uint32(buf[8:]) != 2 ||
		le.Uint32(buf[12:]) != hdrSize || int(le.Uint32(buf[16:])) != len(buf) || le.Uint32(buf[20:]) != planFlagTrace {
		t.Fatalf("bad header % x", buf[:hdrSize])
	}
	if hdrSize%8 != 0 || opSize%8 != 0 {
		t.Fatal("ops must stay 8-byte aligned for the C struct")
	}
	op := buf[hdrSize:]
	if le.Uint32(op) != OpMount || le.Uint32(op[4:]) != MntBind || int64(le.Uint64(op[16:])) != -2 ||
		int64(le.Uint64(op[48:])) != -1 {
		t.Fatalf("bad op % x", op[:opSize])
	}
	str := func(off uint32) string {
		end := off
		for buf[end] != 0 {
			end++
		}
		return string(buf[off:end])
	}
	if got := str(le.Uint32(op[56:])); got != "/src" {
		t.Errorf("s0 = %q", got)
	}
	if le.Uint32(op[64:]) != 0 {
		t.Error("nil data must encode as offset 0")
	}
	list := le.Uint32(op[68:])
	if n := le.Uint32(buf[list:]); n != 8 {
		t.Fatalf("list of 2 strings has %d bytes of offsets", n)
	}
	if got := str(le.Uint32(buf[list+8:])); got != "size=1k" {
		t.Errorf("list[1] = %q", got)
	}
	blob := le.Uint32(buf[hdrSize+opSize+56:])
	if le.Uint32(buf[blob:]) != 3 || buf[blob+4] != 1 || buf[blob+6] != 3 {
		t.Errorf("bad blob % x", buf[blob:blob+7])
	}
}

func TestEncodeRejectsNUL(t *testing.T) {
	var p Plan
	p.Add(Op{Code: OpSethostname, S: [4]any{Str("a\x00b")}, What: "hostname"})
	_, err := p.Encode()
	if err == nil || !strings.Contains(err.Error(), "hostname") {
		t.Fatalf("want an error naming the op, got %v", err)
	}
}

func TestDescribe(t *testing.T) {
	var p Plan
	p.Add(Op{Code: OpMount, What: "mounts[3] (/data)"})
	p.Add(Op{Code: OpUmask})
	for i, want := range map[int]string{0: "mounts[3] (/data)", 1: "op 1", -1: "init", 7: "init"} {
		if got := p.Describe(i); got != want {
			t.Errorf("Describe(%d) = %q, want %q", i, got, want)
		}
	}
}
