package libruntime

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/cgroups"
	"github.com/husk-runtime/husk/libruntime/initproc"
	"github.com/husk-runtime/husk/specs"
)

// fakeHost answers the planner's questions without a machine.
type fakeHost struct {
	uid        int
	last       int
	paths      map[string]bool // exists
	apparmor   bool
	selinux    bool
	files      map[string]bool // isDir: false means a file; missing: ENOENT
	ownNetns   bool
	mountPoint string
	usernses   []string               // mappings asked of mappedUserns
	trees      []idmapRequest         // asked of idmappedTree
	nsMaps     []rspec.LinuxIDMapping // of a user namespace joined
}

func newFakeHost() *fakeHost {
	return &fakeHost{last: 40, paths: map[string]bool{"/proc/kcore": true}, files: map[string]bool{}, mountPoint: "/"}
}

func (h *fakeHost) euid() int               { return h.uid }
func (h *fakeHost) lastCap() int            { return h.last }
func (h *fakeHost) exists(path string) bool { return h.paths[path] }
func (h *fakeHost) apparmorEnabled() bool   { return h.apparmor }
func (h *fakeHost) selinuxEnabled() bool    { return h.selinux }
func (h *fakeHost) mountPointOf(string) (string, error) {
	return h.mountPoint, nil
}

func (h *fakeHost) isDir(path string) (bool, error) {
	dir, ok := h.files[path]
	if !ok {
		return false, os.ErrNotExist
	}
	return dir, nil
}

func (h *fakeHost) openNamespace(string, rspec.LinuxNamespaceType) (*os.File, error) {
	return os.Open(os.DevNull)
}

func (h *fakeHost) isOwnNamespace(*os.File, rspec.LinuxNamespaceType) (bool, error) {
	return h.ownNetns, nil
}

func (h *fakeHost) mappedUserns(uids, gids []rspec.LinuxIDMapping) (*os.File, error) {
	h.usernses = append(h.usernses, mappingKey(uids, gids))
	return os.Open(os.DevNull)
}

func (h *fakeHost) idmappedTree(r idmapRequest) (*os.File, error) {
	h.trees = append(h.trees, r)
	return os.Open(os.DevNull)
}

func (h *fakeHost) userNSMappings(*os.File) ([]rspec.LinuxIDMapping, []rspec.LinuxIDMapping, error) {
	return h.nsMaps, h.nsMaps, nil
}

// planFor compiles the create plan of spec on h.
func planFor(t *testing.T, s *rspec.Spec, h *fakeHost) (*planner, error) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	t.Cleanup(func() { r.Close() })
	p := &planner{
		spec: s, bundle: "/b", rootfs: "/b/rootfs", id: "c1", host: h, rootless: h.uid != 0,
		hier: &cgroups.Hierarchy{Unified: "/sys/fs/cgroup"}, cg: map[string]string{"unified": "/sys/fs/cgroup/c1"},
	}
	err = p.compileCreate(r)
	t.Cleanup(p.closeFiles)
	return p, err
}

