package vmbackend

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

func defaults(t *testing.T) Config {
	t.Helper()
	c, err := Config{}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSize(t *testing.T) {
	c := defaults(t)
	lim := int64(200 << 20)
	quota, period := int64(150000), uint64(100000)
	for _, tc := range []struct {
		name      string
		ann       map[string]string
		res       *rspec.LinuxResources
		mem, cpus int
	}{
		{"nothing", nil, nil, 256, 1},
		{"CRI pod resources", map[string]string{annSandboxMemory: "268435456", annSandboxCPUQuota: "250000", annSandboxCPUPeriod: "100000"}, nil, 256 + 128, 2},
		{"CRI pod without limits", map[string]string{annSandboxMemory: "0"}, nil, 256, 1},
		{"the container's own limits", nil, &rspec.LinuxResources{Memory: &rspec.LinuxMemory{Limit: &lim}, CPU: &rspec.LinuxCPU{Quota: &quota, Period: &period}}, 200 + 128, 2},
		{"husk's annotations win", map[string]string{annMemory: "512", annCPUs: "1", annSandboxMemory: "1073741824"}, nil, 512, 1},
		{"more vCPUs than the host has", map[string]string{annSandboxCPUQuota: "800000", annSandboxCPUPeriod: "100000"}, nil, 256, 2},
	} {
		spec := &rspec.Spec{Annotations: tc.ann, Linux: &rspec.Linux{Resources: tc.res}}
		mem, cpus, err := Size(spec, c, 2)
		if err != nil || mem != tc.mem || cpus != tc.cpus {
			t.Errorf("%s: %d MiB, %d vCPUs, %v; want %d, %d", tc.name, mem, cpus, err, tc.mem, tc.cpus)
		}
	}
	for _, bad := range []map[string]string{{annMemory: "lots"}, {annCPUs: "-1"}, {annSandboxMemory: "x"}} {
		if _, _, err := Size(&rspec.Spec{Annotations: bad}, c, 2); err == nil {
			t.Errorf("%v: accepted", bad)
		}
	}
	c.OverheadMiB = 64
	if mem, _, _ := Size(&rspec.Spec{Annotations: map[string]string{annSandboxMemory: "104857600"}}, c, 2); mem != 164 {
		t.Errorf("configured overhead: %d MiB", mem)
	}
}

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "vm.toml")
	os.WriteFile(p, []byte("memory_overhead_mib = 96\nshare = \"virtiofs\"\nassets = \"/srv/assets\"\n"), 0o644)
	c, err := LoadConfig(p)
	if err != nil || c.OverheadMiB != 96 || c.Share != "virtiofs" || c.Assets != "/srv/assets" || c.DefaultMemoryMiB != 256 || c.RunDir != DefaultRunDir {
		t.Errorf("config %+v, %v", c, err)
	}
	os.WriteFile(p, []byte("memory_overhead = 96\n"), 0o644)
	if _, err := LoadConfig(p); err == nil || !strings.Contains(err.Error(), "memory_overhead") {
		t.Errorf("an unknown key: %v", err)
	}
	os.WriteFile(p, []byte("share = \"nfs\"\n"), 0o644)
	if _, err := LoadConfig(p); err == nil {
		t.Error("share nfs accepted")
	}
	if _, err := LoadConfig(filepath.Join(dir, "missing.toml")); err == nil {
		t.Error("a missing configuration file that was named: no error")
	}
	t.Setenv(ConfigEnv, p)
	if _, err := LoadConfig(""); err == nil {
		t.Error("$HUSK_VM_CONFIG not read")
	}
}

func TestGuestNamespaces(t *testing.T) {
	spec := &rspec.Spec{Linux: &rspec.Linux{Namespaces: []rspec.LinuxNamespace{
		{Type: rspec.PIDNamespace},
		{Type: rspec.NetworkNamespace, Path: "/proc/4242/ns/net"},
		{Type: rspec.IPCNamespace, Path: "/proc/4242/ns/ipc"},
		{Type: rspec.UTSNamespace, Path: "/proc/4242/ns/uts"},
		{Type: rspec.MountNamespace},
	}}}
	orig := spec.Linux
	if err := guestNamespaces(spec, 4242, 17); err != nil {
		t.Fatal(err)
	}
	want := []rspec.LinuxNamespace{{Type: rspec.PIDNamespace}, {Type: rspec.IPCNamespace, Path: "/proc/17/ns/ipc"},
		{Type: rspec.UTSNamespace, Path: "/proc/17/ns/uts"}, {Type: rspec.MountNamespace}}
	if len(spec.Linux.Namespaces) != len(want) {
		t.Fatalf("namespaces %+v", spec.Linux.Namespaces)
	}
	for i := range want {
		if spec.Linux.Namespaces[i] != want[i] {
			t.Errorf("namespace %d: %+v, want %+v", i, spec.Linux.Namespaces[i], want[i])
		}
	}
	if len(orig.Namespaces) != 5 {
		t.Error("the caller's linux section was changed")
	}
	for _, p := range []string{"/proc/999/ns/ipc", "/var/run/netns/x", "/proc/4242/ns/../../etc"} {
		s := &rspec.Spec{Linux: &rspec.Linux{Namespaces: []rspec.LinuxNamespace{{Type: rspec.IPCNamespace, Path: p}}}}
		if err := guestNamespaces(s, 4242, 17); err == nil {
			t.Errorf("path %s accepted", p)
		}
	}
	// The sandbox: its network namespace is the one CNI set up.
	sb := &rspec.Spec{Linux: &rspec.Linux{Namespaces: []rspec.LinuxNamespace{{Type: rspec.NetworkNamespace, Path: "/var/run/netns/cni-1"}}}}
	if netnsPath(sb) != "/var/run/netns/cni-1" {
		t.Errorf("netns path %q", netnsPath(sb))
	}
	if err := guestNamespaces(sb, 0, 0); err != nil || len(sb.Linux.Namespaces) != 0 {
		t.Errorf("sandbox namespaces %v %+v", err, sb.Linux.Namespaces)
	}
}

