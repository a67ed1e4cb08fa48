package systemd

import (
	"errors"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// scopeProperties are the unit properties runc's systemd driver sets
// (Description aside, which names the runtime).
var scopeProperties = []string{
	"Slice", "Delegate", "DevicePolicy", "DeviceAllow",
	"MemoryAccounting", "CPUAccounting", "IOAccounting", "BlockIOAccounting", "TasksAccounting",
	"MemoryMax", "MemoryLow", "MemoryHigh", "MemorySwapMax", "MemoryLimit",
	"CPUWeight", "CPUShares", "CPUQuotaPerSecUSec", "CPUQuotaPeriodUSec",
	"AllowedCPUs", "AllowedMemoryNodes", "TasksMax",
}

// cgroupFiles are the files of the scope's cgroups compared, by
// hierarchy ("unified" is cgroup2). Not cgroup.controllers: that is what
// system.slice delegates, which runc changes (it enables every controller
// in the parents it finds, systemd's slices included) and husk leaves
// alone (TestLifecycle checks).
var cgroupFiles = map[string][]string{
	"unified":     {"memory.max", "memory.low", "memory.high", "memory.swap.max", "cpu.weight", "cpu.max", "cpuset.cpus", "cpuset.mems", "pids.max"},
	"memory":      {"memory.limit_in_bytes", "memory.soft_limit_in_bytes", "memory.memsw.limit_in_bytes"},
	"cpu,cpuacct": {"cpu.shares", "cpu.cfs_quota_us", "cpu.cfs_period_us"},
	"cpuset":      {"cpuset.cpus", "cpuset.mems"},
	"pids":        {"pids.max"},
	"devices":     {"devices.list"},
}

// scopeSnapshot is what a runtime made of a container: its unit's
// properties and its cgroup files, by hierarchy.
type scopeSnapshot struct {
	props map[string]string
	files map[string]string
	// hierarchies: where the init is, relative to the unit.
	hierarchies []string
}

func snapshot(t *testing.T, bin, id, unit string) scopeSnapshot {
	t.Helper()
	s := scopeSnapshot{props: unitProps(t, unit, scopeProperties...), files: map[string]string{}}
	dirs := cgroupDirs(t, initPid(t, bin, id))
	for k, d := range dirs {
		if strings.HasSuffix(d, "/"+unit) {
			s.hierarchies = append(s.hierarchies, k)
		}
		for _, f := range cgroupFiles[k] {
			b, err := os.ReadFile(d + "/" + f)
			switch {
			case errors.Is(err, os.ErrNotExist):
				s.files[k+"/"+f] = "<missing>"
			case err != nil:
				s.files[k+"/"+f] = "<" + err.Error() + ">"
			case f == "devices.list":
				// The kernel lists exceptions in the order they were added.
				lines := strings.Split(strings.TrimSpace(string(b)), "\n")
				slices.Sort(lines)
				s.files[k+"/"+f] = strings.Join(lines, "\n")
			default:
				s.files[k+"/"+f] = strings.TrimSpace(string(b))
			}
		}
	}
	slices.Sort(s.hierarchies)
	return s
}

// TestScopeLikeRunc runs one bundle with husk and with runc 1.5.3: the
// two scopes must have the same properties and the same cgroup files.
func TestScopeLikeRunc(t *testing.T) {
	res := &rspec.LinuxResources{
		Memory: &rspec.LinuxMemory{Limit: i64(96 << 20), Reservation: i64(32 << 20), Swap: i64(192 << 20)},
		// 12.345% of a CPU: systemd keeps whole percents, both round up.
		CPU:  &rspec.LinuxCPU{Shares: u64(512), Quota: i64(12345), Period: u64(100000), Cpus: "0", Mems: "0"},
		Pids: &rspec.LinuxPids{Limit: i64(50)},
	}
	if unified {
		res.Unified = map[string]string{"memory.high": "80000000"}
	}
	snaps := map[string]scopeSnapshot{}
	for _, rt := range []struct{ name, bin string }{{"husk", *huskBin}, {"runc", *runcBin}} {
		id := "sd-cmp-" + rt.name
		unit := "sd-" + rt.name + "-" + id + ".scope"
		startContainer(t, rt.bin, id, bundle(t, "system.slice:sd-"+rt.name+":"+id, res, "sleep", "1000"))
		snaps[rt.name] = snapshot(t, rt.bin, id, unit)
		if out, err := runtime(rt.bin, "delete", "--force", id); err != nil {
			t.Errorf("%s delete: %v\n%s", rt.name, err, out)
		}
		if !unitGone(t, unit) {
			t.Errorf("%s left unit %s", rt.name, unit)
		}
	}
	h, r := snaps["husk"], snaps["runc"]
	for _, k := range slices.Sorted(maps.Keys(r.props)) {
		if h.props[k] != r.props[k] {
			t.Errorf("property %s: husk %q, runc %q", k, h.props[k], r.props[k])
		}
	}
	for _, k := range slices.Sorted(maps.Keys(r.files)) {
		if h.files[k] != r.files[k] {
			t.Errorf("cgroup file %s: husk %q, runc %q", k, h.files[k], r.files[k])
		}
	}
	if !slices.Equal(h.hierarchies, r.hierarchies) {
		t.Errorf("hierarchies holding the scope: husk %v, runc %v", h.hierarchies, r.hierarchies)
	}
	t.Logf("compared %d properties and %d cgroup files; husk: %v", len(r.props), len(r.files), h.props)
}
