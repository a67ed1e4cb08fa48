package systemd

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/husk-runtime/husk/cgroups"
)

// fakeSystemd plays systemd for the Manager: a started unit gets its
// directory (with cgroup.procs) in every hierarchy it manages, and a
// stopped one loses it.
type fakeSystemd struct {
	h        *cgroups.Hierarchy
	manages  []string // the hierarchies (Paths keys) it makes the unit in
	units    map[string]map[string]string
	calls    []string
	started  []Property
	set      []Property
	startErr error
	closed   int
}

func (f *fakeSystemd) Version() int { return 252 }

func (f *fakeSystemd) StartTransientUnit(name string, props []Property) error {
	f.calls = append(f.calls, "start "+name)
	if f.startErr != nil {
		return f.startErr
	}
	if _, ok := f.units[name]; ok {
		return ErrUnitExists
	}
	var slice string
	for _, p := range props {
		if p.Name == "Slice" {
			slice = p.Value.(string)
		}
	}
	paths, err := Paths(f.h, Unit{Slice: slice, Name: name})
	if err != nil {
		return err
	}
	made := map[string]string{}
	for _, k := range f.manages {
		if err := os.MkdirAll(paths[k], 0o755); err != nil {
			return err
		}
		// The files the tests write, as the kernel makes them.
		for _, f := range []string{"cgroup.procs", "pids.max", "memory.max"} {
			os.WriteFile(filepath.Join(paths[k], f), nil, 0o644)
		}
		made[k] = paths[k]
	}
	f.units[name] = made
	f.started = props
	return nil
}

func (f *fakeSystemd) SetUnitProperties(name string, props []Property) error {
	f.calls = append(f.calls, "set "+name)
	f.set = props
	return nil
}

func (f *fakeSystemd) StopUnit(name string) error {
	f.calls = append(f.calls, "stop "+name)
	for _, d := range f.units[name] {
		os.RemoveAll(d)
	}
	delete(f.units, name)
	return nil
}

func (f *fakeSystemd) ResetFailedUnit(name string) error {
	f.calls = append(f.calls, "reset "+name)
	return nil
}

func (f *fakeSystemd) Close() error { f.closed++; return nil }

func newFake(t *testing.T, unified bool) (*fakeSystemd, Options) {
	root := t.TempDir()
	h := &cgroups.Hierarchy{Unified: root + "/unified"}
	manages := []string{"unified"}
	if !unified {
		h.V1 = map[string]string{"memory": root + "/memory", "pids": root + "/pids"}
		manages = []string{"memory", "pids", "unified"}
	}
	f := &fakeSystemd{h: h, manages: manages, units: map[string]map[string]string{}}
	return f, Options{Connect: func() (Bus, error) { return f, nil }}
}

func needRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the driver refuses to run without root")
	}
}

func TestManagerLifecycle(t *testing.T) {
	needRoot(t)
	f, opts := newFake(t, true)
	m, err := New(f.h, "system.slice:sd:c1", "c1", opts)
	if err != nil {
		t.Fatal(err)
	}
	dir := f.h.Unified + "/system.slice/sd-c1.scope"
	if st := m.Intent(); st.Unit != "sd-c1.scope" || !slices.Equal(st.Created, []string{dir}) || st.Paths["unified"] != dir {
		t.Errorf("intent %+v", st)
	}
	res := &rspec.LinuxResources{Pids: &rspec.LinuxPids{Limit: p64(10)}}
	if err := m.Create(res); err != nil {
		t.Fatal(err)
	}
	if len(f.calls) != 0 {
		t.Errorf("Create called systemd: %v", f.calls)
	}
	if err := m.Apply(res); err != nil {
		t.Fatal(err)
	}
	// AddProc starts the unit with the init as its process.
	if err := m.AddProc(4242); err != nil {
		t.Fatalf("AddProc: %v (calls %v)", err, f.calls)
	}
	got := props(f.started)
	for _, want := range []string{"Slice=system.slice", "Delegate=true", "PIDs=[4242]", "TasksMax=10", "IOAccounting=true", "DefaultDependencies=false"} {
		if !slices.Contains(got, want) {
			t.Errorf("start properties lack %s: %q", want, got)
		}
	}
	if f.closed != 1 {
		t.Errorf("bus closed %d times after the start, want 1", f.closed)
	}
	if st := m.State(); st.Unit != "sd-c1.scope" || !slices.Equal(st.Created, []string{dir}) {
		t.Errorf("state %+v", st)
	}
	// A later command loads the manager and updates through systemd.
	l := Load(f.h, m.State(), opts)
	if err := l.Update(&rspec.LinuxResources{Memory: &rspec.LinuxMemory{Limit: p64(1 << 20)}}); err != nil {
		t.Fatal(err)
	}
	if got := props(f.set); !slices.Equal(got, []string{"MemoryMax=1048576"}) {
		t.Errorf("update properties %q", got)
	}
	if b, _ := os.ReadFile(dir + "/memory.max"); string(b) != "1048576" {
		t.Errorf("memory.max = %q after update", b)
	}
	// Delete stops the unit; its directory goes.
	if err := Load(f.h, m.State(), opts).Destroy(); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(f.calls, "stop sd-c1.scope") {
		t.Errorf("calls %v: no stop", f.calls)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s left: %v", dir, err)
	}
}

