package seccomp

import (
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"
)

// call is a struct seccomp_data.
type call struct {
	arch uint32
	nr   uint32
	args [6]uint64
}

// bytes lays c out as the kernel does.
func (c call) bytes(bigEndian bool) []byte {
	var order binary.ByteOrder = binary.LittleEndian
	if bigEndian {
		order = binary.BigEndian
	}
	b := make([]byte, 64)
	order.PutUint32(b[0:], c.nr)
	order.PutUint32(b[4:], c.arch)
	for i, a := range c.args {
		order.PutUint64(b[16+8*i:], a)
	}
	return b
}

// run interprets prog over c like the kernel's classic BPF, for the
// opcodes the compiler emits, and returns the verdict and the number of
// instructions executed. It fails the test on anything the kernel's
// checker would refuse on the way.
func run(t *testing.T, prog []unix.SockFilter, c call, bigEndian bool) (uint32, int) {
	t.Helper()
	data := c.bytes(bigEndian)
	var order binary.ByteOrder = binary.LittleEndian
	if bigEndian {
		order = binary.BigEndian
	}
	var acc uint32
	steps := 0
	for pc := 0; ; {
		if pc >= len(prog) {
			t.Fatalf("%+v: ran off the end of the program", c)
		}
		in := prog[pc]
		steps++
		pc++
		var taken bool
		switch in.Code {
		case unix.BPF_LD | unix.BPF_W | unix.BPF_ABS:
			if in.K%4 != 0 || in.K+4 > uint32(len(data)) {
				t.Fatalf("load from offset %d", in.K)
			}
			acc = order.Uint32(data[in.K:])
			continue
		case unix.BPF_ALU | unix.BPF_AND | unix.BPF_K:
			acc &= in.K
			continue
		case unix.BPF_RET | unix.BPF_K:
			return in.K, steps
		case unix.BPF_JMP | unix.BPF_JA:
			pc += int(in.K)
			continue
		case unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K:
			taken = acc == in.K
		case unix.BPF_JMP | unix.BPF_JGT | unix.BPF_K:
			taken = acc > in.K
		case unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K:
			taken = acc >= in.K
		default:
			t.Fatalf("instruction %d: unexpected opcode %#x", pc-1, in.Code)
		}
		if taken {
			pc += int(in.Jt)
		} else {
			pc += int(in.Jf)
		}
	}
}
