package specs

import (
	"os"
	"strings"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

func ptr[T any](v T) *T { return &v }

func TestValidSpecPasses(t *testing.T) {
	if err := ValidateStatic(validSpec()); err != nil {
		t.Fatal(err)
	}
	for _, rootless := range []bool{false, true} {
		if err := ValidateStatic(Default(rootless)); err != nil {
			t.Errorf("Default(%v): %v", rootless, err)
		}
	}
}

func TestValidateStaticNil(t *testing.T) {
	if err := ValidateStatic(nil); err == nil {
		t.Fatal("nil spec accepted")
	}
}

type mutation struct {
	name   string
	mutate func(s *rspec.Spec)
	field  string // "" when the mutation must be accepted
	msg    string
}

func runMutations(t *testing.T, cases []mutation) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := validSpec()
			tc.mutate(s)
			err := ValidateStatic(s)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("rejected a valid config: %v", err)
				}
				return
			}
			wantFieldError(t, err, tc.field, tc.msg)
		})
	}
}

func TestValidateVersion(t *testing.T) {
	set := func(v string) func(*rspec.Spec) { return func(s *rspec.Spec) { s.Version = v } }
	runMutations(t, []mutation{
		{"runc dev", set("1.0.2-dev"), "", ""},
		{"runtime-tools", set("1.3.0"), "", ""},
		{"rc", set("1.0.0-rc.92"), "", ""},
		{"build metadata", set("1.1.0+build.5"), "", ""},
		{"future minor", set("1.9.12"), "", ""},
		{"missing", set(""), "ociVersion", "required"},
		// As runc: any other value runs.
		{"major 2", set("2.0.0"), "", ""},
		{"major 0", set("0.5.0"), "", ""},
		{"not semver", set("1.0"), "", ""},
		{"not a version", set("not-a-version"), "", ""},
	})
}

func TestValidateRoot(t *testing.T) {
	runMutations(t, []mutation{
		{"missing", func(s *rspec.Spec) { s.Root = nil }, "root", "required"},
		{"empty path", func(s *rspec.Spec) { s.Root.Path = "" }, "root.path", "required"},
		{"NUL", func(s *rspec.Spec) { s.Root.Path = "root\x00fs" }, "root.path", "NUL"},
		{"absolute", func(s *rspec.Spec) { s.Root.Path = "/var/lib/rootfs" }, "", ""},
	})
}

func TestValidateMounts(t *testing.T) {
	m := func(f func(m *rspec.Mount)) func(*rspec.Spec) {
		return func(s *rspec.Spec) { f(&s.Mounts[2]) }
	}
	runMutations(t, []mutation{
		{"relative destination is taken in the root", m(func(m *rspec.Mount) { m.Destination = "tmp" }), "", ""},
		{"empty destination", m(func(m *rspec.Mount) { m.Destination = "" }), "mounts[2].destination", "required"},
		{"NUL destination", m(func(m *rspec.Mount) { m.Destination = "/a\x00b" }), "mounts[2].destination", "NUL byte"},
		{"dotdot destination is cleaned later", m(func(m *rspec.Mount) { m.Destination = "/a/../b" }), "", ""},
		{"no type without bind", m(func(m *rspec.Mount) { m.Type = "" }),
			"mounts[2].type", `required unless options contain "bind" or "rbind"`},
		{"no type with rbind", m(func(m *rspec.Mount) { m.Type = ""; m.Source = "/dev/pts"; m.Options = []string{"rbind"} }), "", ""},
		{"bind without source", m(func(m *rspec.Mount) { m.Type = "bind"; m.Source = ""; m.Options = []string{"rbind"} }),
			"mounts[2].source", "required for bind mounts"},
		{"type bind is no bind without the option", m(func(m *rspec.Mount) { m.Type = "bind"; m.Source = ""; m.Options = nil }), "", ""},
		{"bind option without source", m(func(m *rspec.Mount) { m.Type = "none"; m.Source = ""; m.Options = []string{"ro", "bind"} }),
			"mounts[2].source", "required for bind mounts"},
		{"non-bind without source", m(func(m *rspec.Mount) { m.Source = "" }), "", ""},
		{"NUL source", m(func(m *rspec.Mount) { m.Source = "a\x00" }), "mounts[2].source", "NUL byte"},
		{"empty option", m(func(m *rspec.Mount) { m.Options[3] = "" }), "mounts[2].options[3]", "empty mount option"},
		{"idmap size 0", m(func(m *rspec.Mount) { m.UIDMappings = []rspec.LinuxIDMapping{{Size: 0}} }),
			"mounts[2].uidMappings[0].size", "greater than 0"},
		{"idmap overflow", m(func(m *rspec.Mount) {
			m.GIDMappings = []rspec.LinuxIDMapping{{HostID: 1 << 31, Size: 1 << 31}, {ContainerID: 1 << 31, Size: 1<<31 + 1}}
		}),
			"mounts[2].gidMappings[1].size", "overflows"},
	})
}

