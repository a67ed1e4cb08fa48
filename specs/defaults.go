package specs

import (
	"os"
	"strings"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// Default returns the config that `husk spec` writes: what `runc spec`
// (runc 1.5.3) writes, with ociVersion set to the runtime-spec version
// husk is built against: no ambient capability set, as runc writes it
// since 1.2 (one without an inheritable set only draws a warning for each
// capability, which the kernel does not raise). rootless=true gives the `runc spec --rootless`
// variant, mapping root in the container to the calling user and group.
// Every call returns a fresh value that the caller may modify.
func Default(rootless bool) *rspec.Spec {
	return HostDefault(rootless, false)
}

// HostDefault is Default for a host: on a cgroup v2 host (cgroup2 true)
// the container gets a cgroup namespace of its own, which `runc spec`
// adds there (before the rootless changes, so it comes before the user
// namespace).
func HostDefault(rootless, cgroup2 bool) *rspec.Spec {
	s := defaultSpec()
	if cgroup2 {
		s.Linux.Namespaces = append(s.Linux.Namespaces, rspec.LinuxNamespace{Type: rspec.CgroupNamespace})
	}
	if rootless {
		makeRootless(s)
	}
	return s
}

func defaultSpec() *rspec.Spec {
	caps := func() []string {
		return []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
	}
	return &rspec.Spec{
		Version: rspec.Version,
		Process: &rspec.Process{
			Terminal: true,
			User:     rspec.User{UID: 0, GID: 0},
			Args:     []string{"sh"},
			Env: []string{
				"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
				"TERM=xterm",
			},
			Cwd: "/",
			Capabilities: &rspec.LinuxCapabilities{
				Bounding:  caps(),
				Effective: caps(),
				Permitted: caps(),
			},
			Rlimits: []rspec.POSIXRlimit{
				{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024},
			},
			NoNewPrivileges: true,
		},
		Root:     &rspec.Root{Path: "rootfs", Readonly: true},
		Hostname: "runc",
		Mounts: []rspec.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{
				Destination: "/dev", Type: "tmpfs", Source: "tmpfs",
				Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"},
			},
			{
				Destination: "/dev/pts", Type: "devpts", Source: "devpts",
				Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"},
			},
			{
				Destination: "/dev/shm", Type: "tmpfs", Source: "shm",
				Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"},
			},
			{
				Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue",
				Options: []string{"nosuid", "noexec", "nodev"},
			},
			{
				Destination: "/sys", Type: "sysfs", Source: "sysfs",
				Options: []string{"nosuid", "noexec", "nodev", "ro"},
			},
			{
				Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup",
				Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"},
			},
		},
		Linux: &rspec.Linux{
			Resources: &rspec.LinuxResources{
				Devices: []rspec.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
			},
			Namespaces: []rspec.LinuxNamespace{
				{Type: rspec.PIDNamespace},
				{Type: rspec.NetworkNamespace},
				{Type: rspec.IPCNamespace},
				{Type: rspec.UTSNamespace},
				{Type: rspec.MountNamespace},
			},
			MaskedPaths: []string{
				"/proc/acpi",
				"/proc/asound",
				"/proc/kcore",
				"/proc/keys",
				"/proc/latency_stats",
				"/proc/timer_list",
				"/proc/timer_stats",
				"/proc/sched_debug",
				"/sys/firmware",
				"/proc/scsi",
			},
			ReadonlyPaths: []string{
				"/proc/bus",
				"/proc/fs",
				"/proc/irq",
				"/proc/sys",
				"/proc/sysrq-trigger",
			},
		},
	}
}

// makeRootless applies the changes of runc's specconv.ToRootless: an
// unprivileged user cannot create a network namespace with connectivity,
// mount sysfs, chown devpts to a gid it does not map, or use cgroups
// without delegation.
func makeRootless(s *rspec.Spec) {
	var nss []rspec.LinuxNamespace
	for _, ns := range s.Linux.Namespaces {
		if ns.Type != rspec.NetworkNamespace && ns.Type != rspec.UserNamespace {
			nss = append(nss, ns)
		}
	}
	s.Linux.Namespaces = append(nss, rspec.LinuxNamespace{Type: rspec.UserNamespace})
	s.Linux.UIDMappings = []rspec.LinuxIDMapping{{HostID: uint32(os.Getuid()), ContainerID: 0, Size: 1}}
	s.Linux.GIDMappings = []rspec.LinuxIDMapping{{HostID: uint32(os.Getgid()), ContainerID: 0, Size: 1}}

	for i, m := range s.Mounts {
		if m.Destination == "/sys" {
			s.Mounts[i] = rspec.Mount{
				Destination: "/sys", Type: "none", Source: "/sys",
				Options: []string{"rbind", "nosuid", "noexec", "nodev", "ro"},
			}
			continue
		}
		var opts []string
		for _, o := range m.Options {
			if !strings.HasPrefix(o, "gid=") && !strings.HasPrefix(o, "uid=") {
				opts = append(opts, o)
			}
		}
		s.Mounts[i].Options = opts
	}
	s.Linux.Resources = nil
}
