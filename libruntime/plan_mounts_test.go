package libruntime

import (
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/cgroups"
	"github.com/husk-runtime/husk/libruntime/initproc"
)

// opsAt are the ops of code whose destination (Mount: s1; MountTree,
// Mask: s0) is dest, in plan order.
func opsAt(p *planner, code uint32, dest string) []initproc.Op {
	var out []initproc.Op
	for _, op := range p.plan.Ops {
		if op.Code != code {
			continue
		}
		d := op.S[0]
		if code == initproc.OpMount {
			d = op.S[1]
		}
		if d == initproc.Str(dest) {
			out = append(out, op)
		}
	}
	return out
}

func oneMountAt(t *testing.T, p *planner, dest string) initproc.Op {
	t.Helper()
	ops := opsAt(p, initproc.OpMount, dest)
	if len(ops) != 1 {
		t.Fatalf("%d mounts at /%s, want 1", len(ops), dest)
	}
	return ops[0]
}

func withMount(m ...rspec.Mount) *rspec.Spec {
	s := defaultSpec()
	s.Mounts = append(s.Mounts, m...)
	return s
}

// Options as runc reads them (and as mount_setattr applies them).
func TestParseMountOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    rspec.Mount
		want mountOpts
	}{
		{"nosymfollow", rspec.Mount{Type: "tmpfs", Options: []string{"nosymfollow"}},
			mountOpts{set: unix.MOUNT_ATTR_NOSYMFOLLOW}},
		{"symfollow clears", rspec.Mount{Options: []string{"bind", "symfollow"}},
			mountOpts{bind: true, clr: unix.MOUNT_ATTR_NOSYMFOLLOW}},
		{"rnosymfollow on a bind", rspec.Mount{Options: []string{"rbind", "rnosymfollow"}},
			mountOpts{bind: true, rec: true, recSet: unix.MOUNT_ATTR_NOSYMFOLLOW}},
		{"recursive options ignored on a new filesystem", rspec.Mount{Type: "tmpfs", Options: []string{"rro", "rnoexec", "rnoatime"}},
			mountOpts{}},
		{"norelatime and nostrictatime change nothing", rspec.Mount{Type: "tmpfs", Options: []string{"norelatime", "nostrictatime"}},
			mountOpts{}},
		{"ratime clears the atime field", rspec.Mount{Options: []string{"rbind", "ratime"}},
			mountOpts{bind: true, rec: true, recClr: unix.MOUNT_ATTR__ATIME}},
		{"rnoatime", rspec.Mount{Options: []string{"rbind", "rnoatime"}},
			mountOpts{bind: true, rec: true, recSet: unix.MOUNT_ATTR_NOATIME, recClr: unix.MOUNT_ATTR__ATIME}},
		{"tmpcopyup", rspec.Mount{Type: "tmpfs", Options: []string{"tmpcopyup", "mode=700"}},
			mountOpts{copyUp: true, data: []string{"mode=700"}}},
		{"idmap", rspec.Mount{Options: []string{"bind", "idmap"}}, mountOpts{bind: true, idmap: true}},
		{"ridmap", rspec.Mount{Options: []string{"rbind", "ridmap"}}, mountOpts{bind: true, rec: true, idmap: true, idmapRec: true}},
		{"data on a bind is kept for the planner to refuse", rspec.Mount{Options: []string{"bind", "mode=700"}},
			mountOpts{bind: true, data: []string{"mode=700"}}},
		{"type bind without the option is no bind", rspec.Mount{Type: "bind", Options: []string{"ro"}},
			mountOpts{set: unix.MOUNT_ATTR_RDONLY}},
		{"remount", rspec.Mount{Type: "tmpfs", Options: []string{"remount"}}, mountOpts{remount: true}},
	} {
		got := parseMountOptions(&tc.m)
		if !equalOpts(got, tc.want) {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func equalOpts(a, b mountOpts) bool {
	return reflect.DeepEqual(a, b)
}

// husk features lists exactly the options runc 1.5.3 lists.
func TestKnownMountOptionsAreRuncs(t *testing.T) {
	runc := strings.Fields(`async atime bind defaults dev diratime dirsync exec iversion lazytime loud mand noatime
		nodev nodiratime noexec noiversion nolazytime nomand norelatime nostrictatime nosuid nosymfollow private
		ratime rbind rdev rdiratime relatime remount rexec rnoatime rnodev rnodiratime rnoexec rnorelatime
		rnostrictatime rnosuid rnosymfollow ro rprivate rrelatime rro rrw rshared rslave rstrictatime rsuid
		rsymfollow runbindable rw shared silent slave strictatime suid symfollow sync tmpcopyup unbindable`)
	if got := mountOptionNames(); !slices.Equal(got, runc) {
		t.Errorf("mount options:\n%v\nwant:\n%v", got, runc)
	}
}

func TestPlanBindRefusesFilesystemOptions(t *testing.T) {
	h := newFakeHost()
	h.files["/src"] = true
	for _, o := range []string{"mode=700", "size=1m", "suid,dev,exec"} {
		_, err := planFor(t, withMount(rspec.Mount{Destination: "/mnt", Source: "/src", Options: []string{"bind", o}}), h)
		if err == nil || !strings.Contains(err.Error(), "mounts[7].options") || !strings.Contains(err.Error(), o) {
			t.Errorf("bind with %s: %v", o, err)
		}
	}
	// Superblock flags are dropped on a bind, as runc does.
	mustPlan(t, withMount(rspec.Mount{Destination: "/mnt", Source: "/src", Options: []string{"bind", "sync", "lazytime"}}), h)
	// A type "bind" without the option is a filesystem the kernel refuses.
	p := mustPlan(t, withMount(rspec.Mount{Destination: "/mnt", Type: "bind", Source: "/src"}), h)
	if op := oneMountAt(t, p, "mnt"); op.Flags&initproc.MntBind != 0 || op.S[2] != initproc.Str("bind") {
		t.Errorf("type bind without the option: %+v, want a new filesystem of type bind", op)
	}
}

// ro makes a new filesystem's superblock read-only (as mount(2) with
// MS_RDONLY does), except a tmpfs and /dev, which are read-only per mount.
func TestPlanReadonlySuperblock(t *testing.T) {
	s := defaultSpec() // its /sys is ro, with the cgroups below
	s.Mounts = append(s.Mounts,
		rspec.Mount{Destination: "/t", Type: "tmpfs", Source: "tmpfs", Options: []string{"ro"}},
		rspec.Mount{Destination: "/p2", Type: "proc", Source: "proc", Options: []string{"ro", "nosuid"}})
	for i := range s.Mounts {
		if s.Mounts[i].Destination == "/dev" {
			s.Mounts[i].Options = append(s.Mounts[i].Options, "ro")
		}
	}
	p := mustPlan(t, s, newFakeHost())
	for dest, want := range map[string]bool{"sys": true, "p2": true, "t": false, "dev": false} {
		op := oneMountAt(t, p, dest)
		if got := slices.Contains([]string(op.S[3].(initproc.List)), "ro"); got != want {
			t.Errorf("/%s: superblock ro %v, want %v (options %v)", dest, got, want, op.S[3])
		}
	}
	// The mount itself: read-only at once unless mounts go below it.
	if op := oneMountAt(t, p, "t"); op.A[0]&unix.MOUNT_ATTR_RDONLY == 0 {
		t.Errorf("/t: mount attributes %#x, want ro", op.A[0])
	}
}

func TestPlanFilesystemFlags(t *testing.T) {
	s := withMount(
		rspec.Mount{Destination: "/t", Type: "tmpfs", Source: "tmpfs"},
		rspec.Mount{Destination: "/c", Type: "tmpfs", Source: "tmpfs", Options: []string{"tmpcopyup"}},
		rspec.Mount{Destination: "/q", Type: "mqueue", Source: "mqueue"})
	p := mustPlan(t, s, newFakeHost())
	for dest, want := range map[string]uint32{
		"proc": initproc.MntOrdinaryDir, "sys": initproc.MntOrdinaryDir,
		"t": initproc.MntTmpfsMode, "c": initproc.MntTmpfsMode | initproc.MntCopyUp, "q": 0,
	} {
		if op := oneMountAt(t, p, dest); op.Flags != want {
			t.Errorf("/%s: flags %#x, want %#x", dest, op.Flags, want)
		}
	}
}

// A bind whose source is inside the rootfs is resolved in the root, after
// the mounts before it: the planner cannot look at it.
func TestPlanBindSourceInRootfs(t *testing.T) {
	s := withMount(rspec.Mount{Destination: "/a", Type: "tmpfs", Source: "tmpfs"},
		rspec.Mount{Destination: "/b", Source: "rootfs/a", Options: []string{"rbind"}},
		rspec.Mount{Destination: "/c", Source: "/b/rootfs/x/../y", Options: []string{"bind"}})
	p := mustPlan(t, s, newFakeHost()) // the fake host has no such files: not asked
	for dest, src := range map[string]string{"b": "a", "c": "y"} {
		op := oneMountAt(t, p, dest)
		if op.S[0] != initproc.Str(src) || op.Flags&initproc.MntSourceInRoot == 0 || op.Flags&initproc.MntBind == 0 {
			t.Errorf("/%s: source %v flags %#x, want %q in the root", dest, op.S[0], op.Flags, src)
		}
	}
}

func TestPlanRelativeDestinationWarns(t *testing.T) {
	p := mustPlan(t, withMount(rspec.Mount{Destination: "mnt", Type: "tmpfs", Source: "tmpfs"}), newFakeHost())
	oneMountAt(t, p, "mnt")
	if len(p.warnings) != 1 || !strings.Contains(p.warnings[0], "mounts[7].destination") {
		t.Errorf("warnings %q", p.warnings)
	}
	if p := mustPlan(t, defaultSpec(), newFakeHost()); len(p.warnings) != 0 {
		t.Errorf("warnings for the default config: %q", p.warnings)
	}
}

// Masks: once per path (however it is written), in runc's order: after
// pivot_root and the console, once read-only mounts with mounts below
// them (here /dev) and the root are read-only, after the read-only paths;
// no handle of the host's is opened for them.
func TestPlanMasks(t *testing.T) {
	s := defaultSpec()
	s.Mounts[1].Options = append(s.Mounts[1].Options, "ro") // /dev, with devices below
	s.Linux.MaskedPaths = []string{"/proc/kcore", "proc/kcore", "/proc//kcore/", "/proc/acpi"}
	s.Process.Terminal = true
	p, err := planWith(t, s, newFakeHost(), func(p *planner) { p.terminal = true })
	if err != nil {
		t.Fatal(err)
	}
	if n := len(opsAt(p, initproc.OpMask, "proc/kcore")); n != 1 {
		t.Errorf("/proc/kcore masked %d times", n)
	}
	order := []uint32{initproc.OpPivotRoot, initproc.OpConsole, initproc.OpSetattrSlot, initproc.OpRootReadonly,
		initproc.OpReadonly, initproc.OpMask}
	for i := 1; i < len(order); i++ {
		if lastIndex(p, order[i-1]) > index(p, order[i]) || index(p, order[i]) < 0 {
			t.Errorf("op %d (last at %d) is not before op %d (first at %d)", order[i-1], lastIndex(p, order[i-1]),
				order[i], index(p, order[i]))
		}
	}
	if i := index(p, initproc.OpProcfs); i >= 0 {
		t.Errorf("masks open a procfs or /dev/null: %+v", p.plan.Ops[i])
	}
}

func TestPlanPtmxLink(t *testing.T) {
	s := defaultSpec()
	s.Mounts = slices.DeleteFunc(s.Mounts, func(m rspec.Mount) bool { return m.Destination == "/dev/pts" })
	p := mustPlan(t, s, newFakeHost())
	found := false
	for _, op := range p.plan.Ops {
		if op.Code == initproc.OpSymlink && op.S[1] == initproc.Str("dev/ptmx") && op.S[0] == initproc.Str("pts/ptmx") {
			found = true
		}
	}
	if !found {
		t.Error("no /dev/ptmx -> pts/ptmx without a devpts mount (runc makes it)")
	}
}

// cgroup v1: a writable tmpfs (nosuid, nodev, noexec, mode=755), the
// hierarchies in the host's mount order, no cgroup2 hierarchy; with a
// cgroup namespace a named hierarchy has its name as source.
func TestPlanCgroupV1(t *testing.T) {
	hier := &cgroups.Hierarchy{
		V1: map[string]string{"cpu": "/sys/fs/cgroup/cpu,cpuacct", "cpuacct": "/sys/fs/cgroup/cpu,cpuacct",
			"memory": "/sys/fs/cgroup/memory", "name=systemd": "/sys/fs/cgroup/systemd"},
		V1Mounts: []string{"/sys/fs/cgroup/memory", "/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/systemd"},
		Unified:  "/sys/fs/cgroup/unified",
	}
	cg := map[string]string{"cpu": "/sys/fs/cgroup/cpu,cpuacct/c1", "cpuacct": "/sys/fs/cgroup/cpu,cpuacct/c1",
		"memory": "/sys/fs/cgroup/memory/c1", "name=systemd": "/sys/fs/cgroup/systemd/c1", "unified": "/sys/fs/cgroup/unified/c1"}
	plan := func(s *rspec.Spec) *planner {
		p, err := planWith(t, s, newFakeHost(), func(p *planner) { p.hier, p.cg = hier, cg })
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	var dests []string
	p := plan(defaultSpec())
	for _, op := range p.plan.Ops {
		if op.Code == initproc.OpMount && strings.HasPrefix(string(op.S[1].(initproc.Str)), "sys/fs/cgroup") {
			dests = append(dests, string(op.S[1].(initproc.Str)))
		}
	}
	want := []string{"sys/fs/cgroup", "sys/fs/cgroup/memory", "sys/fs/cgroup/cpu,cpuacct", "sys/fs/cgroup/systemd"}
	if !slices.Equal(dests, want) {
		t.Errorf("cgroup mounts %v, want %v", dests, want)
	}
	tmpfs := oneMountAt(t, p, "sys/fs/cgroup")
	if tmpfs.A[0] != unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC || tmpfs.A[5] != -1 {
		t.Errorf("cgroup tmpfs attributes %#x slot %d, want nosuid,nodev,noexec and writable", tmpfs.A[0], tmpfs.A[5])
	}
	if mem := oneMountAt(t, p, "sys/fs/cgroup/memory"); mem.A[0]&unix.MOUNT_ATTR_RDONLY == 0 || mem.S[0] != initproc.Str(cg["memory"]) {
		t.Errorf("memory hierarchy %+v, want the container's cgroup, read-only", mem)
	}

	s := defaultSpec()
	s.Linux.Namespaces = append(s.Linux.Namespaces, rspec.LinuxNamespace{Type: rspec.CgroupNamespace})
	p = plan(s)
	if sd := oneMountAt(t, p, "sys/fs/cgroup/systemd"); sd.S[0] != initproc.Str("systemd") || sd.S[2] != initproc.Str("cgroup") {
		t.Errorf("named hierarchy with a cgroup namespace: %+v, want source systemd", sd)
	}
}

// cgroup v2: without a cgroup namespace the container's own cgroup is
// bound; with one, cgroup2 is mounted afresh under the config's source
// (runc's mount shows "cgroup", as the config names it).
func TestPlanCgroupV2(t *testing.T) {
	hier := &cgroups.Hierarchy{Unified: "/sys/fs/cgroup"}
	cg := map[string]string{"unified": "/sys/fs/cgroup/c1"}
	plan := func(s *rspec.Spec) *planner {
		p, err := planWith(t, s, newFakeHost(), func(p *planner) { p.hier, p.cg = hier, cg })
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	if m := oneMountAt(t, plan(defaultSpec()), "sys/fs/cgroup"); m.S[0] != initproc.Str(cg["unified"]) {
		t.Errorf("without a cgroup namespace: %+v, want a bind of the container's cgroup", m)
	}
	s := defaultSpec()
	s.Linux.Namespaces = append(s.Linux.Namespaces, rspec.LinuxNamespace{Type: rspec.CgroupNamespace})
	if m := oneMountAt(t, plan(s), "sys/fs/cgroup"); m.S[0] != initproc.Str("cgroup") || m.S[2] != initproc.Str("cgroup2") {
		t.Errorf("with a cgroup namespace: %+v, want cgroup2 with source cgroup", m)
	}
}

// Id-mapped binds are prepared by the host (husk-init, possibly in a user
// namespace, could not map the host's filesystem) and attached by
// husk-init.
func TestPlanIDMappedBinds(t *testing.T) {
	maps := []rspec.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 10}}
	h := newFakeHost()
	h.files["/src"], h.files["/f"] = true, false
	s := withMount(
		rspec.Mount{Destination: "/a", Source: "/src", Options: []string{"rbind", "ro"}, UIDMappings: maps, GIDMappings: maps},
		rspec.Mount{Destination: "/b", Source: "/src", Options: []string{"rbind", "ridmap", "rnosuid"}, UIDMappings: maps, GIDMappings: maps},
		rspec.Mount{Destination: "/f", Source: "/f", Options: []string{"bind", "idmap"}, UIDMappings: maps, GIDMappings: maps})
	p := mustPlan(t, s, h)
	if len(h.usernses) != 1 {
		t.Errorf("user namespaces made: %v, want one for the one mapping", h.usernses)
	}
	if len(h.trees) != 3 {
		t.Fatalf("trees %+v", h.trees)
	}
	a, b, f := h.trees[0], h.trees[1], h.trees[2]
	if !a.recursive || a.idmapRecursive || a.set != unix.MOUNT_ATTR_RDONLY || a.source != "/src" {
		t.Errorf("rbind,ro: %+v", a)
	}
	if !b.recursive || !b.idmapRecursive || b.recSet != unix.MOUNT_ATTR_NOSUID {
		t.Errorf("rbind,ridmap,rnosuid: %+v", b)
	}
	if f.recursive || f.idmapRecursive {
		t.Errorf("bind,idmap: %+v", f)
	}
	if len(opsAt(p, initproc.OpMount, "a")) != 0 {
		t.Error("an id-mapped bind is also an OpMount")
	}
	for dest, flags := range map[string]uint32{"a": 0, "b": 0, "f": initproc.MntFile} {
		ops := opsAt(p, initproc.OpMountTree, dest)
		if len(ops) != 1 || ops[0].Flags != flags || ops[0].A[0] < 3 {
			t.Errorf("/%s: %+v, want one OpMountTree with flags %#x and an fd", dest, ops, flags)
		}
	}

	// Without mappings, the container's user namespace gives them.
	h = newFakeHost()
	h.files["/src"] = true
	s = withMount(rspec.Mount{Destination: "/a", Source: "/src", Options: []string{"bind", "idmap"}})
	userns := []rspec.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	s.Linux.Namespaces = append(s.Linux.Namespaces, rspec.LinuxNamespace{Type: rspec.UserNamespace})
	s.Linux.UIDMappings, s.Linux.GIDMappings = userns, userns
	mustPlan(t, s, h)
	if want := []string{mappingKey(userns, userns)}; !slices.Equal(h.usernses, want) {
		t.Errorf("idmap without mappings in a user namespace: %v, want %v", h.usernses, want)
	}

	for name, tc := range map[string]struct {
		m        rspec.Mount
		rootless bool
		want     string
	}{
		"tmpfs":              {rspec.Mount{Destination: "/a", Type: "tmpfs", Source: "tmpfs", UIDMappings: maps, GIDMappings: maps}, false, "only supported for bind mounts"},
		"uid maps only":      {rspec.Mount{Destination: "/a", Source: "/src", Options: []string{"bind"}, UIDMappings: maps}, false, "both uidMappings and gidMappings"},
		"no maps, no userns": {rspec.Mount{Destination: "/a", Source: "/src", Options: []string{"bind", "idmap"}}, false, "both uidMappings and gidMappings"},
		"rootless":           {rspec.Mount{Destination: "/a", Source: "/src", Options: []string{"bind"}, UIDMappings: maps, GIDMappings: maps}, true, "need root"},
		"inside the rootfs":  {rspec.Mount{Destination: "/a", Source: "rootfs/x", Options: []string{"bind", "idmap"}, UIDMappings: maps, GIDMappings: maps}, false, "inside the rootfs"},
	} {
		h := newFakeHost()
		h.files["/src"] = true
		if tc.rootless {
			h.uid = 1000
		}
		_, err := planFor(t, withMount(tc.m), h)
		if err == nil || !strings.Contains(err.Error(), "mounts[7]") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
}

// planWith is planFor with the planner edited before it compiles (its
// cgroup hierarchy, say).
func planWith(t *testing.T, s *rspec.Spec, h *fakeHost, edit func(*planner)) (*planner, error) {
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
	edit(p)
	err = p.compileCreate(r)
	t.Cleanup(p.closeFiles)
	return p, err
}