// On v1, husk makes the hierarchies systemd does not manage, joins the
// init to them and removes them on Destroy.
func TestManagerV1MissingHierarchies(t *testing.T) {
	needRoot(t)
	f, opts := newFake(t, false)
	f.manages = []string{"memory", "unified"}
	m, err := New(f.h, "system.slice:sd:c2", "c2", opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Create(nil); err != nil {
		t.Fatal(err)
	}
	// The pids hierarchy is a plain directory here: cgroup.procs appears
	// only when the kernel makes a cgroup, so AddProc's write fails, after
	// the directories are recorded for Destroy.
	err = m.AddProc(77)
	pidsDir := f.h.V1["pids"] + "/system.slice/sd-c2.scope"
	if err == nil || !strings.Contains(err.Error(), pidsDir) {
		t.Errorf("AddProc: %v", err)
	}
	st := m.State()
	for _, d := range []string{f.h.V1["pids"] + "/system.slice", pidsDir} {
		if !slices.Contains(st.Created, d) {
			t.Errorf("created %v lacks %s", st.Created, d)
		}
	}
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	for _, d := range st.Created {
		if _, err := os.Stat(d); err == nil {
			t.Errorf("%s left after Destroy", d)
		}
	}
}

// A unit of that name that is not husk's: refused, and never stopped.
func TestManagerUnitExists(t *testing.T) {
	needRoot(t)
	f, opts := newFake(t, true)
	f.units["sd-c3.scope"] = map[string]string{}
	m, _ := New(f.h, "system.slice:sd:c3", "c3", opts)
	if err := m.Create(nil); err != nil {
		t.Fatal(err)
	}
	err := m.AddProc(5)
	if err == nil || !strings.Contains(err.Error(), "sd-c3.scope already exists") {
		t.Errorf("AddProc: %v", err)
	}
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	want := []string{"start sd-c3.scope", "reset sd-c3.scope", "start sd-c3.scope"}
	if !slices.Equal(f.calls, want) {
		t.Errorf("calls %v, want %v (no stop)", f.calls, want)
	}
}

// No systemd: Create fails with the connector's error; Destroy of that
// failed create needs no systemd.
func TestManagerNoSystemd(t *testing.T) {
	needRoot(t)
	h := &cgroups.Hierarchy{Unified: t.TempDir()}
	opts := Options{Connect: func() (Bus, error) { return nil, errors.New("no systemd answers on D-Bus: tried x") }}
	m, err := New(h, "", "c4", opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Create(nil); err == nil || !strings.Contains(err.Error(), "systemd cgroup driver: no systemd answers") {
		t.Errorf("Create: %v", err)
	}
	if err := m.Destroy(); err != nil {
		t.Errorf("Destroy: %v", err)
	}
	if _, err := New(h, "", "c4", Options{}); err == nil {
		t.Error("New without a connector succeeded")
	}
}
