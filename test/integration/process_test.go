package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

func TestProcessUser(t *testing.T) {
	hh := newH(t)
	out := hh.sh(func(s *rspec.Spec) {
		s.Process.User = rspec.User{UID: 1000, GID: 1001, AdditionalGids: []uint32{10, 20, 65534}}
	}, `grep -E '^(Uid|Gid|Groups):' /proc/self/status; id`)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 {
		t.Fatalf("output %q", out)
	}
	if f := strings.Fields(lines[0]); strings.Join(f, " ") != "Uid: 1000 1000 1000 1000" {
		t.Errorf("uids: %q, want real, effective, saved and fs uid 1000", lines[0])
	}
	if f := strings.Fields(lines[1]); strings.Join(f, " ") != "Gid: 1001 1001 1001 1001" {
		t.Errorf("gids: %q, want 1001 everywhere", lines[1])
	}
	if f := strings.Fields(lines[2]); strings.Join(f, " ") != "Groups: 10 20 65534" {
		t.Errorf("supplementary groups: %q, want 10 20 65534", lines[2])
	}
	if !strings.HasPrefix(lines[3], "uid=1000 gid=1001 groups=") || !strings.Contains(lines[3], "65534(nogroup)") {
		t.Errorf("id: %q", lines[3])
	}
	// Root without additionalGids has no supplementary groups.
	out = hh.sh(nil, `grep '^Groups:' /proc/self/status`)
	if strings.TrimSpace(strings.TrimPrefix(out, "Groups:")) != "" {
		t.Errorf("groups of root without additionalGids: %q", out)
	}
}

func TestProcessUmask(t *testing.T) {
	hh := newH(t)
	tmpfs := func(s *rspec.Spec) {
		s.Mounts = append(s.Mounts, rspec.Mount{Destination: "/w", Type: "tmpfs", Source: "tmpfs"})
	}
	out := hh.sh(func(s *rspec.Spec) {
		tmpfs(s)
		m := uint32(0o027)
		s.Process.User.Umask = &m
	}, `umask; touch /w/f; mkdir /w/d; stat -c %a /w/f /w/d`)
	if out != "0027\n640\n750\n" {
		t.Errorf("umask 0027: %q, want 0027, file 640, dir 750", out)
	}
	// Without umask in the config, 0022 (as runc).
	out = hh.sh(tmpfs, `umask; touch /w/f; stat -c %a /w/f`)
	if out != "0022\n644\n" {
		t.Errorf("default umask: %q, want 0022 and 644", out)
	}
}

func TestProcessCwd(t *testing.T) {
	hh := newH(t)
	if out := hh.sh(func(s *rspec.Spec) { s.Process.Cwd = "/etc" }, "pwd; ls passwd"); out != "/etc\npasswd\n" {
		t.Errorf("cwd /etc: %q", out)
	}
	// A directory only the container user may enter.
	b := hh.bundle(func(s *rspec.Spec) {
		s.Process.Cwd = "/home/u"
		s.Process.User = rspec.User{UID: 1000, GID: 1000}
	}, "pwd")
	home := filepath.Join(b, "rootfs", "home", "u")
	if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatal(err)
	}
	os.Chown(home, 1000, 1000)
	if r := hh.husk("run", "--bundle", b, id(t)); r.code != 0 || r.stdout != "/home/u\n" {
		t.Errorf("cwd owned by the container user (mode 0700): %s", r)
	}

	// A cwd that does not exist is created (as runc and crun do, images rely
	// on it for WORKDIR), even on a read-only root, and only inside it.
	if out := hh.sh(func(s *rspec.Spec) { s.Process.Cwd = "/does/not/exist" }, "pwd; stat -c %a:%u /does/not/exist"); out != "/does/not/exist\n755:0\n" {
		t.Errorf("missing cwd: %q", out)
	}

	// One that cannot be created fails, naming process.cwd, and leaves nothing.
	b = hh.bundle(func(s *rspec.Spec) { s.Process.Cwd = "/etc/passwd/sub" }, "pwd")
	before := takeSnapshot(t)
	name := id(t)
	r := hh.husk("create", "--bundle", b, name)
	if r.code == 0 || !strings.Contains(r.stderr, "process.cwd") || !strings.Contains(r.stderr, "etc/passwd/sub") {
		t.Errorf("create with an impossible cwd: %s, want an error naming process.cwd", r)
	}
	hh.assertClean(name, "", filepath.Join(b, "rootfs"), before)
}

