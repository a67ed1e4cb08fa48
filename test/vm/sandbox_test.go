package vm

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/husk-runtime/husk/vm"
	"github.com/husk-runtime/husk/vm/api"
	"github.com/husk-runtime/husk/vm/assets"
	"github.com/husk-runtime/husk/vm/sandbox"
)

// Two containers in one VM, as a shim runs a pod: the second needs no new
// device (its rootfs comes through the same shared directory), both see
// the same guest, and deleting one leaves the other running.
func TestSecondContainerInVM(t *testing.T) {
	e := newEnv(t)
	a, err := assets.Lookup(assets.Dir())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	sb, err := sandbox.Start(ctx, vm.Config{Name: "vm-test-pod", Dir: filepath.Join(e.dir, "pod"), Kernel: a.Kernel, Initrd: a.Initrd})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Shutdown(context.Background())
	bootID := "cat /proc/sys/kernel/random/boot_id"
	first := e.bundle(nil, "sh", "-c", bootID+"; exec sleep 1000")
	second := e.bundle(func(s *rspec.Spec) { s.Hostname = "second" }, "sh", "-c", bootID+"; hostname; exit 4")

	run := func(cid, bundle string) (*sandbox.Process, *bytes.Buffer, chan error) {
		c, err := sb.CreateContainer(ctx, cid, bundle, sandbox.CreateOpts{Stdio: sandbox.Stdio{Stdout: true, Stderr: true}})
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		copied := make(chan error, 1)
		go func() { copied <- c.Init.Copy(ctx, sandbox.IO{Stdout: &out, Stderr: &out}) }()
		if err := sb.StartContainer(ctx, cid); err != nil {
			t.Fatal(err)
		}
		return c.Init, &out, copied
	}
	p1, out1, _ := run("pod-first", first)
	p2, out2, copied2 := run("pod-second", second)
	code, err := p2.Wait(ctx)
	if err != nil || code != 4 {
		t.Fatalf("second container: exit %d, %v", code, err)
	}
	if err := <-copied2; err != nil {
		t.Fatal(err)
	}
	lines := strings.Fields(out2.String())
	if len(lines) != 2 || lines[1] != "second" {
		t.Fatalf("second container's output: %q", out2.String())
	}
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(out1.String(), "-"); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no output from the first container: %q", out1.String())
		}
	}
	if strings.TrimSpace(out1.String()) != lines[0] {
		t.Errorf("boot ids differ: the containers are not in one VM: %q, %q", out1.String(), lines[0])
	}
	if err := sb.DeleteContainer(ctx, "pod-second", false); err != nil {
		t.Fatal(err)
	}
	st, err := sb.Agent().State(ctx, &api.ContainerRequest{ContainerId: "pod-first"})
	if err != nil || st.Status != "running" {
		t.Fatalf("first container after the second's delete: %v, %v", st, err)
	}
	if err := sb.DeleteContainer(ctx, "pod-first", true); err != nil {
		t.Fatal(err)
	}
	// Deleted, its init is gone with its record.
	if _, err := p1.Wait(ctx); err == nil {
		t.Error("the deleted container's init can still be waited for")
	}
	if err := sb.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if ms := mountsUnder(e.dir); len(ms) > 0 {
		t.Errorf("mounts left: %v", ms)
	}
}
