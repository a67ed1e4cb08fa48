package parity

import (
	"strings"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// baseSpec is the config every case starts from: what `runc spec` writes
// (runtime-spec 1.3.0), without a terminal, with a hostname of our own and
// the case's cgroup. Strings may hold placeholders ({cgroup}, {dir},
// {bundle}, {id}, {id2}, {cgroup2}) that the runner fills per runtime.
func baseSpec() *rspec.Spec {
	caps := []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
	return &rspec.Spec{
		Version: "1.3.0",
		Process: &rspec.Process{
			User: rspec.User{UID: 0, GID: 0},
			Args: []string{"sh"},
			Env:  []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"},
			Cwd:  "/",
			Capabilities: &rspec.LinuxCapabilities{
				Bounding:  append([]string(nil), caps...),
				Effective: append([]string(nil), caps...),
				Permitted: append([]string(nil), caps...),
			},
			Rlimits:         []rspec.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}},
			NoNewPrivileges: true,
		},
		Root:     &rspec.Root{Path: "rootfs", Readonly: true},
		Hostname: "parity",
		Mounts: []rspec.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
			{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
			{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}},
		},
		Linux: &rspec.Linux{
			CgroupsPath: "{cgroup}",
			Resources: &rspec.LinuxResources{
				Devices: []rspec.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
			},
			Namespaces: []rspec.LinuxNamespace{
				{Type: rspec.PIDNamespace}, {Type: rspec.NetworkNamespace}, {Type: rspec.IPCNamespace},
				{Type: rspec.UTSNamespace}, {Type: rspec.MountNamespace},
			},
			MaskedPaths: []string{
				"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
				"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi",
			},
			ReadonlyPaths: []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"},
		},
	}
}

// Probe snippets: shell fragments run in the container (busybox sh), each
// printing a section "=== name" that the normaliser reads by name.
const (
	pStatus   = `echo '=== status'; grep -E '^(Uid|Gid|Groups|Cap[A-Za-z]+|NoNewPrivs|Seccomp|Seccomp_filters):' /proc/self/status`
	pCaps     = `echo '=== caps'; grep -E '^Cap[A-Za-z]+:' /proc/self/status`
	pIDs      = `echo '=== ids'; grep -E '^(Uid|Gid|Groups):' /proc/self/status`
	pMounts   = `echo '=== mountinfo'; cat /proc/self/mountinfo`
	pEnv      = `echo '=== env'; env`
	pLimits   = `echo '=== limits'; cat /proc/self/limits`
	pDev      = `echo '=== dev'; stat -c '%n %A %u:%g %t:%T' /dev/* /dev/pts/* 2>&1`
	pCwd      = `echo '=== cwd'; pwd`
	pUmask    = `echo '=== umask'; umask`
	pHostname = `echo '=== uts'; hostname; cat /proc/sys/kernel/domainname`
	pCgroup   = `echo '=== cgroup'; cat /proc/self/cgroup`
	pNSMaps   = `echo '=== idmaps'; cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups 2>&1`
)

// script joins probe snippets into one shell script.
func script(parts ...string) string { return strings.Join(parts, "; ") }

// pMountAt prints the mountinfo lines of path and of mounts below it.
func pMountAt(path string) string {
	return `echo '=== mountinfo ` + path + `'; awk -v p='` + path + `' '$5==p || index($5, p "/")==1' /proc/self/mountinfo`
}

// pStat prints mode, owner and device numbers of paths.
func pStat(paths ...string) string {
	return `echo '=== stat'; stat -c '%n %A %u:%g %t:%T' ` + strings.Join(paths, " ") + ` 2>&1`
}