func TestValidateProcess(t *testing.T) {
	p := func(f func(p *rspec.Process)) func(*rspec.Spec) {
		return func(s *rspec.Spec) { f(s.Process) }
	}
	runMutations(t, []mutation{
		{"missing", func(s *rspec.Spec) { s.Process = nil }, "process", "required"},
		{"no args", p(func(p *rspec.Process) { p.Args = nil }), "process.args", "required"},
		{"NUL arg", p(func(p *rspec.Process) { p.Args = []string{"sh", "-c", "a\x00"} }), "process.args[2]", "NUL byte"},
		{"env without =", p(func(p *rspec.Process) { p.Env = append(p.Env, "FOO") }), "process.env[2]", `"FOO" is not of the form NAME=value`},
		{"env empty name", p(func(p *rspec.Process) { p.Env[0] = "=x" }), "process.env[0]", "empty variable name"},
		{"env NUL", p(func(p *rspec.Process) { p.Env[1] = "A=\x00" }), "process.env[1]", "NUL byte"},
		{"env empty value", p(func(p *rspec.Process) { p.Env[1] = "A=" }), "", ""},
		{"no cwd", p(func(p *rspec.Process) { p.Cwd = "" }), "process.cwd", "required"},
		{"relative cwd", p(func(p *rspec.Process) { p.Cwd = "home" }), "process.cwd", `"home" is not an absolute path`},
		// Unknown names are left out with a warning when the plan is made
		// (libruntime), as runc does: one config serves several kernels.
		{"unknown bounding cap", p(func(p *rspec.Process) { p.Capabilities.Bounding = append(p.Capabilities.Bounding, "CAP_FOO") }), "", ""},
		{"lower-case cap", p(func(p *rspec.Process) { p.Capabilities.Effective[0] = "CAP_kill" }), "", ""},
		{"newest cap", p(func(p *rspec.Process) { p.Capabilities.Bounding[2] = "CAP_CHECKPOINT_RESTORE" }), "", ""},
		{"unknown rlimit", p(func(p *rspec.Process) { p.Rlimits[1].Type = "RLIMIT_FOO" }), "process.rlimits[1].type", `unknown rlimit "RLIMIT_FOO"`},
		{"duplicate rlimit", p(func(p *rspec.Process) { p.Rlimits[1].Type = "RLIMIT_NOFILE" }),
			"process.rlimits[1].type", "duplicate RLIMIT_NOFILE (already set by process.rlimits[0])"},
		{"soft above hard", p(func(p *rspec.Process) { p.Rlimits[0].Soft = 2048 }),
			"process.rlimits[0].soft", "soft limit 2048 exceeds hard limit 1024"},
		{"oomScoreAdj low", p(func(p *rspec.Process) { p.OOMScoreAdj = ptr(-1001) }), "process.oomScoreAdj", "out of range"},
		{"oomScoreAdj high", p(func(p *rspec.Process) { p.OOMScoreAdj = ptr(1001) }), "process.oomScoreAdj", "1001 is out of range [-1000, 1000]"},
		{"oomScoreAdj edge", p(func(p *rspec.Process) { p.OOMScoreAdj = ptr(-1000) }), "", ""},
		{"ioPriority class", p(func(p *rspec.Process) { p.IOPriority.Class = "IOPRIO_CLASS_NONE" }),
			"process.ioPriority.class", `unknown class "IOPRIO_CLASS_NONE"`},
		{"ioPriority priority", p(func(p *rspec.Process) { p.IOPriority.Priority = 8 }), "process.ioPriority.priority", "out of range [0, 7]"},
		{"ioPriority negative", p(func(p *rspec.Process) { p.IOPriority.Priority = -1 }), "process.ioPriority.priority", "out of range"},
		{"scheduler policy", p(func(p *rspec.Process) { p.Scheduler.Policy = "SCHED_FOO" }), "process.scheduler.policy", `unknown policy "SCHED_FOO"`},
		{"scheduler policy missing", p(func(p *rspec.Process) { p.Scheduler.Policy = "" }), "process.scheduler.policy", "required"},
		{"scheduler deadline", p(func(p *rspec.Process) { p.Scheduler.Policy = rspec.SchedDeadline }), "", ""},
		{"scheduler nice", p(func(p *rspec.Process) { p.Scheduler.Nice = 20 }), "process.scheduler.nice", "out of range [-20, 19]"},
		{"scheduler priority", p(func(p *rspec.Process) { p.Scheduler.Priority = 100 }), "process.scheduler.priority", "out of range [0, 99]"},
		{"terminal with console size", p(func(p *rspec.Process) { p.ConsoleSize = &rspec.Box{Height: 24, Width: 80} }), "", ""},
	})
}

func TestValidateUTSNames(t *testing.T) {
	dropUTS := func(s *rspec.Spec) { s.Linux.Namespaces = append(s.Linux.Namespaces[:3], s.Linux.Namespaces[4:]...) }
	runMutations(t, []mutation{
		{"hostname without uts", dropUTS, "hostname",
			`requires a private UTS namespace (add {"type":"uts"} to linux.namespaces)`},
		{"domainname without uts", func(s *rspec.Spec) { dropUTS(s); s.Hostname = "" }, "domainname", "private UTS namespace"},
		{"no names, no uts", func(s *rspec.Spec) {
			dropUTS(s)
			s.Hostname, s.Domainname = "", ""
			delete(s.Linux.Sysctl, "kernel.domainname")
		}, "", ""},
		{"hostname without linux", func(s *rspec.Spec) { s.Linux = nil }, "hostname", "private UTS namespace"},
	})
}