func TestProcessEnv(t *testing.T) {
	hh := newH(t)
	out := hh.sh(func(s *rspec.Spec) {
		s.Process.Env = append(s.Process.Env, "GREETING=hello world", "EMPTY=")
	}, `echo "$GREETING|${EMPTY-unset}|$HOME|$PATH"`)
	want := "hello world||/root|/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
	if out != want {
		t.Errorf("env: %q, want %q", out, want)
	}
	// HOME comes from the container's /etc/passwd for the user; a user
	// it does not list gets "/"; a HOME in the config wins.
	for _, tc := range []struct {
		uid  uint32
		env  []string
		want string
	}{
		{65534, nil, "/nonexistent"},
		{4242, nil, "/"},
		{0, []string{"HOME=/custom"}, "/custom"},
	} {
		out := hh.sh(func(s *rspec.Spec) {
			s.Process.User = rspec.User{UID: tc.uid, GID: tc.uid}
			s.Process.Env = append(s.Process.Env, tc.env...)
		}, `echo "$HOME"`)
		if out != tc.want+"\n" {
			t.Errorf("HOME of uid %d (env %q): %q, want %q", tc.uid, tc.env, out, tc.want)
		}
	}
	// Nothing of husk's own environment leaks in.
	t.Setenv("HUSK_LEAK_CHECK", "leaked")
	if out := hh.sh(nil, "env"); strings.Contains(out, "HUSK_LEAK_CHECK") {
		t.Errorf("husk's environment leaked into the container: %q", out)
	}
}

// limitsLine returns the soft and hard columns of a /proc/self/limits line.
func limitsLine(t *testing.T, text, name string) (string, string) {
	t.Helper()
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, name) {
			f := strings.Fields(strings.TrimPrefix(l, name))
			if len(f) >= 2 {
				return f[0], f[1]
			}
		}
	}
	t.Fatalf("no %q in limits %q", name, text)
	return "", ""
}

func TestProcessRlimits(t *testing.T) {
	hh := newH(t)
	out := hh.sh(func(s *rspec.Spec) {
		s.Process.Rlimits = []rspec.POSIXRlimit{
			{Type: "RLIMIT_NOFILE", Soft: 512, Hard: 768},
			{Type: "RLIMIT_NPROC", Soft: 300, Hard: 400},
			{Type: "RLIMIT_CORE", Soft: 0, Hard: 0},
		}
	}, `cat /proc/self/limits; echo --; ulimit -n`)
	limits, ulimit, _ := strings.Cut(out, "--\n")
	for _, c := range []struct{ name, soft, hard string }{
		{"Max open files", "512", "768"},
		{"Max processes", "300", "400"},
		{"Max core file size", "0", "0"},
	} {
		if s, h := limitsLine(t, limits, c.name); s != c.soft || h != c.hard {
			t.Errorf("%s: %s/%s, want %s/%s", c.name, s, h, c.soft, c.hard)
		}
	}
	if ulimit != "512\n" {
		t.Errorf("ulimit -n: %q", ulimit)
	}

	// Above this machine's hard limit, without CAP_SYS_RESOURCE: create
	// fails naming the rlimit.
	data, _ := os.ReadFile("/proc/self/limits")
	_, hard := limitsLine(t, string(data), "Max open files")
	status, _ := os.ReadFile("/proc/self/status")
	var capEff uint64
	fmt.Sscanf(procStatusField(string(status), "CapEff"), "%x", &capEff)
	if hard == "unlimited" || capEff&(1<<24) != 0 {
		t.Skip("root may raise RLIMIT_NOFILE here (CAP_SYS_RESOURCE or unlimited hard limit)")
	}
	var hardN uint64
	fmt.Sscan(hard, &hardN)
	b := hh.bundle(func(s *rspec.Spec) {
		s.Process.Rlimits = []rspec.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: hardN + 10000, Hard: hardN + 10000}}
	}, "true")
	before := takeSnapshot(t)
	name := id(t)
	r := hh.husk("create", "--bundle", b, name)
	if r.code == 0 || !strings.Contains(r.stderr, "process.rlimits[0]") {
		t.Errorf("create with RLIMIT_NOFILE above the hard maximum %d: %s, want an error naming process.rlimits[0]", hardN, r)
	}
	hh.assertClean(name, "", filepath.Join(b, "rootfs"), before)
}

