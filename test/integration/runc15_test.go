package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// The cgroup behaviour of runc 1.5 that husk shares (test/parity compares
// the two; these run without runc).

// An existing empty cgroup is used, and left in place at delete; one with
// a process in it, or frozen, is refused.
func TestCgroupExisting(t *testing.T) {
	hh := newH(t)
	ctrl := ctrlDir("pids")
	cg := uniqueID("/husk-existing")
	dir := cgroupDir(t, ctrl, cg)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(dir) })
	removeCgroupLater(t, cg)
	name, st := hh.startSleeper(func(s *rspec.Spec) { s.Linux.CgroupsPath = cg })
	if got := readTrim(t, filepath.Join(dir, "cgroup.procs")); got != strconv.Itoa(st.Pid) {
		t.Errorf("%s/cgroup.procs = %q, want the init %d", dir, got, st.Pid)
	}
	// A second container for the same cgroup: not empty any more.
	b := hh.bundle(func(s *rspec.Spec) { s.Linux.CgroupsPath = cg }, "true")
	if r := hh.husk("create", "--bundle", b, id(t)); r.code == 0 || !strings.Contains(r.stderr, "not empty") {
		t.Errorf("create in a cgroup with a process: %s", r)
	}
	hh.must("delete", "--force", name)
	if _, err := os.Stat(dir); err != nil {
		t.Errorf("the cgroup husk did not make was removed: %v", err)
	}
	for _, m := range cgroupMounts(t) {
		if d := cgroupIn(t, m, cg); d != dir {
			if _, err := os.Stat(d); err == nil {
				t.Errorf("cgroup %s, which husk made, left behind", d)
			}
		}
	}

	// Frozen.
	var freezer, file, frozen string
	if pureV2() {
		freezer, file, frozen = "", "cgroup.freeze", "1"
	} else {
		freezer, file, frozen = "freezer", "freezer.state", "FROZEN"
	}
	fdir := cgroupDir(t, freezer, cg)
	if fdir != dir {
		if err := os.Mkdir(fdir, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove(fdir) })
	}
	if err := os.WriteFile(filepath.Join(fdir, file), []byte(frozen), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		os.WriteFile(filepath.Join(fdir, file), []byte(map[bool]string{true: "0", false: "THAWED"}[pureV2()]), 0o644)
	})
	if r := hh.husk("run", "--bundle", b, id(t)); r.code == 0 || !strings.Contains(r.stderr, "frozen") {
		t.Errorf("run in a frozen cgroup: %s", r)
	}
}

