package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// `husk create` killed with SIGKILL at any moment: `delete --force`
// cleans up everything. A prestart hook sleeping 200 ms widens the window
// in the middle of the setup.
func TestCreateKilledThenDeleteForce(t *testing.T) {
	hh := newH(t)
	b := hh.bundle(func(s *rspec.Spec) {
		s.Hooks = &rspec.Hooks{Prestart: []rspec.Hook{{Path: "/bin/sleep", Args: []string{"sleep", "0.2"}}}}
		// A tmpfs mount and a cgroup limit besides the defaults.
		s.Mounts = append(s.Mounts, rspec.Mount{Destination: "/scratch", Type: "tmpfs", Source: "tmpfs"})
		s.Linux.Resources.Pids = &rspec.LinuxPids{Limit: pidsLimit(50)}
	}, "sleep", "1000")
	rootfs := filepath.Join(b, "rootfs")
	for _, delay := range []int{0, 1, 2, 5, 10, 20, 50, 100, 150, 250, 400} {
		before := takeSnapshot(t)
		name := fmt.Sprintf("%s-%dms", id(t), delay)
		outf, err := os.Create(filepath.Join(hh.dir, name+".out"))
		if err != nil {
			t.Fatal(err)
		}
		cmd := hh.cmd("create", "--bundle", b, name)
		cmd.Stdout, cmd.Stderr = outf, outf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(delay) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		outf.Close()

		r := hh.husk("delete", "--force", name)
		if r.code != 0 {
			t.Errorf("kill after %d ms: delete --force: %s", delay, r)
		}
		if r := hh.husk("state", name); r.code == 0 {
			t.Errorf("kill after %d ms: the container still exists after delete --force: %s", delay, r)
		}
		t.Run(fmt.Sprintf("after-%dms", delay), func(t *testing.T) {
			hh2 := *hh
			hh2.t = t
			hh2.assertClean(name, "", rootfs, before)
		})
	}
	if e := hh.stateEntries(); len(e) != 0 {
		t.Errorf("state root entries left: %v", e)
	}
}

