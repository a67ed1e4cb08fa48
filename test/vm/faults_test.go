package vm

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/husk-runtime/husk/internal/testbundle"
	"github.com/husk-runtime/husk/vm/assets"
)

// Each fault ends in an error that names the step, and leaves nothing.

func TestMissingAssets(t *testing.T) {
	e := newEnv(t)
	e.extraEnv = []string{assets.DirEnv + "=" + filepath.Join(e.dir, "no-assets")}
	b := e.bundle(nil, "true")
	cid := id()
	r := e.husk(nil, "run", "--vm", "--bundle", b, cid)
	if r.code == 0 || !strings.Contains(r.stderr, "make vm-assets") {
		t.Errorf("want an error naming the missing assets: %s", r)
	}
	e.noTrace(cid)
}

func TestMissingQemu(t *testing.T) {
	e := newEnv(t)
	e.extraEnv = []string{"PATH=" + filepath.Join(e.dir, "empty-path")}
	b := e.bundle(nil, "true")
	cid := id()
	r := e.husk(nil, "run", "--vm", "--bundle", b, cid)
	if r.code == 0 || !strings.Contains(r.stderr, "qemu") || !strings.Contains(r.stderr, "not found") {
		t.Errorf("want an error naming qemu: %s", r)
	}
	e.noTrace(cid)
}

// assetsWith makes an asset directory with the real kernel and an
// initramfs holding dir's files.
func (e *env) assetsWith(files map[string]string) string {
	e.t.Helper()
	a, err := assets.Lookup(assets.Dir())
	if err != nil {
		e.t.Fatal(err)
	}
	out, err := os.MkdirTemp(e.dir, "assets")
	if err != nil {
		e.t.Fatal(err)
	}
	tree := filepath.Join(out, "tree")
	for name, src := range files {
		os.MkdirAll(filepath.Dir(filepath.Join(tree, name)), 0o755)
		data, err := os.ReadFile(src)
		if err != nil {
			e.t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tree, name), data, 0o755); err != nil {
			e.t.Fatal(err)
		}
	}
	bb, _ := testbundle.Busybox()
	cpio := exec.Command(bb, "sh", "-c", "find . | "+bb+" cpio -o -H newc > ../"+assets.InitrdFile)
	cpio.Dir = tree
	if out, err := cpio.CombinedOutput(); err != nil {
		e.t.Fatalf("cpio: %v: %s", err, out)
	}
	os.Symlink(a.Kernel, filepath.Join(out, assets.KernelFile))
	data, _ := os.ReadFile(filepath.Join(a.Dir, assets.ManifestFile))
	os.WriteFile(filepath.Join(out, assets.ManifestFile), data, 0o644)
	return out
}

// A guest without a working /init: the kernel panics, qemu ends.
func TestBootFailure(t *testing.T) {
	e := newEnv(t)
	notInit := filepath.Join(e.dir, "not-an-init")
	os.WriteFile(notInit, []byte("this is no program\n"), 0o755)
	e.extraEnv = []string{assets.DirEnv + "=" + e.assetsWith(map[string]string{"init": notInit})}
	b := e.bundle(nil, "true")
	cid := id()
	r := e.husk(nil, "run", "--vm", "--bundle", b, cid)
	if r.code == 0 || !strings.Contains(r.stderr, "boot failed") || !strings.Contains(r.stderr, "the VM exited") {
		t.Errorf("want a boot failure: %s", r)
	}
	e.noTrace(cid)
}

// A guest whose /init never answers: the boot deadline ends it.
func TestAgentDeadline(t *testing.T) {
	e := newEnv(t)
	bb, _ := testbundle.Busybox()
	// busybox as /init runs its init applet: it never speaks the protocol.
	e.extraEnv = []string{assets.DirEnv + "=" + e.assetsWith(map[string]string{"init": bb})}
	b := e.bundle(func(s *rspec.Spec) {
		s.Annotations = map[string]string{"io.husk.vm.boot-timeout": "8"}
	}, "true")
	cid := id()
	start := time.Now()
	r := e.husk(nil, "run", "--vm", "--bundle", b, cid)
	if r.code == 0 || !strings.Contains(r.stderr, "no answer within 8s") {
		t.Errorf("want the boot deadline: %s", r)
	}
	if d := time.Since(start); d > 60*time.Second {
		t.Errorf("the deadline of 8 s took %v", d)
	}
	e.noTrace(cid)
}

// qemu killed under a running container: husk run says so and cleans up.
func TestQemuKilled(t *testing.T) {
	e := newEnv(t)
	b := e.bundle(nil, "sleep", "1000")
	cid := id()
	cmd := exec.Command(*huskBin, "--root", e.root, "run", "--vm", "--bundle", b, cid)
	errf := e.tempFile()
	cmd.Stderr = errf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	e.waitStatus(cid, "running", 2*time.Minute)
	pids := qemuOf(cid)
	if len(pids) != 1 {
		t.Fatalf("qemu of %s: %v", cid, pids)
	}
	syscall.Kill(pids[0], syscall.SIGKILL)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err == nil {
			t.Error("husk run succeeded with its VM killed")
		}
	case <-time.After(time.Minute):
		t.Fatal("husk run did not end after its qemu was killed")
	}
	if s := readAll(errf); !strings.Contains(s, "VM ended unexpectedly") {
		t.Errorf("stderr: %q", s)
	}
	e.noTrace(cid)
}

// A detached container's supervisor killed: qemu dies with it, the
// container is stopped, and delete removes what is left (mounts, state).
func TestSupervisorKilled(t *testing.T) {
	e := newEnv(t)
	b := e.bundle(nil, "sleep", "1000")
	cid := id()
	pidFile := filepath.Join(e.dir, "pid")
	e.must("run", "--vm", "-d", "--pid-file", pidFile, "--bundle", b, cid)
	qemu := qemuOf(cid)
	if len(qemu) != 1 {
		t.Fatalf("qemu of %s: %v", cid, qemu)
	}
	data, _ := os.ReadFile(pidFile)
	pid, err := strconv.Atoi(string(data))
	if err != nil {
		t.Fatalf("pid file: %q", data)
	}
	syscall.Kill(pid, syscall.SIGKILL)
	for deadline := time.Now().Add(30 * time.Second); alive(qemu[0]); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("qemu outlived its supervisor")
		}
	}
	if st := e.status(cid); st != "stopped" {
		t.Errorf("after its supervisor died: %s", st)
	}
	e.must("delete", cid)
	e.noTrace(cid)
}
