package vm

import (
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

func TestFileMappings(t *testing.T) {
	maps := `55d0c0a00000-55d0c0b00000 r--p 00000000 08:01 123 /usr/bin/qemu-system-x86_64
7f0000000000-7f0002000000 rw-p 00000000 08:01 456 /var/cache/husk/vm/vmlinux
7f0002000000-7f0002100000 r--p 00000000 08:01 789 /var/cache/husk/vm/initrd.cpio
7f0003000000-7f0003001000 r--p 00000000 08:01 790 /var/cache/husk/vm/vmlinux.old
7f0004000000-7f0004001000 r--p 00000000 08:01 791 /tmp/a b
7f0005000000-7f0005001000 rw-p 00000000 00:00 0 
7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]
`
	got, err := fileMappings(strings.NewReader(maps), []string{"/var/cache/husk/vm/vmlinux", "/var/cache/husk/vm/initrd.cpio", "/tmp/a b"})
	if err != nil {
		t.Fatal(err)
	}
	want := []mapping{{0x7f0000000000, 0x7f0002000000}, {0x7f0002000000, 0x7f0002100000}, {0x7f0004000000, 0x7f0004001000}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %x, want %x", got, want)
	}
	if _, err := fileMappings(strings.NewReader("zz-1 r--p 0 0:0 1 /x\n"), []string{"/x"}); err == nil {
		t.Fatal("a bad range was accepted")
	}
}

// TestPageOutReclaimsAFileMapping maps a file in this process, reads it
// and checks that pageOut leaves none of it resident.
func TestPageOutReclaimsAFileMapping(t *testing.T) {
	dir := t.TempDir()
	var fs unix.Statfs_t
	if err := unix.Statfs(dir, &fs); err != nil || fs.Type == unix.TMPFS_MAGIC {
		t.Skipf("%s is on tmpfs (or unknown: %v): its pages cannot be paged out without swap", dir, err)
	}
	f, err := os.CreateTemp(dir, "image")
	if err != nil {
		t.Fatal(err)
	}
	const size = 4 << 20
	if _, err := f.Write(make([]byte, size)); err != nil {
		t.Fatal(err)
	}
	// Clean pages, as a kernel file long on disk has: a dirty page is
	// written back before it can go.
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	b, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ, unix.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(b)
	sum := 0
	for i := 0; i < size; i += 4096 {
		sum += int(b[i])
	}
	if sum != 0 {
		t.Fatal("the file reads back wrong")
	}
	// The mapping's resident size, from /proc/self/smaps.
	start := fmt.Sprintf("%x-", uintptr(unsafe.Pointer(&b[0])))
	resident := func() int {
		smaps, err := os.ReadFile("/proc/self/smaps")
		if err != nil {
			t.Fatal(err)
		}
		_, rest, ok := strings.Cut(string(smaps), "\n"+start)
		if !ok {
			t.Fatal("the mapping is not in /proc/self/smaps")
		}
		_, rest, _ = strings.Cut(rest, "\nRss:")
		var kib int
		fmt.Sscan(rest, &kib)
		return kib
	}
	if resident() == 0 {
		t.Fatal("nothing resident after reading")
	}
	pidfd, err := unix.PidfdOpen(os.Getpid(), 0)
	if err != nil {
		t.Skipf("no pidfd_open here: %v", err)
	}
	defer unix.Close(pidfd)
	if err := pageOut(pidfd, os.Getpid(), []string{f.Name()}); err != nil {
		if err == unix.EPERM {
			t.Skipf("process_madvise needs CAP_SYS_NICE: %v", err)
		}
		t.Fatal(err)
	}
	if n := resident(); n != 0 {
		t.Fatalf("%d KiB still resident after pageOut", n)
	}
}
