package integration

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// pause, resume, update, ps and events --stats on a running container, as
// containerd and docker use them; checked in the cgroup files, so on a
// hybrid host (v1 freezer and memory) and a pure cgroup v2 one alike.
func TestManageCommands(t *testing.T) {
	hh := newH(t)
	name, st := hh.startSleeper(func(s *rspec.Spec) {
		s.Linux.Resources.Memory = &rspec.LinuxMemory{Limit: i64p(64 << 20)}
		s.Linux.Resources.Pids = &rspec.LinuxPids{Limit: pidsLimit(20)}
	})
	cg := name // the default: <name>, relative (see cgroupIn)

	// pause / resume: the freezer, and the status.
	var freezer, frozen, thawed string
	if pureV2() {
		freezer, frozen, thawed = filepath.Join(cgroupDir(t, "", cg), "cgroup.freeze"), "1", "0"
	} else {
		freezer, frozen, thawed = filepath.Join(cgroupDir(t, "freezer", cg), "freezer.state"), "FROZEN", "THAWED"
	}
	hh.must("pause", name)
	if s := hh.state(name).Status; s != "paused" {
		t.Errorf("status after pause: %q", s)
	}
	if got := readTrim(t, freezer); got != frozen {
		t.Errorf("%s after pause: %q, want %q", freezer, got, frozen)
	}
	if r := hh.husk("exec", name, "true"); r.code == 0 {
		t.Errorf("exec into a paused container succeeded: %s", r)
	}
	hh.must("resume", name)
	if s := hh.state(name).Status; s != "running" {
		t.Errorf("status after resume: %q", s)
	}
	if got := readTrim(t, freezer); got != thawed {
		t.Errorf("%s after resume: %q, want %q", freezer, got, thawed)
	}

	// update: flags and a resources document.
	memCtrl, memFile := memoryLimitFile()
	hh.must("update", "--memory", "128m", "--pids-limit", "30", name)
	if got := readTrim(t, filepath.Join(cgroupDir(t, memCtrl, cg), memFile)); got != strconv.Itoa(128<<20) {
		t.Errorf("%s after update --memory 128m: %q", memFile, got)
	}
	if got := readTrim(t, filepath.Join(cgroupDir(t, ctrlDir("pids"), cg), "pids.max")); got != "30" {
		t.Errorf("pids.max after update --pids-limit 30: %q", got)
	}
	if r := hh.huskIn([]byte(`{"pids": {"limit": 40}}`), "update", "--resources", "-", name); r.code != 0 {
		t.Fatalf("update --resources -: %s", r)
	}
	if got := readTrim(t, filepath.Join(cgroupDir(t, ctrlDir("pids"), cg), "pids.max")); got != "40" {
		t.Errorf("pids.max after update --resources: %q", got)
	}
	// The memory limit set before is kept (a document updates only what it
	// names), also in the config a later command reads.
	if got := readTrim(t, filepath.Join(cgroupDir(t, memCtrl, cg), memFile)); got != strconv.Itoa(128<<20) {
		t.Errorf("%s after an update of pids only: %q", memFile, got)
	}
	if r := hh.husk("update", "--memory", "lots", name); r.code == 0 || !strings.Contains(r.stderr, "memory") {
		t.Errorf("update --memory lots: %s", r)
	}

	// ps: the init's host pid.
	var pids []int
	if err := json.Unmarshal([]byte(hh.must("ps", "--format", "json", name)), &pids); err != nil || len(pids) != 1 || pids[0] != st.Pid {
		t.Errorf("ps --format json: %v %v, want [%d]", pids, err, st.Pid)
	}

	// events --stats: one JSON line of runc's shape with the cgroup's use.
	var ev struct {
		Type string `json:"type"`
		ID   string `json:"id"`
		Data struct {
			Memory struct {
				Usage struct {
					Usage uint64 `json:"usage"`
					Limit uint64 `json:"limit"`
				} `json:"usage"`
			} `json:"memory"`
			Pids struct {
				Current uint64 `json:"current"`
				Limit   uint64 `json:"limit"`
			} `json:"pids"`
		} `json:"data"`
	}
	out := hh.must("events", "--stats", name)
	if err := json.Unmarshal([]byte(out), &ev); err != nil {
		t.Fatalf("events --stats: %v: %q", err, out)
	}
	if ev.Type != "stats" || ev.ID != name || ev.Data.Memory.Usage.Usage == 0 || ev.Data.Memory.Usage.Limit != 128<<20 ||
		ev.Data.Pids.Current != 1 || ev.Data.Pids.Limit != 40 {
		t.Errorf("events --stats: %+v from %q", ev, out)
	}
	hh.must("delete", "--force", name)
	if _, err := os.Stat(cgroupDir(t, memCtrl, cg)); err == nil {
		t.Errorf("cgroup %s left behind", cg)
	}
}

// delete --force of a paused container kills it although it is frozen
// (runc thaws it): at once, leaving no process and no cgroup.
func TestDeleteForcePaused(t *testing.T) {
	hh := newH(t)
	name, st := hh.startSleeper(nil)
	hh.must("pause", name)
	start := time.Now()
	hh.must("delete", "--force", name)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("delete --force of a paused container took %v", d)
	}
	// Gone, or a zombie its reaper has yet to collect.
	if data, err := os.ReadFile("/proc/" + strconv.Itoa(st.Pid) + "/stat"); err == nil {
		if f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:])); len(f) > 0 && f[0] != "Z" {
			t.Errorf("the init (pid %d) outlived delete --force: state %s", st.Pid, f[0])
		}
	}
	assertNoCgroup(t, "/husk/"+name)
}

// A created container can be paused and resumed, as with runc; it is
// created again after resume, and start then runs it.
func TestPauseCreated(t *testing.T) {
	hh := newH(t)
	b := hh.bundle(nil, "sleep", "1000")
	name := id(t)
	hh.must("create", "--bundle", b, name)
	hh.must("pause", name)
	if s := hh.state(name).Status; s != "paused" {
		t.Errorf("status of a paused created container: %q", s)
	}
	if r := hh.husk("start", name); r.code == 0 {
		t.Errorf("start of a paused container succeeded: %s", r)
	}
	hh.must("resume", name)
	if s := hh.state(name).Status; s != "created" {
		t.Errorf("status after resume: %q", s)
	}
	hh.must("start", name)
	hh.waitStatus(name, "running")
	hh.must("delete", "--force", name)
}
