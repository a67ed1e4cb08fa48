package clients

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// Tests of the words husk's errors share with runc's, where clients of
// an OCI runtime look for them (runc-words.md lists who matches what).
//
// A client only reaches husk with a condition such as "the container has
// already exited" in the short time between the exit and the moment the
// client learns of it. holdKillAll widens that time at will: containerd's
// runc shim, once the init of a container without a pid namespace of its
// own has exited, runs "kill --all <id> 9" and only then reports the exit
// (containerd 1.6 pkg/process, 2.4 handleInitExit); the suite's wrapper
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

// wantHuskSaid checks that husk was called with cmd on id (a kill with
// or without --all as all says) and failed with an error carrying words:
// the client's path went through the condition under test.
func (a *argvLog) wantHuskSaid(t *testing.T, cmd, id string, all bool, words string) {
	t.Helper()
	var seen []string
	for _, c := range a.calls(t) {
		if huskCommand(c.argv) != cmd || !slices.Contains(c.argv, id) || slices.Contains(c.argv, "--all") != all {
			continue
		}
		if c.done && c.rc != 0 && strings.Contains(c.err, words) {
			return
		}
		seen = append(seen, a.shape(c)+" -> "+a.normalize(c.err))
	}
	t.Errorf("no failed husk %s of %s saying %q; calls: %q", cmd, id, words, seen)
}
