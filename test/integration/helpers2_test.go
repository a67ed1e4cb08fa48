package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

var uidSeq atomic.Int64

// uniqueID is id(t) for goroutines: safe to call concurrently.
func uniqueID(prefix string) string {
	return fmt.Sprintf("%s-%d-c%d", prefix, os.Getpid(), uidSeq.Add(1))
}

// tryHusk runs husk like hh.husk but never touches t, so goroutines may
// call it; it reports failures to start or wait as an error.
func (hh *h) tryHusk(args ...string) (result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	full := append([]string{"--root", hh.root}, hh.extra...)
	cmd := exec.CommandContext(ctx, *huskBin, append(full, args...)...)
	outf, err := os.CreateTemp(hh.dir, "out")
	if err != nil {
		return result{}, err
	}
	defer outf.Close()
	os.Remove(outf.Name())
	errf, err := os.CreateTemp(hh.dir, "err")
	if err != nil {
		return result{}, err
	}
	defer errf.Close()
	os.Remove(errf.Name())
	cmd.Stdout, cmd.Stderr = outf, errf
	err = cmd.Start()
	if err == nil {
		err = cmd.Wait()
	}
	r := result{stdout: readAll(outf), stderr: readAll(errf)}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
		err = nil
	}
	return r, err
}

// createTo runs `husk create` with the container's stdout and stderr
// going to the files out and errOut (husk's own messages go to errOut too).
func (hh *h) createTo(out, errOut string, args ...string) result {
	hh.t.Helper()
	of, err := os.Create(out)
	if err != nil {
		hh.t.Fatal(err)
	}
	defer of.Close()
	ef, err := os.Create(errOut)
	if err != nil {
		hh.t.Fatal(err)
	}
	defer ef.Close()
	cmd := hh.cmd(append([]string{"create"}, args...)...)
	cmd.Stdout, cmd.Stderr = of, ef
	if err := cmd.Start(); err != nil {
		hh.t.Fatal(err)
	}
	err = cmd.Wait()
	data, _ := os.ReadFile(errOut)
	r := result{stderr: string(data)}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		hh.t.Fatal(err)
	}
	return r
}

// waitFileContains polls path until it contains want.
func waitFileContains(t *testing.T, path, want string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, _ := os.ReadFile(path)
		if strings.Contains(string(data), want) {
			return string(data)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not contain %q after 10s: %q", path, want, data)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// startSleeper creates and starts a container running `sleep 1000` with
// the given config edit and returns its ID and state.
func (hh *h) startSleeper(edit func(*rspec.Spec)) (string, ociState) {
	hh.t.Helper()
	b := hh.bundle(edit, "sleep", "1000")
	name := id(hh.t)
	hh.must("create", "--bundle", b, name)
	hh.must("start", name)
	return name, hh.waitStatus(name, "running")
}

// nsLink is readlink /proc/<pid>/ns/<ns> ("self" for this process).
func nsLink(t *testing.T, pid, ns string) string {
	t.Helper()
	l, err := os.Readlink(filepath.Join("/proc", pid, "ns", ns))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// mountSet counts the host's mounts by "mountpoint fstype source" (a
// count, so that mounts stacked on one mount point are told apart).
func mountSet(t *testing.T) map[string]int {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, l := range strings.Split(string(data), "\n") {
		pre, post, ok := strings.Cut(l, " - ")
		if !ok {
			continue
		}
		f, p := strings.Fields(pre), strings.Fields(post)
		if len(f) < 5 || len(p) < 2 {
			continue
		}
		out[f[4]+" "+p[0]+" "+p[1]]++
	}
	return out
}

// huskInits lists the live (not zombie) processes called husk-init that
// descend from this test process: the machine may run other husk users,
// but a container init of ours is our descendant (this process is a
// subreaper, so an orphaned one is re-parented to us).
func huskInits() map[int]bool {
	out := map[int]bool{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil || !bytes.HasPrefix(cmdline, []byte("husk-init\x00")) {
			continue
		}
		if descendsFromUs(pid) {
			out[pid] = true
		}
	}
	return out
}

// descendsFromUs tells whether pid's parent chain leads to this process.
func descendsFromUs(pid int) bool {
	me := os.Getpid()
	for i := 0; i < 64 && pid > 1; i++ {
		data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return false
		}
		i := bytes.LastIndexByte(data, ')')
		if i < 0 {
			return false
		}
		f := strings.Fields(string(data[i+1:]))
		if len(f) < 2 {
			return false
		}
		pid, _ = strconv.Atoi(f[1])
		if pid == me {
			return true
		}
	}
	return false
}

// procsRootedIn lists processes whose root directory is dir or below it
// (the container processes of a bundle's rootfs).
func procsRootedIn(dir string) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		root, err := os.Readlink("/proc/" + e.Name() + "/root")
		if err != nil {
			continue
		}
		if root == dir || strings.HasPrefix(root, dir+"/") {
			out = append(out, pid)
		}
	}
	return out
}