func TestValidateHooks(t *testing.T) {
	runMutations(t, []mutation{
		{"prestart relative", func(s *rspec.Spec) { s.Hooks.Prestart[0].Path = "hook" }, "hooks.prestart[0].path", "not an absolute path"},
		{"createRuntime empty", func(s *rspec.Spec) { s.Hooks.CreateRuntime[0].Path = "" }, "hooks.createRuntime[0].path", "required"},
		{"createContainer relative", func(s *rspec.Spec) { s.Hooks.CreateContainer[0].Path = "./x" }, "hooks.createContainer[0].path", "not an absolute path"},
		{"startContainer relative", func(s *rspec.Spec) {
			s.Hooks.StartContainer = append(s.Hooks.StartContainer, rspec.Hook{Path: "y"})
		}, "hooks.startContainer[1].path", "not an absolute path"},
		{"poststart relative", func(s *rspec.Spec) { s.Hooks.Poststart[0].Path = "x" }, "hooks.poststart[0].path", "not an absolute path"},
		{"poststop relative", func(s *rspec.Spec) { s.Hooks.Poststop[0].Path = "x" }, "hooks.poststop[0].path", "not an absolute path"},
		{"timeout zero", func(s *rspec.Spec) { s.Hooks.CreateRuntime[0].Timeout = ptr(0) }, "hooks.createRuntime[0].timeout", "must be a positive number of seconds, got 0"},
		{"timeout negative", func(s *rspec.Spec) { s.Hooks.Poststop[0].Timeout = ptr(-3) }, "hooks.poststop[0].timeout", "got -3"},
		{"bad hook env", func(s *rspec.Spec) { s.Hooks.CreateRuntime[0].Env = []string{"A=b", "C"} }, "hooks.createRuntime[0].env[1]", "NAME=value"},
	})
}

func TestValidateNamespaces(t *testing.T) {
	ns := func(i int, f func(*rspec.LinuxNamespace)) func(*rspec.Spec) {
		return func(s *rspec.Spec) { f(&s.Linux.Namespaces[i]) }
	}
	runMutations(t, []mutation{
		{"unknown type", ns(1, func(n *rspec.LinuxNamespace) { n.Type = "foo" }),
			"linux.namespaces[1].type", `unknown namespace type "foo"`},
		{"empty type", ns(0, func(n *rspec.LinuxNamespace) { n.Type = "" }), "linux.namespaces[0].type", "required"},
		{"duplicate", func(s *rspec.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, rspec.LinuxNamespace{Type: rspec.PIDNamespace})
		}, "linux.namespaces[8].type", `duplicate "pid" namespace (already in linux.namespaces[0])`},
		{"relative path", ns(1, func(n *rspec.LinuxNamespace) { n.Path = "proc/1/ns/net" }),
			"linux.namespaces[1].path", "not an absolute path"},
		{"joined network", ns(1, func(n *rspec.LinuxNamespace) { n.Path = "/var/run/netns/x" }), "", ""},
	})
}

func TestValidateIDMappings(t *testing.T) {
	dropUser := func(s *rspec.Spec) { s.Linux.Namespaces = append(s.Linux.Namespaces[:5], s.Linux.Namespaces[6:]...) }
	runMutations(t, []mutation{
		// Ignored, as by runc.
		{"mappings without userns", dropUser, "", ""},
		{"no mappings without userns", func(s *rspec.Spec) { dropUser(s); s.Linux.UIDMappings, s.Linux.GIDMappings = nil, nil }, "", ""},
		{"new userns without uid mappings", func(s *rspec.Spec) { s.Linux.UIDMappings = nil },
			"linux.uidMappings", "a new user namespace needs at least one uid mapping"},
		{"new userns without gid mappings", func(s *rspec.Spec) { s.Linux.GIDMappings = nil },
			"linux.gidMappings", "at least one gid mapping"},
		{"joined userns without mappings", func(s *rspec.Spec) {
			s.Linux.Namespaces[5].Path = "/proc/42/ns/user"
			s.Linux.UIDMappings, s.Linux.GIDMappings = nil, nil
		}, "", ""},
		{"size 0", func(s *rspec.Spec) { s.Linux.UIDMappings[0].Size = 0 }, "linux.uidMappings[0].size", "must be greater than 0"},
		{"container overflow", func(s *rspec.Spec) { s.Linux.GIDMappings[0].ContainerID = 1<<32 - 10 },
			"linux.gidMappings[0].size", "containerID 4294967286 + size 65536 overflows"},
		{"host overflow", func(s *rspec.Spec) { s.Linux.UIDMappings[0].HostID = 1<<32 - 1 },
			"linux.uidMappings[0].size", "hostID 4294967295 + size 65536 overflows"},
		{"exact top", func(s *rspec.Spec) { s.Linux.UIDMappings[0].HostID = 1<<32 - 65536 }, "", ""},
		{"overlapping container ranges", func(s *rspec.Spec) {
			s.Linux.UIDMappings = append(s.Linux.UIDMappings, rspec.LinuxIDMapping{ContainerID: 65535, HostID: 300000, Size: 10})
		}, "linux.uidMappings[1].containerID", "range [65535, 65545) overlaps linux.uidMappings[0]"},
		{"overlapping host ranges", func(s *rspec.Spec) {
			s.Linux.GIDMappings = append(s.Linux.GIDMappings, rspec.LinuxIDMapping{ContainerID: 65536, HostID: 100010, Size: 1})
		}, "linux.gidMappings[1].hostID", "overlaps linux.gidMappings[0]"},
		{"adjacent ranges", func(s *rspec.Spec) {
			s.Linux.UIDMappings = append(s.Linux.UIDMappings, rspec.LinuxIDMapping{ContainerID: 65536, HostID: 165536, Size: 1})
		}, "", ""},
		{"too many", func(s *rspec.Spec) {
			for i := range uint32(maxMappings) {
				s.Linux.UIDMappings = append(s.Linux.UIDMappings, rspec.LinuxIDMapping{ContainerID: 70000 + i, HostID: 200000 + i, Size: 1})
			}
		}, "linux.uidMappings", "341 mappings"},
	})
}

