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

// hostCgroup is the kind of host, for the entries of differences.tsv
// limited to one: HostCgroupV2 when cgroup2 alone is at /sys/fs/cgroup,
// HostCgroupV1 otherwise (a hybrid host too).
func hostCgroup() string {
	var st unix.Statfs_t
	if unix.Statfs("/sys/fs/cgroup", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		return HostCgroupV2
	}
	return HostCgroupV1
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

// cgroupDir is the host path of a container's cgroup in a hierarchy
// ("pids", "freezer"); on a pure v2 host, in the single one.
func cgroupDir(cgPath, hierarchy string) string {
	return filepath.Dir(cgroupFile(cgPath, hierarchy+":x"))
}

// CgroupFiles records files of the container's cgroup (the second
// container's with Second), read on the host. Files are named as on
// cgroup v1; on a cgroup v2 host the files the runtimes write instead are
// read (v2Files), under their own names.
type CgroupFiles struct {
	Files  []string
	Second bool
}

// v2Files are the cgroup v2 files that hold what a runtime writes to a
// cgroup v1 file (runc's conversions: memory.memsw.limit_in_bytes becomes
// memory.swap.max, cpu.shares cpu.weight, blkio.weight io.bfq.weight or
// io.weight, the freezer cgroup.freeze). A v1 file without an equivalent
// (memory.swappiness, the rt files, devices.list: devices are an eBPF
// program) is read under its own name: both runtimes show it missing.
var v2Files = map[string][]string{
	"memory.limit_in_bytes":       {"memory.max"},
	"memory.soft_limit_in_bytes":  {"memory.low"},
	"memory.memsw.limit_in_bytes": {"memory.swap.max"},
	"memory.oom_control":          {"memory.oom.group"},
	"cpu.shares":                  {"cpu.weight"},
	"cpu.cfs_quota_us":            {"cpu.max"},
	"cpu.cfs_period_us":           {"cpu.max"},
	"cpu.cfs_burst_us":            {"cpu.max.burst"},
	"blkio.weight":                {"io.bfq.weight", "io.weight"},
	"blkio.weight_device":         {"io.bfq.weight", "io.weight"},
	"freezer.state":               {"cgroup.freeze"},
}

// Do reads the files.
func (c CgroupFiles) Do(x *Exec) {
	cg := x.B.Cgroup
	if c.Second {
		cg = x.B.Cgroup2
	}
	v2 := hostCgroup() == HostCgroupV2
	seen := map[string]bool{}
	for _, f := range c.Files {
		files := []string{f}
		if v2 && v2Files[f] != nil {
			files = v2Files[f]
		}
		for _, f := range files {
			if seen[f] {
				continue
			}
			seen[f] = true
			data, err := os.ReadFile(cgroupFile(cg, f))
			v := strings.TrimSpace(string(data))
			if err != nil {
				v = "<" + errText(err) + ">"
			}
			x.Obs.Add("cgroup:"+f, x.Norm.Replace(v))
		}
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
