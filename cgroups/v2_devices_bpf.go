package cgroups

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// bpfInsn is struct bpf_insn. regs packs dst_reg (low nibble on
// little-endian machines) and src_reg.
type bpfInsn struct {
	code uint8
	regs uint8
	off  int16
	imm  int32
}

// Opcodes the device program uses.
const (
	opLdxW    = unix.BPF_LDX | unix.BPF_MEM | unix.BPF_W // dst = *(u32 *)(src + off)
	opAndImm  = unix.BPF_ALU | unix.BPF_AND | unix.BPF_K // w_dst &= imm
	opRshImm  = unix.BPF_ALU | unix.BPF_RSH | unix.BPF_K // w_dst >>= imm
	opMovImm  = unix.BPF_ALU | unix.BPF_MOV | unix.BPF_K // w_dst = imm
	opMovReg  = unix.BPF_ALU | unix.BPF_MOV | unix.BPF_X // w_dst = w_src
	opJneImm  = unix.BPF_JMP | unix.BPF_JNE | unix.BPF_K // if dst != imm goto pc+1+off
	opJeqImm  = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K // if dst == imm goto pc+1+off
	opExit    = unix.BPF_JMP | unix.BPF_EXIT             // return r0
	regRet    = 0                                        // r0: verdict
	regCtx    = 1                                        // r1: struct bpf_cgroup_dev_ctx *, then scratch
	regType   = 2                                        // r2: BPF_DEVCG_DEV_*
	regAccess = 3                                        // r3: requested BPF_DEVCG_ACC_* bits
	regMajor  = 4                                        // r4
	regMinor  = 5                                        // r5
	regUndec  = 6                                        // r6: requested bits no rule has allowed yet
	ctxAccess = 0                                        // offsetof(struct bpf_cgroup_dev_ctx, access_type)
	ctxMajor  = 4                                        // offsetof(..., major)
	ctxMinor  = 8                                        // offsetof(..., minor)
)

func insn(code uint8, dst, src uint8, off int16, imm int32) bpfInsn {
	regs := dst | src<<4
	if isBigEndian() {
		regs = dst<<4 | src
	}
	return bpfInsn{code: code, regs: regs, off: off, imm: imm}
}

func isBigEndian() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 0
}

// deviceProgram compiles rules (as returned by parseDeviceRules) into a
// BPF_PROG_TYPE_CGROUP_DEVICE program returning 1 (allow) or 0 (deny).
//
// Semantics: an "a" rule resets everything before it and sets the default
// verdict. The remaining rules are decided last-match-wins per access bit:
// a request (which may combine read and write) is allowed when, for each
// requested bit, the last rule matching the device and carrying that bit
// allows it, bits no rule mentions taking the default. The program walks
// the rules from last to first, clearing bits from r6 as allow rules grant
// them and denying as soon as a deny rule covers a bit still undecided.
func deviceProgram(rules []devRule) []bpfInsn {
	def := int32(0)
	start := 0
	for i, r := range rules {
		if r.typ == 'a' {
			start = i + 1
			def = 0
			if r.allow {
				def = 1
			}
		}
	}
	rules = rules[start:]
	if len(rules) == 0 {
		return []bpfInsn{insn(opMovImm, regRet, 0, 0, def), insn(opExit, 0, 0, 0, 0)}
	}
	prog := []bpfInsn{
		insn(opLdxW, regType, regCtx, ctxAccess, 0),
		insn(opAndImm, regType, 0, 0, 0xffff),
		insn(opLdxW, regAccess, regCtx, ctxAccess, 0),
		insn(opRshImm, regAccess, 0, 0, 16),
		insn(opLdxW, regMajor, regCtx, ctxMajor, 0),
		insn(opLdxW, regMinor, regCtx, ctxMinor, 0),
		insn(opMovReg, regUndec, regAccess, 0, 0),
	}
	for i := len(rules) - 1; i >= 0; i-- {
		r := rules[i]
		var jumps []int // indexes of jumps to the next block
		skipUnless := func(op uint8, reg uint8, imm int32) {
			jumps = append(jumps, len(prog))
			prog = append(prog, insn(op, reg, 0, 0, imm))
		}
		// Only 'b' and 'c' rules remain after the last 'a'.
		devType := int32(unix.BPF_DEVCG_DEV_CHAR)
		if r.typ == 'b' {
			devType = unix.BPF_DEVCG_DEV_BLOCK
		}
		skipUnless(opJneImm, regType, devType)
		if r.major >= 0 {
			skipUnless(opJneImm, regMajor, int32(r.major))
		}
		if r.minor >= 0 {
			skipUnless(opJneImm, regMinor, int32(r.minor))
		}
		verdict := int32(0)
		if r.allow {
			verdict = 1
			if r.access != accAll {
				// Grant this rule's bits; allow once nothing requested is left.
				prog = append(prog, insn(opAndImm, regUndec, 0, 0, int32(^r.access&accAll)))
				skipUnless(opJneImm, regUndec, 0)
			}
		} else if r.access != accAll {
			// Deny only if it covers a requested bit not yet allowed.
			prog = append(prog,
				insn(opMovReg, regCtx, regUndec, 0, 0),
				insn(opAndImm, regCtx, 0, 0, int32(r.access)))
			skipUnless(opJeqImm, regCtx, 0)
		}
		prog = append(prog, insn(opMovImm, regRet, 0, 0, verdict), insn(opExit, 0, 0, 0, 0))
		next := len(prog)
		for _, j := range jumps {
			prog[j].off = int16(next - j - 1)
		}
	}
	return append(prog, insn(opMovImm, regRet, 0, 0, def), insn(opExit, 0, 0, 0, 0))
}

