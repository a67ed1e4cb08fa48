package seccomp

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"
)

// Classic BPF as seccomp uses it: the program sees struct seccomp_data,
// loads 32-bit words of it into the accumulator, and may only jump
// forward. Conditional jumps reach at most 255 instructions ahead; only
// BPF_JA has a 32-bit offset.

// Offsets in struct seccomp_data.
const (
	offNr   = 0
	offArch = 4
	offArgs = 16
)

const (
	maxCondJump = 255
	// maxInsns is the kernel's limit for one filter (BPF_MAXINSNS).
	maxInsns = 4096
)

const (
	opLd  = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
	opAnd = unix.BPF_ALU | unix.BPF_AND | unix.BPF_K
	opRet = unix.BPF_RET | unix.BPF_K
	opJa  = unix.BPF_JMP | unix.BPF_JA
	opJeq = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
	opJgt = unix.BPF_JMP | unix.BPF_JGT | unix.BPF_K
	opJge = unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K
)

// label names a position in the program; jumps are written against labels
// and resolved by assemble, which is what lets the compiler lay code out
// without counting instructions.
type label int

// insn is an instruction whose jump targets are still labels: jt and jf
// for conditional jumps, jt alone for BPF_JA.
type insn struct {
	code   uint16
	k      uint32
	jt, jf label
}

func (in *insn) isCond() bool {
	return in.code&0x07 == unix.BPF_JMP && in.code&0xf0 != unix.BPF_JA
}

type assembler struct {
	insns []insn
	// at holds, per label, the index of the instruction it points to;
	// -1 until the label is placed.
	at []int
}

func (a *assembler) newLabel() label {
	a.at = append(a.at, -1)
	return label(len(a.at) - 1)
}

// place makes l point to the next instruction emitted.
func (a *assembler) place(l label) {
	a.at[l] = len(a.insns)
}

func (a *assembler) ld(off uint32) {
	a.insns = append(a.insns, insn{code: opLd, k: off})
}

func (a *assembler) and(k uint32) {
	a.insns = append(a.insns, insn{code: opAnd, k: k})
}

func (a *assembler) ret(act action) {
	a.insns = append(a.insns, insn{code: opRet, k: uint32(act)})
}

// jump emits a conditional jump: to jt if A <op> k holds, else to jf.
func (a *assembler) jump(op uint16, k uint32, jt, jf label) {
	a.insns = append(a.insns, insn{code: op, k: k, jt: jt, jf: jf})
}

// assemble resolves the labels. A conditional jump that would go further
// than 255 instructions gets a trampoline right behind it: a BPF_JA to the
// target, or a copy of the target when that is a return, which costs the
// same and saves the second jump. Each insertion can push other jumps out
// of range, so it repeats until none is.
func (a *assembler) assemble() ([]unix.SockFilter, error) {
	// Trampolines only add instructions: stop before the quadratic part
	// for programs the kernel would refuse anyway.
	if len(a.insns) > maxInsns {
		return nil, errTooLarge(len(a.insns))
	}
	for i, at := range a.at {
		if at < 0 || at >= len(a.insns) {
			return nil, fmt.Errorf("seccomp: internal error: label %d points nowhere", i)
		}
	}
	for {
		grown := false
		for i := 0; i < len(a.insns); i++ {
			if !a.insns[i].isCond() {
				continue
			}
			if in := &a.insns[i]; a.far(i, in.jt) {
				to := in.jt
				in.jt = a.trampoline(i, to)
				if in.jf == to {
					in.jf = in.jt
				}
				grown = true
			}
			if a.far(i, a.insns[i].jf) {
				a.insns[i].jf = a.trampoline(i, a.insns[i].jf)
				grown = true
			}
		}
		if !grown {
			break
		}
	}

	if len(a.insns) > maxInsns {
		return nil, errTooLarge(len(a.insns))
	}
	prog := make([]unix.SockFilter, len(a.insns))
	for i, in := range a.insns {
		f := unix.SockFilter{Code: in.code, K: in.k}
		switch {
		case in.code == opJa:
			off, err := a.offset(i, in.jt)
			if err != nil {
				return nil, err
			}
			f.K = uint32(off)
		case in.isCond():
			jt, err := a.offset(i, in.jt)
			if err != nil {
				return nil, err
			}
			jf, err := a.offset(i, in.jf)
			if err != nil {
				return nil, err
			}
			f.Jt, f.Jf = uint8(jt), uint8(jf)
		}
		prog[i] = f
	}
	return prog, nil
}

func errTooLarge(n int) error {
	return fmt.Errorf("linux.seccomp: the profile compiles to %d or more BPF instructions, more than the kernel's limit of %d", n, maxInsns)
}

func (a *assembler) far(i int, l label) bool {
	return a.at[l]-i-1 > maxCondJump
}

func (a *assembler) offset(i int, l label) (int, error) {
	off := a.at[l] - i - 1
	if off < 0 || off > maxCondJump && a.insns[i].code != opJa {
		return 0, fmt.Errorf("seccomp: internal error: jump from %d to %d", i, a.at[l])
	}
	return off, nil
}

// trampoline inserts, right after instruction i, a way to reach to and
// returns its label.
func (a *assembler) trampoline(i int, to label) label {
	t := insn{code: opJa, jt: to}
	if target := a.insns[a.at[to]]; target.code == opRet {
		t = target
	}
	a.insns = append(a.insns, insn{})
	copy(a.insns[i+2:], a.insns[i+1:])
	a.insns[i+1] = t
	for l, at := range a.at {
		if at > i {
			a.at[l] = at + 1
		}
	}
	l := a.newLabel()
	a.at[l] = i + 1
	return l
}

// Bytes returns Program as the raw struct sock_filter array in host byte
// order, ready to be handed to the container's init, which loads it as is.
func (f *Filter) Bytes() []byte {
	b := make([]byte, 0, 8*len(f.Program))
	for _, in := range f.Program {
		b = binary.NativeEndian.AppendUint16(b, in.Code)
		b = append(b, in.Jt, in.Jf)
		b = binary.NativeEndian.AppendUint32(b, in.K)
	}
	return b
}