// capNumbers are the capabilities these tests use.
var capNumbers = map[string]uint{
	"CAP_CHOWN": 0, "CAP_KILL": 5, "CAP_NET_BIND_SERVICE": 10, "CAP_NET_RAW": 13,
	"CAP_SYS_ADMIN": 21, "CAP_AUDIT_WRITE": 29,
}

func capMask(names ...string) string {
	var m uint64
	for _, n := range names {
		m |= 1 << capNumbers[n]
	}
	return fmt.Sprintf("%016x", m)
}

func TestProcessCapabilities(t *testing.T) {
	hh := newH(t)
	// A non-root user keeps exactly the configured sets across exec when
	// effective = permitted = inheritable = ambient.
	set := []string{"CAP_KILL", "CAP_NET_BIND_SERVICE"}
	bnd := []string{"CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_SYS_ADMIN"}
	out := hh.sh(func(s *rspec.Spec) {
		s.Process.User = rspec.User{UID: 1000, GID: 1000}
		s.Process.Capabilities = &rspec.LinuxCapabilities{
			Bounding: bnd, Effective: set, Permitted: set, Inheritable: set, Ambient: set,
		}
	}, `cat /proc/self/status`)
	want := map[string]string{
		"CapBnd": capMask(bnd...), "CapEff": capMask(set...), "CapPrm": capMask(set...),
		"CapInh": capMask(set...), "CapAmb": capMask(set...),
	}
	for k, v := range want {
		if got := procStatusField(out, k); got != v {
			t.Errorf("non-root %s: %s, want %s", k, got, v)
		}
	}

	// Root with runc's default set: all sets are the default three, and
	// nothing else (no CAP_SYS_ADMIN, no CAP_CHOWN).
	def := []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
	out = hh.sh(nil, `cat /proc/self/status; chown 1 /dev/shm 2>&1 || true`)
	for _, k := range []string{"CapBnd", "CapEff", "CapPrm"} {
		if got := procStatusField(out, k); got != capMask(def...) {
			t.Errorf("root %s: %s, want %s", k, got, capMask(def...))
		}
	}
	if !strings.Contains(out, "Operation not permitted") {
		t.Errorf("root without CAP_CHOWN could chown: %q", out)
	}
	// A config without ambient/inheritable for root: the ambient set
	// cannot hold capabilities outside inheritable.
	if got := procStatusField(out, "CapAmb"); got != "0000000000000000" {
		t.Errorf("root CapAmb without inheritable: %s, want 0", got)
	}
}

// As runc: a capability the kernel does not know is left out with a
// warning (one config serves kernels of several versions), and so is an
// ambient capability that is not inheritable.
func TestProcessUnknownCapability(t *testing.T) {
	hh := newH(t)
	b := hh.bundle(func(s *rspec.Spec) {
		s.Process.Capabilities.Effective = append(s.Process.Capabilities.Effective, "CAP_NO_SUCH_THING")
		s.Process.Capabilities.Ambient = []string{"CAP_KILL"}
	}, "sh", "-c", "grep -E '^Cap(Eff|Amb):' /proc/self/status")
	r := hh.husk("run", "--bundle", b, id(t))
	if r.code != 0 || !strings.Contains(r.stderr, "ignoring unknown or unavailable capabilities: [CAP_NO_SUCH_THING]") ||
		!strings.Contains(r.stderr, "can't raise ambient capability CAP_KILL") {
		t.Fatalf("unknown capability: %s", r)
	}
	want := capMask("CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE")
	if got := procStatusField(r.stdout, "CapEff"); got != want {
		t.Errorf("CapEff %s, want %s", got, want)
	}
	if got := procStatusField(r.stdout, "CapAmb"); got != "0000000000000000" {
		t.Errorf("CapAmb %s, want none", got)
	}
}