func TestValidateTimeOffsets(t *testing.T) {
	runMutations(t, []mutation{
		{"unknown clock", func(s *rspec.Spec) { s.Linux.TimeOffsets["realtime"] = rspec.LinuxTimeOffset{} },
			`linux.timeOffsets["realtime"]`, `unknown clock "realtime"`},
		{"no time namespace", func(s *rspec.Spec) { s.Linux.Namespaces = s.Linux.Namespaces[:7] },
			"linux.timeOffsets", `requires a new time namespace (add {"type":"time"} to linux.namespaces)`},
		{"joined time namespace", func(s *rspec.Spec) { s.Linux.Namespaces[7].Path = "/proc/1/ns/time" },
			"linux.timeOffsets", "requires a new time namespace"},
		{"nanoseconds", func(s *rspec.Spec) { s.Linux.TimeOffsets["boottime"] = rspec.LinuxTimeOffset{Nanosecs: 1e9} },
			`linux.timeOffsets["boottime"].nanosecs`, "not less than one second"},
	})
}

func TestValidateSysctl(t *testing.T) {
	set := func(k string) func(*rspec.Spec) { return func(s *rspec.Spec) { s.Linux.Sysctl[k] = "1" } }
	dropNS := func(i int, k string) func(*rspec.Spec) {
		return func(s *rspec.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces[:i:i], s.Linux.Namespaces[i+1:]...)
			s.Linux.Sysctl = map[string]string{k: "1"}
		}
	}
	runMutations(t, []mutation{
		{"host-wide", set("vm.swappiness"), `linux.sysctl["vm.swappiness"]`,
			"not namespaced, refusing to set a host-wide sysctl from a container"},
		{"kernel non-ipc", set("kernel.pid_max"), `linux.sysctl["kernel.pid_max"]`, "not namespaced"},
		{"empty key", set(""), `linux.sysctl[""]`, "invalid name"},
		// sysctl.d's slash form, as runc takes it.
		{"slash", set("net/ipv4/ip_forward"), "", ""},
		{"slash host-wide", set("vm/swappiness"), `linux.sysctl["vm/swappiness"]`, "not namespaced"},
		{"dotdot", set("net..ipv4"), `linux.sysctl["net..ipv4"]`, "invalid name"},
		{"slash dotdot", set("net/../vm/swappiness"), `linux.sysctl["net/../vm/swappiness"]`, "invalid name"},
		{"slash dot", set("net/./ipv4"), `linux.sysctl["net/./ipv4"]`, "invalid name"},
		{"hostname", set("kernel.hostname"), `linux.sysctl["kernel.hostname"]`, "conflicts with the hostname field"},
		{"domainname", set("kernel.domainname"), "", ""},
		{"user with userns", set("user.max_user_namespaces"), "", ""},
		{"user without userns", func(s *rspec.Spec) {
			var nss []rspec.LinuxNamespace
			for _, ns := range s.Linux.Namespaces {
				if ns.Type != rspec.UserNamespace {
					nss = append(nss, ns)
				}
			}
			s.Linux.Namespaces, s.Linux.UIDMappings, s.Linux.GIDMappings = nss, nil, nil
			s.Linux.Sysctl = map[string]string{"user.max_user_namespaces": "1"}
		}, `linux.sysctl["user.max_user_namespaces"]`, "requires a user namespace"},
		{"net without netns", dropNS(1, "net.ipv4.ip_forward"), `linux.sysctl["net.ipv4.ip_forward"]`,
			`requires a network namespace (add {"type":"network"} to linux.namespaces)`},
		{"shm without ipc", dropNS(2, "kernel.shmall"), `linux.sysctl["kernel.shmall"]`, "requires a ipc namespace"},
		{"msg without ipc", dropNS(2, "kernel.msgmnb"), `linux.sysctl["kernel.msgmnb"]`, "requires a ipc namespace"},
		{"sem without ipc", dropNS(2, "kernel.sem"), `linux.sysctl["kernel.sem"]`, "requires a ipc namespace"},
		{"mqueue without ipc", dropNS(2, "fs.mqueue.msg_max"), `linux.sysctl["fs.mqueue.msg_max"]`, "requires a ipc namespace"},
		{"domainname without uts", func(s *rspec.Spec) {
			dropNS(3, "kernel.domainname")(s)
			s.Hostname, s.Domainname = "", ""
		}, `linux.sysctl["kernel.domainname"]`, "requires a uts namespace"},
		{"joined netns is fine", func(s *rspec.Spec) { s.Linux.Namespaces[1].Path = "/run/netns/a" }, "", ""},
		{"first in sorted order", func(s *rspec.Spec) { s.Linux.Sysctl["zz.b"] = "1"; s.Linux.Sysctl["aa.a"] = "1" },
			`linux.sysctl["aa.a"]`, "not namespaced"},
	})
}

