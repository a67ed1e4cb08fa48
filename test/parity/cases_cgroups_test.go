package parity

import (
	"os"
	"path/filepath"
	"strings"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

func init() { caseFamilies = append(caseFamilies, cgroupCases, updateCases) }

func res(fn func(r *rspec.LinuxResources)) func(*rspec.Spec) {
	return func(s *rspec.Spec) { fn(s.Linux.Resources) }
}

func i64(v int64) *int64   { return &v }
func u64(v uint64) *uint64 { return &v }
func u16(v uint16) *uint16 { return &v }
func boolp(v bool) *bool   { return &v }

// cgroupFilesAll are the files the resource cases read back.
var cgroupFilesAll = []string{
	"memory.limit_in_bytes", "memory.soft_limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.swappiness",
	"memory.oom_control", "cpu.shares", "cpu.cfs_quota_us", "cpu.cfs_period_us", "cpu.rt_period_us",
	"cpu.rt_runtime_us", "cpuset.cpus", "cpuset.mems", "pids.max", "blkio.weight",
}

func cgroupCases() []*Case {
	run := func(files ...string) []Step {
		return steps(created(), []Step{CgroupFiles{Files: files}})
	}
	var cs []*Case
	for _, c := range []struct {
		name  string
		fn    func(r *rspec.LinuxResources)
		files []string
	}{
		{"memory-limit", func(r *rspec.LinuxResources) { r.Memory = &rspec.LinuxMemory{Limit: i64(64 << 20)} }, []string{"memory.limit_in_bytes"}},
		{"memory-limit-unlimited", func(r *rspec.LinuxResources) { r.Memory = &rspec.LinuxMemory{Limit: i64(-1)} }, []string{"memory.limit_in_bytes"}},
		{"memory-reservation", func(r *rspec.LinuxResources) { r.Memory = &rspec.LinuxMemory{Reservation: i64(32 << 20)} }, []string{"memory.soft_limit_in_bytes"}},
		{"memory-swap", func(r *rspec.LinuxResources) {
			r.Memory = &rspec.LinuxMemory{Limit: i64(64 << 20), Swap: i64(128 << 20)}
		}, []string{"memory.limit_in_bytes", "memory.memsw.limit_in_bytes"}},
		{"memory-swap-below-limit", func(r *rspec.LinuxResources) {
			r.Memory = &rspec.LinuxMemory{Limit: i64(64 << 20), Swap: i64(32 << 20)}
		}, []string{"memory.limit_in_bytes"}},
		{"memory-swappiness", func(r *rspec.LinuxResources) { r.Memory = &rspec.LinuxMemory{Swappiness: u64(10)} }, []string{"memory.swappiness"}},
		{"memory-swappiness-invalid", func(r *rspec.LinuxResources) { r.Memory = &rspec.LinuxMemory{Swappiness: u64(200)} }, []string{"memory.swappiness"}},
		{"memory-disable-oom-killer", func(r *rspec.LinuxResources) { r.Memory = &rspec.LinuxMemory{DisableOOMKiller: boolp(true)} }, []string{"memory.oom_control"}},
		{"memory-kernel", func(r *rspec.LinuxResources) { r.Memory = &rspec.LinuxMemory{Kernel: i64(64 << 20)} }, []string{"memory.kmem.limit_in_bytes"}},
		{"memory-kernel-tcp", func(r *rspec.LinuxResources) { r.Memory = &rspec.LinuxMemory{KernelTCP: i64(64 << 20)} }, []string{"memory.kmem.tcp.limit_in_bytes"}},
		{"memory-use-hierarchy", func(r *rspec.LinuxResources) { r.Memory = &rspec.LinuxMemory{UseHierarchy: boolp(true)} }, []string{"memory.use_hierarchy"}},
		{"memory-check-before-update", func(r *rspec.LinuxResources) {
			r.Memory = &rspec.LinuxMemory{Limit: i64(64 << 20), CheckBeforeUpdate: boolp(true)}
		}, []string{"memory.limit_in_bytes"}},
		{"cpu-shares", func(r *rspec.LinuxResources) { r.CPU = &rspec.LinuxCPU{Shares: u64(512)} }, []string{"cpu.shares"}},
		{"cpu-quota-period", func(r *rspec.LinuxResources) { r.CPU = &rspec.LinuxCPU{Quota: i64(50000), Period: u64(100000)} }, []string{"cpu.cfs_quota_us", "cpu.cfs_period_us"}},
		{"cpu-quota-only", func(r *rspec.LinuxResources) { r.CPU = &rspec.LinuxCPU{Quota: i64(20000)} }, []string{"cpu.cfs_quota_us", "cpu.cfs_period_us"}},
		{"cpu-period-only", func(r *rspec.LinuxResources) { r.CPU = &rspec.LinuxCPU{Period: u64(50000)} }, []string{"cpu.cfs_quota_us", "cpu.cfs_period_us"}},
		{"cpu-burst", func(r *rspec.LinuxResources) {
			r.CPU = &rspec.LinuxCPU{Quota: i64(50000), Period: u64(100000), Burst: u64(10000)}
		}, []string{"cpu.cfs_burst_us"}},
		{"cpu-idle", func(r *rspec.LinuxResources) { r.CPU = &rspec.LinuxCPU{Idle: i64(1)} }, []string{"cpu.idle"}},
		{"cpu-rt", func(r *rspec.LinuxResources) {
			r.CPU = &rspec.LinuxCPU{RealtimePeriod: u64(1000000), RealtimeRuntime: i64(0)}
		}, []string{"cpu.rt_period_us", "cpu.rt_runtime_us"}},
		{"cpu-rt-runtime-nonzero", func(r *rspec.LinuxResources) { r.CPU = &rspec.LinuxCPU{RealtimeRuntime: i64(1000)} }, []string{"cpu.rt_runtime_us"}},
		{"cpuset-cpus", func(r *rspec.LinuxResources) { r.CPU = &rspec.LinuxCPU{Cpus: "0"} }, []string{"cpuset.cpus", "cpuset.mems"}},
		{"cpuset-mems", func(r *rspec.LinuxResources) { r.CPU = &rspec.LinuxCPU{Mems: "0"} }, []string{"cpuset.cpus", "cpuset.mems"}},
		{"cpuset-invalid", func(r *rspec.LinuxResources) { r.CPU = &rspec.LinuxCPU{Cpus: "99"} }, []string{"cpuset.cpus"}},
		{"pids-limit", func(r *rspec.LinuxResources) { r.Pids = &rspec.LinuxPids{Limit: i64(10)} }, []string{"pids.max"}},
		{"pids-limit-zero", func(r *rspec.LinuxResources) { r.Pids = &rspec.LinuxPids{Limit: i64(0)} }, []string{"pids.max"}},
		{"pids-limit-negative", func(r *rspec.LinuxResources) { r.Pids = &rspec.LinuxPids{Limit: i64(-1)} }, []string{"pids.max"}},
		{"pids-limit-absent", func(r *rspec.LinuxResources) { r.Pids = &rspec.LinuxPids{} }, []string{"pids.max"}},
		{"blkio-weight", func(r *rspec.LinuxResources) { r.BlockIO = &rspec.LinuxBlockIO{Weight: u16(500)} }, []string{"blkio.weight"}},
		{"blkio-leaf-weight", func(r *rspec.LinuxResources) { r.BlockIO = &rspec.LinuxBlockIO{LeafWeight: u16(500)} }, []string{"blkio.leaf_weight"}},
		{"hugepage-limit", func(r *rspec.LinuxResources) {
			r.HugepageLimits = []rspec.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 1 << 21}}
		}, []string{"unified:hugetlb.2MB.max"}},
		{"network-classid", func(r *rspec.LinuxResources) {
			r.Network = &rspec.LinuxNetwork{ClassID: func() *uint32 { v := uint32(1); return &v }()}
		}, nil},
		{"rdma", func(r *rspec.LinuxResources) {
			r.Rdma = map[string]rspec.LinuxRdma{"mlx5_0": {HcaHandles: func() *uint32 { v := uint32(1); return &v }()}}
		}, nil},
		{"unified-on-v1", func(r *rspec.LinuxResources) { r.Unified = map[string]string{"pids.max": "10"} }, []string{"pids.max"}},
		{"unified-and-v1", func(r *rspec.LinuxResources) {
			r.Unified = map[string]string{"memory.high": "100000000"}
			r.Memory = &rspec.LinuxMemory{Limit: i64(64 << 20)}
		}, []string{"memory.limit_in_bytes"}},
		{"devices-allow-null", func(r *rspec.LinuxResources) {
			r.Devices = append(r.Devices, rspec.LinuxDeviceCgroup{Allow: true, Type: "c", Major: i64(1), Minor: i64(3), Access: "rwm"})
		}, []string{"devices.list"}},
		{"devices-allow-all", func(r *rspec.LinuxResources) {
			r.Devices = []rspec.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}
		}, []string{"devices.list"}},
		{"devices-none", func(r *rspec.LinuxResources) { r.Devices = nil }, []string{"devices.list"}},
		{"devices-wildcard-major", func(r *rspec.LinuxResources) {
			r.Devices = append(r.Devices, rspec.LinuxDeviceCgroup{Allow: true, Type: "c", Major: i64(136), Access: "rw"})
		}, []string{"devices.list"}},
		{"devices-bad-type", func(r *rspec.LinuxResources) {
			r.Devices = append(r.Devices, rspec.LinuxDeviceCgroup{Allow: true, Type: "x", Access: "rw"})
		}, []string{"devices.list"}},
		{"devices-bad-access", func(r *rspec.LinuxResources) {
			r.Devices = append(r.Devices, rspec.LinuxDeviceCgroup{Allow: true, Type: "c", Access: "rwz"})
		}, []string{"devices.list"}},
	} {
		cs = append(cs, &Case{Name: "cgroups/" + c.name, Spec: edits(sleeper, res(c.fn)), Steps: run(c.files...),
			// cpu.idle 1 puts the runtime's init, at create, at idle
			// priority: runc's (Go) took over a minute beside seven other
			// cases in the cgroup v2 VM.
			Serial: c.name == "cpu-idle"})
	}
	cs = append(cs,
		&Case{Name: "cgroups/default-path", Spec: edits(sleeper, func(s *rspec.Spec) { s.Linux.CgroupsPath = "" }),
			Steps: steps(created(), []Step{execSh("exec", pCgroup)})},
		&Case{Name: "cgroups/relative-path", Spec: edits(sleeper, func(s *rspec.Spec) { s.Linux.CgroupsPath = "{id}-rel" }),
			Steps: steps(created(), []Step{execSh("exec", pCgroup)})},
		&Case{Name: "cgroups/nested-path", Spec: edits(sleeper, func(s *rspec.Spec) { s.Linux.CgroupsPath = "{cgroup}/inner" }),
			Steps: steps(created(), []Step{execSh("exec", pCgroup)})},
		&Case{Name: "cgroups/proc-self-cgroup", Spec: sleeper, Steps: steps(created(), []Step{execSh("exec", pCgroup)})},
		&Case{Name: "cgroups/existing-empty", Spec: sleeper, Steps: steps([]Step{makeCgroup("pids", false)}, created(), []Step{countProcs("pids")})},
		&Case{Name: "cgroups/existing-frozen", Spec: sleeper, Steps: steps([]Step{makeCgroup("freezer", true)}, created(),
			[]Step{CgroupFiles{Files: []string{"freezer.state"}}, thaw()})},
		&Case{Name: "cgroups/exec-affinity-from-cpuset", Spec: edits(sleeper, res(func(r *rspec.LinuxResources) { r.CPU = &rspec.LinuxCPU{Cpus: "1"} })),
			Steps: steps(started(), []Step{Cmd{Key: "exec", Args: []string{"exec", "{id}", "/bin/probe", "affinity"}, Out: OutProbe}})},
		&Case{Name: "cgroups/run-affinity-from-cpuset", Spec: res(func(r *rspec.LinuxResources) { r.CPU = &rspec.LinuxCPU{Cpus: "1"} }),
			Script: "/bin/probe affinity"},
	)
	return cs
}

