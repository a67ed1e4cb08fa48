package systemd

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/husk-runtime/husk/internal/testbundle"
)

// containerd is Debian's containerd 1.6 with its own state, started by a
// test and stopped when it ends. shimDir, if set, comes first on its PATH.
type containerd struct {
	t    *testing.T
	dir  string
	sock string
	cmd  *exec.Cmd
	done chan struct{}
}

func startContainerd(t *testing.T, shimDir string) *containerd {
	t.Helper()
	if _, err := os.Stat("/usr/bin/containerd"); err != nil {
		t.Skip("containerd is not installed in this guest")
	}
	c := &containerd{t: t, dir: t.TempDir(), sock: "/run/sd-containerd/c.sock"}
	os.RemoveAll("/run/sd-containerd")
	cfg := fmt.Sprintf(`version = 2
root = %q
state = "/run/sd-containerd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = %q
[ttrpc]
  address = %q
`, filepath.Join(c.dir, "root"), c.sock, c.sock+".ttrpc")
	if err := os.WriteFile(filepath.Join(c.dir, "config.toml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	log, err := os.Create(filepath.Join(c.dir, "containerd.log"))
	if err != nil {
		t.Fatal(err)
	}
	c.cmd = exec.Command("/usr/bin/containerd", "--config", filepath.Join(c.dir, "config.toml"))
	path := os.Getenv("PATH")
	if shimDir != "" {
		path = shimDir + ":" + path
	}
	c.cmd.Env = append(os.Environ(), "PATH="+path)
	c.cmd.Stdout, c.cmd.Stderr = log, log
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c.done = make(chan struct{})
	go func() { c.cmd.Wait(); log.Close(); close(c.done) }()
	t.Cleanup(c.stop)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := c.ctr("version"); err == nil {
			return c
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(c.dir, "containerd.log"))
			t.Fatalf("containerd did not come up:\n%s", b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (c *containerd) ctr(args ...string) (string, error) {
	return run("/usr/bin/ctr", append([]string{"--address", c.sock}, args...)...)
}

func (c *containerd) stop() {
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(20 * time.Second):
		c.cmd.Process.Kill()
		<-c.done
	}
	if c.t.Failed() {
		b, _ := os.ReadFile(filepath.Join(c.dir, "containerd.log"))
		c.t.Logf("containerd log:\n%s", b)
	}
	os.RemoveAll("/run/sd-containerd")
}

// runScoped runs a container with SystemdCgroup (ctr's
// --runc-systemd-cgroup) in system.slice:sd-ctr:<id>, checks its scope
// while it runs, stops it and checks the scope is gone. It returns the
// scope's properties.
func (c *containerd) runScoped(t *testing.T, id string, extra ...string) map[string]string {
	t.Helper()
	rootfs := t.TempDir()
	if err := testbundle.Rootfs(rootfs); err != nil {
		t.Fatal(err)
	}
	unit := "sd-ctr-" + id + ".scope"
	args := append([]string{"run", "--detach", "--rootfs", "--runtime", "io.containerd.runc.v2", "--runc-systemd-cgroup",
		"--cgroup", "system.slice:sd-ctr:" + id, "--memory-limit", "67108864"}, extra...)
	args = append(args, rootfs, id, "/bin/sleep", "1000")
	if out, err := c.ctr(args...); err != nil {
		t.Fatalf("ctr run: %v\n%s", err, out)
	}
	defer c.ctr("container", "delete", id)
	p := unitProps(t, unit, append([]string{"ActiveState", "ControlGroup"}, scopeProperties...)...)
	if p["ActiveState"] != "active" || p["ControlGroup"] != "/system.slice/"+unit || p["Delegate"] != "yes" {
		t.Errorf("scope %s: %v", unit, p)
	}
	limit := p["MemoryMax"]
	if !unified {
		limit = p["MemoryLimit"]
	}
	if limit != "67108864" {
		t.Errorf("scope %s: memory limit %q, want 67108864", unit, limit)
	}
	out, err := c.ctr("task", "ls")
	if err != nil || !strings.Contains(out, id) {
		t.Fatalf("task ls: %v\n%s", err, out)
	}
	var pid string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == id {
			pid = f[1]
		}
	}
	if cg := readFile("/proc/" + pid + "/cgroup"); !strings.Contains(cg, "/system.slice/"+unit) {
		t.Errorf("task %s (pid %s) is not in %s:\n%s", id, pid, unit, cg)
	}
	if out, err := c.ctr("task", "kill", "--signal", "KILL", id); err != nil {
		t.Errorf("task kill: %v\n%s", err, out)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, _ := c.ctr("task", "delete", id)
		if !strings.Contains(out, "running") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("task %s still running 10 s after SIGKILL", id)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !unitGone(t, unit) {
		t.Errorf("scope %s left after the task was deleted", unit)
	}
	delete(p, "ActiveState")
	return p
}

// TestContainerdRuncShim: containerd's runc shim with husk as its binary
// and SystemdCgroup, against the same with runc 1.5.3.
func TestContainerdRuncShim(t *testing.T) {
	c := startContainerd(t, "")
	husk := c.runScoped(t, "sd-ctr-husk", "--runc-binary", *huskBin)
	runc := c.runScoped(t, "sd-ctr-runc", "--runc-binary", *runcBin)
	for k, v := range runc {
		if k != "ControlGroup" && husk[k] != v {
			t.Errorf("property %s: husk %q, runc %q", k, husk[k], v)
		}
	}
}

// TestContainerdHuskShim: husk's own shim with SystemdCgroup. ctr passes
// runc's options only to io.containerd.runc.v2, so the shim is put on
// containerd's PATH under that runtime's shim name (as dockerd users do).
func TestContainerdHuskShim(t *testing.T) {
	bindir := t.TempDir()
	if err := os.Symlink(*shimBin, filepath.Join(bindir, "containerd-shim-runc-v2")); err != nil {
		t.Fatal(err)
	}
	c := startContainerd(t, bindir)
	c.runScoped(t, "sd-ctr-shim")
}