func TestValidateDevices(t *testing.T) {
	d := func(i int, f func(*rspec.LinuxDevice)) func(*rspec.Spec) {
		return func(s *rspec.Spec) { f(&s.Linux.Devices[i]) }
	}
	runMutations(t, []mutation{
		{"relative path", d(0, func(d *rspec.LinuxDevice) { d.Path = "dev/fuse" }), "linux.devices[0].path", "not an absolute path"},
		{"unknown type", d(0, func(d *rspec.LinuxDevice) { d.Type = "x" }), "linux.devices[0].type", `unknown device type "x"`},
		{"missing type", d(0, func(d *rspec.LinuxDevice) { d.Type = "" }), "linux.devices[0].type", "required"},
		{"char without numbers", d(0, func(d *rspec.LinuxDevice) { d.Major, d.Minor = 0, 0 }),
			"linux.devices[0].major", `major and minor numbers are required for device type "c"`},
		{"unbuffered without numbers", d(0, func(d *rspec.LinuxDevice) { d.Type, d.Major, d.Minor = "u", 0, 0 }),
			"linux.devices[0].major", "required"},
		{"block minor 0 is fine", d(1, func(d *rspec.LinuxDevice) { d.Major, d.Minor = 8, 0 }), "", ""},
		{"negative major", d(1, func(d *rspec.LinuxDevice) { d.Major = -1 }), "linux.devices[1].major", "out of range"},
		{"minor too large", d(1, func(d *rspec.LinuxDevice) { d.Minor = 1 << 20 }), "linux.devices[1].minor", "out of range [0, 1048575]"},
		{"mode with type bits", d(0, func(d *rspec.LinuxDevice) { d.FileMode = ptr(os.FileMode(0o020666)) }), "", ""},
		{"mode with other bits", d(0, func(d *rspec.LinuxDevice) { d.FileMode = ptr(os.FileMode(0o1000666)) }),
			"linux.devices[0].fileMode", "bits other than permission and file type bits"},
		{"mode with wrong type", d(0, func(d *rspec.LinuxDevice) { d.FileMode = ptr(os.FileMode(0o060666)) }),
			"linux.devices[0].fileMode", `do not match device type "c"`},
	})
}

func TestValidatePathsAndPropagation(t *testing.T) {
	runMutations(t, []mutation{
		{"masked relative is taken in the root", func(s *rspec.Spec) { s.Linux.MaskedPaths[4] = "proc/keys" }, "", ""},
		{"masked NUL", func(s *rspec.Spec) { s.Linux.MaskedPaths[4] = "/proc\x00keys" }, "linux.maskedPaths[4]", "NUL byte"},
		{"readonly empty", func(s *rspec.Spec) { s.Linux.ReadonlyPaths[1] = "" }, "linux.readonlyPaths[1]", "required"},
		{"propagation", func(s *rspec.Spec) { s.Linux.RootfsPropagation = "slaves" }, "linux.rootfsPropagation", `unknown propagation "slaves"`},
		{"propagation runbindable", func(s *rspec.Spec) { s.Linux.RootfsPropagation = "runbindable" }, "", ""},
		{"personality", func(s *rspec.Spec) { s.Linux.Personality.Domain = "LINUX64" }, "linux.personality.domain", `unknown domain "LINUX64"`},
		{"labels are free-form", func(s *rspec.Spec) { s.Linux.MountLabel = "anything"; s.Process.SelinuxLabel = "x" }, "", ""},
		{"other platforms ignored", func(s *rspec.Spec) {
			s.Linux.IntelRdt = &rspec.LinuxIntelRdt{ClosID: "x"}
			s.Solaris = &rspec.Solaris{}
			s.Windows = &rspec.Windows{}
			s.VM = &rspec.VM{}
			s.ZOS = &rspec.ZOS{}
		}, "", ""},
	})
}

