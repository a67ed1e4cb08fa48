package specs

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
)

// MaxListMember is the highest CPU or NUMA node number a list may name:
// runc's sets (unix.CPUSet) hold 1024.
const MaxListMember = 1023

// ParseList parses a CPU or NUMA node list in the kernel's format ("0-3,5",
// process.execCPUAffinity, linux.memoryPolicy.nodes) as runc does: spaces
// around an element and empty elements are allowed, a list that names
// nothing is not. It returns the set as a bitmask in whole 64-bit words,
// as sched_setaffinity(2) and set_mempolicy(2) take it; nil for "".
func ParseList(list string) ([]byte, error) {
	if list == "" {
		return nil, nil
	}
	var words []uint64
	member := func(s string) (int, error) {
		n, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return 0, fmt.Errorf("%q is not a number", s)
		}
		if n > MaxListMember {
			return 0, fmt.Errorf("%d is above %d", n, MaxListMember)
		}
		return int(n), nil
	}
	for part := range strings.SplitSeq(list, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := member(lo)
		if err != nil {
			return nil, err
		}
		b := a
		if isRange {
			if b, err = member(hi); err != nil {
				return nil, err
			}
			if b < a {
				return nil, fmt.Errorf("invalid range %q", part)
			}
		}
		for len(words) <= b/64 {
			words = append(words, 0)
		}
		for n := a; n <= b; n++ {
			words[n/64] |= 1 << uint(n%64)
		}
	}
	if len(words) == 0 {
		return nil, fmt.Errorf("no members found in %q", list)
	}
	mask := make([]byte, 0, 8*len(words))
	for _, w := range words {
		mask = binary.NativeEndian.AppendUint64(mask, w)
	}
	return mask, nil
}

// ListCount is the number of members in a mask from ParseList.
func ListCount(mask []byte) int {
	n := 0
	for _, b := range mask {
		for ; b != 0; b &= b - 1 {
			n++
		}
	}
	return n
}