// bpf(2) attribute layouts (union bpf_attr members), truncated after the
// last field used; the kernel zero-fills the rest.
type bpfProgLoadAttr struct {
	progType           uint32
	insnCnt            uint32
	insns              uint64
	license            uint64
	logLevel           uint32
	logSize            uint32
	logBuf             uint64
	kernVersion        uint32
	progFlags          uint32
	progName           [unix.BPF_OBJ_NAME_LEN]byte
	progIfindex        uint32
	expectedAttachType uint32
}

type bpfProgAttachAttr struct {
	targetFd    uint32
	attachBpfFd uint32
	attachType  uint32
	attachFlags uint32
}

type bpfProgQueryAttr struct {
	targetFd    uint32
	attachType  uint32
	queryFlags  uint32
	attachFlags uint32
	progIDs     uint64
	progCnt     uint32
	_           uint32
}

type bpfGetFdByIDAttr struct {
	id        uint32
	nextID    uint32
	openFlags uint32
}

func bpfCall(cmd int, attr unsafe.Pointer, size uintptr) (int, error) {
	for {
		r, _, errno := unix.Syscall(unix.SYS_BPF, uintptr(cmd), uintptr(attr), size)
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			return -1, errno
		}
		return int(r), nil
	}
}

// progLoadAttempts bounds the retries of BPF_PROG_LOAD. The verifier gives
// up with EAGAIN when a signal is pending on the loading thread (Go's
// preemption SIGURG, a child's SIGCHLD); on a slow machine under load
// (seen in CI's qemu guest, 20 containers created at once) one load can
// lose that race. libbpf retries the same way.
const progLoadAttempts = 10

// retryOnEAGAIN calls load until it fails with something other than
// EAGAIN, succeeds, or attempts run out.
func retryOnEAGAIN(attempts int, load func() (int, error)) (int, error) {
	for i := 1; ; i++ {
		fd, err := load()
		if !errors.Is(err, unix.EAGAIN) || i >= attempts {
			return fd, err
		}
	}
}