func mustPlan(t *testing.T, s *rspec.Spec, h *fakeHost) *planner {
	t.Helper()
	p, err := planFor(t, s, h)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// index is the position of the first op with code, -1 if none.
func index(p *planner, code uint32) int {
	for i, op := range p.plan.Ops {
		if op.Code == code {
			return i
		}
	}
	return -1
}

func lastIndex(p *planner, code uint32) int {
	last := -1
	for i, op := range p.plan.Ops {
		if op.Code == code {
			last = i
		}
	}
	return last
}

func defaultSpec() *rspec.Spec {
	s := specs.Default(false)
	s.Process.Terminal = false
	return s
}

// husk-init closes every handle of the host's before it takes the
// container's credentials, and nothing after that needs one.
func TestPlanDropsHandlesBeforeCredentials(t *testing.T) {
	s := defaultSpec()
	s.Linux.Sysctl = map[string]string{"kernel.shmmni": "4000"}
	p := mustPlan(t, s, newFakeHost())
	drop := index(p, initproc.OpDropHandles)
	if drop < 0 {
		t.Fatal("no OpDropHandles")
	}
	for _, code := range []uint32{initproc.OpSetgroups, initproc.OpSetresgid, initproc.OpSetresuid, initproc.OpReady} {
		if i := index(p, code); i < drop {
			t.Errorf("op %d at %d comes before the handles are dropped (%d)", code, i, drop)
		}
	}
	for _, code := range []uint32{initproc.OpSysctl, initproc.OpMask, initproc.OpLsmAttr, initproc.OpProcfs} {
		if i := lastIndex(p, code); i > drop {
			t.Errorf("op %d at %d needs a handle dropped at %d", code, i, drop)
		}
	}
	if first := p.plan.Ops[0]; first.Code != initproc.OpWaitParent || first.A[0] != waitCgroup {
		t.Errorf("first op %+v, want the wait for the cgroup", first)
	}
	n := len(p.plan.Ops)
	if p.plan.Ops[n-1].Code != initproc.OpExec || index(p, initproc.OpWaitStart) > n-1 ||
		index(p, initproc.OpReady) > index(p, initproc.OpWaitStart) {
		t.Errorf("the plan does not end with ready, wait for start, exec")
	}
}

// The private procfs is opened only for what writes through it; masked
// paths need nothing of the host's (the container's /dev/null covers
// files).
func TestPlanOpensOnlyNeededHandles(t *testing.T) {
	procfs := func(p *planner) (initproc.Op, bool) {
		i := index(p, initproc.OpProcfs)
		if i < 0 {
			return initproc.Op{}, false
		}
		return p.plan.Ops[i], true
	}
	s := defaultSpec()
	s.Linux.MaskedPaths, s.Linux.Sysctl = nil, nil
	if op, ok := procfs(mustPlan(t, s, newFakeHost())); ok {
		t.Errorf("no sysctls, labels or masks: %+v, want no OpProcfs", op)
	}
	s.Linux.MaskedPaths = []string{"/proc/kcore"}
	if op, ok := procfs(mustPlan(t, s, newFakeHost())); ok {
		t.Errorf("masks only: %+v, want no OpProcfs", op)
	}
	s.Linux.Sysctl = map[string]string{"kernel.shmmni": "1"}
	if op, ok := procfs(mustPlan(t, s, newFakeHost())); !ok || op.Flags != initproc.ProcNoDevNull {
		t.Errorf("masks and sysctls: %+v, want a procfs alone", op)
	}
}

// A rootless husk needs husk-init dumpable exactly while it writes its
// /proc files; a husk running as root never does.
func TestPlanDumpableOnlyRootlessParentWrites(t *testing.T) {
	spec := func() *rspec.Spec {
		s := defaultSpec()
		adj := 100
		s.Process.OOMScoreAdj = &adj
		s.Linux.Namespaces = append(s.Linux.Namespaces, rspec.LinuxNamespace{Type: rspec.UserNamespace},
			rspec.LinuxNamespace{Type: rspec.TimeNamespace})
		s.Linux.UIDMappings = []rspec.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}}
		s.Linux.GIDMappings = []rspec.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}}
		s.Linux.TimeOffsets = map[string]rspec.LinuxTimeOffset{"boottime": {Secs: 1}}
		return s
	}
	for _, uid := range []int{0, 1000} {
		h := newFakeHost()
		h.uid = uid
		p := mustPlan(t, spec(), h)
		want := uint32(0)
		if uid != 0 {
			want = initproc.WaitDumpable
		}
		waits := 0
		for _, op := range p.plan.Ops {
			switch op.Code {
			case initproc.OpWaitParent, initproc.OpUnshareUser:
				waits++
				if op.Flags != want {
					t.Errorf("euid %d: %s flags %#x, want %#x", uid, op.What, op.Flags, want)
				}
			}
		}
		if waits != 3 {
			t.Errorf("euid %d: %d waits for the parent, want cgroup, user maps and time offsets", uid, waits)
		}
	}
}

func TestPlanRefusesNetSysctlsInHostNetns(t *testing.T) {
	s := defaultSpec()
	for i := range s.Linux.Namespaces {
		if s.Linux.Namespaces[i].Type == rspec.NetworkNamespace {
			s.Linux.Namespaces[i].Path = "/proc/self/ns/net"
		}
	}
	s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
	h := newFakeHost()
	h.ownNetns = true
	if _, err := planFor(t, s, h); err == nil || !strings.Contains(err.Error(), `linux.sysctl["net.ipv4.ip_forward"]`) {
		t.Errorf("net sysctl in the host's netns: %v", err)
	}
	h.ownNetns = false
	if _, err := planFor(t, s, h); err != nil {
		t.Errorf("net sysctl in another netns: %v", err)
	}
}