func TestResolvConf(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "resolv.conf"), []byte("nameserver 10.96.0.10\n"), 0o644)
	spec := &rspec.Spec{Mounts: []rspec.Mount{{Destination: "/etc/hosts", Source: "/x"}, {Destination: "/etc/resolv.conf", Source: "resolv.conf", Type: "bind"}}}
	if got := string(resolvConf(spec, dir)); got != "nameserver 10.96.0.10\n" {
		t.Errorf("resolv.conf %q", got)
	}
	if resolvConf(&rspec.Spec{}, dir) != nil {
		t.Error("a resolv.conf from nowhere")
	}
}

func TestNetSysctls(t *testing.T) {
	orig := map[string]string{"net.ipv4.ip_unprivileged_port_start": "0", "kernel.shmmax": "1000"}
	spec := &rspec.Spec{Linux: &rspec.Linux{Sysctl: orig}}
	net := netSysctls(spec)
	if len(net) != 1 || net["net.ipv4.ip_unprivileged_port_start"] != "0" {
		t.Errorf("net sysctls %v", net)
	}
	if len(spec.Linux.Sysctl) != 1 || spec.Linux.Sysctl["kernel.shmmax"] != "1000" || len(orig) != 2 {
		t.Errorf("left %v, original %v", spec.Linux.Sysctl, orig)
	}
	if netSysctls(&rspec.Spec{}) != nil {
		t.Error("sysctls from nowhere")
	}
}

func TestSandboxSpec(t *testing.T) {
	sb := &Sandbox{ID: "sb1", Netns: "/var/run/netns/cni-1", CgroupParent: "/kubepods/pod1", MemoryLimit: 192 << 20, CPUQuota: 150000, CPUPeriod: 100000,
		Annotations: map[string]string{annMemory: "300", "other": "x"}}
	s := sb.spec()
	if netnsPath(s) != sb.Netns || s.Linux.CgroupsPath != "/kubepods/pod1/sb1" || s.Annotations["other"] != "" {
		t.Errorf("spec: netns %q, cgroups %q, annotations %v", netnsPath(s), s.Linux.CgroupsPath, s.Annotations)
	}
	if mem, cpus, err := Size(s, Config{OverheadMiB: 128, DefaultMemoryMiB: 256}, 8); err != nil || mem != 300 || cpus != 2 {
		t.Errorf("Size: %d MiB, %d vCPUs, %v", mem, cpus, err)
	}
	delete(sb.Annotations, annMemory)
	if mem, _, _ := Size(sb.spec(), Config{OverheadMiB: 128, DefaultMemoryMiB: 256}, 8); mem != 192+128 {
		t.Errorf("Size from the pod's memory: %d MiB", mem)
	}
	sb.CgroupParent = "kubepods-pod1.slice"
	if p := sb.spec().Linux.CgroupsPath; p != "kubepods-pod1.slice:cri-containerd:sb1" {
		t.Errorf("systemd cgroup parent: %q", p)
	}

	sb.DNS = &DNS{Servers: []string{"10.0.0.10"}, Searches: []string{"a.local", "b.local"}, Options: []string{"ndots:5"}}
	if got := string(sb.resolvConf()); got != "search a.local b.local\nnameserver 10.0.0.10\noptions ndots:5\n" {
		t.Errorf("resolv.conf: %q", got)
	}
	for _, bad := range []*Sandbox{
		{Hostname: "a b"},
		{Hostname: strings.Repeat("h", 65)},
		{DNS: &DNS{Servers: []string{"1.1.1.1\nnameserver 6.6.6.6"}}},
		{DNS: &DNS{Searches: []string{""}}},
	} {
		if err := bad.Check(); err == nil {
			t.Errorf("Check took %+v", bad)
		}
	}
	net, rest := splitSysctls(map[string]string{"net.ipv4.ip_forward": "1", "kernel.shm_rmid_forced": "1"})
	if len(net) != 1 || net["net.ipv4.ip_forward"] != "1" || strings.Join(rest, ",") != "kernel.shm_rmid_forced" {
		t.Errorf("splitSysctls: %v %v", net, rest)
	}
}

func TestPodFiles(t *testing.T) {
	dir := t.TempDir()
	files, err := writePodFiles(dir, "pod-a", []byte("nameserver 10.0.0.10\n"))
	if err != nil || len(files) != 3 {
		t.Fatalf("writePodFiles: %v %v", files, err)
	}
	if data, _ := os.ReadFile(files[0].Source); string(data) != "pod-a\n" || files[0].Destination != "/etc/hostname" {
		t.Errorf("hostname file %s: %q", files[0].Source, data)
	}
	spec := &rspec.Spec{Mounts: []rspec.Mount{{Destination: "/etc/hosts/", Type: "bind", Source: "/kubelet/hosts"}}}
	podMounts(spec, files)
	var dests []string
	for _, m := range spec.Mounts {
		dests = append(dests, m.Destination+"="+filepath.Base(m.Source))
	}
	if strings.Join(dests, " ") != "/etc/hosts/=hosts /etc/hostname=husk-pod-hostname /etc/resolv.conf=husk-pod-resolv.conf" {
		t.Errorf("mounts: %v", dests)
	}
	if _, err := writePodFiles("relative", "h", nil); err == nil {
		t.Error("a relative bundle taken")
	}
}