// linux.memoryPolicy and process.execCPUAffinity are refused where runc
// refuses them.
func TestValidateMemoryPolicyAndAffinity(t *testing.T) {
	mp := func(mode, nodes string, flags ...string) func(*rspec.Spec) {
		return func(s *rspec.Spec) {
			s.Linux.MemoryPolicy = &rspec.LinuxMemoryPolicy{Mode: rspec.MemoryPolicyModeType(mode), Nodes: nodes}
			for _, f := range flags {
				s.Linux.MemoryPolicy.Flags = append(s.Linux.MemoryPolicy.Flags, rspec.MemoryPolicyFlagType(f))
			}
		}
	}
	aff := func(initial, final string) func(*rspec.Spec) {
		return func(s *rspec.Spec) { s.Process.ExecCPUAffinity = &rspec.CPUAffinity{Initial: initial, Final: final} }
	}
	runMutations(t, []mutation{
		{"bind", mp("MPOL_BIND", "0-1", "MPOL_F_STATIC_NODES"), "", ""},
		{"default", mp("MPOL_DEFAULT", ""), "", ""},
		{"local", mp("MPOL_LOCAL", " , "), "linux.memoryPolicy.nodes", "no members"},
		{"preferred without nodes", mp("MPOL_PREFERRED", ""), "", ""},
		{"all flags", mp("MPOL_BIND", "0", "MPOL_F_NUMA_BALANCING", "MPOL_F_RELATIVE_NODES", "MPOL_F_STATIC_NODES"), "", ""},
		{"bogus mode", mp("MPOL_BOGUS", "0"), "linux.memoryPolicy.mode", `invalid memory policy mode "MPOL_BOGUS"`},
		{"no mode", mp("", "0"), "linux.memoryPolicy.mode", "invalid memory policy mode"},
		{"bogus flag", mp("MPOL_BIND", "0", "MPOL_F_BOGUS"), "linux.memoryPolicy.flags[0]", "invalid memory policy flag"},
		{"bind without nodes", mp("MPOL_BIND", ""), "linux.memoryPolicy.nodes", "needs at least one node"},
		{"interleave without nodes", mp("MPOL_INTERLEAVE", ""), "linux.memoryPolicy.nodes", "needs at least one node"},
		{"default with nodes", mp("MPOL_DEFAULT", "0"), "linux.memoryPolicy.nodes", "takes no nodes"},
		{"bad nodes", mp("MPOL_BIND", "0-x"), "linux.memoryPolicy.nodes", `"x" is not a number`},
		{"node too high", mp("MPOL_BIND", "1024"), "linux.memoryPolicy.nodes", "above 1023"},
		{"affinity", aff("0-1", "1"), "", ""},
		{"affinity extra commas", aff(" 0 ,,1", ""), "", ""},
		{"affinity high cpu", aff("", "1023"), "", ""},
		{"affinity bad initial", aff("x", ""), "process.execCPUAffinity.initial", `"x" is not a number`},
		{"affinity bad final", aff("", "3-1"), "process.execCPUAffinity.final", "invalid range"},
		{"affinity too high", aff("", "1024"), "process.execCPUAffinity.final", "above 1023"},
	})
}