// Capabilities the kernel does not know are left out of every set.
func TestPlanCapabilitiesMaskedToKernel(t *testing.T) {
	s := defaultSpec()
	s.Process.Capabilities.Bounding = []string{"CAP_CHOWN", "CAP_CHECKPOINT_RESTORE"} // 0 and 40
	h := newFakeHost()
	h.last = 39
	p := mustPlan(t, s, h)
	caps := p.plan.Ops[lastIndex(p, initproc.OpCaps)]
	if caps.A[0] != 1 || caps.A[5] != 39 {
		t.Errorf("bounding %#x, last cap %d; want 0x1 and 39", caps.A[0], caps.A[5])
	}
}

func TestPlanLSMNeedsTheLSM(t *testing.T) {
	s := defaultSpec()
	s.Process.ApparmorProfile = "p"
	h := newFakeHost()
	if _, err := planFor(t, s, h); err == nil || !strings.Contains(err.Error(), "process.apparmorProfile") {
		t.Errorf("AppArmor off: %v", err)
	}
	h.apparmor = true
	p := mustPlan(t, s, h)
	i := index(p, initproc.OpLsmAttr)
	if i < 0 || p.plan.Ops[i].S[1] != initproc.Str("exec p") || index(p, initproc.OpProcfs) < 0 {
		t.Errorf("AppArmor on: no label written through a procfs")
	}
}

// A bind of a file mounts on a file.
func TestPlanBindSourceKind(t *testing.T) {
	s := defaultSpec()
	s.Mounts = append(s.Mounts, rspec.Mount{Destination: "/f", Source: "/host/f", Options: []string{"bind"}},
		rspec.Mount{Destination: "/d", Source: "/host/d", Options: []string{"rbind"}})
	h := newFakeHost()
	h.files["/host/f"], h.files["/host/d"] = false, true
	p := mustPlan(t, s, h)
	for _, op := range p.plan.Ops {
		if op.Code != initproc.OpMount {
			continue
		}
		switch op.S[1] {
		case initproc.Str("f"):
			if op.Flags != initproc.MntBind|initproc.MntFile {
				t.Errorf("file bind flags %#x", op.Flags)
			}
		case initproc.Str("d"):
			if op.Flags != initproc.MntBind|initproc.MntRec {
				t.Errorf("dir rbind flags %#x", op.Flags)
			}
		}
	}
	delete(h.files, "/host/f")
	if _, err := planFor(t, s, h); !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "mounts[") {
		t.Errorf("missing bind source: %v", err)
	}
}

// exec keeps its sync socket open until the process is executed, and
// opens a procfs only for an LSM label.
func TestPlanExec(t *testing.T) {
	s := defaultSpec()
	s.Linux.Sysctl = map[string]string{"kernel.shmmni": "1"}
	p := &planner{spec: s, rootfs: "/b/rootfs", id: "c1", host: newFakeHost()}
	pidfd, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.compileExec(pidfd); err != nil {
		t.Fatal(err)
	}
	defer p.closeFiles()
	if i := index(p, initproc.OpProcfs); i >= 0 {
		t.Errorf("exec opens a procfs without an LSM label")
	}
	if r := p.plan.Ops[index(p, initproc.OpReady)]; r.Flags != initproc.ReadyKeepSync {
		t.Errorf("exec's ready flags %#x", r.Flags)
	}
	if index(p, initproc.OpDropHandles) > index(p, initproc.OpSetresuid) {
		t.Errorf("exec drops its handles after the credential switch")
	}
}

// As runc: names the kernel does not know are left out with one warning;
// an ambient capability the kernel would not raise (not permitted and
// inheritable) is left out with a warning of its own.
func TestPlanCapabilityWarnings(t *testing.T) {
	s := defaultSpec()
	c := s.Process.Capabilities
	c.Bounding = []string{"CAP_CHOWN", "CAP_NO_SUCH", "cap_kill", "CAP_CHECKPOINT_RESTORE"}
	c.Effective = []string{"CAP_CHOWN", "CAP_NO_SUCH"}
	c.Permitted = []string{"CAP_CHOWN", "CAP_KILL"}
	c.Inheritable = []string{"CAP_CHOWN"}
	c.Ambient = []string{"CAP_CHOWN", "CAP_KILL"}
	h := newFakeHost()
	h.last = 39
	p := mustPlan(t, s, h)
	caps := p.plan.Ops[lastIndex(p, initproc.OpCaps)]
	if caps.A[0] != 1 || caps.A[1] != 1 || caps.A[2] != 1|1<<5 || caps.A[4] != 1 {
		t.Errorf("sets b=%#x e=%#x p=%#x a=%#x; want 0x1 0x1 0x21 0x1", caps.A[0], caps.A[1], caps.A[2], caps.A[4])
	}
	want := []string{
		"ignoring unknown or unavailable capabilities: [CAP_CHECKPOINT_RESTORE CAP_NO_SUCH cap_kill]",
		"can't raise ambient capability CAP_KILL: operation not permitted",
	}
	if got := append(p.warnings, p.setupWarnings...); !slices.Equal(got, want) {
		t.Errorf("warnings %q, want %q", p.warnings, want)
	}
}

