// Package vm runs husk's microVM class as a user would: `husk --vm` and
// the commands on VM containers, as root, with qemu (TCG where there is
// no KVM) and the guest assets of `make vm-assets`; and the sandbox
// library a shim drives, with two containers in one VM.
package vm

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/husk-runtime/husk/internal/testbundle"
	"github.com/husk-runtime/husk/vm/assets"
)

var huskBin = flag.String("husk", "", "path of the husk binary under test (husk-vm next to it)")

// guestKernel is the assets' kernel release.
var guestKernel string

func TestMain(m *testing.M) {
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Println("SKIP vm tests: they run VMs and containers and must run as root")
		os.Exit(0)
	}
	if *huskBin == "" {
		fmt.Fprintln(os.Stderr, "vm tests need -husk=/path/to/husk (make vm-test passes it)")
		os.Exit(2)
	}
	a, err := assets.Lookup(assets.Dir())
	if err != nil {
		fmt.Fprintln(os.Stderr, "vm tests:", err)
		os.Exit(2)
	}
	guestKernel = a.Manifest.KernelVersion
	if _, err := testbundle.Busybox(); err != nil {
		fmt.Fprintln(os.Stderr, "vm tests:", err)
		os.Exit(2)
	}
	os.Exit(m.Run())
}

// env is one test's husk: a private state root and directory.
type env struct {
	t    *testing.T
	dir  string
	root string
	// extraEnv is added to husk's environment.
	extraEnv []string
}

func newEnv(t *testing.T) *env {
	dir, err := os.MkdirTemp("", "vm-test-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	e := &env{t: t, dir: dir, root: filepath.Join(dir, "state")}
	t.Cleanup(func() {
		ents, _ := os.ReadDir(e.root)
		for _, d := range ents {
			exec.Command(*huskBin, "--root", e.root, "delete", "--force", d.Name()).Run()
		}
		if ms := mountsUnder(dir); len(ms) > 0 {
			t.Errorf("mounts left under %s: %v", dir, ms)
		}
		os.RemoveAll(dir)
	})
	return e
}

type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
}

// husk runs husk with the test's state root; stdin may be nil.
func (e *env) husk(stdin []byte, args ...string) result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, *huskBin, append([]string{"--root", e.root}, args...)...)
	cmd.Env = append(os.Environ(), e.extraEnv...)
	// Files, not pipes: a created container keeps husk's stdout.
	outf, errf := e.tempFile(), e.tempFile()
	defer outf.Close()
	defer errf.Close()
	cmd.Stdout, cmd.Stderr = outf, errf
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	err := cmd.Run()
	r := result{stdout: readAll(outf), stderr: readAll(errf)}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("husk %v: %v", args, err)
	}
	return r
}

// must runs husk and fails the test unless it exits 0.
func (e *env) must(args ...string) string {
	e.t.Helper()
	r := e.husk(nil, args...)
	if r.code != 0 {
		e.t.Fatalf("husk %s: %s", strings.Join(args, " "), r)
	}
	return r.stdout
}

func (e *env) tempFile() *os.File {
	f, err := os.CreateTemp(e.dir, "out")
	if err != nil {
		e.t.Fatal(err)
	}
	os.Remove(f.Name())
	return f
}

func readAll(f *os.File) string {
	data, _ := os.ReadFile("/proc/self/fd/" + strconv.Itoa(int(f.Fd())))
	return string(data)
}

// bundle writes a bundle (writable rootfs) running args, after edit.
func (e *env) bundle(edit func(*rspec.Spec), args ...string) string {
	e.t.Helper()
	dir, err := os.MkdirTemp(e.dir, "bundle")
	if err != nil {
		e.t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	s := testbundle.Config(args...)
	s.Root.Readonly = false
	if edit != nil {
		edit(s)
	}
	if err := testbundle.Write(dir, s); err != nil {
		e.t.Fatal(err)
	}
	return dir
}

var idSeq int

// id returns a container ID unique in this run.
func id() string {
	idSeq++
	return fmt.Sprintf("vm-%d-%d", os.Getpid(), idSeq)
}

// status is the container's status from husk state.
func (e *env) status(id string) string {
	e.t.Helper()
	out := e.must("state", id)
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), `"status": "`); ok {
			return strings.TrimSuffix(strings.TrimSuffix(v, ","), `"`)
		}
	}
	e.t.Fatalf("no status in %q", out)
	return ""
}

// waitStatus waits until the container has the status (it may not exist
// yet: husk run in the background).
func (e *env) waitStatus(id, want string, timeout time.Duration) {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := "absent"
		if _, err := os.Stat(filepath.Join(e.root, id, "vm.json")); err == nil {
			got = e.status(id)
		}
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("container %s is %s, not %s, after %v", id, got, want, timeout)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// noTrace checks that nothing of container id is left on the host: no
// state, no qemu, no mount.
func (e *env) noTrace(id string) {
	e.t.Helper()
	if _, err := os.Stat(filepath.Join(e.root, id)); !os.IsNotExist(err) {
		e.t.Errorf("state of %s left: %v", id, err)
	}
	if pids := qemuOf(id); len(pids) > 0 {
		e.t.Errorf("qemu of %s left: pids %v", id, pids)
	}
	if ms := mountsUnder(e.dir); len(ms) > 0 {
		e.t.Errorf("mounts left: %v", ms)
	}
}

// qemuOf returns the pids of qemu processes of container id's VM.
func qemuOf(id string) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, d := range ents {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		cmdline, _ := os.ReadFile("/proc/" + d.Name() + "/cmdline")
		args := strings.Split(string(cmdline), "\x00")
		if len(args) > 2 && strings.Contains(args[0], "qemu") && args[1] == "-name" && args[2] == "husk-vm-"+id {
			pids = append(pids, pid)
		}
	}
	return pids
}

func mountsUnder(dir string) []string {
	data, _ := os.ReadFile("/proc/self/mountinfo")
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			out = append(out, f[4])
		}
	}
	return out
}

func hostKernel(t *testing.T) string {
	out, err := exec.Command("uname", "-r").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}
