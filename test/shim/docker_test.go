package shimtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestDocker runs dockerd 20.10 with husk's shim in place of
// containerd-shim-runc-v2 (dockerd only knows io.containerd.runc.v2): its
// own containerd finds the shim first on the PATH dockerd passes it.
func TestDocker(t *testing.T) {
	dockerd, err := exec.LookPath("dockerd")
	if err != nil {
		t.Skip("dockerd is not installed (Debian package docker.io)")
	}
	cli := "/usr/bin/docker"
	if !fileExists(cli) {
		if cli, err = exec.LookPath("docker"); err != nil {
			t.Skip("no docker client")
		}
	}
	d := startDockerd(t, dockerd, cli)
	name := fmt.Sprintf("husk-%d", time.Now().UnixNano()%1e6)

	t.Run("run", func(t *testing.T) {
		out, err := d.docker("run", "--rm", imageName, "sh", "-c", "echo hello-$(id -u)")
		if err != nil || strings.TrimSpace(out) != "hello-0" {
			t.Fatalf("docker run: %v: %q", err, out)
		}
		// The task was served by husk's shim: it left a husk state root.
		if !fileExists(filepath.Join(d.execRoot, "containerd", "daemon", "husk")) {
			t.Errorf("no husk state under %s: the runc shim ran it?", d.execRoot)
		}
	})
	t.Run("exit-code", func(t *testing.T) {
		_, err := d.docker("run", "--rm", imageName, "sh", "-c", "exit 3")
		if exitCode(err) != 3 {
			t.Fatalf("docker run exit 3: %d (%v)", exitCode(err), err)
		}
	})
	t.Run("stdin", func(t *testing.T) {
		out, err := d.dockerIn([]byte("line-one\nline-two\n"), "run", "--rm", "-i", imageName, "sh", "-c", "cat; echo done")
		if err != nil || out != "line-one\nline-two\ndone\n" {
			t.Fatalf("docker run -i: %v: %q", err, out)
		}
	})
	t.Run("tty", func(t *testing.T) {
		out, err := runInPty(60*time.Second, cli, "-H", "unix://"+d.sock, "run", "--rm", "-t", imageName, "tty")
		if err != nil || !strings.Contains(out, "/dev/pts/") {
			t.Fatalf("docker run -t: %v: %q", err, out)
		}
	})
	if out, err := d.docker("run", "-d", "--name", name, imageName, "sleep", "1000"); err != nil {
		t.Fatalf("docker run -d: %v: %q", err, out)
	}
	t.Run("exec", func(t *testing.T) {
		out, err := d.docker("exec", name, "sh", "-c", "echo exec-ok")
		if err != nil || strings.TrimSpace(out) != "exec-ok" {
			t.Fatalf("docker exec: %v: %q", err, out)
		}
		if _, err := d.docker("exec", name, "sh", "-c", "exit 4"); exitCode(err) != 4 {
			t.Fatalf("docker exec exit 4: %d (%v)", exitCode(err), err)
		}
	})
	t.Run("top", func(t *testing.T) {
		out, err := d.docker("top", name)
		if err != nil || !strings.Contains(out, "sleep 1000") {
			t.Fatalf("docker top: %v: %q", err, out)
		}
	})
	t.Run("update", func(t *testing.T) {
		if out, err := d.docker("update", "--pids-limit", "77", name); err != nil {
			t.Fatalf("docker update: %v: %q", err, out)
		}
		id, _ := d.docker("inspect", "-f", "{{.Id}}", name)
		max := ""
		for _, dir := range cgroupDirs("docker/" + strings.TrimSpace(id)) {
			if b, err := os.ReadFile(filepath.Join(dir, "pids.max")); err == nil {
				max = strings.TrimSpace(string(b))
			}
		}
		if max != "77" {
			t.Fatalf("pids.max after docker update: %q", max)
		}
	})
	t.Run("pause", func(t *testing.T) {
		if out, err := d.docker("pause", name); err != nil {
			t.Fatalf("docker pause: %v: %q", err, out)
		}
		if out, _ := d.docker("inspect", "-f", "{{.State.Status}}", name); strings.TrimSpace(out) != "paused" {
			t.Fatalf("after pause: %q", out)
		}
		if out, err := d.docker("unpause", name); err != nil {
			t.Fatalf("docker unpause: %v: %q", err, out)
		}
	})
	t.Run("stats", func(t *testing.T) {
		out, err := d.docker("stats", "--no-stream", "--format", "{{.MemUsage}}", name)
		if err != nil || !strings.Contains(out, "B") {
			t.Fatalf("docker stats: %v: %q", err, out)
		}
	})
	t.Run("stop", func(t *testing.T) {
		// sleep as pid 1 ignores SIGTERM: docker stop SIGKILLs it.
		if out, err := d.docker("stop", "-t", "1", name); err != nil {
			t.Fatalf("docker stop: %v: %q", err, out)
		}
		out, _ := d.docker("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", name)
		if strings.TrimSpace(out) != "exited 137" {
			t.Fatalf("after stop: %q", out)
		}
	})
	t.Run("start-again", func(t *testing.T) {
		if out, err := d.docker("start", name); err != nil {
			t.Fatalf("docker start: %v: %q", err, out)
		}
		if out, err := d.docker("exec", name, "echo", "again"); err != nil || strings.TrimSpace(out) != "again" {
			t.Fatalf("exec after restart: %v: %q", err, out)
		}
		if out, err := d.docker("kill", name); err != nil {
			t.Fatalf("docker kill: %v: %q", err, out)
		}
	})
	t.Run("rm", func(t *testing.T) {
		if out, err := d.docker("rm", "-f", name); err != nil {
			t.Fatalf("docker rm: %v: %q", err, out)
		}
		waitFor(t, 10*time.Second, "no shim left", func() bool { return len(d.shimPids()) == 0 })
	})
}