// makeCgroup makes the container's cgroup in one hierarchy (on cgroup v2,
// the only one) before create (it is ours: parity-prefixed), frozen if
// asked.
func makeCgroup(hierarchy string, frozen bool) Step {
	return HostDo{Fn: func(x *Exec) string {
		dir := cgroupDir(x.B.Cgroup, hierarchy)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err.Error()
		}
		if frozen {
			return errString(freeze(dir, true))
		}
		return ""
	}}
}

// freeze freezes or thaws a cgroup: freezer.state on v1, cgroup.freeze
// on v2.
func freeze(dir string, frozen bool) error {
	file, value := "freezer.state", "THAWED"
	if frozen {
		value = "FROZEN"
	}
	if hostCgroup() == HostCgroupV2 {
		file, value = "cgroup.freeze", "0"
		if frozen {
			value = "1"
		}
	}
	return os.WriteFile(filepath.Join(dir, file), []byte(value), 0o644)
}

// countProcs records how many processes the container's cgroup in one
// hierarchy holds (their pids differ from run to run).
func countProcs(hierarchy string) Step {
	return HostDo{Key: hierarchy + ":procs", Fn: func(x *Exec) string {
		data, err := os.ReadFile(cgroupFile(x.B.Cgroup, hierarchy+":cgroup.procs"))
		if err != nil {
			return "<" + errText(err) + ">"
		}
		return itoa(len(strings.Fields(string(data))))
	}}
}

