package parity

import (
	"strings"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

func init() { caseFamilies = append(caseFamilies, rlimitCases, envCases, userCases, processCases) }

// rlimitValues are limits each resource accepts without breaking a
// runtime's init or busybox.
var rlimitValues = []struct {
	name       string
	soft, hard uint64
}{
	{"RLIMIT_CPU", 1000, 2000}, {"RLIMIT_FSIZE", 1 << 30, 1 << 31}, {"RLIMIT_DATA", 1 << 33, 1 << 34},
	{"RLIMIT_STACK", 8 << 20, 16 << 20}, {"RLIMIT_CORE", 0, 1 << 20}, {"RLIMIT_RSS", 1 << 30, 1 << 31},
	{"RLIMIT_NPROC", 1000, 2000}, {"RLIMIT_NOFILE", 512, 2048}, {"RLIMIT_MEMLOCK", 1 << 20, 1 << 21},
	{"RLIMIT_AS", 1 << 34, 1 << 35}, {"RLIMIT_LOCKS", 100, 200}, {"RLIMIT_SIGPENDING", 100, 200},
	{"RLIMIT_MSGQUEUE", 1 << 20, 1 << 21}, {"RLIMIT_NICE", 10, 20}, {"RLIMIT_RTPRIO", 5, 10},
	{"RLIMIT_RTTIME", 100000, 200000},
}

func withRlimits(rl ...rspec.POSIXRlimit) func(*rspec.Spec) {
	return func(s *rspec.Spec) { s.Process.Rlimits = rl }
}

func rlimitCases() []*Case {
	var cs []*Case
	for _, r := range rlimitValues {
		cs = append(cs, &Case{Name: "rlimits/each/" + r.name, Script: pLimits,
			Spec: withRlimits(rspec.POSIXRlimit{Type: r.name, Soft: r.soft, Hard: r.hard})})
	}
	cs = append(cs,
		&Case{Name: "rlimits/unknown-type", Script: pLimits, Spec: withRlimits(rspec.POSIXRlimit{Type: "RLIMIT_NO_SUCH", Soft: 1, Hard: 1})},
		&Case{Name: "rlimits/soft-above-hard", Script: pLimits, Spec: withRlimits(rspec.POSIXRlimit{Type: "RLIMIT_NOFILE", Soft: 2048, Hard: 1024})},
		// The second lowers the limit, which needs no CAP_SYS_RESOURCE
		// (a machine's root may lack it): the case shows how duplicates
		// are taken, not whether the runtime may raise a hard limit.
		&Case{Name: "rlimits/duplicate-type", Script: pLimits, Spec: withRlimits(
			rspec.POSIXRlimit{Type: "RLIMIT_NOFILE", Soft: 200, Hard: 200}, rspec.POSIXRlimit{Type: "RLIMIT_NOFILE", Soft: 100, Hard: 100})},
		&Case{Name: "rlimits/none", Script: pLimits, Spec: withRlimits()},
		&Case{Name: "rlimits/unlimited", Script: pLimits, Spec: withRlimits(rspec.POSIXRlimit{Type: "RLIMIT_CORE", Soft: ^uint64(0), Hard: ^uint64(0)})},
		&Case{Name: "rlimits/exec-inherits", Spec: edits(sleeper, withRlimits(rspec.POSIXRlimit{Type: "RLIMIT_NOFILE", Soft: 300, Hard: 400})),
			Steps: steps(started(), []Step{execSh("exec", pLimits)})},
	)
	return cs
}

func withEnv(env ...string) func(*rspec.Spec) {
	return func(s *rspec.Spec) { s.Process.Env = env }
}

const path = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

func envCases() []*Case {
	return []*Case{
		{Name: "env/home-unset-root", Script: pEnv, Spec: withEnv(path)},
		{Name: "env/home-empty", Script: pEnv, Spec: withEnv(path, "HOME=")},
		{Name: "env/home-set", Script: pEnv, Spec: withEnv(path, "HOME=/elsewhere")},
		{Name: "env/home-unset-nobody", Script: pEnv, Spec: edits(withEnv(path), func(s *rspec.Spec) { s.Process.User = rspec.User{UID: 65534, GID: 65534} })},
		{Name: "env/home-unset-unknown-uid", Script: pEnv, Spec: edits(withEnv(path), func(s *rspec.Spec) { s.Process.User = rspec.User{UID: 4242, GID: 4242} })},
		{Name: "env/duplicate-last-wins", Script: pEnv, Spec: withEnv(path, "A=1", "B=2", "A=3")},
		{Name: "env/no-equals", Script: pEnv, Spec: withEnv(path, "NOEQUALS")},
		{Name: "env/empty-value", Script: pEnv, Spec: withEnv(path, "E=")},
		{Name: "env/no-path", Spec: func(s *rspec.Spec) { s.Process.Env = []string{"A=1"}; s.Process.Args = []string{"sh", "-c", pEnv} }},
		{Name: "env/no-path-absolute", Spec: func(s *rspec.Spec) { s.Process.Env = nil; s.Process.Args = []string{"/bin/sh", "-c", pEnv} }},
		{Name: "env/hostname-not-set", Script: "echo '=== HOSTNAME'; echo ${HOSTNAME-unset}"},
		{Name: "env/exec-flags", Spec: edits(sleeper, withEnv(path, "A=1", "B=2")), Steps: steps(started(), []Step{
			execSh("exec", pEnv, "--env", "A=9", "--env", "C=3"),
			execSh("exec-mixed-forms", pEnv, "--env", "A=9", "-e", "C=3"),
			execSh("exec-dup", pEnv, "-e", "D=1", "-e", "D=2"),
			execSh("exec-home", pEnv, "-e", "HOME="),
			execSh("exec-user", pEnv, "--user", "65534"),
		})},
	}
}

func withUser(u rspec.User) func(*rspec.Spec) { return func(s *rspec.Spec) { s.Process.User = u } }

func userCases() []*Case {
	umask := func(m uint32) func(*rspec.Spec) {
		return func(s *rspec.Spec) { s.Process.User.Umask = &m }
	}
	return []*Case{
		{Name: "user/uid-gid", Script: pIDs, Spec: withUser(rspec.User{UID: 1000, GID: 1001})},
		{Name: "user/additional-gids", Script: pIDs, Spec: withUser(rspec.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{5, 1000, 2000}})},
		{Name: "user/root-groups-from-group-file", Script: pIDs, Files: func(b *Bundle) error {
			return b.WriteFile("{rootfs}/etc/group", "root:x:0:\nwheel:x:10:root\ntty:x:5:\n", 0o644)
		}},
		{Name: "user/nobody", Script: pIDs, Spec: withUser(rspec.User{UID: 65534, GID: 65534})},
		{Name: "user/umask-077", Script: pUmask + "; touch /tmp/f; stat -c '%A' /tmp/f", Spec: edits(umask(0o077), func(s *rspec.Spec) { s.Root.Readonly = false })},
		{Name: "user/umask-default", Script: pUmask},
		{Name: "user/no-passwd-file", Script: pIDs + "; " + pEnv, Spec: withUser(rspec.User{UID: 1000, GID: 1000}), Files: func(b *Bundle) error {
			return removeAll(b.InRootfs("etc/passwd"), b.InRootfs("etc/group"))
		}},
		{Name: "user/exec-user-flag", Spec: sleeper, Steps: steps(started(), []Step{
			execSh("exec-uid", pIDs, "--user", "1000"),
			execSh("exec-uid-gid", pIDs, "--user", "1000:1001"),
			execSh("exec-name", pIDs, "--user", "nobody"),
			execSh("exec-groups", pIDs, "--user", "1000", "-g", "7", "-g", "8"),
			execSh("exec-unknown-name", pIDs, "--user", "nosuchuser"),
		})},
		{Name: "user/cwd-missing", Script: pCwd, Spec: func(s *rspec.Spec) { s.Process.Cwd = "/does/not/exist" }},
		{Name: "user/cwd-missing-rw", Script: pCwd, Spec: func(s *rspec.Spec) { s.Process.Cwd = "/does/not/exist"; s.Root.Readonly = false }},
		{Name: "user/cwd-relative", Script: pCwd, Spec: func(s *rspec.Spec) { s.Process.Cwd = "tmp" }},
		{Name: "user/cwd-file", Script: pCwd, Spec: func(s *rspec.Spec) { s.Process.Cwd = "/etc/passwd" }},
		{Name: "user/cwd-symlink", Script: pCwd, Spec: func(s *rspec.Spec) { s.Process.Cwd = "/link" },
			Files: func(b *Bundle) error { return symlinkRootfs(b, "/tmp", "link") }},
		{Name: "user/exec-cwd", Spec: sleeper, Steps: steps(started(), []Step{
			execSh("exec-cwd", pCwd, "--cwd", "/tmp"),
			execSh("exec-cwd-missing", pCwd, "--cwd", "/nope"),
		})},
	}
}