type dockerd struct {
	t        *testing.T
	cli      string
	dir      string
	execRoot string
	sock     string
	cmd      *exec.Cmd
	exited   chan struct{}
}

func startDockerd(t *testing.T, bin, cli string) *dockerd {
	t.Helper()
	d := &dockerd{t: t, cli: cli, dir: t.TempDir()}
	var err error
	d.execRoot, err = os.MkdirTemp("/run", "husk-shimtest-docker-")
	if err != nil {
		t.Fatal(err)
	}
	d.sock = d.execRoot + ".sock"
	// husk's shim under the runc shim's name, first on dockerd's PATH.
	bindir := filepath.Join(d.dir, "bin")
	os.MkdirAll(bindir, 0o755)
	if err := os.Symlink(shimBin, filepath.Join(bindir, "containerd-shim-runc-v2")); err != nil {
		t.Fatal(err)
	}
	log, err := os.Create(filepath.Join(d.dir, "dockerd.log"))
	if err != nil {
		t.Fatal(err)
	}
	d.cmd = exec.Command(bin, "--data-root", filepath.Join(d.dir, "data"), "--exec-root", d.execRoot,
		"-H", "unix://"+d.sock, "--pidfile", filepath.Join(d.dir, "dockerd.pid"),
		"--iptables=false", "--ip-masq=false", "--bridge=none", "--storage-driver", "overlay2")
	d.cmd.Dir = d.dir
	d.cmd.Env = append(os.Environ(), "PATH="+bindir+":"+os.Getenv("PATH"))
	d.cmd.Stdout, d.cmd.Stderr = log, log
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("start dockerd: %v", err)
	}
	d.exited = make(chan struct{})
	go func() { d.cmd.Wait(); log.Close(); close(d.exited) }()
	t.Cleanup(d.cleanup)
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := d.docker("info"); err == nil {
			break
		}
		select {
		case <-d.exited:
			t.Fatalf("dockerd exited:\n%s", d.logTail(30))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("dockerd did not come up:\n%s", d.logTail(30))
		}
		time.Sleep(200 * time.Millisecond)
	}
	if out, err := d.docker("load", "-i", imageTar); err != nil {
		t.Fatalf("docker load: %v: %q", err, out)
	}
	return d
}

func (d *dockerd) docker(args ...string) (string, error) {
	return d.dockerIn(nil, args...)
}

func (d *dockerd) dockerIn(stdin []byte, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, d.cli, append([]string{"-H", "unix://" + d.sock}, args...)...)
	if stdin != nil {
		cmd.Stdin = strings.NewReader(string(stdin))
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (d *dockerd) logTail(n int) string {
	b, _ := os.ReadFile(filepath.Join(d.dir, "dockerd.log"))
	return tail(string(b), n)
}

func (d *dockerd) shimPids() []int {
	c := &ctrd{run: d.execRoot}
	return c.shimPids()
}

func (d *dockerd) cleanup() {
	if d.t.Failed() {
		d.t.Logf("dockerd log (tail):\n%s", d.logTail(40))
	}
	if ids, err := d.docker("ps", "-aq"); err == nil && strings.TrimSpace(ids) != "" {
		d.docker(append([]string{"rm", "-f"}, strings.Fields(ids)...)...)
	}
	d.cmd.Process.Signal(unix.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(30 * time.Second):
		d.cmd.Process.Kill()
		<-d.exited
	}
	unmountUnder(d.execRoot)
	unmountUnder(d.dir)
	os.RemoveAll(d.execRoot)
	os.Remove(d.sock)
	// dockerd always creates these.
	os.Remove("/run/docker/plugins")
	os.Remove("/run/docker")
}
