package integration

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// logHook is a hook that appends "<name> <arg> <$HOOKVAR> <hostname>
// <mount ns> <state JSON>" to the file $LOG. sh is the shell to run it
// with (the host's, or the container's for startContainer).
func logHook(sh, name, logPath string) rspec.Hook {
	return rspec.Hook{
		Path: sh,
		Args: []string{"sh", "-c", `printf '%s %s %s %s %s ' "$1" "$2" "$HOOKVAR" "$(cat /proc/sys/kernel/hostname)" "$(readlink /proc/self/ns/mnt)" >> "$LOG"
			cat >> "$LOG"; echo >> "$LOG"`, "sh", name, "arg-" + name},
		Env: []string{"LOG=" + logPath, "HOOKVAR=val-" + name, "PATH=/usr/bin:/bin"},
	}
}

func failHook(msg string, code int) rspec.Hook {
	return rspec.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", "echo " + msg + "; exit " + strconv.Itoa(code)}}
}

func TestHooksAllKinds(t *testing.T) {
	hh := newH(t)
	logDir := filepath.Join(hh.dir, "hooklog")
	if err := os.Mkdir(logDir, 0o755); err != nil {
		t.Fatal(err)
	}
	hostLog := filepath.Join(logDir, "hooks.log")
	annotations := map[string]string{"org.example.hooks": "yes", "second": "2"}
	b := hh.bundle(func(s *rspec.Spec) {
		s.Hostname = "hooked"
		s.Annotations = annotations
		s.Mounts = append(s.Mounts, rspec.Mount{Destination: "/hooklog", Source: logDir, Options: []string{"bind"}})
		s.Hooks = &rspec.Hooks{
			Prestart:        []rspec.Hook{logHook("/bin/sh", "prestart", hostLog)},
			CreateRuntime:   []rspec.Hook{logHook("/bin/sh", "createRuntime", hostLog)},
			CreateContainer: []rspec.Hook{logHook("/bin/sh", "createContainer", hostLog)},
			// Resolved and run inside the container, after pivot_root.
			StartContainer: []rspec.Hook{logHook("/bin/sh", "startContainer", "/hooklog/hooks.log")},
			Poststart:      []rspec.Hook{logHook("/bin/sh", "poststart", hostLog)},
			Poststop:       []rspec.Hook{logHook("/bin/sh", "poststop", hostLog)},
		}
	}, "sh", "-c", "touch /hooklog/process-ran; exec sleep 1000")
	name := id(t)
	out, errOut := filepath.Join(hh.dir, "stdout"), filepath.Join(hh.dir, "stderr")
	if r := hh.createTo(out, errOut, "--bundle", b, name); r.code != 0 {
		t.Fatalf("create: %s", r)
	}
	created := hh.state(name)
	if data, _ := os.ReadFile(hostLog); strings.Contains(string(data), "startContainer") {
		t.Errorf("startContainer hook ran before start: %q", data)
	}
	// As runc does, poststart hooks run at the end of create, once the
	// init waits for start.
	if data, _ := os.ReadFile(hostLog); !strings.Contains(string(data), "poststart") {
		t.Errorf("poststart hook did not run during create: %q", data)
	}
	initMnt := nsLink(t, strconv.Itoa(created.Pid), "mnt")
	hh.must("start", name)
	hh.waitStatus(name, "running")
	pollUntil(t, func() bool { _, err := os.Stat(filepath.Join(logDir, "process-ran")); return err == nil })
	hh.must("kill", name, "KILL")
	hh.waitStatus(name, "stopped")
	hh.must("delete", name)

	recs := readHookLog(t, hostLog)
	var order []string
	for _, r := range recs {
		order = append(order, r.name)
	}
	want := []string{"prestart", "createRuntime", "createContainer", "poststart", "startContainer", "poststop"}
	if !reflect.DeepEqual(order, want) {
		t.Fatalf("hooks ran in order %v, want %v", order, want)
	}
	hostName, _ := os.Hostname()
	hostMnt := nsLink(t, "self", "mnt")
	for _, r := range recs {
		extra := strings.Fields(r.extra)
		if len(extra) != 4 {
			t.Errorf("%s: log %q", r.name, r.extra)
			continue
		}
		if extra[0] != "arg-"+r.name || extra[1] != "val-"+r.name {
			t.Errorf("%s: args/env did not reach the hook: arg %q, HOOKVAR %q", r.name, extra[0], extra[1])
		}
		inContainer := r.name == "createContainer" || r.name == "startContainer"
		wantHost, wantMnt := hostName, hostMnt
		if inContainer {
			wantHost, wantMnt = "hooked", initMnt
		}
		if extra[2] != wantHost {
			t.Errorf("%s saw hostname %q, want %q", r.name, extra[2], wantHost)
		}
		if extra[3] != wantMnt {
			t.Errorf("%s ran in mount namespace %s, want %s", r.name, extra[3], wantMnt)
		}
		st := r.state
		// runc's states: the container is being created until its init
		// waits for start, created after.
		wantStatus := map[string]string{
			"prestart": "creating", "createRuntime": "creating", "createContainer": "creating",
			"poststart": "created", "startContainer": "created", "poststop": "stopped",
		}[r.name]
		if string(st.Status) != wantStatus {
			t.Errorf("%s: state status %q, want %q", r.name, st.Status, wantStatus)
		}
		if st.ID != name || st.Bundle != b || !reflect.DeepEqual(st.Annotations, annotations) || st.Version == "" {
			t.Errorf("%s: state %+v, want id %s, bundle %s, annotations %v", r.name, st, name, b, annotations)
		}
		// The init's pid, as the hook's pid namespace numbers it: 1 in
		// the container's own; a stopped container has none.
		wantPid := created.Pid
		switch r.name {
		case "startContainer":
			wantPid = 1
		case "poststop":
			wantPid = 0
		}
		if st.Pid != wantPid {
			t.Errorf("%s: state pid %d, want %d", r.name, st.Pid, wantPid)
		}
	}
}

func pollUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met after 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A failing hook of a create-time kind fails create, names the hook,
// shows its output, and leaves nothing.
func TestHookFailureFailsCreate(t *testing.T) {
	for _, kind := range []string{"prestart", "createRuntime", "createContainer"} {
		t.Run(kind, func(t *testing.T) {
			hh := newH(t)
			marker := filepath.Join(hh.dir, "second-ran")
			b := hh.bundle(func(s *rspec.Spec) {
				hooks := []rspec.Hook{
					failHook("hook-said-no", 3),
					{Path: "/bin/sh", Args: []string{"sh", "-c", "touch " + marker}},
				}
				s.Hooks = &rspec.Hooks{}
				switch kind {
				case "prestart":
					s.Hooks.Prestart = hooks
				case "createRuntime":
					s.Hooks.CreateRuntime = hooks
				case "createContainer":
					s.Hooks.CreateContainer = hooks
				}
			}, "true")
			before := takeSnapshot(t)
			name := id(t)
			r := hh.husk("create", "--bundle", b, name)
			field := "hooks." + kind + "[0]"
			if r.code == 0 || !strings.Contains(r.stderr, field) || !strings.Contains(r.stderr, "hook-said-no") {
				t.Errorf("create with a failing %s hook: %s, want an error naming %s with the hook's output", kind, r, field)
			}
			if _, err := os.Stat(marker); err == nil {
				t.Errorf("the %s hook after the failing one ran", kind)
			}
			hh.assertClean(name, "", filepath.Join(b, "rootfs"), before)
		})
	}
}

