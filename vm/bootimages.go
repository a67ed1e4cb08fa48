package vm

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// qemu keeps the kernel and the initramfs mapped for as long as it runs:
// it loads them again into the guest's RAM at a reset, which a VM started
// with -no-reboot never has (a reset ends qemu). Once the guest runs they
// are only clean page-cache pages counted in qemu's memory: 42 MiB of
// Debian's kernel and husk's initramfs, a fifth of an idle VM's PSS. The
// host asks the kernel to reclaim them (MADV_PAGEOUT through
// process_madvise); should qemu touch them again, they are read back from
// the file.

// mapping is an address range of a process.
type mapping struct {
	start, end uint64
}

// fileMappings returns the ranges of /proc/PID/maps (read from r) that map
// one of files.
func fileMappings(r io.Reader, files []string) ([]mapping, error) {
	want := make(map[string]bool, len(files))
	for _, f := range files {
		want[f] = true
	}
	var out []mapping
	s := bufio.NewScanner(r)
	for s.Scan() {
		// start-end perms offset dev inode path (the path may hold spaces).
		fields := strings.SplitN(s.Text(), " ", 6)
		if len(fields) < 6 {
			continue
		}
		if !want[strings.TrimLeft(fields[5], " ")] {
			continue
		}
		lo, hi, ok := strings.Cut(fields[0], "-")
		if !ok {
			return nil, fmt.Errorf("maps: range %q", fields[0])
		}
		a, err1 := strconv.ParseUint(lo, 16, 64)
		b, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || b <= a {
			return nil, fmt.Errorf("maps: range %q", fields[0])
		}
		out = append(out, mapping{a, b})
	}
	return out, s.Err()
}

// releaseBootImages pages out qemu's mappings of the guest's kernel and
// initramfs.
func (v *VM) releaseBootImages() error {
	pid := v.qemu.Process.Pid
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return fmt.Errorf("qemu: %w", err)
	}
	defer unix.Close(pidfd)
	select {
	case <-v.exited:
		return errors.New("qemu exited")
	default:
	}
	return pageOut(pidfd, pid, []string{v.cfg.Kernel, v.cfg.Initrd})
}

// pageOut asks the kernel to reclaim the pages of process pid (named by
// pidfd too, so that a recycled pid is never touched) that map files.
func pageOut(pidfd, pid int, files []string) error {
	var real []string
	for _, f := range files {
		if r, err := filepath.EvalSymlinks(f); err == nil {
			f = r
		}
		real = append(real, f)
	}
	maps, err := os.Open(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		return err
	}
	ranges, err := fileMappings(maps, real)
	maps.Close()
	if err != nil {
		return err
	}
	// The maps read above are qemu's only if pid still is qemu.
	if err := unix.PidfdSendSignal(pidfd, 0, nil, 0); err != nil {
		return fmt.Errorf("qemu: %w", err)
	}
	if len(ranges) == 0 {
		return nil
	}
	// struct iovec of addresses in qemu, not in this process.
	type remoteIovec struct{ base, len uintptr }
	iov := make([]remoteIovec, len(ranges))
	for i, m := range ranges {
		iov[i] = remoteIovec{uintptr(m.start), uintptr(m.end - m.start)}
	}
	_, _, errno := unix.Syscall6(unix.SYS_PROCESS_MADVISE, uintptr(pidfd),
		uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)), unix.MADV_PAGEOUT, 0, 0)
	if errno != 0 {
		return fmt.Errorf("process_madvise: %w", errno)
	}
	return nil
}
