package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
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

// assertNoCgroup fails if any hierarchy still has the cgroup path.
func assertNoCgroup(t *testing.T, path string) {
	t.Helper()
	for _, m := range cgroupMounts(t) {
		if _, err := os.Stat(filepath.Join(m, path)); err == nil {
			t.Errorf("cgroup %s left behind in %s", path, m)
		}
	}
}

// cgroupDir returns the directory of path in the hierarchy mounted at a
// mount point whose base name is ctrl ("memory", "unified").
func cgroupDir(t *testing.T, ctrl, path string) string {
	t.Helper()
	for _, m := range cgroupMounts(t) {
		if filepath.Base(m) == ctrl {
			return filepath.Join(m, path)
		}
	}
	t.Skipf("no %s cgroup hierarchy on this machine", ctrl)
	return ""
}