// hostSnapshot is what the host looks like before an operation that must
// leave nothing behind.
type hostSnapshot struct {
	mounts map[string]int
	inits  map[int]bool
}

func takeSnapshot(t *testing.T) hostSnapshot {
	t.Helper()
	return hostSnapshot{mounts: mountSet(t), inits: huskInits()}
}

// assertClean checks that container name left nothing: no state
// directory, no cgroup under cgPath (default <name>, see cgroupIn), no new host
// mount, no new husk-init process and no process rooted in rootfs (if
// given). A process that is already dying gets a second to go.
func (hh *h) assertClean(name, cgPath, rootfs string, before hostSnapshot) {
	hh.t.Helper()
	t := hh.t
	if name != "" {
		if _, err := os.Lstat(filepath.Join(hh.root, name)); !os.IsNotExist(err) {
			t.Errorf("state directory of %s left behind (%v)", name, err)
		}
	}
	if cgPath == "" && name != "" {
		cgPath = name
	}
	if cgPath != "" {
		assertNoCgroup(t, cgPath)
		removeCgroupLater(t, cgPath)
	}
	// Other users of this machine may mount things meanwhile: count the
	// new mounts in this test's directories, in the system's, or naming
	// the container.
	var newMounts []string
	ours := []string{filepath.Dir(hh.dir) + "/", "/proc/", "/sys/", "/dev/", "/run/husk/"}
	for m, n := range mountSet(t) {
		if n <= before.mounts[m] {
			continue
		}
		mnt, _, _ := strings.Cut(m, " ")
		mine := name != "" && strings.Contains(m, name)
		for _, p := range ours {
			if strings.HasPrefix(mnt+"/", p) {
				mine = true
			}
		}
		if mine {
			newMounts = append(newMounts, m)
		}
	}
	if len(newMounts) > 0 {
		sort.Strings(newMounts)
		t.Errorf("new host mounts left behind: %q", newMounts)
	}
	deadline := time.Now().Add(time.Second)
	for {
		var inits []int
		for pid := range huskInits() {
			if !before.inits[pid] {
				inits = append(inits, pid)
			}
		}
		var rooted []int
		if rootfs != "" {
			rooted = procsRootedIn(rootfs)
		}
		if len(inits) == 0 && len(rooted) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("processes left behind: husk-init %v, rooted in the rootfs %v", inits, rooted)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// stateEntries lists the state root's entries (container directories).
func (hh *h) stateEntries() []string {
	ents, err := os.ReadDir(hh.root)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// mountinfoLine returns the line of /proc/self/mountinfo text for mount
// point mnt (the last one: the top of the stack), "" if none.
func mountinfoLine(text, mnt string) string {
	line := ""
	for _, l := range strings.Split(text, "\n") {
		f := strings.Fields(l)
		if len(f) > 4 && f[4] == mnt {
			line = l
		}
	}
	return line
}

// procStatusField returns the value of a "Name:\tvalue" line of a
// /proc/<pid>/status text.
func procStatusField(text, name string) string {
	for _, l := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(l, name+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// writeRaw writes content to path, creating its directory.
func writeRaw(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// hookRecord is a line "name extra... {state JSON}" written by a hook.
type hookRecord struct {
	name  string
	extra string
	state rspec.State
}

// readHookLog parses a file of hook records.
func readHookLog(t *testing.T, path string) []hookRecord {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("hook log: %v", err)
	}
	var out []hookRecord
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if l == "" {
			continue
		}
		head, js, ok := strings.Cut(l, "{")
		if !ok {
			t.Fatalf("hook log line without state: %q", l)
		}
		f := strings.Fields(head)
		rec := hookRecord{}
		if len(f) > 0 {
			rec.name = f[0]
			rec.extra = strings.Join(f[1:], " ")
		}
		if err := json.Unmarshal([]byte("{"+js), &rec.state); err != nil {
			t.Fatalf("hook log line %q: %v", l, err)
		}
		out = append(out, rec)
	}
	return out
}

// removeCgroupLater removes cgroup path (left empty by a failed test)
// from every hierarchy when the test ends.
func removeCgroupLater(t *testing.T, path string) {
	var dirs []string
	for _, m := range cgroupMounts(t) {
		dirs = append(dirs, cgroupIn(t, m, path))
	}
	t.Cleanup(func() {
		for _, d := range dirs {
			os.Remove(d)
		}
	})
}

// installTestProgram puts the static program testdata/<name> at dst
// (usually inside a bundle's rootfs): prebuilt from -testbins, or built.
func installTestProgram(t *testing.T, name, dst string) {
	t.Helper()
	if *testBins != "" {
		data, err := os.ReadFile(filepath.Join(*testBins, name))
		if err == nil {
			err = os.WriteFile(dst, data, 0o755)
		}
		if err != nil {
			t.Fatalf("test program %s: %v", name, err)
		}
		return
	}
	build := exec.Command("go", "build", "-o", dst, "./testdata/"+name)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build test program %s: %v: %s", name, err, out)
	}
}
