package parity

import (
	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

func init() { caseFamilies = append(caseFamilies, capCases) }

// allCapNames are the capabilities of Linux 6.x, in number order.
var allCapNames = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
	"CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
	"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT",
	"CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
	"CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL",
	"CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
}

// setCaps gives the process the same list in the sets named.
func setCaps(list []string, sets ...string) func(*rspec.Spec) {
	return func(s *rspec.Spec) {
		c := &rspec.LinuxCapabilities{}
		for _, set := range sets {
			l := append([]string(nil), list...)
			switch set {
			case "b":
				c.Bounding = l
			case "e":
				c.Effective = l
			case "p":
				c.Permitted = l
			case "i":
				c.Inheritable = l
			case "a":
				c.Ambient = l
			}
		}
		s.Process.Capabilities = c
	}
}

func capCases() []*Case {
	var cs []*Case
	// Each capability alone in every set: what the process holds.
	for _, name := range allCapNames {
		cs = append(cs, &Case{Name: "caps/each/" + name, Script: pCaps, Spec: setCaps([]string{name}, "b", "e", "p", "i", "a")})
	}
	base := []string{"CAP_CHOWN", "CAP_KILL"}
	cs = append(cs,
		&Case{Name: "caps/unknown-name/bounding", Script: pCaps, Spec: setCaps(append(base, "CAP_NO_SUCH_THING"), "b", "e", "p")},
		&Case{Name: "caps/unknown-name/ambient", Script: pCaps, Spec: setCaps(append(base, "CAP_NO_SUCH_THING"), "b", "e", "p", "i", "a")},
		&Case{Name: "caps/unknown-name/lowercase", Script: pCaps, Spec: setCaps([]string{"cap_chown"}, "b", "e", "p")},
		&Case{Name: "caps/unknown-name/no-prefix", Script: pCaps, Spec: setCaps([]string{"CHOWN"}, "b", "e", "p")},
		&Case{Name: "caps/ambient-not-inheritable", Script: pCaps, Spec: func(s *rspec.Spec) {
			s.Process.Capabilities.Ambient = []string{"CAP_KILL", "CAP_CHOWN"}
		}},
		&Case{Name: "caps/ambient-not-permitted", Script: pCaps, Spec: func(s *rspec.Spec) {
			s.Process.Capabilities.Inheritable = []string{"CAP_CHOWN"}
			s.Process.Capabilities.Ambient = []string{"CAP_CHOWN"}
		}},
		&Case{Name: "caps/effective-not-permitted", Script: pCaps, Spec: func(s *rspec.Spec) {
			s.Process.Capabilities.Effective = append(s.Process.Capabilities.Effective, "CAP_CHOWN")
		}},
		&Case{Name: "caps/permitted-not-bounding", Script: pCaps, Spec: func(s *rspec.Spec) {
			s.Process.Capabilities.Permitted = append(s.Process.Capabilities.Permitted, "CAP_CHOWN")
			s.Process.Capabilities.Effective = append(s.Process.Capabilities.Effective, "CAP_CHOWN")
		}},
		&Case{Name: "caps/inheritable-only", Script: pCaps, Spec: setCaps(base, "i")},
		&Case{Name: "caps/empty-object", Script: pCaps, Spec: func(s *rspec.Spec) { s.Process.Capabilities = &rspec.LinuxCapabilities{} }},
		&Case{Name: "caps/absent", Script: pCaps, Spec: func(s *rspec.Spec) { s.Process.Capabilities = nil }},
		&Case{Name: "caps/duplicates", Script: pCaps, Spec: setCaps([]string{"CAP_KILL", "CAP_KILL"}, "b", "e", "p")},
		&Case{Name: "caps/all-known", Script: pCaps, Spec: setCaps(allCapNames, "b", "e", "p")},
		&Case{Name: "caps/nonroot-user", Script: script(pIDs, pCaps), Spec: edits(setCaps(base, "b", "e", "p", "i"),
			func(s *rspec.Spec) { s.Process.User = rspec.User{UID: 1000, GID: 1000} })},
		&Case{Name: "caps/nonroot-user-ambient", Script: script(pIDs, pCaps), Spec: edits(setCaps(base, "b", "e", "p", "i", "a"),
			func(s *rspec.Spec) { s.Process.User = rspec.User{UID: 1000, GID: 1000} })},
		&Case{Name: "caps/no-new-privs-off", Script: pStatus, Spec: func(s *rspec.Spec) { s.Process.NoNewPrivileges = false }},
		// A user that lacks the execute permission on its program but
		// holds CAP_DAC_OVERRIDE: the kernel lets it execute the file.
		&Case{Name: "caps/dac-override-exec", Spec: edits(
			setCaps([]string{"CAP_DAC_OVERRIDE"}, "b", "e", "p", "i", "a"),
			func(s *rspec.Spec) {
				s.Process.User = rspec.User{UID: 1000, GID: 1000}
				s.Process.Args = []string{"/prog"}
			}),
			Files: func(b *Bundle) error { return b.WriteFile("{rootfs}/prog", "#!/bin/sh\necho ran\n", 0o700) }},
		&Case{Name: "caps/exec-cap-flag", Spec: edits(sleeper, setCaps(base, "b", "e", "p")), Steps: steps(started(), []Step{
			execSh("exec", pCaps, "--cap", "CAP_KILL"),
			execSh("exec-unknown", pCaps, "--cap", "CAP_NO_SUCH_THING"),
			execSh("exec-not-bounding", pCaps, "--cap", "CAP_SYS_ADMIN"),
		})},
	)
	return cs
}
