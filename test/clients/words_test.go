package clients

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/husk-runtime/husk/internal/testbundle"
)

// Tests of the words husk's errors share with runc's, where clients of
// an OCI runtime look for them (runc-words.md lists who matches what).
//
// A client only reaches husk with a condition such as "the container has
// already exited" in the short time between the exit and the moment the
// client learns of it. holdKillAll widens that time at will: containerd's
// runc shim, once the init of a container without a pid namespace of its
// own has exited, runs "kill --all <id> 9" and only then reports the exit
// (containerd 1.6's checkProcesses, 2.4's handleInitExit); the suite's wrapper
// holds that call while a hold file exists. Meanwhile the client still
// believes the container runs and sends its kill through the shim to husk,
// which finds the init gone: the path of a kubelet stopping a pod whose
// container has just exited.

// holdKillAll makes the wrapper hold "kill --all id" until release is
// called (at cleanup at the latest).
func (a *argvLog) holdKillAll(t *testing.T, id string) (release func()) {
	t.Helper()
	path := filepath.Join(a.holdDir, id)
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	release = func() { os.Remove(path) }
	t.Cleanup(release)
	return release
}

// waitHeld waits until the wrapper holds "kill --all id": the init has
// exited and the shim has not reported it.
func (a *argvLog) waitHeld(t *testing.T, id string) {
	t.Helper()
	if !poll(20*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(a.holdDir, id+".held"))
		return err == nil
	}) {
		t.Fatalf("the runc shim never ran kill --all %s after its init exited", id)
	}
}

// releaseSoon releases a hold after the client's request has had the time
// to reach the shim, where it waits for the held call.
func releaseSoon(release func()) {
	time.AfterFunc(time.Second, release)
}

// huskCommand is the command (create, kill, ...) of a call.
func huskCommand(argv []string) string {
	for i := 0; i < len(argv); i++ {
		switch a := argv[i]; {
		case a == "--root" || a == "--log" || a == "--log-format" || a == "--criu" || a == "--rootless" || a == "--trace":
			i++
		case strings.HasPrefix(a, "-"):
		default:
			return a
		}
	}
	return ""
}

// wantHuskSaid checks that husk was called with cmd on id and failed with
// an error carrying words: the client's path went through the condition
// under test. The shim's own kill --all does not count.
func (a *argvLog) wantHuskSaid(t *testing.T, cmd, id, words string) {
	t.Helper()
	var seen []string
	for _, c := range a.calls(t) {
		if huskCommand(c.argv) != cmd || !slices.Contains(c.argv, id) || slices.Contains(c.argv, "--all") {
			continue
		}
		if c.done && c.rc != 0 && strings.Contains(c.err, words) {
			return
		}
		seen = append(seen, a.shape(c)+" -> "+a.normalize(c.err))
	}
	t.Errorf("no failed husk %s of %s saying %q; calls: %q", cmd, id, words, seen)
}

// wantHuskKilled checks that husk was called with `kill id 9` (not the
// shim's kill --all) and succeeded: runc 1.5.3's answer to a SIGKILL of a
// container without a pid namespace of its own once its init has exited
// (it signals every process left in the container's cgroup), which the
// clients take as done as they take "container not running".
func (a *argvLog) wantHuskKilled(t *testing.T, id string) {
	t.Helper()
	var seen []string
	for _, c := range a.calls(t) {
		if huskCommand(c.argv) != "kill" || !slices.Contains(c.argv, id) || slices.Contains(c.argv, "--all") {
			continue
		}
		if c.done && c.rc == 0 && (slices.Contains(c.argv, "9") || slices.Contains(c.argv, "KILL") || slices.Contains(c.argv, "SIGKILL")) {
			return
		}
		seen = append(seen, a.shape(c)+" -> "+a.normalize(c.err))
	}
	t.Errorf("no successful husk kill of %s with SIGKILL; calls: %q", id, seen)
}

