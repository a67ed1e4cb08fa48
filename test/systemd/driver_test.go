package systemd

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// TestLifecycle runs a container in a scope and drives it through every
// command that touches its cgroup.
func TestLifecycle(t *testing.T) {
	id := "sd-life"
	unit := "sd-husk-" + id + ".scope"
	res := &rspec.LinuxResources{
		Memory: &rspec.LinuxMemory{Limit: i64(64 << 20)},
		CPU:    &rspec.LinuxCPU{Shares: u64(512), Quota: i64(20000), Period: u64(100000)},
		Pids:   &rspec.LinuxPids{Limit: i64(64)},
	}
	dir := bundle(t, "system.slice:sd-husk:"+id, res, "sleep", "1000")
	// systemd's slice is systemd's: it enables there what the scope's
	// properties need (cpu, cpuset, io, memory, pids); husk itself adds
	// nothing (runc's cgroupfs code enables every controller it finds).
	sliceControl := "/sys/fs/cgroup/system.slice/cgroup.subtree_control"
	if !unified {
		sliceControl = "/sys/fs/cgroup/unified/system.slice/cgroup.subtree_control"
	}
	before := readFile(sliceControl)
	startContainer(t, *huskBin, id, dir)
	for _, c := range strings.Fields(readFile(sliceControl)) {
		if !strings.Contains(" "+before+" ", " "+c+" ") && !strings.Contains(" cpuset cpu io memory pids ", " "+c+" ") {
			t.Errorf("%s: controller %s enabled (was %q)", sliceControl, c, before)
		}
	}

	p := unitProps(t, unit, "ActiveState", "Delegate", "Slice", "ControlGroup", "TasksMax", "MainPID")
	if p["ActiveState"] != "active" || p["Delegate"] != "yes" || p["Slice"] != "system.slice" ||
		p["ControlGroup"] != "/system.slice/"+unit || p["TasksMax"] != "64" {
		t.Fatalf("unit %s: %v", unit, p)
	}
	pid := initPid(t, *huskBin, id)
	dirs := cgroupDirs(t, pid)
	for k, d := range dirs {
		if !strings.HasSuffix(d, "/"+unit) && k != "misc" {
			t.Errorf("init %s is in %s cgroup %s, not in %s", pid, k, d, unit)
		}
	}

	// ps lists the init; exec joins the scope.
	if out := mustRun(t, *huskBin, "--root", stateRoot+"/husk", "--systemd-cgroup", "ps", "--format", "json", id); !strings.Contains(out, pid) {
		t.Errorf("ps %s: %s does not list %s", id, out, pid)
	}
	out := mustRun(t, *huskBin, "--root", stateRoot+"/husk", "--systemd-cgroup", "exec", id, "cat", "/proc/self/cgroup")
	if !strings.Contains(out, unit) {
		t.Errorf("exec'd process cgroups:\n%s\nnot in %s", out, unit)
	}

	// update: the property and the file.
	mustRun(t, *huskBin, "--root", stateRoot+"/husk", "--systemd-cgroup", "update", "--memory", "100000000", "--pids-limit", "80", id)
	p = unitProps(t, unit, "MemoryMax", "MemoryLimit", "TasksMax")
	mem, file := p["MemoryMax"], dirs["unified"]+"/memory.max"
	if !unified {
		mem, file = p["MemoryLimit"], dirs["memory"]+"/memory.limit_in_bytes"
	}
	if mem != "99999744" && mem != "100000000" || p["TasksMax"] != "80" {
		t.Errorf("after update: %v", p)
	}
	if got := readFile(file); got != "99999744" && got != "100000000" {
		t.Errorf("%s = %s after update", file, got)
	}

	// pause / resume.
	mustRun(t, *huskBin, "--root", stateRoot+"/husk", "pause", id)
	if st := mustRun(t, *huskBin, "--root", stateRoot+"/husk", "state", id); !strings.Contains(st, `"paused"`) {
		t.Errorf("after pause: %s", st)
	}
	mustRun(t, *huskBin, "--root", stateRoot+"/husk", "resume", id)
	if st := mustRun(t, *huskBin, "--root", stateRoot+"/husk", "state", id); !strings.Contains(st, `"running"`) {
		t.Errorf("after resume: %s", st)
	}

	// events --stats: the memory limit as the unit has it.
	out = mustRun(t, *huskBin, "--root", stateRoot+"/husk", "events", "--stats", id)
	var ev struct {
		Data struct {
			Memory struct {
				Usage struct{ Limit uint64 }
			}
			Pids struct{ Current uint64 }
		}
	}
	if err := json.Unmarshal([]byte(out), &ev); err != nil || ev.Data.Pids.Current == 0 {
		t.Errorf("events --stats: %v\n%s", err, out)
	}

	// kill --all, then delete: the unit and its directories go.
	mustRun(t, *huskBin, "--root", stateRoot+"/husk", "kill", "--all", id, "KILL")
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(mustRun(t, *huskBin, "--root", stateRoot+"/husk", "state", id), `"stopped"`) {
		if time.Now().After(deadline) {
			t.Fatal("container not stopped 5 s after kill --all")
		}
		time.Sleep(20 * time.Millisecond)
	}
	mustRun(t, *huskBin, "--root", stateRoot+"/husk", "--systemd-cgroup", "delete", id)
	if !unitGone(t, unit) {
		t.Errorf("unit %s still there after delete: %v", unit, unitProps(t, unit, "LoadState", "ActiveState"))
	}
	for k, d := range dirs {
		if exists(d) && k != "misc" {
			t.Errorf("%s cgroup %s left after delete", k, d)
		}
	}
}