// Without process.capabilities the process keeps what it has (runc).
func TestPlanNoCapabilities(t *testing.T) {
	s := defaultSpec()
	s.Process.Capabilities = nil
	p := mustPlan(t, s, newFakeHost())
	if i := index(p, initproc.OpCaps); i >= 0 {
		t.Errorf("capabilities set without process.capabilities")
	}
	s.Process.Capabilities = &rspec.LinuxCapabilities{}
	p = mustPlan(t, s, newFakeHost())
	if n := index(p, initproc.OpCaps); n < 0 || lastIndex(p, initproc.OpCaps) == n {
		t.Errorf("an empty process.capabilities must drop everything (bounding and final sets)")
	}
}

func TestPlanMemoryPolicy(t *testing.T) {
	s := defaultSpec()
	s.Linux.MemoryPolicy = &rspec.LinuxMemoryPolicy{Mode: "MPOL_BIND", Nodes: "0,2", Flags: []rspec.MemoryPolicyFlagType{"MPOL_F_STATIC_NODES"}}
	p := mustPlan(t, s, newFakeHost())
	i := index(p, initproc.OpMempolicy)
	if i < 0 {
		t.Fatal("no OpMempolicy")
	}
	op := p.plan.Ops[i]
	if op.A[0] != 2|1<<15 || !bytes.Equal(op.S[0].(initproc.Blob), []byte{5, 0, 0, 0, 0, 0, 0, 0}) {
		t.Errorf("mempolicy mode %#x nodes %v; want 0x8002 and node 0 and 2", op.A[0], op.S[0])
	}
	if i > index(p, initproc.OpSetresuid) {
		t.Errorf("memory policy set after the switch to the container's user")
	}
	s.Linux.MemoryPolicy = &rspec.LinuxMemoryPolicy{Mode: "MPOL_LOCAL"}
	p = mustPlan(t, s, newFakeHost())
	if op := p.plan.Ops[index(p, initproc.OpMempolicy)]; op.A[0] != 4 || len(op.S[0].(initproc.Blob)) != 0 {
		t.Errorf("MPOL_LOCAL: mode %d nodes %v", op.A[0], op.S[0])
	}
}

// execPlan compiles the exec plan of spec.
func execPlan(t *testing.T, s *rspec.Spec) *planner {
	t.Helper()
	p := &planner{spec: s, rootfs: "/b/rootfs", id: "c1", host: newFakeHost()}
	pidfd, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.compileExec(pidfd); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.closeFiles)
	return p
}

// affinities lists the masks of the plan's OpAffinity, "all" for the
// reset to every CPU.
func affinities(p *planner) []string {
	var out []string
	for _, op := range p.plan.Ops {
		if op.Code == initproc.OpAffinity {
			m := op.S[0].(initproc.Blob)
			if bytes.Equal(m, allCPUs) {
				out = append(out, "all")
			} else {
				out = append(out, fmt.Sprintf("%x", []byte(m)))
			}
		}
	}
	return out
}

