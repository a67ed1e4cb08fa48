package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// waitStopped polls `husk state` from a goroutine until the container is
// stopped.
func (hh *h) waitStopped(name string) error {
	// Generous: 50 containers polled at once under qemu/TCG (the cgroup
	// v2 VM) on a loaded machine took over 30 s; this is no timing test.
	deadline := time.Now().Add(120 * time.Second)
	for time.Now().Before(deadline) {
		r, err := hh.tryHusk("state", name)
		if err != nil {
			return err
		}
		var s ociState
		if r.code == 0 && json.Unmarshal([]byte(r.stdout), &s) == nil && s.Status == "stopped" {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s not stopped after 120s", name)
}

// 50 containers created, started and deleted at once by parallel husk
// processes sharing one state root.
func TestConcurrentLifecycles(t *testing.T) {
	const n = 50
	hh := newH(t)
	// Each container leaves a marker, to tell a process that never ran
	// from a start that failed to notice it ran.
	marks := filepath.Join(hh.dir, "marks")
	if err := os.Mkdir(marks, 0o755); err != nil {
		t.Fatal(err)
	}
	withMarks := func(s *rspec.Spec) {
		s.Mounts = append(s.Mounts, rspec.Mount{Destination: "/marks", Source: marks, Options: []string{"bind"}})
	}
	bundles := []string{
		hh.bundle(withMarks, "sh", "-c", "mktemp /marks/ran.XXXXXX >/dev/null"),
		hh.bundle(withMarks, "sh", "-c", "mktemp /marks/ran.XXXXXX; echo hi"),
		hh.bundle(withMarks, "sh", "-c", "mktemp /marks/ran.XXXXXX; sleep 0.1"),
	}
	before := takeSnapshot(t)
	names := make([]string, n)
	for i := range names {
		names[i] = uniqueID("conc")
		removeCgroupLater(t, names[i])
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			name := names[i]
			step := func(args ...string) error {
				r, err := hh.tryHusk(args...)
				if err != nil {
					return err
				}
				if r.code != 0 {
					return fmt.Errorf("husk %s: %s", strings.Join(args, " "), r)
				}
				return nil
			}
			if err := step("create", "--bundle", bundles[i%len(bundles)], name); err != nil {
				errs[i] = err
				return
			}
			if err := step("start", name); err != nil {
				errs[i] = err
				hh.tryHusk("delete", "--force", name)
				return
			}
			if err := hh.waitStopped(name); err != nil {
				errs[i] = err
				return
			}
			errs[i] = step("delete", name)
		}(i)
	}
	close(start)
	wg.Wait()
	failed := 0
	for i, err := range errs {
		if err != nil {
			failed++
			if failed <= 5 {
				t.Errorf("container %d: %v", i, err)
			}
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d lifecycles failed", failed, n)
	}
	if ents, _ := os.ReadDir(marks); len(ents) != n {
		t.Errorf("%d of %d container processes ran", len(ents), n)
	}
	if out := hh.must("list", "-q"); out != "" {
		t.Errorf("list after all deletes: %q", out)
	}
	if e := hh.stateEntries(); len(e) != 0 {
		t.Errorf("state root entries left: %v", e)
	}
	for _, name := range names {
		assertNoCgroup(t, name)
	}
	hh.assertClean("", "", filepath.Dir(bundles[0]), before)
}

// Two `husk create` of the same ID at the same moment: exactly one wins,
// the other says the container exists, and the winner is intact.
func TestConcurrentCreateSameID(t *testing.T) {
	hh := newH(t)
	b := hh.bundle(nil, "sleep", "1000")
	for round := 0; round < 8; round++ {
		name := id(t)
		removeCgroupLater(t, name)
		var wg sync.WaitGroup
		results := make([]result, 2)
		errs := make([]error, 2)
		start := make(chan struct{})
		for i := 0; i < 2; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				<-start
				results[i], errs[i] = hh.tryHusk("create", "--bundle", b, name)
			}(i)
		}
		close(start)
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		ok, exists := 0, 0
		for _, r := range results {
			if r.code == 0 {
				ok++
			} else if strings.Contains(r.stderr, "exist") {
				exists++
			}
		}
		if ok != 1 || exists != 1 {
			t.Errorf("round %d: two creates of %s: %s / %s; want one success and one \"exists\" error", round, name, results[0], results[1])
		}
		if ok >= 1 {
			st := hh.state(name)
			if st.Status != "created" || st.Pid == 0 {
				t.Errorf("round %d: the winner's state: %+v", round, st)
			} else if _, err := os.Stat(fmt.Sprintf("/proc/%d", st.Pid)); err != nil {
				t.Errorf("round %d: the winner's init is gone", round)
			}
			hh.must("start", name)
			hh.waitStatus(name, "running")
		}
		hh.must("delete", "--force", name)
		assertNoCgroup(t, name)
	}
	if out := hh.must("list", "-q"); out != "" {
		t.Errorf("list at the end: %q", out)
	}
}