// TestDeleteForceRunning stops the scope of a running container.
func TestDeleteForceRunning(t *testing.T) {
	id := "sd-force"
	unit := "sd-husk-" + id + ".scope"
	startContainer(t, *huskBin, id, bundle(t, "system.slice:sd-husk:"+id, nil, "sleep", "1000"))
	dirs := cgroupDirs(t, initPid(t, *huskBin, id))
	mustRun(t, *huskBin, "--root", stateRoot+"/husk", "--systemd-cgroup", "delete", "--force", id)
	if !unitGone(t, unit) {
		t.Errorf("unit %s still there", unit)
	}
	for k, d := range dirs {
		if exists(d) && k != "misc" {
			t.Errorf("%s cgroup %s left", k, d)
		}
	}
	if exists(stateRoot + "/husk/" + id) {
		t.Error("state left")
	}
}

// TestExitedContainer: systemd collects the scope when the init exits;
// delete still succeeds and leaves nothing.
func TestExitedContainer(t *testing.T) {
	id := "sd-exit"
	unit := "sd-husk-" + id + ".scope"
	dir := bundle(t, "system.slice:sd-husk:"+id, nil, "true")
	if out, err := runtime(*huskBin, "run", "--bundle", dir, id); err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	if !unitGone(t, unit) {
		t.Errorf("unit %s still there after its only process exited", unit)
	}
}

// TestDefaultAndNestedSlices: the unit for an empty cgroupsPath, and a
// scope in a slice systemd nests by its dashes (as the kubelet's).
func TestDefaultAndNestedSlices(t *testing.T) {
	for _, tc := range []struct{ id, path, unit, cgroup string }{
		{"sd-default", "", "husk-sd-default.scope", "/system.slice/husk-sd-default.scope"},
		{"sd-nested", "sdtest-besteffort-pod1f2e.slice:cri-containerd:sd-nested", "cri-containerd-sd-nested.scope",
			"/sdtest.slice/sdtest-besteffort.slice/sdtest-besteffort-pod1f2e.slice/cri-containerd-sd-nested.scope"},
	} {
		startContainer(t, *huskBin, tc.id, bundle(t, tc.path, nil, "sleep", "1000"))
		if p := unitProps(t, tc.unit, "ControlGroup", "ActiveState"); p["ControlGroup"] != tc.cgroup || p["ActiveState"] != "active" {
			t.Errorf("%s: %v, want ControlGroup=%s", tc.unit, p, tc.cgroup)
		}
		mustRun(t, *huskBin, "--root", stateRoot+"/husk", "--systemd-cgroup", "delete", "--force", tc.id)
	}
}