// process.execCPUAffinity is exec's (as in runc): the container's init
// and an exec without it get every CPU of their cgroup, not husk's own
// affinity; exec's initial affinity applies once husk-init is in the
// cgroup, its final one before the process runs.
func TestPlanCPUAffinity(t *testing.T) {
	s := defaultSpec()
	s.Process.ExecCPUAffinity = &rspec.CPUAffinity{Initial: "0", Final: "1"}
	p := mustPlan(t, s, newFakeHost())
	if got := affinities(p); !slices.Equal(got, []string{"all"}) {
		t.Errorf("create: affinities %v, want [all]", got)
	}
	if i := index(p, initproc.OpAffinity); i < index(p, initproc.OpWaitParent) {
		t.Errorf("create: affinity reset before husk-init is in its cgroup")
	}
	for _, tc := range []struct {
		aff  *rspec.CPUAffinity
		want []string
	}{
		{nil, []string{"all"}},
		{&rspec.CPUAffinity{}, []string{"all"}},
		{&rspec.CPUAffinity{Initial: "0", Final: "1"}, []string{"0100000000000000", "0200000000000000"}},
		{&rspec.CPUAffinity{Final: "1"}, []string{"0200000000000000"}},
		{&rspec.CPUAffinity{Initial: "0-1"}, []string{"0300000000000000"}},
	} {
		s := defaultSpec()
		s.Process.ExecCPUAffinity = tc.aff
		if got := affinities(execPlan(t, s)); !slices.Equal(got, tc.want) {
			t.Errorf("exec with %+v: affinities %v, want %v", tc.aff, got, tc.want)
		}
	}
}

func TestPlanPersonalityFlagsWarn(t *testing.T) {
	s := defaultSpec()
	s.Linux.Personality = &rspec.LinuxPersonality{Domain: rspec.PerLinux, Flags: []rspec.LinuxPersonalityFlag{"ADDR_NO_RANDOMIZE"}}
	s.Process.Capabilities.Ambient = nil
	p := mustPlan(t, s, newFakeHost())
	if want := []string{"ignoring unsupported personality flags: [ADDR_NO_RANDOMIZE]"}; !slices.Equal(p.warnings, want) {
		t.Errorf("warnings %q, want %q", p.warnings, want)
	}
}

// The program is looked up in the process's own $PATH only: without
// one, a bare name is not found (as in runc).
func TestPlanLookupPath(t *testing.T) {
	s := defaultSpec()
	s.Process.Env = []string{"PATH=/a", "X=1", "PATH=/b"}
	p := mustPlan(t, s, newFakeHost())
	if op := p.plan.Ops[index(p, initproc.OpLookupExec)]; op.S[1] != initproc.Str("/b") {
		t.Errorf("lookup path %v, want the last PATH", op.S[1])
	}
	s.Process.Env = []string{"X=1"}
	p = mustPlan(t, s, newFakeHost())
	if op := p.plan.Ops[index(p, initproc.OpLookupExec)]; op.S[1] != nil {
		t.Errorf("lookup path %v without PATH, want none", op.S[1])
	}
}