// runcWordsCases are the conditions under which runc prints the words
// clients look for (runc-words.md: which client, where, what it does),
// each as the command that meets the condition. TestRuncWords runs each
// with husk and with runc on the same bundle: both must say the words
// (or, with none, both succeed).
var runcWordsCases = []struct {
	name   string
	state  string // the container before the command: "" (none), running, stopped
	args   []string
	config func(*rspec.Spec) // changes to the bundle's config (sleep 1000)
	words  string
}{
	{name: "kill-stopped", state: "stopped", args: []string{"kill", "{id}", "15"}, words: "container not running"},
	{name: "kill-9-stopped", state: "stopped", args: []string{"kill", "{id}", "9"}, words: "container not running"},
	{name: "kill-all-stopped", state: "stopped", args: []string{"kill", "--all", "{id}", "15"}},
	{name: "kill-missing", args: []string{"kill", "{id}", "15"}, words: "container does not exist"},
	{name: "delete-missing", args: []string{"delete", "{id}"}, words: "container does not exist"},
	{name: "state-missing", args: []string{"state", "{id}"}, words: "container does not exist"},
	{name: "pause-missing", args: []string{"pause", "{id}"}, words: "container does not exist"},
	{name: "exec-missing-command", state: "running", args: []string{"exec", "{id}", "nonexistent-cmd"}, words: "executable file not found"},
	{name: "exec-not-executable", state: "running", args: []string{"exec", "{id}", "/etc/passwd"}, words: "permission denied"},
	{name: "run-missing-binary", args: []string{"run", "--bundle", "{bundle}", "{id}"},
		config: func(s *rspec.Spec) { s.Process.Args = []string{"/nonexistent"} }, words: "no such file or directory"},
	{name: "run-dir-onto-file", args: []string{"run", "--bundle", "{bundle}", "{id}"},
		config: func(s *rspec.Spec) {
			s.Mounts = append(s.Mounts, rspec.Mount{Destination: "/etc/passwd", Type: "bind", Source: workDir, Options: []string{"rbind"}})
		}, words: "not a directory"},
}

// TestRuncWords compares husk's errors with runc's (-runc, Debian's by
// default) condition by condition.
func TestRuncWords(t *testing.T) {
	cgroup := fmt.Sprintf("husk-words-%d", os.Getpid())
	t.Cleanup(func() { removeCgroups(t, cgroup) })
	for _, c := range runcWordsCases {
		t.Run(c.name, func(t *testing.T) {
			for _, rt := range []struct{ name, bin string }{{"husk", huskBin}, {"runc", runcBin}} {
				r := runWordsCase(t, rt.bin, "/"+cgroup+"/"+rt.name+"-"+c.name, c.state, c.args, c.config)
				switch {
				case c.words == "" && r.code != 0:
					t.Errorf("%s: want success: %s", rt.name, r)
				case c.words != "" && (r.code == 0 || !strings.Contains(r.out(), c.words)):
					t.Errorf("%s: want a failure saying %q: %s", rt.name, c.words, r)
				}
			}
		})
	}
}

// runWordsCase brings a container of the suite's rootfs to state with
// the runtime bin, in a state dir of its own, and runs args on it.
func runWordsCase(t *testing.T, bin, cgroupsPath, state string, args []string, config func(*rspec.Spec)) result {
	t.Helper()
	dir := t.TempDir()
	bundle := filepath.Join(dir, "bundle")
	if err := os.Mkdir(bundle, 0o755); err != nil {
		t.Fatal(err)
	}
	spec := testbundle.Config("sleep", "1000")
	spec.Root = &rspec.Root{Path: rootfsDir, Readonly: true}
	spec.Linux.CgroupsPath = cgroupsPath
	if config != nil {
		config(spec)
	}
	if err := testbundle.WriteConfig(bundle, spec); err != nil {
		t.Fatal(err)
	}
	id := uniqueName()
	rt := func(args ...string) result {
		t.Helper()
		return run(t, cmdSpec{name: bin, args: append([]string{"--root", filepath.Join(dir, "root")}, args...), dir: bundle, stdin: []byte{}})
	}
	defer rt("delete", "--force", id)
	if state != "" {
		mustOK(t, rt("create", "--bundle", bundle, id))
		mustOK(t, rt("start", id))
	}
	if state == "stopped" {
		mustOK(t, rt("kill", id, "9"))
		if !poll(10*time.Second, func() bool { return strings.Contains(rt("state", id).stdout, `"stopped"`) }) {
			t.Fatalf("%s: %s not stopped after kill 9", bin, id)
		}
	}
	var cmd []string
	for _, a := range args {
		cmd = append(cmd, strings.NewReplacer("{id}", id, "{bundle}", bundle).Replace(a))
	}
	return rt(cmd...)
}
