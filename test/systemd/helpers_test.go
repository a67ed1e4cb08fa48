package systemd

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/husk-runtime/husk/internal/testbundle"
)

// stateRoot is the runtimes' --root in these tests.
const stateRoot = "/run/sd-test"

// run runs a command and returns its output. The output goes through a
// file, not a pipe: a detached container inherits the runtime's stdio, and
// a pipe would stay open (and Wait blocked) for the container's lifetime.
func run(name string, args ...string) (string, error) {
	f, err := os.CreateTemp("", "sd-out-")
	if err != nil {
		return "", err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = f, f
	err = cmd.Run()
	b, rerr := os.ReadFile(f.Name())
	if err == nil {
		err = rerr
	}
	return strings.TrimSpace(string(b)), err
}

func mustRun(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := run(name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// runtime runs husk or runc with --systemd-cgroup and the tests' root.
func runtime(bin string, args ...string) (string, error) {
	return run(bin, append([]string{"--root", stateRoot + "/" + filepath.Base(bin), "--systemd-cgroup"}, args...)...)
}

// bundle writes a busybox bundle running args in the given unit.
func bundle(t *testing.T, cgroupsPath string, res *rspec.LinuxResources, args ...string) string {
	t.Helper()
	dir := t.TempDir()
	s := testbundle.Config(args...)
	s.Linux.CgroupsPath = cgroupsPath
	s.Linux.Resources = res
	if err := testbundle.Write(dir, s); err != nil {
		t.Fatal(err)
	}
	return dir
}

// startContainer creates and starts a container, and deletes it (with
// force) when the test ends.
func startContainer(t *testing.T, bin, id, dir string) {
	t.Helper()
	t.Cleanup(func() { runtime(bin, "delete", "--force", id) })
	if out, err := runtime(bin, "run", "--detach", "--bundle", dir, id); err != nil {
		t.Fatalf("%s run %s: %v\n%s", filepath.Base(bin), id, err, out)
	}
}

// unitProps reads properties of a unit as systemctl shows them; a list
// shown on several lines (DeviceAllow) is sorted and joined by "; ".
func unitProps(t *testing.T, unit string, names ...string) map[string]string {
	t.Helper()
	out := mustRun(t, "systemctl", "show", "--property", strings.Join(names, ","), unit)
	lists := map[string][]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			lists[k] = append(lists[k], v)
		}
	}
	props := map[string]string{}
	for k, l := range lists {
		slices.Sort(l)
		props[k] = strings.Join(l, "; ")
	}
	return props
}

// unitGone reports whether systemd no longer has the unit (it may take a
// moment after the last process exits).
func unitGone(t *testing.T, unit string) bool {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		p := unitProps(t, unit, "LoadState", "ActiveState")
		if p["LoadState"] == "not-found" || p["ActiveState"] == "inactive" {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cgroupDirs returns the unit's directories in every hierarchy, as
// /proc/<pid>/cgroup of its process names them.
func cgroupDirs(t *testing.T, pid string) map[string]string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + pid + "/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	dirs := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			continue
		}
		if f[1] == "" {
			mnt := "/sys/fs/cgroup"
			if !unified {
				mnt = "/sys/fs/cgroup/unified"
			}
			dirs["unified"] = mnt + f[2]
			continue
		}
		mnt := "/sys/fs/cgroup/" + strings.TrimPrefix(f[1], "name=")
		dirs[f[1]] = mnt + f[2]
	}
	return dirs
}

// initPid returns the container's init pid as the runtime reports it.
func initPid(t *testing.T, bin, id string) string {
	t.Helper()
	out := mustRun(t, bin, "--root", stateRoot+"/"+filepath.Base(bin), "state", id)
	i := strings.Index(out, `"pid": `)
	if i < 0 {
		i = strings.Index(out, `"pid":`)
	}
	if i < 0 {
		t.Fatalf("no pid in state: %s", out)
	}
	rest := strings.TrimLeft(out[i+len(`"pid":`):], " ")
	end := strings.IndexAny(rest, ",\n}")
	return strings.TrimSpace(rest[:end])
}

func readFile(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("<%v>", err)
	}
	return strings.TrimSpace(string(b))
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func i64(v int64) *int64   { return &v }
func u64(v uint64) *uint64 { return &v }
func u16(v uint16) *uint16 { return &v }
