package cgroups

import (
	"maps"
	"os"
	"strings"
	"testing"
)

// mountinfoHybrid is this VM's /proc/self/mountinfo (cgroup part) plus
// unrelated mounts.
const mountinfoHybrid = `22 1 254:0 / / rw,relatime - ext4 /dev/vda rw
25 22 0:22 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw
30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
32 30 0:29 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
33 30 0:30 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
35 30 0:32 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
36 30 0:33 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
37 30 0:34 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
38 30 0:35 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`

func TestParseMountinfo(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		v1        map[string]string
		unified   string
		roots     map[string]string
		mode      Mode
		wantError bool
	}{
		{
			name: "hybrid",
			in:   mountinfoHybrid,
			v1: map[string]string{
				"cpu": "/sys/fs/cgroup/cpu", "cpuacct": "/sys/fs/cgroup/cpuacct", "cpuset": "/sys/fs/cgroup/cpuset",
				"memory": "/sys/fs/cgroup/memory", "devices": "/sys/fs/cgroup/devices", "freezer": "/sys/fs/cgroup/freezer",
				"blkio": "/sys/fs/cgroup/blkio", "pids": "/sys/fs/cgroup/pids", "name=systemd": "/sys/fs/cgroup/systemd",
			},
			unified: "/sys/fs/cgroup/unified",
			mode:    Hybrid,
		},
		{
			name: "hybrid with v1 hugetlb mounted later",
			in:   mountinfoHybrid + "41 30 0:38 / /sys/fs/cgroup/hugetlb rw,relatime - cgroup cgroup rw,hugetlb\n",
			v1: map[string]string{
				"cpu": "/sys/fs/cgroup/cpu", "cpuacct": "/sys/fs/cgroup/cpuacct", "cpuset": "/sys/fs/cgroup/cpuset",
				"memory": "/sys/fs/cgroup/memory", "devices": "/sys/fs/cgroup/devices", "freezer": "/sys/fs/cgroup/freezer",
				"blkio": "/sys/fs/cgroup/blkio", "pids": "/sys/fs/cgroup/pids", "name=systemd": "/sys/fs/cgroup/systemd",
				"hugetlb": "/sys/fs/cgroup/hugetlb",
			},
			unified: "/sys/fs/cgroup/unified",
			mode:    Hybrid,
		},
		{
			name:    "unified",
			in:      "35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n",
			v1:      map[string]string{},
			unified: "/sys/fs/cgroup",
			mode:    Unified,
		},
		{
			name: "legacy, co-mounted, escaped, container root, options, duplicate bind mount",
			in: `40 30 0:40 /docker/abc /sys/fs/cgroup/cpu,cpuacct ro,nosuid master:1 - cgroup cgroup ro,xattr,cpu,cpuacct
41 30 0:41 / /sys/fs/cgroup/my\040memory rw - cgroup none rw,memory,clone_children,release_agent=/x
42 30 0:42 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd
43 30 0:41 / /mnt/memory-again rw - cgroup none rw,memory
`,
			v1: map[string]string{
				"cpu": "/sys/fs/cgroup/cpu,cpuacct", "cpuacct": "/sys/fs/cgroup/cpu,cpuacct",
				"memory": "/sys/fs/cgroup/my memory", "name=systemd": "/sys/fs/cgroup/systemd",
			},
			roots: map[string]string{"/sys/fs/cgroup/cpu,cpuacct": "/docker/abc"},
			mode:  Legacy,
		},
		{
			name:      "none",
			in:        "22 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n",
			wantError: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := parseMountinfo(strings.NewReader(tt.in))
			if tt.wantError {
				if err == nil {
					t.Fatalf("want error, got %+v", h)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(h.V1, tt.v1) {
				t.Errorf("V1 = %v, want %v", h.V1, tt.v1)
			}
			if h.Unified != tt.unified {
				t.Errorf("Unified = %q, want %q", h.Unified, tt.unified)
			}
			if !maps.Equal(h.roots, tt.roots) {
				t.Errorf("roots = %v, want %v", h.roots, tt.roots)
			}
			if h.Mode() != tt.mode {
				t.Errorf("Mode = %v, want %v", h.Mode(), tt.mode)
			}
		})
	}
}

func TestDetectThisHost(t *testing.T) {
	if _, err := os.Stat("/proc/self/mountinfo"); err != nil {
		t.Skip("no /proc/self/mountinfo:", err)
	}
	h, err := Detect()
	if err != nil {
		t.Skip("no cgroups mounted here:", err)
	}
	t.Logf("mode %v, v1 %v, unified %q", h.Mode(), h.V1, h.Unified)
}

func BenchmarkDetect(b *testing.B) {
	for b.Loop() {
		if _, err := Detect(); err != nil {
			b.Skip(err)
		}
	}
}