// thaw thaws the container's freezer cgroup so cleanup can remove it.
func thaw() Step {
	return HostDo{Fn: func(x *Exec) string {
		freeze(cgroupDir(x.B.Cgroup, "freezer"), false)
		return ""
	}}
}

func updateCases() []*Case {
	var cs []*Case
	for _, u := range []struct {
		name  string
		args  []string
		files []string
	}{
		{"memory", []string{"--memory", "64m"}, []string{"memory.limit_in_bytes"}},
		{"memory-unlimited", []string{"--memory", "-1"}, []string{"memory.limit_in_bytes"}},
		{"memory-reservation", []string{"--memory-reservation", "32m"}, []string{"memory.soft_limit_in_bytes"}},
		{"memory-swap", []string{"--memory", "64m", "--memory-swap", "128m"}, []string{"memory.limit_in_bytes", "memory.memsw.limit_in_bytes"}},
		{"memory-swap-only", []string{"--memory-swap", "128m"}, []string{"memory.memsw.limit_in_bytes"}},
		{"kernel-memory", []string{"--kernel-memory", "64m"}, []string{"memory.kmem.limit_in_bytes"}},
		{"kernel-memory-tcp", []string{"--kernel-memory-tcp", "64m"}, []string{"memory.kmem.tcp.limit_in_bytes"}},
		{"cpu-share", []string{"--cpu-share", "512"}, []string{"cpu.shares"}},
		{"cpu-shares-husk-spelling", []string{"--cpu-shares", "512"}, []string{"cpu.shares"}},
		{"cpu-quota", []string{"--cpu-quota", "50000"}, []string{"cpu.cfs_quota_us", "cpu.cfs_period_us"}},
		{"cpu-period", []string{"--cpu-period", "50000"}, []string{"cpu.cfs_quota_us", "cpu.cfs_period_us"}},
		{"cpu-quota-unlimited", []string{"--cpu-quota", "-1"}, []string{"cpu.cfs_quota_us"}},
		{"cpu-rt-period", []string{"--cpu-rt-period", "900000"}, []string{"cpu.rt_period_us"}},
		{"cpu-rt-runtime", []string{"--cpu-rt-runtime", "0"}, []string{"cpu.rt_runtime_us"}},
		{"cpu-burst", []string{"--cpu-quota", "50000", "--cpu-burst", "10000"}, []string{"cpu.cfs_burst_us"}},
		{"cpu-idle", []string{"--cpu-idle", "1"}, []string{"cpu.idle"}},
		{"cpuset-cpus", []string{"--cpuset-cpus", "0"}, []string{"cpuset.cpus"}},
		{"cpuset-mems", []string{"--cpuset-mems", "0"}, []string{"cpuset.mems"}},
		{"pids-limit", []string{"--pids-limit", "20"}, []string{"pids.max"}},
		{"pids-limit-zero", []string{"--pids-limit", "0"}, []string{"pids.max"}},
		{"pids-limit-unlimited", []string{"--pids-limit", "-1"}, []string{"pids.max"}},
		{"blkio-weight", []string{"--blkio-weight", "300"}, []string{"blkio.weight"}},
		{"blkio-weight-device", []string{"--blkio-weight-device", "8:0 300"}, []string{"blkio.weight_device"}},
		{"l3-cache-schema", []string{"--l3-cache-schema", "L3:0=f"}, nil},
		{"mem-bw-schema", []string{"--mem-bw-schema", "MB:0=50"}, nil},
		{"memory-bad-value", []string{"--memory", "lots"}, []string{"memory.limit_in_bytes"}},
		{"no-flags", nil, []string{"pids.max"}},
		{"unknown-flag", []string{"--no-such-flag", "1"}, nil},
		{"resources-file", []string{"-r", "{dir}/resources.json"}, []string{"pids.max", "cpu.shares", "memory.limit_in_bytes"}},
		{"resources-stdin", []string{"-r", "-"}, []string{"pids.max", "cpu.shares", "memory.limit_in_bytes"}},
		{"resources-and-flag", []string{"-r", "{dir}/resources.json", "--pids-limit", "99"}, []string{"pids.max"}},
		{"resources-bad-json", []string{"-r", "{dir}/bad.json"}, []string{"pids.max"}},
		{"resources-unified-on-v1", []string{"-r", "{dir}/unified.json"}, []string{"pids.max"}},
	} {
		stdin := ""
		if u.name == "resources-stdin" {
			stdin = resourcesJSON
		}
		cs = append(cs, &Case{Name: "update/" + u.name, Spec: sleeper,
			Files: updateFiles,
			Steps: steps(started(), []Step{
				Cmd{Key: "update", Args: append(append([]string{"update"}, u.args...), "{id}"), Stdin: stdin, Out: OutText},
				CgroupFiles{Files: u.files},
			})})
	}
	cs = append(cs,
		&Case{Name: "update/devices-rule", Spec: sleeper, Files: updateFiles,
			Steps: steps(started(), []Step{
				Cmd{Key: "update", Args: []string{"update", "-r", "{dir}/devices.json", "{id}"}},
				CgroupFiles{Files: []string{"devices.list"}},
			})},
		&Case{Name: "update/stopped-container", Script: "true", Files: updateFiles,
			Steps: steps(created(), []Step{
				Cmd{Key: "start", Args: []string{"start", "{id}"}},
				WaitStatus{Status: "stopped"},
				Cmd{Key: "update", Args: []string{"update", "--pids-limit", "5", "{id}"}},
			})},
		&Case{Name: "update/created-container", Spec: sleeper, Files: updateFiles,
			Steps: steps(created(), []Step{
				Cmd{Key: "update", Args: []string{"update", "--pids-limit", "5", "{id}"}},
				CgroupFiles{Files: []string{"pids.max"}},
			})},
		&Case{Name: "update/paused-container", Spec: sleeper, Files: updateFiles,
			Steps: steps(started(), []Step{
				Cmd{Key: "pause", Args: []string{"pause", "{id}"}},
				Cmd{Key: "update", Args: []string{"update", "--pids-limit", "5", "{id}"}},
				CgroupFiles{Files: []string{"pids.max", "freezer.state"}},
				Cmd{Key: "resume", Args: []string{"resume", "{id}"}},
			})},
		&Case{Name: "update/missing-container", Steps: []Step{Cmd{Key: "update", Args: []string{"update", "--pids-limit", "5", "{id}"}}}},
	)
	return cs
}

const resourcesJSON = `{"pids":{"limit":30},"cpu":{"shares":256},"memory":{"limit":67108864}}`

func updateFiles(b *Bundle) error {
	for name, content := range map[string]string{
		"resources.json": resourcesJSON,
		"bad.json":       `{"pids":`,
		"unified.json":   `{"unified":{"pids.max":"7"}}`,
		"devices.json":   `{"devices":[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":5,"access":"rw"}]}`,
	} {
		if err := b.WriteFile("{dir}/"+name, content, 0o644); err != nil {
			return err
		}
	}
	return nil
}