// TestUnitExists: a unit of the same name that is not husk's is refused
// and left running.
func TestUnitExists(t *testing.T) {
	id := "sd-taken"
	unit := "sd-husk-" + id + ".scope"
	other := exec.Command("systemd-run", "--scope", "--unit", unit, "--quiet", "sleep", "1000")
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { run("systemctl", "stop", unit); other.Wait() }()
	deadline := time.Now().Add(5 * time.Second)
	for unitProps(t, unit, "ActiveState")["ActiveState"] != "active" {
		if time.Now().After(deadline) {
			t.Fatal("systemd-run's scope did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	out, err := runtime(*huskBin, "run", "--detach", "--bundle", bundle(t, "system.slice:sd-husk:"+id, nil, "sleep", "1000"), id)
	if err == nil {
		runtime(*huskBin, "delete", "--force", id)
		t.Fatal("husk ran a container in a unit that was not its own")
	}
	if !strings.Contains(out, "already exists") || !strings.Contains(out, unit) {
		t.Errorf("error does not say the unit exists:\n%s", out)
	}
	if st := unitProps(t, unit, "ActiveState")["ActiveState"]; st != "active" {
		t.Errorf("the other scope is %s after husk's failure", st)
	}
	if exists(stateRoot + "/husk/" + id) {
		t.Error("state left")
	}
}

// TestNoSystemd: without systemd on the bus (its sockets hidden in a
// mount namespace), --systemd-cgroup fails saying what it tried and
// leaves nothing.
func TestNoSystemd(t *testing.T) {
	id := "sd-nobus"
	dir := bundle(t, "system.slice:sd-husk:"+id, nil, "true")
	script := "mount -t tmpfs none /run/systemd && mount -t tmpfs none /run/dbus && exec \"$@\""
	out, err := run("unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", *huskBin,
		"--root", stateRoot+"/husk", "--systemd-cgroup", "run", "--bundle", dir, id)
	if err == nil {
		t.Fatalf("husk ran without systemd:\n%s", out)
	}
	for _, want := range []string{"no systemd answers", "/run/systemd/private", "system_bus_socket"} {
		if !strings.Contains(out, want) {
			t.Errorf("error lacks %q:\n%s", want, out)
		}
	}
	if exists(stateRoot + "/husk/" + id) {
		t.Error("state left")
	}
	if p := unitProps(t, "sd-husk-"+id+".scope", "LoadState"); p["LoadState"] != "not-found" {
		t.Errorf("unit: %v", p)
	}
}

// TestBadPath: a cgroupsPath that is not "slice:prefix:name".
func TestBadPath(t *testing.T) {
	id := "sd-badpath"
	out, err := runtime(*huskBin, "run", "--bundle", bundle(t, "/husk/"+id, nil, "true"), id)
	if err == nil || !strings.Contains(out, `linux.cgroupsPath "/husk/sd-badpath"`) || !strings.Contains(out, "slice:prefix:name") {
		t.Errorf("err %v:\n%s", err, out)
	}
	if exists(stateRoot + "/husk/" + id) {
		t.Error("state left")
	}
}

// TestKilledCreate: husk killed while it creates leaves what `delete
// --force` removes, the scope included.
func TestKilledCreate(t *testing.T) {
	id := "sd-killed"
	unit := "sd-husk-" + id + ".scope"
	dir := bundle(t, "system.slice:sd-husk:"+id, nil, "sleep", "1000")
	// A createRuntime hook that waits for husk to die holds create after
	// the scope is made.
	s, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var spec rspec.Spec
	json.Unmarshal(s, &spec)
	spec.Hooks = &rspec.Hooks{CreateRuntime: []rspec.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "while kill -0 $PPID 2>/dev/null; do sleep 0.05; done"}}}}
	b, _ := json.Marshal(&spec)
	os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644)

	cmd := exec.Command(*huskBin, "--root", stateRoot+"/husk", "--systemd-cgroup", "create", "--bundle", dir, id)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for unitProps(t, unit, "ActiveState")["ActiveState"] != "active" {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatal("scope not made within 10 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	mustRun(t, *huskBin, "--root", stateRoot+"/husk", "--systemd-cgroup", "delete", "--force", id)
	if !unitGone(t, unit) {
		t.Errorf("unit %s left after delete --force", unit)
	}
	if exists(stateRoot + "/husk/" + id) {
		t.Error("state left")
	}
}

// TestOOMEvent: a process of the scope killed by the OOM killer shows in
// husk events, as with the cgroupfs driver.
func TestOOMEvent(t *testing.T) {
	id := "sd-oom"
	res := &rspec.LinuxResources{Memory: &rspec.LinuxMemory{Limit: i64(16 << 20), Swap: i64(16 << 20)}}
	startContainer(t, *huskBin, id, bundle(t, "system.slice:sd-husk:"+id, res, "sleep", "1000"))
	out, err := os.CreateTemp("", "sd-events-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(out.Name())
	ev := exec.Command(*huskBin, "--root", stateRoot+"/husk", "events", "--interval", "1h", id)
	ev.Stdout = out
	if err := ev.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { ev.Process.Kill(); ev.Wait() }()
	time.Sleep(300 * time.Millisecond)
	// dd fills a 64 MiB buffer: far over the limit.
	runtime(*huskBin, "exec", id, "dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1")
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(out.Name())
		if strings.Contains(string(b), `"type":"oom"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no oom event within 10 s:\n%s", b)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if st := unitProps(t, "sd-husk-"+id+".scope", "ActiveState")["ActiveState"]; st != "active" {
		t.Errorf("scope %s after the OOM kill of one process (systemd must leave the container to its runtime)", st)
	}
}