func TestProcessNoNewPrivileges(t *testing.T) {
	hh := newH(t)
	for _, nnp := range []bool{true, false} {
		out := hh.sh(func(s *rspec.Spec) { s.Process.NoNewPrivileges = nnp }, `grep NoNewPrivs /proc/self/status`)
		want := "0"
		if nnp {
			want = "1"
		}
		if got := procStatusField(out, "NoNewPrivs"); got != want {
			t.Errorf("noNewPrivileges %v: NoNewPrivs %q, want %s", nnp, got, want)
		}
	}
}

// husk writes oom_score_adj for husk-init before it joins anything, also
// when the container has a user namespace (husk-init could not write its
// own /proc file there: it is not dumpable) and for exec.
func TestProcessOOMScoreAdj(t *testing.T) {
	hh := newH(t)
	adj := 789
	out := hh.sh(func(s *rspec.Spec) { s.Process.OOMScoreAdj = &adj }, `cat /proc/self/oom_score_adj`)
	if out != "789\n" {
		t.Errorf("oom_score_adj: %q, want 789", out)
	}
	if err := os.Chmod(filepath.Dir(hh.dir), 0o755); err != nil {
		t.Fatal(err)
	}
	userns := func(s *rspec.Spec) {
		s.Process.OOMScoreAdj = &adj
		setNS(s, rspec.UserNamespace, "")
		// Two ranges: the general path (unshare after exec), not the clone.
		s.Linux.UIDMappings = []rspec.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 1}, {ContainerID: 1, HostID: 100001, Size: 65535}}
		s.Linux.GIDMappings = []rspec.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	}
	b := hh.bundle(userns, "sh", "-c", `cat /proc/self/oom_score_adj`)
	chownTree(t, filepath.Join(b, "rootfs"), 100000, 100000)
	if r := hh.husk("run", "--bundle", b, id(t)); r.code != 0 || r.stdout != "789\n" {
		t.Errorf("oom_score_adj with a user namespace: %s, want 789", r)
	}
	name, _ := hh.startSleeper(func(s *rspec.Spec) { s.Process.OOMScoreAdj = &adj })
	if out := hh.must("exec", name, "cat", "/proc/self/oom_score_adj"); out != "789\n" {
		t.Errorf("oom_score_adj of an exec'd process: %q, want 789", out)
	}
	hh.must("delete", "--force", name)
	// Unset: inherited from husk's caller.
	mine, _ := os.ReadFile("/proc/self/oom_score_adj")
	if out := hh.sh(nil, `cat /proc/self/oom_score_adj`); out != string(mine) {
		t.Errorf("oom_score_adj without oomScoreAdj: %q, want the caller's %q", out, mine)
	}
}

// With create's stdout and stderr redirected to files, the container's
// process writes there after start, and nothing before.
func TestProcessStdioFiles(t *testing.T) {
	hh := newH(t)
	b := hh.bundle(nil, "sh", "-c", `echo to-stdout; echo to-stderr >&2`)
	name := id(t)
	out, errOut := filepath.Join(hh.dir, "stdout"), filepath.Join(hh.dir, "stderr")
	if r := hh.createTo(out, errOut, "--bundle", b, name); r.code != 0 {
		t.Fatalf("create: %s", r)
	}
	if fileText(out) != "" || fileText(errOut) != "" {
		t.Errorf("output before start: %q %q", fileText(out), fileText(errOut))
	}
	hh.must("start", name)
	hh.waitStatus(name, "stopped")
	hh.must("delete", name)
	if got := fileText(out); got != "to-stdout\n" {
		t.Errorf("stdout file: %q", got)
	}
	if got := fileText(errOut); got != "to-stderr\n" {
		t.Errorf("stderr file: %q", got)
	}
}

