package vm

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/husk-runtime/husk/vm/assets"
)

// A kill that ends the container succeeds: the supervisor answers it
// before it powers the VM off (it used to drop the connection about one
// time in two, and `husk kill` failed with "ttrpc: closed"). Each round
// also checks that qemu keeps no resident copy of the guest's kernel and
// initramfs once the guest runs.
func TestKillEndingTheContainerAndQemuMemory(t *testing.T) {
	e := newEnv(t)
	b := e.bundle(nil, "sleep", "1000")
	a, err := assets.Lookup(assets.Dir())
	if err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 3; round++ {
		cid := id()
		e.must("run", "--vm", "-d", "--bundle", b, cid)
		pids := qemuOf(cid)
		if len(pids) != 1 {
			t.Fatalf("qemu of %s: pids %v", cid, pids)
		}
		qemu := pids[0]
		for _, f := range []string{a.Kernel, a.Initrd} {
			if kib := residentKiB(t, qemu, f); kib > 1024 {
				t.Errorf("qemu keeps %d KiB of %s resident for itself", kib, f)
			}
		}
		e.must("exec", cid, "true")
		if r := e.husk(nil, "kill", cid, "KILL"); r.code != 0 {
			t.Fatalf("round %d: kill KILL: %s", round, r)
		}
		e.waitStatus(cid, "stopped", 60*time.Second)
		e.must("delete", cid)
		e.noTrace(cid)
	}
}

// residentKiB sums the private resident pages of pid's mappings of file:
// pages another VM's qemu maps too are shared, and the kernel rightly
// leaves those in place.
func residentKiB(t *testing.T, pid int, file string) int {
	t.Helper()
	if r, err := filepath.EvalSymlinks(file); err == nil {
		file = r
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	total, in, seen := 0, false, false
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := s.Text()
		if fields := strings.Fields(line); len(fields) > 0 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":") {
			in = len(fields) >= 6 && fields[len(fields)-1] == file
			seen = seen || in
			continue
		}
		if in && (strings.HasPrefix(line, "Private_Clean:") || strings.HasPrefix(line, "Private_Dirty:")) {
			var kib int
			fmt.Sscan(line[strings.IndexByte(line, ':')+1:], &kib)
			total += kib
		}
	}
	if !seen {
		t.Fatalf("qemu (pid %d) does not map %s: the check would prove nothing", pid, file)
	}
	return total
}