// `husk start` of a container whose process exits at once, with husk
// start itself slowed down (as on a busy machine, where the concurrent
// test above hits this by chance): strace delays husk start by 300 ms at
// pidfd_open, right after it has opened the exec fifo, so the process has
// run and exited (a zombie, or reaped) when husk start looks at it. Start
// must still succeed, since the process was started (and ran).
func TestStartRacesShortLivedProcess(t *testing.T) {
	strace, err := exec.LookPath("strace")
	if err != nil {
		t.Skip("needs strace to slow husk start down at a chosen syscall")
	}
	hh := newH(t)
	marks := filepath.Join(hh.dir, "marks")
	if err := os.Mkdir(marks, 0o755); err != nil {
		t.Fatal(err)
	}
	b := hh.bundle(func(s *rspec.Spec) {
		s.Mounts = append(s.Mounts, rspec.Mount{Destination: "/marks", Source: marks, Options: []string{"bind"}})
	}, "sh", "-c", "mktemp /marks/ran.XXXXXX >/dev/null")
	const rounds = 3
	for i := 0; i < rounds; i++ {
		name := id(t)
		hh.must("create", "--bundle", b, name)
		outf := hh.tempFile()
		cmd := exec.Command(strace, "-f", "-qq", "-o", "/dev/null", "-e", "trace=pidfd_open", "-e", "signal=none",
			"-e", "inject=pidfd_open:delay_enter=300000", *huskBin, "--root", hh.root, "start", name)
		cmd.Stdout, cmd.Stderr = outf, outf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		err := cmd.Wait()
		out := readAll(outf)
		outf.Close()
		if err != nil {
			t.Errorf("round %d: husk start (delayed 300 ms at pidfd_open): %v: %s", i, err, out)
		}
		hh.waitStatus(name, "stopped")
		hh.must("delete", name)
	}
	if ents, _ := os.ReadDir(marks); len(ents) != rounds {
		t.Errorf("%d of %d container processes ran", len(ents), rounds)
	}
}

// Containers sharing one rootfs create the same missing mount point at
// once: whoever loses the race to mkdir finds the directory made by
// another, which is no error (it was taken for a dangling symlink once).
func TestConcurrentCreateSharedMountPoint(t *testing.T) {
	const n = 20
	hh := newH(t)
	src := t.TempDir()
	for round := 0; round < 6; round++ {
		dst := fmt.Sprintf("/race%d/a/b/c/d", round)
		b := hh.bundle(func(s *rspec.Spec) {
			s.Mounts = append(s.Mounts, rspec.Mount{Destination: dst, Source: src, Options: []string{"bind"}})
		}, "true")
		errs := make([]error, n)
		names := make([]string, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range names {
			names[i] = uniqueID("mnt")
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				<-start
				r, err := hh.tryHusk("create", "--bundle", b, names[i])
				if err == nil && r.code != 0 {
					err = fmt.Errorf("%s", r)
				}
				errs[i] = err
			}(i)
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("round %d, container %d: %v", round, i, err)
			}
			hh.husk("delete", "--force", names[i])
		}
	}
}
