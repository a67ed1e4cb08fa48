// Package initproc starts a container's init (or an exec'd process) by
// running husk-init, a small static C program, on a plan of primitive
// operations compiled in Go.
//
// The split keeps every decision in Go, where it is unit-tested without
// root, and leaves to C only what Go cannot do: run single-threaded (to
// join mount and user namespaces with setns) and wait between `create` and
// `start` without paying the Go runtime's start-up. husk-init is embedded
// in the husk binary and executed from a sealed memfd, so the container
// can never reach a host binary through /proc/<pid>/exe (CVE-2019-5736).
package initproc

import (
	"encoding/binary"
	"fmt"
)

// Str, List and Blob are the data an op can point at.
type (
	Str  string
	List []string
	Blob []byte
)

// Op is one primitive operation for husk-init.
type Op struct {
	Code  uint32
	Flags uint32
	A     [6]int64
	S     [4]any // nil, Str, List or Blob
	// What describes the op in errors: `mounts[2] (/proc)`.
	What string
}

// Plan is the ordered list of operations husk-init executes.
type Plan struct {
	Ops   []Op
	Trace bool
}

// Add appends an op and returns its index.
func (p *Plan) Add(op Op) int {
	p.Ops = append(p.Ops, op)
	return len(p.Ops) - 1
}

// Describe names op i for error messages.
func (p *Plan) Describe(i int) string {
	if i < 0 || i >= len(p.Ops) {
		return "init"
	}
	if w := p.Ops[i].What; w != "" {
		return w
	}
	return fmt.Sprintf("op %d", i)
}

// Encode lays the plan out as struct plan_hdr, struct plan_op[], then the
// data the ops point at (see c/proto.h).
func (p *Plan) Encode() ([]byte, error) {
	opsOff := hdrSize
	dataOff := opsOff + opSize*len(p.Ops)
	buf := make([]byte, dataOff, dataOff+4096)
	le := binary.LittleEndian

	addStr := func(s string) (uint32, error) {
		for i := 0; i < len(s); i++ {
			if s[i] == 0 {
				return 0, fmt.Errorf("string %q contains a NUL byte", s)
			}
		}
		off := uint32(len(buf))
		buf = append(buf, s...)
		buf = append(buf, 0)
		return off, nil
	}
	addBlob := func(b []byte) uint32 {
		off := uint32(len(buf))
		buf = le.AppendUint32(buf, uint32(len(b)))
		buf = append(buf, b...)
		return off
	}
	for i, op := range p.Ops {
		o := opsOff + opSize*i
		le.PutUint32(buf[o:], op.Code)
		le.PutUint32(buf[o+4:], op.Flags)
		for j, a := range op.A {
			le.PutUint64(buf[o+8+8*j:], uint64(a))
		}
		for j, d := range op.S {
			var off uint32
			var err error
			switch v := d.(type) {
			case nil:
			case Str:
				off, err = addStr(string(v))
			case Blob:
				off = addBlob(v)
			case List:
				offs := make([]byte, 0, 4*len(v))
				for _, s := range v {
					so, err := addStr(s)
					if err != nil {
						return nil, fmt.Errorf("%s: %w", p.Describe(i), err)
					}
					offs = le.AppendUint32(offs, so)
				}
				off = addBlob(offs)
			default:
				return nil, fmt.Errorf("%s: unsupported data %T", p.Describe(i), d)
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w", p.Describe(i), err)
			}
			le.PutUint32(buf[o+56+4*j:], off)
		}
	}
	le.PutUint32(buf[0:], planMagic)
	le.PutUint32(buf[4:], planVersion)
	le.PutUint32(buf[8:], uint32(len(p.Ops)))
	le.PutUint32(buf[12:], uint32(opsOff))
	le.PutUint32(buf[16:], uint32(len(buf)))
	var flags uint32
	if p.Trace {
		flags |= planFlagTrace
	}
	le.PutUint32(buf[20:], flags)
	return buf, nil
}