// update as runc 1.5: its flag names, 0 pids is 1, a resources file wins
// over flags, kernel memory is ignored with a warning, devices stay.
func TestUpdateAsRunc(t *testing.T) {
	hh := newH(t)
	name, _ := hh.startSleeper(func(s *rspec.Spec) {
		s.Linux.Resources.Pids = &rspec.LinuxPids{Limit: pidsLimit(0)}
	})
	pidsMax := filepath.Join(cgroupDir(t, ctrlDir("pids"), name), "pids.max")
	if got := readTrim(t, pidsMax); got != "1" {
		t.Errorf("pids.max with linux.resources.pids.limit 0: %q, want 1", got)
	}
	hh.must("update", "--pids-limit", "20", name)
	hh.must("update", "--pids-limit", "0", name)
	if got := readTrim(t, pidsMax); got != "1" {
		t.Errorf("pids.max after update --pids-limit 0: %q, want 1", got)
	}
	res := filepath.Join(hh.dir, "res.json")
	if err := os.WriteFile(res, []byte(`{"pids":{"limit":30},"devices":[{"allow":false,"access":"rwm"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	hh.must("update", "-r", res, "--pids-limit", "99", name)
	if got := readTrim(t, pidsMax); got != "30" {
		t.Errorf("pids.max after update -r (limit 30) --pids-limit 99: %q, want 30", got)
	}
	// The devices of the file are not applied: /dev/null still works.
	if r := hh.husk("exec", name, "sh", "-c", "echo x > /dev/null"); r.code != 0 {
		t.Errorf("/dev/null after an update with device rules: %s", r)
	}
	r := hh.husk("update", "--kernel-memory-tcp", "64m", name)
	if r.code != 0 || !strings.Contains(r.stderr, "kernel memory") {
		t.Errorf("update --kernel-memory-tcp: %s, want a warning", r)
	}
	if r := hh.husk("update", "--cpu-shares", "512", name); r.code == 0 {
		t.Errorf("update --cpu-shares (not runc's spelling) succeeded: %s", r)
	}
	hh.must("update", "--cpu-share", "512", name)
	if !pureV2() {
		if got := readTrim(t, filepath.Join(cgroupDir(t, "cpu", name), "cpu.shares")); got != "512" {
			t.Errorf("cpu.shares after update --cpu-share 512: %q", got)
		}
	}
	hh.must("delete", "--force", name)
}

// exec --cgroup runs the process in a sub-cgroup; a paused container
// refuses an exec without --ignore-paused.
func TestExecCgroupAndPaused(t *testing.T) {
	hh := newH(t)
	name, _ := hh.startSleeper(nil)
	ctrl := ctrlDir("pids")
	sub := filepath.Join(cgroupDir(t, ctrl, name), "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	arg := "sub"
	if ctrl != "" {
		arg = "pids:sub"
	}
	out := hh.must("exec", "--cgroup", arg, name, "cat", "/proc/self/cgroup")
	want := relativeCgroups(t, name)
	key := ""
	for k := range want {
		if ctrl == "" && k == "" || ctrl != "" && strings.Contains(","+k+",", ",pids,") {
			key = k
		}
	}
	if got := parseCgroupFile(out)[key]; got != want[key]+"/sub" {
		t.Errorf("exec --cgroup %s: %q hierarchy at %q, want %q", arg, key, got, want[key]+"/sub")
	}
	if r := hh.husk("exec", "--cgroup", "nosuch", name, "true"); r.code == 0 {
		t.Errorf("exec --cgroup nosuch: %s", r)
	}
	if r := hh.husk("exec", "--cgroup", "../..", name, "true"); r.code == 0 || !strings.Contains(r.stderr, "not below") {
		t.Errorf("exec --cgroup ../..: %s", r)
	}
	// --ignore-paused lets an exec into a paused container start (where
	// it freezes, and husk with it, as runc does); a running one is fine.
	hh.must("exec", "--ignore-paused", name, "true")
	hh.must("pause", name)
	if r := hh.husk("exec", name, "true"); r.code == 0 || !strings.Contains(r.stderr, "paused") {
		t.Errorf("exec in a paused container: %s", r)
	}
	hh.must("resume", name)
	hh.must("delete", "--force", name)
}

// linux.netDevices: a host device moves into the container (renamed, with
// its address, up), and goes with the container's network namespace.
func TestNetDevices(t *testing.T) {
	hh := newH(t)
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("no ip(8) on this host")
	}
	dev := fmt.Sprintf("hnd%d", os.Getpid()%100000)
	if out, err := exec.Command("ip", "link", "add", dev, "type", "veth", "peer", "name", dev+"p").CombinedOutput(); err != nil {
		t.Skipf("cannot make a veth pair: %s", out)
	}
	t.Cleanup(func() {
		exec.Command("ip", "link", "del", dev).Run()
		exec.Command("ip", "link", "del", dev+"p").Run()
	})
	if out, err := exec.Command("ip", "addr", "add", "192.0.2.9/24", "dev", dev).CombinedOutput(); err != nil {
		t.Fatalf("ip addr add: %s", out)
	}
	name, _ := hh.startSleeper(func(s *rspec.Spec) {
		s.Linux.NetDevices = map[string]rspec.LinuxNetDevice{dev: {Name: "ctr0"}}
	})
	out := hh.must("exec", name, "sh", "-c", "ip -o link show ctr0; ip -o -4 addr show ctr0; ip -o link show lo")
	if !strings.Contains(out, "ctr0") || !strings.Contains(out, "192.0.2.9/24") || !strings.Contains(out, "LOOPBACK,UP") {
		t.Errorf("in the container: %q, want ctr0 with 192.0.2.9/24, and lo up", out)
	}
	if exec.Command("ip", "link", "show", dev).Run() == nil {
		t.Errorf("%s still on the host", dev)
	}
	hh.must("delete", "--force", name)
	// A veth goes with the namespace, its peer with it: the kernel
	// destroys a namespace in the background, so give it a moment.
	gone := false
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if exec.Command("ip", "link", "show", dev+"p").Run() != nil {
			gone = true
			break
		}
	}
	if !gone {
		t.Errorf("the veth peer %sp is still on the host 10 s after delete", dev)
	}

	for _, tc := range []struct {
		name string
		edit func(*rspec.Spec)
		want string
	}{
		{"missing device", func(s *rspec.Spec) {
			s.Linux.NetDevices = map[string]rspec.LinuxNetDevice{"hndnosuch0": {}}
		}, "no such network device"},
		{"no network namespace", func(s *rspec.Spec) {
			var nss []rspec.LinuxNamespace
			for _, ns := range s.Linux.Namespaces {
				if ns.Type != rspec.NetworkNamespace {
					nss = append(nss, ns)
				}
			}
			s.Linux.Namespaces = nss
			s.Linux.NetDevices = map[string]rspec.LinuxNetDevice{"lo": {}}
		}, "needs a network namespace"},
	} {
		before := takeSnapshot(t)
		b := hh.bundle(tc.edit, "true")
		n := id(t)
		if r := hh.husk("run", "--bundle", b, n); r.code == 0 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%s: %s, want %q", tc.name, r, tc.want)
		}
		hh.assertClean(n, "", filepath.Join(b, "rootfs"), before)
	}
}