// process.env as runc prepares it: each variable once with its last value,
// HOME from the container's /etc/passwd when missing or empty.
func TestWithHome(t *testing.T) {
	rootfs := t.TempDir()
	if err := os.MkdirAll(rootfs+"/etc", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(rootfs+"/etc/passwd", []byte("root:x:0:0:root:/root:/bin/sh\nu:x:1000:1000::/home/u:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		uid      uint32
		env, out []string
	}{
		{0, []string{"A=1"}, []string{"A=1", "HOME=/root"}},
		{0, []string{"HOME=/x", "A=1"}, []string{"HOME=/x", "A=1"}},
		{0, []string{"HOME="}, []string{"HOME=/root"}},
		{0, []string{"HOME=/x", "HOME="}, []string{"HOME=/root"}},
		{0, []string{"HOME=", "HOME=/y"}, []string{"HOME=/y"}},
		{1000, []string{"A=1", "B=2", "A=3"}, []string{"B=2", "A=3", "HOME=/home/u"}},
		{4242, nil, []string{"HOME=/"}},
	} {
		s := &rspec.Spec{Process: &rspec.Process{Env: tc.env, User: rspec.User{UID: tc.uid}}}
		withHome(s, rootfs)
		if !slices.Equal(s.Process.Env, tc.out) {
			t.Errorf("uid %d env %q: got %q, want %q", tc.uid, tc.env, s.Process.Env, tc.out)
		}
	}
}

func TestPlanSeccompBeforeReady(t *testing.T) {
	s := defaultSpec()
	s.Process.NoNewPrivileges = true
	s.Linux.Seccomp = &rspec.LinuxSeccomp{DefaultAction: rspec.ActAllow,
		Syscalls: []rspec.LinuxSyscall{{Names: []string{"umask"}, Action: rspec.ActErrno}}}
	s.Hooks = &rspec.Hooks{StartContainer: []rspec.Hook{{Path: "/bin/hook"}}}
	p := mustPlan(t, s, newFakeHost())
	sec, ready, wait := index(p, initproc.OpSeccomp), index(p, initproc.OpReady), index(p, initproc.OpWaitStart)
	hook, exec := lastIndex(p, initproc.OpRunHook), index(p, initproc.OpExec)
	if sec < 0 || lastIndex(p, initproc.OpSeccomp) != sec {
		t.Fatalf("want one OpSeccomp, plan %v", p.plan.Ops)
	}
	if !(sec < ready && ready < wait && wait < hook && hook < exec) {
		t.Errorf("order seccomp %d, ready %d, wait start %d, startContainer hook %d, exec %d", sec, ready, wait, hook, exec)
	}
}

// A hook run in the container without an env of its own inherits the
// init's: none during setup (createContainer), the process's at start.
func TestPlanHookEnv(t *testing.T) {
	s := defaultSpec()
	s.Process.Env = []string{"PATH=/bin", "HOME=/root"}
	s.Hooks = &rspec.Hooks{
		CreateContainer: []rspec.Hook{{Path: "/bin/cc"}},
		StartContainer:  []rspec.Hook{{Path: "/bin/sc"}, {Path: "/bin/sc2", Env: []string{"A=1"}}, {Path: "/bin/sc3", Env: []string{}}},
	}
	p := mustPlan(t, s, newFakeHost())
	var got []string
	for _, op := range p.plan.Ops {
		if op.Code == initproc.OpRunHook {
			env, _ := op.S[2].(initproc.List)
			got = append(got, strings.Join(env, ","))
		}
	}
	want := []string{"", "PATH=/bin,HOME=/root", "A=1", ""}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("hook envs %q, want %q", got, want)
	}
}

// Joining a user namespace: husk-init becomes root in it (what it makes
// then belongs to ids it maps); mappings given with it must be its own
// (a warning), as runc checks.
func TestPlanJoinUserNamespace(t *testing.T) {
	maps := []rspec.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	join := func(given []rspec.LinuxIDMapping) *rspec.Spec {
		s := defaultSpec()
		s.Linux.Namespaces = append(s.Linux.Namespaces, rspec.LinuxNamespace{Type: rspec.UserNamespace, Path: "/proc/42/ns/user"})
		s.Linux.UIDMappings, s.Linux.GIDMappings = given, given
		return s
	}
	h := newFakeHost()
	h.nsMaps = maps
	p := mustPlan(t, join(nil), h)
	setns, gid, uid := index(p, initproc.OpSetns), index(p, initproc.OpSetresgid), index(p, initproc.OpSetresuid)
	if setns < 0 || gid != setns+1 || uid != setns+2 || len(p.warnings) != 0 {
		t.Errorf("setns %d, setresgid %d, setresuid %d, warnings %q", setns, gid, uid, p.warnings)
	}
	if p := mustPlan(t, join(maps), h); len(p.warnings) != 1 {
		t.Errorf("matching mappings: warnings %q", p.warnings)
	}
	other := []rspec.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 65536}}
	if _, err := planFor(t, join(other), h); err == nil || !strings.Contains(err.Error(), "differ") {
		t.Errorf("other mappings: %v", err)
	}
}

// With a user namespace, the IPC namespace is made once husk-init is root
// in it, so that its mqueue filesystem belongs to the container's root.
func TestPlanIPCAfterUserNamespace(t *testing.T) {
	s := defaultSpec()
	s.Linux.Namespaces = append(s.Linux.Namespaces, rspec.LinuxNamespace{Type: rspec.UserNamespace})
	s.Linux.UIDMappings = []rspec.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	s.Linux.GIDMappings = s.Linux.UIDMappings
	p := mustPlan(t, s, newFakeHost())
	if p.clone == nil || p.clone.Cloneflags&unix.CLONE_NEWIPC != 0 || p.clone.Cloneflags&unix.CLONE_NEWUSER == 0 {
		t.Fatalf("clone attributes %+v", p.clone)
	}
	i := index(p, initproc.OpUnshare)
	if i < 0 || p.plan.Ops[i].A[0] != unix.CLONE_NEWIPC {
		t.Errorf("no unshare of the IPC namespace: %v", p.plan.Ops)
	}
	// Without a user namespace, clone makes it.
	p = mustPlan(t, defaultSpec(), newFakeHost())
	if p.clone == nil || p.clone.Cloneflags&unix.CLONE_NEWIPC == 0 {
		t.Errorf("clone flags without a user namespace: %#x", p.clone.Cloneflags)
	}
}