func TestValidateSeccomp(t *testing.T) {
	sc := func(f func(*rspec.LinuxSeccomp)) func(*rspec.Spec) {
		return func(s *rspec.Spec) { f(s.Linux.Seccomp) }
	}
	runMutations(t, []mutation{
		{"default action unknown", sc(func(c *rspec.LinuxSeccomp) { c.DefaultAction = "SCMP_ACT_FOO" }),
			"linux.seccomp.defaultAction", `unknown action "SCMP_ACT_FOO"`},
		{"default action missing", sc(func(c *rspec.LinuxSeccomp) { c.DefaultAction = "" }), "linux.seccomp.defaultAction", "required"},
		{"default notify", sc(func(c *rspec.LinuxSeccomp) { c.DefaultAction = rspec.ActNotify }),
			"linux.seccomp.defaultAction", "cannot be the default action"},
		// runc ignores what a profile says that cannot apply.
		{"default errno with allow", sc(func(c *rspec.LinuxSeccomp) { c.DefaultAction = rspec.ActAllow }), "", ""},
		{"arch", sc(func(c *rspec.LinuxSeccomp) { c.Architectures[1] = "SCMP_ARCH_Z80" }),
			"linux.seccomp.architectures[1]", `unknown architecture "SCMP_ARCH_Z80"`},
		{"flag", sc(func(c *rspec.LinuxSeccomp) { c.Flags = append(c.Flags, "SECCOMP_FILTER_FLAG_FOO") }),
			"linux.seccomp.flags[2]", `unknown flag "SECCOMP_FILTER_FLAG_FOO"`},
		{"all flags", sc(func(c *rspec.LinuxSeccomp) {
			c.Flags = []rspec.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_TSYNC", rspec.LinuxSeccompFlagLog,
				rspec.LinuxSeccompFlagSpecAllow, rspec.LinuxSeccompFlagWaitKillableRecv}
		}), "", ""},
		{"notify without listener", sc(func(c *rspec.LinuxSeccomp) { c.ListenerPath = "" }),
			"linux.seccomp.listenerPath", "required because linux.seccomp.syscalls[1].action is SCMP_ACT_NOTIFY"},
		{"listener without notify", sc(func(c *rspec.LinuxSeccomp) { c.Syscalls[1].Action = rspec.ActKill }), "", ""},
		{"relative listener", sc(func(c *rspec.LinuxSeccomp) { c.ListenerPath = "agent.sock" }),
			"linux.seccomp.listenerPath", "not an absolute path"},
		{"metadata without listener", sc(func(c *rspec.LinuxSeccomp) {
			c.Syscalls = c.Syscalls[:1]
			c.ListenerPath = ""
			c.ListenerMetadata = "x"
		}), "", ""},
		{"no names", sc(func(c *rspec.LinuxSeccomp) { c.Syscalls[0].Names = nil }), "", ""},
		{"notify with no names", sc(func(c *rspec.LinuxSeccomp) { c.Syscalls[1].Names = nil; c.ListenerPath = "" }), "", ""},
		{"empty name", sc(func(c *rspec.LinuxSeccomp) { c.Syscalls[0].Names[1] = "" }), "linux.seccomp.syscalls[0].names[1]", "empty syscall name"},
		{"notify write", sc(func(c *rspec.LinuxSeccomp) { c.Syscalls[1].Names = append(c.Syscalls[1].Names, "write") }),
			"linux.seccomp.syscalls[1].names[1]", "cannot be used for write"},
		{"action unknown", sc(func(c *rspec.LinuxSeccomp) { c.Syscalls[2].Action = "ALLOW" }),
			"linux.seccomp.syscalls[2].action", `unknown action "ALLOW"`},
		{"action missing", sc(func(c *rspec.LinuxSeccomp) { c.Syscalls[0].Action = "" }), "linux.seccomp.syscalls[0].action", "required"},
		{"errnoRet with allow", sc(func(c *rspec.LinuxSeccomp) { c.Syscalls[0].ErrnoRet = ptr(uint(1)) }), "", ""},
		{"errnoRet with trace", sc(func(c *rspec.LinuxSeccomp) {
			c.Syscalls[0].Action = rspec.ActTrace
			c.Syscalls[0].ErrnoRet = ptr(uint(1))
		}), "", ""},
		{"arg op", sc(func(c *rspec.LinuxSeccomp) { c.Syscalls[2].Args[0].Op = "SCMP_CMP_XOR" }),
			"linux.seccomp.syscalls[2].args[0].op", `unknown operator "SCMP_CMP_XOR"`},
		{"arg index", sc(func(c *rspec.LinuxSeccomp) { c.Syscalls[2].Args[0].Index = 6 }),
			"linux.seccomp.syscalls[2].args[0].index", "out of range [0, 5]"},
		{"every action", sc(func(c *rspec.LinuxSeccomp) {
			for _, a := range seccompActions {
				c.Syscalls = append(c.Syscalls, rspec.LinuxSyscall{Names: []string{"getpid"}, Action: a})
			}
		}), "", ""},
	})
}

