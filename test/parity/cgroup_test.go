package parity

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

var (
	cgMountsOnce sync.Once
	cgMounts     map[string]string // base name ("memory", "unified") → mount point
)

// cgroupMounts maps each cgroup hierarchy's base name to its mount point;
// on a pure cgroup v2 host the single hierarchy is "unified".
func cgroupMounts() map[string]string {
	cgMountsOnce.Do(func() {
		cgMounts = map[string]string{}
		data, _ := os.ReadFile("/proc/self/mountinfo")
		for _, l := range strings.Split(string(data), "\n") {
			pre, post, ok := strings.Cut(l, " - ")
			f, p := strings.Fields(pre), strings.Fields(post)
			if !ok || len(f) < 5 || len(p) < 1 || (p[0] != "cgroup" && p[0] != "cgroup2") {
				continue
			}
			name := filepath.Base(f[4])
			if p[0] == "cgroup2" {
				name = "unified"
			}
			cgMounts[name] = f[4]
		}
	})
	return cgMounts
}

// cgroupFile is the host path of file in a container's cgroup. file is
// "hierarchy:name" or a name whose prefix names the v1 hierarchy
// ("memory.limit_in_bytes"); on a pure v2 host every file is in unified.
func cgroupFile(cgPath, file string) string {
	h, name, ok := strings.Cut(file, ":")
	if !ok {
		name = file
		h, _, _ = strings.Cut(file, ".")
	}
	mounts := cgroupMounts()
	mnt, ok := mounts[h]
	if !ok {
		mnt = mounts["unified"]
	}
	return filepath.Join(mnt, cgPath, name)
}

// CgroupFiles records files of the container's cgroup (the second
// container's with Second), read on the host.
type CgroupFiles struct {
	Files  []string
	Second bool
}

// Do reads the files.
func (c CgroupFiles) Do(x *Exec) {
	cg := x.B.Cgroup
	if c.Second {
		cg = x.B.Cgroup2
	}
	for _, f := range c.Files {
		data, err := os.ReadFile(cgroupFile(cg, f))
		v := strings.TrimSpace(string(data))
		if err != nil {
			v = "<" + errText(err) + ">"
		}
		x.Obs.Add("cgroup:"+f, x.Norm.Replace(v))
	}
}

// errText is an error's last part ("no such file or directory").
func errText(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 {
		return s[i+2:]
	}
	return s
}

// leftoverCgroups lists the hierarchies in which one of the bundle's
// cgroups still exists, and removes them: they are ours (parity-
// prefixed) and empty once the container is deleted.
func leftoverCgroups(b *Bundle) string {
	var left []string
	for name, mnt := range cgroupMounts() {
		for _, cg := range []string{b.Cgroup, b.Cgroup2} {
			dir := filepath.Join(mnt, cg)
			if _, err := os.Stat(dir); err == nil {
				left = append(left, name)
				emptyCgroup(dir)
				removeTree(dir)
			}
		}
	}
	sort.Strings(left)
	return strings.Join(left, " ")
}

// emptyCgroup thaws a cgroup a runtime left frozen and kills the
// processes a runtime left in it, so it can be removed: a paused
// container's processes cannot die of SIGKILL before they are thawed.
func emptyCgroup(dir string) {
	os.WriteFile(filepath.Join(dir, "freezer.state"), []byte("THAWED"), 0o644)
	os.WriteFile(filepath.Join(dir, "cgroup.freeze"), []byte("0"), 0o644)
	for i := 0; i < 50; i++ {
		data, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		pids := strings.Fields(string(data))
		if len(pids) == 0 {
			return
		}
		for _, p := range pids {
			if pid, err := strconv.Atoi(p); err == nil {
				unix.Kill(pid, unix.SIGKILL)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// removeTree removes an empty cgroup and its empty sub-cgroups, deepest
// first (cgroup directories are removed with rmdir, never unlinked).
func removeTree(dir string) {
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if e.IsDir() {
			removeTree(filepath.Join(dir, e.Name()))
		}
	}
	os.Remove(dir)
}