func loadDeviceProgram(prog []bpfInsn, logBuf []byte) (int, error) {
	license := []byte("GPL\x00")
	attr := bpfProgLoadAttr{
		progType:           unix.BPF_PROG_TYPE_CGROUP_DEVICE,
		insnCnt:            uint32(len(prog)),
		insns:              uint64(uintptr(unsafe.Pointer(&prog[0]))),
		license:            uint64(uintptr(unsafe.Pointer(&license[0]))),
		expectedAttachType: unix.BPF_CGROUP_DEVICE,
	}
	copy(attr.progName[:], "husk_devices")
	if len(logBuf) > 0 {
		attr.logLevel = 1
		attr.logSize = uint32(len(logBuf))
		attr.logBuf = uint64(uintptr(unsafe.Pointer(&logBuf[0])))
	}
	fd, err := retryOnEAGAIN(progLoadAttempts, func() (int, error) {
		return bpfCall(unix.BPF_PROG_LOAD, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	})
	runtime.KeepAlive(prog)
	runtime.KeepAlive(license)
	runtime.KeepAlive(logBuf)
	return fd, err
}

// attachedDevicePrograms lists the ids of device programs attached to the
// cgroup open at dirFd.
func attachedDevicePrograms(dirFd int) ([]uint32, error) {
	ids := make([]uint32, 64)
	for {
		attr := bpfProgQueryAttr{
			targetFd:   uint32(dirFd),
			attachType: unix.BPF_CGROUP_DEVICE,
			progIDs:    uint64(uintptr(unsafe.Pointer(&ids[0]))),
			progCnt:    uint32(len(ids)),
		}
		_, err := bpfCall(unix.BPF_PROG_QUERY, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
		runtime.KeepAlive(ids)
		if errors.Is(err, unix.ENOSPC) {
			ids = make([]uint32, 2*len(ids))
			continue
		}
		if err != nil {
			return nil, err
		}
		return ids[:attr.progCnt], nil
	}
}

// attachDeviceProgram replaces the device programs of cgroup2 directory
// dir with prog. The new program is attached (BPF_F_ALLOW_MULTI) before
// the old ones are detached, so there is no window without a filter.
func attachDeviceProgram(dir string, prog []bpfInsn) error {
	dirFd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: dir, Err: err}
	}
	defer unix.Close(dirFd)
	old, err := attachedDevicePrograms(dirFd)
	if err != nil {
		return fmt.Errorf("bpf(BPF_PROG_QUERY) on %s: %w", dir, err)
	}
	progFd, err := loadDeviceProgram(prog, nil)
	if err != nil {
		// Load again with the verifier log to explain the failure.
		logBuf := make([]byte, 64<<10)
		if _, lerr := loadDeviceProgram(prog, logBuf); lerr != nil {
			if n := bytes.IndexByte(logBuf, 0); n > 0 {
				return fmt.Errorf("bpf(BPF_PROG_LOAD) device filter: %w: %s", err, logBuf[:n])
			}
		}
		return fmt.Errorf("bpf(BPF_PROG_LOAD) device filter: %w", err)
	}
	defer unix.Close(progFd)
	attach := bpfProgAttachAttr{
		targetFd:    uint32(dirFd),
		attachBpfFd: uint32(progFd),
		attachType:  unix.BPF_CGROUP_DEVICE,
		attachFlags: unix.BPF_F_ALLOW_MULTI,
	}
	if _, err := bpfCall(unix.BPF_PROG_ATTACH, unsafe.Pointer(&attach), unsafe.Sizeof(attach)); err != nil {
		return fmt.Errorf("bpf(BPF_PROG_ATTACH) device filter to %s: %w", dir, err)
	}
	for _, id := range old {
		get := bpfGetFdByIDAttr{id: id}
		fd, err := bpfCall(unix.BPF_PROG_GET_FD_BY_ID, unsafe.Pointer(&get), unsafe.Sizeof(get))
		if errors.Is(err, unix.ENOENT) {
			continue // already gone
		}
		if err != nil {
			return fmt.Errorf("bpf(BPF_PROG_GET_FD_BY_ID %d): %w", id, err)
		}
		detach := bpfProgAttachAttr{targetFd: uint32(dirFd), attachBpfFd: uint32(fd), attachType: unix.BPF_CGROUP_DEVICE}
		_, err = bpfCall(unix.BPF_PROG_DETACH, unsafe.Pointer(&detach), unsafe.Sizeof(detach))
		unix.Close(fd)
		if err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("bpf(BPF_PROG_DETACH) old device filter %d from %s: %w", id, dir, err)
		}
	}
	return nil
}