// A failing poststart hook fails create, as in runc (and runtime-spec
// 1.3: an error, the container stopped): nothing is left, and the
// poststop hooks run. Later poststart hooks do not.
func TestHookPoststartFailureFailsCreate(t *testing.T) {
	hh := newH(t)
	log := filepath.Join(hh.dir, "hooks.log")
	b := hh.bundle(func(s *rspec.Spec) {
		s.Hooks = &rspec.Hooks{
			Poststart: []rspec.Hook{failHook("poststart-broken", 1), logHook("/bin/sh", "poststart2", log)},
			Poststop:  []rspec.Hook{logHook("/bin/sh", "poststop", log)},
		}
	}, "sleep", "1000")
	before := takeSnapshot(t)
	name := id(t)
	r := hh.husk("create", "--bundle", b, name)
	if r.code == 0 || !strings.Contains(r.stderr, "hooks.poststart[0]") || !strings.Contains(r.stderr, "poststart-broken") {
		t.Fatalf("create with a failing poststart hook: %s, want an error naming it", r)
	}
	data, _ := os.ReadFile(log)
	if strings.Contains(string(data), "poststart2") || !strings.Contains(string(data), "poststop") {
		t.Errorf("hooks after the failing poststart hook: %q, want the poststop hook only", data)
	}
	hh.assertClean(name, "", filepath.Join(b, "rootfs"), before)
}

// A failing poststop hook fails delete (runc's exit 1) once the container
// is gone; the poststop hooks after it do not run.
func TestHookPoststopFailureFailsDelete(t *testing.T) {
	hh := newH(t)
	log := filepath.Join(hh.dir, "hooks.log")
	b := hh.bundle(func(s *rspec.Spec) {
		s.Hooks = &rspec.Hooks{
			Poststop: []rspec.Hook{failHook("poststop-broken", 2), logHook("/bin/sh", "poststop2", log)},
		}
	}, "sleep", "1000")
	name := id(t)
	hh.must("create", "--bundle", b, name)
	hh.must("start", name)
	hh.must("kill", name, "KILL")
	hh.waitStatus(name, "stopped")
	r := hh.husk("delete", name)
	if r.code == 0 || !strings.Contains(r.stderr, "hooks.poststop[0]") || !strings.Contains(r.stderr, "poststop-broken") {
		t.Errorf("delete with a failing poststop hook: %s, want an error naming it", r)
	}
	if data, _ := os.ReadFile(log); len(data) != 0 {
		t.Errorf("a poststop hook after the failing one ran: %q", data)
	}
	if r := hh.husk("state", name); r.code == 0 {
		t.Errorf("container still exists after delete: %s", r)
	}
	assertNoCgroup(t, name)
}

// sleepers lists processes running `sleep <arg>`.
func sleepers(arg string) []string {
	var out []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		data, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && bytes.HasSuffix(data, []byte("sleep\x00"+arg+"\x00")) {
			out = append(out, e.Name())
		}
	}
	return out
}

// A hook running past its timeout is killed and create fails naming it.
func TestHookTimeout(t *testing.T) {
	for _, kind := range []string{"prestart", "createContainer"} {
		t.Run(kind, func(t *testing.T) {
			hh := newH(t)
			arg := "7." + strconv.Itoa(os.Getpid()%1000)
			if kind == "createContainer" {
				arg += "1"
			}
			timeout := 1
			b := hh.bundle(func(s *rspec.Spec) {
				h := []rspec.Hook{{Path: "/bin/sleep", Args: []string{"sleep", arg}, Timeout: &timeout}}
				s.Hooks = &rspec.Hooks{}
				if kind == "prestart" {
					s.Hooks.Prestart = h
				} else {
					s.Hooks.CreateContainer = h
				}
			}, "true")
			before := takeSnapshot(t)
			name := id(t)
			start := time.Now()
			r := hh.husk("create", "--bundle", b, name)
			took := time.Since(start)
			field := "hooks." + kind + "[0]"
			if r.code == 0 || !strings.Contains(r.stderr, field) || !strings.Contains(r.stderr, "timed out") {
				t.Errorf("create with a %s hook past its timeout: %s, want an error naming %s and the timeout", kind, r, field)
			}
			if took > 5*time.Second {
				t.Errorf("create took %v with a 1 s hook timeout", took)
			}
			hh.assertClean(name, "", filepath.Join(b, "rootfs"), before)
			deadline := time.Now().Add(3 * time.Second)
			for len(sleepers(arg)) > 0 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if p := sleepers(arg); len(p) > 0 {
				t.Errorf("the timed-out hook is still running: pids %v", p)
			}
		})
	}
}