func processCases() []*Case {
	oom := func(v int) func(*rspec.Spec) { return func(s *rspec.Spec) { s.Process.OOMScoreAdj = &v } }
	return []*Case{
		{Name: "process/args-empty", Spec: func(s *rspec.Spec) { s.Process.Args = nil }},
		{Name: "process/args-missing-binary", Spec: func(s *rspec.Spec) { s.Process.Args = []string{"/no/such/binary"} }},
		{Name: "process/args-not-in-path", Spec: func(s *rspec.Spec) { s.Process.Args = []string{"nosuchcommand"} }},
		{Name: "process/args-directory", Spec: func(s *rspec.Spec) { s.Process.Args = []string{"/tmp"} }},
		{Name: "process/args-not-executable", Spec: func(s *rspec.Spec) { s.Process.Args = []string{"/etc/passwd"} }},
		{Name: "process/args-relative-path", Spec: func(s *rspec.Spec) { s.Process.Args = []string{"bin/echo", "hi"} }},
		{Name: "process/args-dot-relative", Spec: func(s *rspec.Spec) { s.Process.Args = []string{"./echo", "hi"}; s.Process.Cwd = "/bin" }},
		{Name: "process/exit-255", Script: "exit 255"},
		{Name: "process/killed-by-signal", Script: "kill -9 $$"},
		{Name: "process/term-by-signal", Script: "kill -TERM $$; sleep 1"},
		{Name: "process/oom-score-adj", Script: "echo '=== oom'; cat /proc/self/oom_score_adj", Spec: oom(500)},
		{Name: "process/oom-score-adj-negative", Script: "echo '=== oom'; cat /proc/self/oom_score_adj", Spec: oom(-500)},
		{Name: "process/oom-score-adj-unset", Script: "echo '=== oom'; cat /proc/self/oom_score_adj"},
		{Name: "process/apparmor-profile", Script: pStatus, Spec: func(s *rspec.Spec) { s.Process.ApparmorProfile = "parity-profile" }},
		{Name: "process/selinux-label", Script: pStatus, Spec: func(s *rspec.Spec) { s.Process.SelinuxLabel = "system_u:system_r:container_t:s0" }},
		{Name: "process/terminal-no-console-socket", Script: "echo hi", Spec: func(s *rspec.Spec) { s.Process.Terminal = true }},
		{Name: "process/no-process", Spec: func(s *rspec.Spec) { s.Process = nil }},
		{Name: "process/hostname", Script: pHostname, Spec: func(s *rspec.Spec) { s.Hostname = "box"; s.Domainname = "example.org" }},
		{Name: "process/hostname-without-uts", Script: pHostname, Spec: edits(withoutNS(rspec.UTSNamespace), func(s *rspec.Spec) { s.Hostname = "box" })},
		{Name: "process/domainname-without-uts", Script: pHostname, Spec: edits(withoutNS(rspec.UTSNamespace), func(s *rspec.Spec) { s.Hostname = ""; s.Domainname = "x" })},
		{Name: "process/signal-mask-and-ignored", Script: "echo '=== signals'; grep -E '^Sig(Blk|Ign)' /proc/self/status"},
		{Name: "process/stdio", Script: "echo '=== stdio'; stat -c '%n %F' -L /proc/self/fd/0 /proc/self/fd/1 /proc/self/fd/2 2>&1 | sed 's/[0-9][0-9]*\\]/N]/'"},
		{Name: "process/fds-at-run", Spec: func(s *rspec.Spec) { s.Process.Args = []string{"/bin/probe", "fds"} }},
		{Name: "process/pid1", Script: "echo '=== pid'; echo $$; cat /proc/1/comm"},
		{Name: "process/version-old", Script: "echo hi", Spec: func(s *rspec.Spec) { s.Version = "1.0.0" }},
		{Name: "process/version-future", Script: "echo hi", Spec: func(s *rspec.Spec) { s.Version = "9.0.0" }},
		{Name: "process/version-invalid", Script: "echo hi", Spec: func(s *rspec.Spec) { s.Version = "not-a-version" }},
		{Name: "process/annotations", Script: "echo hi", Spec: func(s *rspec.Spec) { s.Annotations = map[string]string{"a.b": "c"} },
			Steps: steps(created(), []Step{state("state")})},
		{Name: "process/long-args", Script: "echo '=== args'; echo " + strings.Repeat("x", 10000) + " | wc -c"},
	}
}