func TestValidateResources(t *testing.T) {
	r := func(f func(*rspec.LinuxResources)) func(*rspec.Spec) {
		return func(s *rspec.Spec) { f(s.Linux.Resources) }
	}
	runMutations(t, []mutation{
		{"memory limit 0 means unset", r(func(r *rspec.LinuxResources) { r.Memory.Limit = ptr(int64(0)) }), "", ""},
		{"memory limit -2", r(func(r *rspec.LinuxResources) { r.Memory.Limit = ptr(int64(-2)) }), "linux.resources.memory.limit", "got -2"},
		{"memory limit -1", r(func(r *rspec.LinuxResources) { r.Memory.Limit = ptr(int64(-1)) }), "", ""},
		{"reservation 0 means unset", r(func(r *rspec.LinuxResources) { r.Memory.Reservation = ptr(int64(0)) }), "", ""},
		{"swap -5", r(func(r *rspec.LinuxResources) { r.Memory.Swap = ptr(int64(-5)) }), "linux.resources.memory.swap", "got -5"},
		{"swap below limit", r(func(r *rspec.LinuxResources) { r.Memory.Swap = ptr(int64(1 << 20)) }),
			"linux.resources.memory.swap", "1048576 is less than memory.limit 1073741824"},
		{"swap unlimited", r(func(r *rspec.LinuxResources) { r.Memory.Swap = ptr(int64(-1)) }), "", ""},
		{"swap equal to limit", r(func(r *rspec.LinuxResources) { r.Memory.Swap = r.Memory.Limit }), "", ""},
		{"shares 1", r(func(r *rspec.LinuxResources) { r.CPU.Shares = ptr(uint64(1)) }), "linux.resources.cpu.shares", "1 is out of range [2, 262144]"},
		{"shares 2", r(func(r *rspec.LinuxResources) { r.CPU.Shares = ptr(uint64(2)) }), "", ""},
		{"quota 0 means unset", r(func(r *rspec.LinuxResources) { r.CPU.Quota = ptr(int64(0)) }), "", ""},
		{"shares 0 means unset (dockerd)", r(func(r *rspec.LinuxResources) { r.CPU.Shares = ptr(uint64(0)) }), "", ""},
		{"quota -5", r(func(r *rspec.LinuxResources) { r.CPU.Quota = ptr(int64(-5)) }), "linux.resources.cpu.quota", "got -5"},
		{"quota -1", r(func(r *rspec.LinuxResources) { r.CPU.Quota = ptr(int64(-1)) }), "", ""},
		{"period 999", r(func(r *rspec.LinuxResources) { r.CPU.Period = ptr(uint64(999)) }), "linux.resources.cpu.period", "999 is out of range [1000, 1000000]"},
		{"pids 0 means unset", r(func(r *rspec.LinuxResources) { r.Pids.Limit = ptr(int64(0)) }), "", ""},
		{"pids -1", r(func(r *rspec.LinuxResources) { r.Pids.Limit = ptr(int64(-1)) }), "", ""},
		{"pids -2", r(func(r *rspec.LinuxResources) { r.Pids.Limit = ptr(int64(-2)) }), "linux.resources.pids.limit", "got -2"},
		{"blkio weight 9", r(func(r *rspec.LinuxResources) { r.BlockIO.Weight = ptr(uint16(9)) }), "linux.resources.blockIO.weight", "9 is out of range [10, 1000]"},
		{"blkio weight 1001", r(func(r *rspec.LinuxResources) { r.BlockIO.Weight = ptr(uint16(1001)) }), "linux.resources.blockIO.weight", "out of range"},
		{"blkio leaf weight", r(func(r *rspec.LinuxResources) { r.BlockIO.LeafWeight = ptr(uint16(1)) }), "linux.resources.blockIO.leafWeight", "out of range"},
		{"blkio device weight", r(func(r *rspec.LinuxResources) {
			r.BlockIO.WeightDevice = []rspec.LinuxWeightDevice{{Weight: ptr(uint16(5000))}}
		}), "linux.resources.blockIO.weightDevice[0].weight", "out of range"},
		{"device type", r(func(r *rspec.LinuxResources) { r.Devices[1].Type = "p" }), "linux.resources.devices[1].type", `unknown device type "p"`},
		{"device access: other letters are ignored", r(func(r *rspec.LinuxResources) { r.Devices[0].Access = "rwx" }), "", ""},
		{"device all", r(func(r *rspec.LinuxResources) { r.Devices[1].Type = "a"; r.Devices[1].Access = "" }), "", ""},
	})
}

func TestDocumentOrder(t *testing.T) {
	s := validSpec()
	s.Linux.Namespaces[0].Type = "foo"
	s.Process.Cwd = "rel"
	s.Mounts[1].Destination = ""
	wantFieldError(t, ValidateStatic(s), "mounts[1].destination", "required")
	s.Mounts[1].Destination = "/dev"
	wantFieldError(t, ValidateStatic(s), "process.cwd", "not an absolute path")
	s.Process.Cwd = "/"
	wantFieldError(t, ValidateStatic(s), "linux.namespaces[0].type", "unknown namespace type")
}

func TestRootfsPath(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ root, bundle, want string }{
		{"rootfs", "/b", "/b/rootfs"},
		{"./rootfs/", "/b/", "/b/rootfs"},
		{"/abs/./root/../rootfs", "/b", "/abs/rootfs"},
		{"../shared/rootfs", "/b/c", "/b/shared/rootfs"},
		{"rootfs", "bundle", wd + "/bundle/rootfs"},
	} {
		s := &rspec.Spec{Root: &rspec.Root{Path: tc.root}}
		if got := RootfsPath(s, tc.bundle); got != tc.want {
			t.Errorf("RootfsPath(%q, %q) = %q, want %q", tc.root, tc.bundle, got, tc.want)
		}
	}
}

func TestFieldErrorUnwrap(t *testing.T) {
	err := ValidateStatic(&rspec.Spec{Version: "1.0.0"})
	wantFieldError(t, err, "root", "required")
	if !strings.Contains(err.Error(), "config.json: root: required") {
		t.Errorf("unexpected message %q", err)
	}
}

func TestValidateProcessNamesFile(t *testing.T) {
	p := Default(false).Process
	p.Args = nil
	err := ValidateProcess(p, "exec.json")
	if err == nil || err.Error() != "exec.json: process.args: required (at least the program to run)" {
		t.Fatalf("got %v", err)
	}
	if err := ValidateProcess(Default(false).Process, "exec.json"); err != nil {
		t.Fatalf("default process: %v", err)
	}
}

func TestSysctlNameAndPath(t *testing.T) {
	for k, want := range map[string][2]string{
		"net.ipv4.ip_forward":               {"net.ipv4.ip_forward", "net/ipv4/ip_forward"},
		"net/ipv4/ip_forward":               {"net.ipv4.ip_forward", "net/ipv4/ip_forward"},
		"net/ipv4/conf/eth0.100/forwarding": {"net.ipv4.conf.eth0/100.forwarding", "net/ipv4/conf/eth0.100/forwarding"},
		"kernel":                            {"kernel", "kernel"},
	} {
		if n, p := SysctlName(k), SysctlPath(k); n != want[0] || p != want[1] {
			t.Errorf("%q: name %q path %q, want %q", k, n, p, want)
		}
	}
}
