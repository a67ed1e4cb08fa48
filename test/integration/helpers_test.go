package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// cmd builds a husk command with the test's state root, to run by hand.
func (hh *h) cmd(args ...string) *exec.Cmd {
	full := append([]string{"--root", hh.root}, hh.extra...)
	return exec.Command(*huskBin, append(full, args...)...)
}

// cgroupMounts lists the mount points of every cgroup hierarchy.
func cgroupMounts(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		pre, post, ok := strings.Cut(l, " - ")
		if !ok {
			continue
		}
		f := strings.Fields(pre)
		if fs := strings.Fields(post); len(fs) > 0 && (fs[0] == "cgroup" || fs[0] == "cgroup2") && len(f) > 4 {
			out = append(out, f[4])
		}
	}
	return out
}

// assertNoCgroup fails if any hierarchy still has the cgroup path
// (relative: as husk resolves it, see cgroupIn).
func assertNoCgroup(t *testing.T, path string) {
	t.Helper()
	for _, m := range cgroupMounts(t) {
		if _, err := os.Stat(cgroupIn(t, m, path)); err == nil {
			t.Errorf("cgroup %s left behind in %s", path, m)
		}
	}
}

// cgroupPresence records, for each hierarchy, which of paths exist. The
// machine may have cgroups of its own at any of them (CI machines carry
// foreign cgroups such as /x), so tests compare against this instead of
// assuming they are absent.
func cgroupPresence(t *testing.T, paths ...string) map[string]bool {
	t.Helper()
	seen := map[string]bool{}
	for _, m := range cgroupMounts(t) {
		for _, p := range paths {
			dir := cgroupIn(t, m, p)
			_, err := os.Stat(dir)
			seen[dir] = err == nil
		}
	}
	return seen
}

// assertCgroupsUnchanged fails if a cgroup recorded by cgroupPresence was
// made or removed since: husk must neither leave cgroups behind nor touch
// ones it did not make.
func assertCgroupsUnchanged(t *testing.T, before map[string]bool) {
	t.Helper()
	for dir, was := range before {
		_, err := os.Stat(dir)
		switch now := err == nil; {
		case now && !was:
			t.Errorf("cgroup %s left behind", dir)
		case was && !now:
			t.Errorf("cgroup %s, which husk did not make, was removed", dir)
		}
	}
}

// pureV2 tells a host with cgroup2 alone at /sys/fs/cgroup (no v1
// hierarchies) from a hybrid or v1 one.
func pureV2() bool {
	var st unix.Statfs_t
	return unix.Statfs("/sys/fs/cgroup", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC
}

// ctrlDir is where a controller's files are, as a cgroupDir ctrl and
// under /sys/fs/cgroup inside a container: the v1 hierarchy of that name,
// or "" (cgroup2 itself) on a pure v2 host.
func ctrlDir(v1 string) string {
	if pureV2() {
		return ""
	}
	return v1
}

// cgroupDir returns the directory of path in the hierarchy mounted at a
// mount point whose base name is ctrl ("memory", "unified"); ctrl "" is
// the cgroup2 hierarchy of a pure v2 host.
func cgroupDir(t *testing.T, ctrl, path string) string {
	t.Helper()
	if ctrl == "" && pureV2() {
		return cgroupIn(t, "/sys/fs/cgroup", path)
	}
	for _, m := range cgroupMounts(t) {
		if filepath.Base(m) == ctrl {
			return cgroupIn(t, m, path)
		}
	}
	t.Skipf("no %s cgroup hierarchy on this machine", ctrl)
	return ""
}
