package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// The systemd cgroup driver on a host where no systemd answers (this
// machine and CI run none; make systemd-test runs the driver under a real
// one): create fails naming what it tried, and leaves nothing.
func TestSystemdDriverWithoutSystemd(t *testing.T) {
	if fi, err := os.Stat("/run/systemd/system"); err == nil && fi.IsDir() {
		t.Skip("this host runs systemd: the driver is tested by make systemd-test")
	}
	hh := newH(t)
	name := id(t)
	b := hh.bundle(func(s *rspec.Spec) { s.Linux.CgroupsPath = "system.slice:sd-husk:" + name }, "true")
	before := takeSnapshot(t)
	hh.extra = []string{"--systemd-cgroup"}
	r := hh.husk("run", "--bundle", b, name)
	if r.code == 0 {
		t.Fatalf("run succeeded without systemd: %s", r)
	}
	for _, w := range []string{"no systemd answers", "/run/systemd/private", "system bus"} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("error does not say %q: %s", w, r)
		}
	}
	hh.assertClean(name, "", filepath.Join(b, "rootfs"), before)
	if e := hh.stateEntries(); len(e) != 0 {
		t.Errorf("state root has entries: %v", e)
	}
	for _, d := range cgroupMounts(t) {
		if _, err := os.Stat(filepath.Join(d, "system.slice", "sd-husk-"+name+".scope")); err == nil {
			t.Errorf("cgroup %s/system.slice/sd-husk-%s.scope made", d, name)
		}
	}
	// A bad systemd cgroupsPath is refused before anything else.
	b2 := hh.bundle(func(s *rspec.Spec) { s.Linux.CgroupsPath = "/husk/" + name }, "true")
	if r := hh.husk("run", "--bundle", b2, name); r.code == 0 || !strings.Contains(r.stderr, `"slice:prefix:name"`) {
		t.Errorf("cgroupfs path with --systemd-cgroup: %s", r)
	}
	hh.assertClean(name, "", "", before)
}

// Without husk-systemd beside husk or on PATH, the error says where it
// was looked for.
func TestSystemdDriverWithoutHelper(t *testing.T) {
	hh := newH(t)
	lone := filepath.Join(hh.dir, "lone")
	os.MkdirAll(lone, 0o755)
	data, err := os.ReadFile(*huskBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(lone, "husk"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	saved := *huskBin
	*huskBin = filepath.Join(lone, "husk")
	defer func() { *huskBin = saved }()
	name := id(t)
	b := hh.bundle(func(s *rspec.Spec) { s.Linux.CgroupsPath = "system.slice:sd-husk:" + name }, "true")
	// A PATH without husk-systemd (the cgroup v2 VM has it in /bin).
	t.Setenv("PATH", lone)
	before := takeSnapshot(t)
	hh.extra = []string{"--systemd-cgroup"}
	r := hh.husk("run", "--bundle", b, name)
	if r.code == 0 || !strings.Contains(r.stderr, "husk-systemd") || !strings.Contains(r.stderr, lone) {
		t.Errorf("run without the helper: %s", r)
	}
	hh.assertClean(name, "", filepath.Join(b, "rootfs"), before)
}
