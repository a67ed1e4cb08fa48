package specs

import (
	"errors"
	"os"
	"strings"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// validSpec is the base of the mutation tests: runc's default config plus
// one valid instance of every optional section that the validator checks.
func validSpec() *rspec.Spec {
	s := Default(false)
	oom := 100
	timeout := 5
	umask := uint32(0o22)
	errno := uint(1)
	limit, swap, quota, pids := int64(1<<30), int64(2<<30), int64(50000), int64(100)
	shares, period := uint64(1024), uint64(100000)
	weight := uint16(500)

	s.Process.User.Umask = &umask
	s.Process.OOMScoreAdj = &oom
	s.Process.Scheduler = &rspec.Scheduler{Policy: rspec.SchedOther, Nice: 5}
	s.Process.IOPriority = &rspec.LinuxIOPriority{Class: rspec.IOPRIO_CLASS_BE, Priority: 4}
	s.Process.Rlimits = append(s.Process.Rlimits, rspec.POSIXRlimit{Type: "RLIMIT_NPROC", Soft: 10, Hard: 20})
	s.Process.Capabilities.Inheritable = []string{"CAP_CHOWN"}
	s.Process.Capabilities.Ambient = []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
	s.Domainname = "example.org"
	s.Mounts = append(s.Mounts,
		rspec.Mount{Destination: "/data", Type: "bind", Source: "/srv/data", Options: []string{"rbind", "ro"}},
		rspec.Mount{Destination: "/etc/hosts", Source: "hosts", Options: []string{"bind"}},
	)
	s.Hooks = &rspec.Hooks{
		Prestart:        []rspec.Hook{{Path: "/usr/bin/prestart"}},
		CreateRuntime:   []rspec.Hook{{Path: "/usr/bin/hook", Env: []string{"A=b"}, Timeout: &timeout}},
		CreateContainer: []rspec.Hook{{Path: "/usr/bin/hook"}},
		StartContainer:  []rspec.Hook{{Path: "/usr/bin/hook"}},
		Poststart:       []rspec.Hook{{Path: "/usr/bin/hook"}},
		Poststop:        []rspec.Hook{{Path: "/usr/bin/hook"}},
	}
	l := s.Linux
	l.Namespaces = append(l.Namespaces,
		rspec.LinuxNamespace{Type: rspec.UserNamespace},
		rspec.LinuxNamespace{Type: rspec.CgroupNamespace, Path: "/proc/1/ns/cgroup"},
		rspec.LinuxNamespace{Type: rspec.TimeNamespace},
	)
	l.UIDMappings = []rspec.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	l.GIDMappings = []rspec.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	l.TimeOffsets = map[string]rspec.LinuxTimeOffset{"monotonic": {Secs: 10}, "boottime": {Nanosecs: 5}}
	l.Sysctl = map[string]string{
		"net.ipv4.ip_forward":       "1",
		"kernel.shmmax":             "1000",
		"kernel.msgmax":             "1000",
		"kernel.sem":                "250 32000 32 128",
		"fs.mqueue.queues_max":      "10",
		"kernel.domainname":         "example.org",
		"net.core.somaxconn":        "256",
		"kernel.shm_rmid_forced":    "1",
		"net.ipv4.ping_group_range": "0 0",
	}
	fileMode := os.FileMode(0o666)
	l.Devices = []rspec.LinuxDevice{
		{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229, FileMode: &fileMode},
		{Path: "/dev/loop0", Type: "b", Major: 7, Minor: 0},
		{Path: "/dev/fifo", Type: "p"},
	}
	l.RootfsPropagation = "rslave"
	l.Personality = &rspec.LinuxPersonality{Domain: rspec.PerLinux}
	l.Resources.Memory = &rspec.LinuxMemory{Limit: &limit, Swap: &swap}
	l.Resources.CPU = &rspec.LinuxCPU{Shares: &shares, Quota: &quota, Period: &period}
	l.Resources.Pids = &rspec.LinuxPids{Limit: &pids}
	l.Resources.BlockIO = &rspec.LinuxBlockIO{Weight: &weight}
	l.Resources.Devices = append(l.Resources.Devices, rspec.LinuxDeviceCgroup{Allow: true, Type: "c", Access: "rw"})
	l.Seccomp = &rspec.LinuxSeccomp{
		DefaultAction:   rspec.ActErrno,
		DefaultErrnoRet: &errno,
		Architectures:   []rspec.Arch{rspec.ArchX86_64, rspec.ArchAARCH64},
		Flags:           []rspec.LinuxSeccompFlag{rspec.LinuxSeccompFlagLog, "SECCOMP_FILTER_FLAG_TSYNC"},
		ListenerPath:    "/run/agent.sock",
		Syscalls: []rspec.LinuxSyscall{
			{Names: []string{"read", "write"}, Action: rspec.ActAllow},
			{Names: []string{"mkdir"}, Action: rspec.ActNotify},
			{Names: []string{"personality"}, Action: rspec.ActAllow, Args: []rspec.LinuxSeccompArg{{Index: 0, Value: 8, Op: rspec.OpEqualTo}}},
		},
	}
	return s
}

// wantFieldError fails the test unless err is a *FieldError about field
// whose message contains msg and reads "config.json: <field>: ...".
func wantFieldError(t *testing.T, err error, field, msg string) {
	t.Helper()
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("got %v (%T), want a *FieldError for %s", err, err, field)
	}
	if fe.Field != field {
		t.Fatalf("error names field %q, want %q (error: %v)", fe.Field, field, err)
	}
	if prefix := "config.json: " + field + ": "; !strings.HasPrefix(err.Error(), prefix) {
		t.Errorf("error %q does not start with %q", err, prefix)
	}
	if !strings.Contains(err.Error(), msg) {
		t.Errorf("error %q does not contain %q", err, msg)
	}
}
