package integration

import (
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// husk places a container whose config has no linux.cgroupsPath at the
// relative path <id>, and a relative path below the caller's own cgroup
// in each hierarchy (beside it, on a pure cgroup v2 host), as runc does.
// husk runs in this test's cgroups, so the tests resolve relative paths
// against their own.

// ownCgroups is this process's /proc/self/cgroup: the controllers of each
// line as listed ("cpu,cpuacct", "name=systemd", "" for cgroup2) -> path.
func ownCgroups(t *testing.T) map[string]string {
	t.Helper()
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	return parseCgroupFile(string(data))
}

// ownCgroupOf is this process's cgroup in the hierarchy mounted at mnt.
func ownCgroupOf(t *testing.T, mnt string) string {
	t.Helper()
	own := ownCgroups(t)
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		pre, post, ok := strings.Cut(l, " - ")
		f, fs := strings.Fields(pre), strings.Fields(post)
		if !ok || len(f) < 5 || len(fs) < 3 || f[4] != mnt {
			continue
		}
		if fs[0] == "cgroup2" {
			return own[""]
		}
		opts := strings.Split(fs[2], ",")
		for ctrls, p := range own {
			for _, c := range strings.Split(ctrls, ",") {
				for _, o := range opts {
					if c != "" && c == o {
						return p
					}
				}
			}
		}
	}
	t.Fatalf("no line of /proc/self/cgroup for the hierarchy at %s", mnt)
	return ""
}

// relativeBase is where a relative cgroup path starts in the hierarchy
// mounted at mnt, as a cgroup path.
func relativeBase(t *testing.T, mnt string) string {
	t.Helper()
	own := ownCgroupOf(t, mnt)
	if pureV2() {
		return path.Dir(own)
	}
	return own
}

// cgroupIn is the directory of cgroup p in the hierarchy mounted at mnt:
// an absolute p below the mount, a relative one as husk resolves it.
func cgroupIn(t *testing.T, mnt, p string) string {
	t.Helper()
	if strings.HasPrefix(p, "/") {
		return filepath.Join(mnt, p)
	}
	return filepath.Join(mnt, relativeBase(t, mnt), p)
}

// relativeCgroups is where husk puts a container whose linux.cgroupsPath
// is the relative rel (<name>, the default, when it has none), per line
// of /proc/<pid>/cgroup (keyed as ownCgroups).
func relativeCgroups(t *testing.T, rel string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for ctrls, p := range ownCgroups(t) {
		if pureV2() {
			p = path.Dir(p)
		}
		out[ctrls] = path.Join(p, rel)
	}
	return out
}