func TestProcessExitCodes(t *testing.T) {
	hh := newH(t)
	for _, code := range []int{0, 1, 3, 42, 255} {
		if r := hh.run(nil, "sh", "-c", fmt.Sprintf("exit %d", code)); r.code != code {
			t.Errorf("exit %d: %s", code, r)
		}
	}
	// Death by a signal: 128+n. Without a pid namespace the process is
	// not an init and may kill itself.
	noPidNS := func(s *rspec.Spec) {
		var nss []rspec.LinuxNamespace
		for _, ns := range s.Linux.Namespaces {
			if ns.Type != rspec.PIDNamespace {
				nss = append(nss, ns)
			}
		}
		s.Linux.Namespaces = nss
	}
	if r := hh.run(noPidNS, "sh", "-c", "kill -TERM $$"); r.code != 128+15 {
		t.Errorf("killed by SIGTERM: %s, want exit 143", r)
	}
	if r := hh.run(noPidNS, "sh", "-c", "kill -KILL $$"); r.code != 128+9 {
		t.Errorf("killed by SIGKILL: %s, want exit 137", r)
	}
}

func TestProcessArgsVerbatim(t *testing.T) {
	hh := newH(t)
	args := []string{"a b", `"double"`, `'single'`, "it's", "", "tab\there", "$HOME", "*", `back\slash`, "new\nline"}
	r := hh.run(nil, append([]string{"sh", "-c", `for a in "$@"; do printf '[%s]\n' "$a"; done`, "argv0"}, args...)...)
	if r.code != 0 {
		t.Fatalf("run: %s", r)
	}
	var want strings.Builder
	for _, a := range args {
		fmt.Fprintf(&want, "[%s]\n", a)
	}
	if r.stdout != want.String() {
		t.Errorf("args:\n%s\nwant:\n%s", r.stdout, want.String())
	}
	// argv[0] is passed as given, not replaced by the resolved path.
	r = hh.run(nil, "sh", "-c", `cat /proc/$$/cmdline | tr '\0' '|'`)
	if r.stdout != `sh|-c|cat /proc/$$/cmdline | tr '\0' '|'|` {
		t.Errorf("cmdline: %q", r.stdout)
	}
}

func TestProcessExecutableNotFound(t *testing.T) {
	hh := newH(t)
	for _, args := range [][]string{{"no-such-program", "x"}, {"/bin/no-such-program"}} {
		b := hh.bundle(nil, args...)
		before := takeSnapshot(t)
		name := id(t)
		r := hh.husk("create", "--bundle", b, name)
		if r.code == 0 || !strings.Contains(r.stderr, args[0]) {
			t.Errorf("create running %q: %s", args[0], r)
		}
		if !strings.Contains(args[0], "/") && !strings.Contains(r.stderr, "executable file not found") {
			t.Errorf("create running %q: %s, want \"executable file not found\"", args[0], r)
		}
		hh.assertClean(name, "", filepath.Join(b, "rootfs"), before)
	}
	// Found through the config's PATH, not the default one.
	b := hh.bundle(func(s *rspec.Spec) { s.Process.Env = []string{"PATH=/opt/tools"} }, "mytool")
	if err := os.MkdirAll(filepath.Join(b, "rootfs", "opt", "tools"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeRaw(t, filepath.Join(b, "rootfs", "opt", "tools", "mytool"), "#!/bin/sh\necho mytool ran\n")
	os.Chmod(filepath.Join(b, "rootfs", "opt", "tools", "mytool"), 0o755)
	if r := hh.husk("run", "--bundle", b, id(t)); r.code != 0 || r.stdout != "mytool ran\n" {
		t.Errorf("program found through process.env PATH: %s", r)
	}
}