// The container's init killed from outside: the container is stopped,
// and delete (without force) removes it.
func TestInitKilledFromOutside(t *testing.T) {
	for _, started := range []bool{false, true} {
		t.Run(map[bool]string{false: "created", true: "running"}[started], func(t *testing.T) {
			hh := newH(t)
			b := hh.bundle(nil, "sleep", "1000")
			before := takeSnapshot(t)
			name := id(t)
			hh.must("create", "--bundle", b, name)
			if started {
				hh.must("start", name)
			}
			st := hh.state(name)
			if err := syscall.Kill(st.Pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			s := hh.waitStatus(name, "stopped")
			if s.Pid != 0 {
				t.Errorf("a stopped container reports pid %d", s.Pid)
			}
			if r := hh.husk("start", name); r.code == 0 {
				t.Errorf("start of a container whose init was killed: %s", r)
			}
			if r := hh.husk("kill", name, "TERM"); r.code == 0 {
				t.Errorf("kill of a stopped container: %s", r)
			}
			hh.must("delete", name)
			hh.assertClean(name, "", filepath.Join(b, "rootfs"), before)
			if out := hh.must("list", "-q"); strings.TrimSpace(out) != "" {
				t.Errorf("list after delete: %q", out)
			}
		})
	}
}

// `husk create` killed right when it reaches a given point of the setup
// (observed from outside, then SIGKILL at once): the points where a
// timed kill rarely lands, like between making the cgroups and recording
// them in the state.
func TestCreateKilledAtEvents(t *testing.T) {
	hh := newH(t)
	b := hh.bundle(func(s *rspec.Spec) {
		s.Hooks = &rspec.Hooks{Prestart: []rspec.Hook{{Path: "/bin/sleep", Args: []string{"sleep", "0.2"}}}}
		s.Mounts = append(s.Mounts, rspec.Mount{Destination: "/scratch", Type: "tmpfs", Source: "tmpfs"})
	}, "sleep", "1000")
	rootfs := filepath.Join(b, "rootfs")
	mounts := cgroupMounts(t)
	sort.Strings(mounts)
	// Where the containers' cgroups (the default, <name>) go in the first
	// and last hierarchy; looked up once, the checks below spin.
	first, last := cgroupIn(t, mounts[0], ""), cgroupIn(t, mounts[len(mounts)-1], "")
	for _, ev := range []struct {
		name string
		at   func(name string) bool
	}{
		{"state-dir", func(name string) bool {
			_, err := os.Stat(filepath.Join(hh.root, name))
			return err == nil
		}},
		// husk makes the container's cgroup directories in the order of
		// their paths: watch the first.
		{"first-cgroup-dir", func(name string) bool {
			return syscall.Access(filepath.Join(first, name), 0) == nil
		}},
		{"init-in-cgroup", func(name string) bool {
			data, _ := os.ReadFile(filepath.Join(last, name, "cgroup.procs"))
			return len(strings.TrimSpace(string(data))) > 0
		}},
		{"init-pid-recorded", func(name string) bool {
			data, _ := os.ReadFile(filepath.Join(hh.root, name, "state.json"))
			return strings.Contains(string(data), `"initPid"`)
		}},
	} {
		t.Run(ev.name, func(t *testing.T) {
			hh := *hh
			hh.t = t
			// The kill lands a few microseconds after the event: try a
			// few times to land in short windows.
			for attempt := 0; attempt < 10 && !t.Failed(); attempt++ {
				before := takeSnapshot(t)
				name := id(t)
				outf, err := os.Create(filepath.Join(hh.dir, name+".out"))
				if err != nil {
					t.Fatal(err)
				}
				cmd := hh.cmd("create", "--bundle", b, name)
				cmd.Stdout, cmd.Stderr = outf, outf
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				deadline := time.Now().Add(5 * time.Second)
				for !ev.at(name) && time.Now().Before(deadline) {
				}
				if time.Now().After(deadline) {
					t.Errorf("create never reached %s", ev.name)
				}
				syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
				cmd.Wait()
				outf.Close()
				if r := hh.husk("delete", "--force", name); r.code != 0 {
					t.Errorf("attempt %d: delete --force: %s", attempt, r)
				}
				hh.assertClean(name, "", rootfs, before)
			}
		})
	}
}

// unmountUnderLater detaches, at the end of the test, whatever a failed
// test left mounted below dir on the host.
func unmountUnderLater(t *testing.T, dir string) {
	t.Cleanup(func() {
		for i := 0; i < 100; i++ {
			var under []string
			for m := range mountSet(t) {
				mnt, _, _ := strings.Cut(m, " ")
				if strings.HasPrefix(mnt, dir+"/") {
					under = append(under, mnt)
				}
			}
			if len(under) == 0 {
				return
			}
			sort.Sort(sort.Reverse(sort.StringSlice(under)))
			for _, m := range under {
				syscall.Unmount(m, syscall.MNT_DETACH)
			}
		}
	})
}

// Without a mount namespace the container's mounts are made in the
// host's: `husk create` killed after it made some must still have them
// removed by `delete --force`.
func TestCreateKilledNoMountNamespace(t *testing.T) {
	hh := newH(t)
	b := hh.bundle(func(s *rspec.Spec) {
		var nss []rspec.LinuxNamespace
		for _, ns := range s.Linux.Namespaces {
			if ns.Type != rspec.MountNamespace {
				nss = append(nss, ns)
			}
		}
		s.Linux.Namespaces = nss
		s.Root.Readonly = false
		s.Hooks = &rspec.Hooks{Prestart: []rspec.Hook{{Path: "/bin/sleep", Args: []string{"sleep", "0.3"}}}}
	}, "sleep", "1000")
	rootfs := filepath.Join(b, "rootfs")
	unmountUnderLater(t, rootfs)
	hostMountUnder := func() bool {
		data, _ := os.ReadFile("/proc/self/mountinfo")
		return strings.Contains(string(data), " "+rootfs+"/")
	}

	// The whole lifecycle first: the mounts are on the host while the
	// container exists, and gone after delete.
	before := takeSnapshot(t)
	name := id(t)
	hh.must("create", "--bundle", b, name)
	if !hostMountUnder() {
		t.Errorf("no mount under the rootfs on the host for a container without a mount namespace")
	}
	hh.must("delete", "--force", name)
	hh.assertClean(name, "", rootfs, before)

	// Killed after the first mount appeared on the host, and at moments
	// during the prestart hook (after all mounts are made).
	for _, delay := range []int{-1, 100, 200} {
		what := fmt.Sprintf("after %d ms", delay)
		if delay < 0 {
			what = "at the first host mount"
		}
		before := takeSnapshot(t)
		name := id(t)
		cmd := hh.cmd("create", "--bundle", b, name)
		outf := hh.tempFile()
		cmd.Stdout, cmd.Stderr = outf, outf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if delay < 0 {
			deadline := time.Now().Add(5 * time.Second)
			for !hostMountUnder() && time.Now().Before(deadline) {
			}
		} else {
			time.Sleep(time.Duration(delay) * time.Millisecond)
		}
		syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
		outf.Close()
		if r := hh.husk("delete", "--force", name); r.code != 0 {
			t.Errorf("killed %s: delete --force: %s", what, r)
		}
		t.Run(strings.ReplaceAll(what, " ", "-"), func(t *testing.T) {
			hh2 := *hh
			hh2.t = t
			hh2.assertClean(name, "", rootfs, before)
		})
	}
}
