package shimtest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// ctrd is a private containerd: its own root (under the test's temp dir),
// state and sockets (under /run), the shim's directory first on its PATH.
type ctrd struct {
	t       *testing.T
	version string // "1.6" or "2.4"
	bin     string
	ctrBin  string
	dir     string // root, config, log
	run     string // state and sockets
	sock    string
	cri     bool
	cmd     *exec.Cmd
	exited  chan struct{}
	logFile *os.File
	// pathPrefix: directory put first on containerd's PATH (the shim's).
	pathPrefix string
	// vmRun is the VM class's run directory (VMs' directories and pod
	// records), this containerd's own: the shim reads vmConfig through
	// $HUSK_VM_CONFIG.
	vmRun, vmConfig string
}

// versions are the containerd versions every ctr test runs against.
var versions = []string{"1.6", "2.4"}

func newContainerd(t *testing.T, version string, cri bool) *ctrd {
	t.Helper()
	return newContainerdWith(t, version, cri, nil)
}

// newContainerdWith is newContainerd, with prepare run before containerd
// starts (to put CNI's plugins and configuration in c.dir/cni).
func newContainerdWith(t *testing.T, version string, cri bool, prepare func(c *ctrd)) *ctrd {
	t.Helper()
	c := &ctrd{t: t, version: version, cri: cri, pathPrefix: shimDir}
	switch version {
	case "1.6":
		c.bin, c.ctrBin = "/usr/bin/containerd", "/usr/bin/ctr"
		if !fileExists(c.bin) || !fileExists(c.ctrBin) {
			t.Skip("containerd 1.6 is not installed (Debian package containerd)")
		}
	case "2.4":
		c.bin, c.ctrBin = containerd24Binaries(t)
	default:
		t.Fatalf("unknown containerd version %s", version)
	}
	c.dir = t.TempDir()
	var err error
	c.run, err = os.MkdirTemp("/run", "husk-shimtest-")
	if err != nil {
		t.Fatal(err)
	}
	c.sock = filepath.Join(c.run, "c.sock")
	c.vmRun, c.vmConfig = filepath.Join(c.run, "vm"), filepath.Join(c.dir, "vm.toml")
	if err := os.WriteFile(c.vmConfig, []byte(fmt.Sprintf("run_dir = %q\n", c.vmRun)), 0o644); err != nil {
		t.Fatal(err)
	}
	c.brokenVMConfig(t)
	os.MkdirAll(filepath.Join(c.dir, "cni", "bin"), 0o755)
	os.MkdirAll(filepath.Join(c.dir, "cni", "conf"), 0o755)
	if err := os.WriteFile(filepath.Join(c.dir, "config.toml"), []byte(c.config()), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.cleanup)
	if prepare != nil {
		prepare(c)
	}
	c.start()
	ns := "default"
	if cri {
		ns = "k8s.io"
	}
	if out, err := c.ctrNS(ns, "images", "import", imageTar); err != nil {
		t.Fatalf("import test image: %v\n%s", err, out)
	}
	return c
}

func (c *ctrd) config() string {
	common := fmt.Sprintf(`root = %q
state = %q
[grpc]
  address = %q
[ttrpc]
  address = %q
[debug]
  level = "debug"
`, filepath.Join(c.dir, "root"), filepath.Join(c.run, "state"), c.sock, c.sock+".ttrpc")
	cni := filepath.Join(c.dir, "cni")
	if c.version == "1.6" {
		if !c.cri {
			return "version = 2\n" + common + `disabled_plugins = ["io.containerd.grpc.v1.cri"]` + "\n"
		}
		return "version = 2\n" + common + fmt.Sprintf(`
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %q
  # This VM's root lacks CAP_SYS_RESOURCE: no runtime may lower
  # oom_score_adj below containerd's (the sandbox asks for -998).
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.husk]
      runtime_type = "io.containerd.husk.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.husk-vm]
      runtime_type = "io.containerd.huskvm.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.husk-vm-broken]
      runtime_type = "io.containerd.huskvm.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.husk-vm-broken.options]
        ConfigPath = %q
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = %q
    conf_dir = %q
`, imageRef, c.brokenConfigPath(), filepath.Join(cni, "bin"), filepath.Join(cni, "conf"))
	}
	if !c.cri {
		return "version = 3\n" + common +
			`disabled_plugins = ["io.containerd.cri.v1.images", "io.containerd.cri.v1.runtime", "io.containerd.grpc.v1.cri", "io.containerd.nri.v1.nri"]` + "\n"
	}
	return "version = 3\n" + common + `disabled_plugins = ["io.containerd.nri.v1.nri"]` + "\n" + fmt.Sprintf(`
[plugins."io.containerd.cri.v1.images".pinned_images]
  sandbox = %q
[plugins."io.containerd.cri.v1.runtime"]
  restrict_oom_score_adj = true
[plugins."io.containerd.cri.v1.runtime".containerd]
  default_runtime_name = "runc"
  [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.husk]
    runtime_type = "io.containerd.husk.v2"
  [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.husk-vm]
    runtime_type = "io.containerd.huskvm.v2"
  [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.husk-vm-broken]
    runtime_type = "io.containerd.huskvm.v2"
    [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.husk-vm-broken.options]
      ConfigPath = %q
  # The VM class through containerd's sandbox API: no pause container.
  [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.husk-vm-sandbox]
    runtime_type = "io.containerd.huskvm.v2"
    sandboxer = "shim"
  [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.husk-vm-sandbox-broken]
    runtime_type = "io.containerd.huskvm.v2"
    sandboxer = "shim"
    [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.husk-vm-sandbox-broken.options]
      ConfigPath = %q
[plugins."io.containerd.cri.v1.runtime".cni]
  bin_dirs = [%q]
  conf_dir = %q
[plugins."io.containerd.grpc.v1.cri"]
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
`, imageRef, c.brokenConfigPath(), c.brokenConfigPath(), filepath.Join(cni, "bin"), filepath.Join(cni, "conf"))
}

func (c *ctrd) start() {
	c.t.Helper()
	lf, err := os.OpenFile(filepath.Join(c.dir, "containerd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		c.t.Fatal(err)
	}
	c.logFile = lf
	cmd := exec.Command(c.bin, "--config", filepath.Join(c.dir, "config.toml"))
	cmd.Dir = c.dir
	cmd.Env = append(os.Environ(), "PATH="+c.pathPrefix+":"+os.Getenv("PATH"), "HUSK_VM_CONFIG="+c.vmConfig)
	cmd.Stdout, cmd.Stderr = lf, lf
	// Its own process group: a signal for the test is not for it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		c.t.Fatalf("start containerd %s: %v", c.version, err)
	}
	c.cmd = cmd
	exited := make(chan struct{})
	c.exited = exited
	go func() { cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			c.t.Fatalf("containerd %s exited:\n%s", c.version, c.logTail(30))
		default:
		}
		if _, err := c.ctr("version"); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.t.Fatalf("containerd %s did not come up:\n%s", c.version, c.logTail(30))
}

// stop ends containerd (SIGTERM); its shims and containers stay.
func (c *ctrd) stop() {
	if c.cmd == nil || c.cmd.Process == nil {
		return
	}
	c.cmd.Process.Signal(unix.SIGTERM)
	select {
	case <-c.exited:
	case <-time.After(20 * time.Second):
		c.cmd.Process.Kill()
		<-c.exited
	}
	c.cmd = nil
	if c.logFile != nil {
		c.logFile.Close()
		c.logFile = nil
	}
}

func (c *ctrd) restart() {
	c.stop()
	c.start()
}

// cleanup removes every task, container and image namespace's content,
// stops containerd and removes what it left.
func (c *ctrd) cleanup() {
	if c.t.Failed() {
		c.t.Logf("containerd %s log (tail):\n%s", c.version, c.logTail(40))
	}
	if c.cmd != nil {
		nss, _ := c.ctr("namespaces", "ls", "-q")
		for _, ns := range strings.Fields(nss) {
			tasks, _ := c.ctrNS(ns, "task", "ls", "-q")
			for _, id := range strings.Fields(tasks) {
				c.ctrNS(ns, "task", "kill", "-a", "-s", "SIGKILL", id)
			}
			for _, id := range strings.Fields(tasks) {
				c.ctrNS(ns, "task", "delete", "-f", id)
			}
			ctrs, _ := c.ctrNS(ns, "container", "ls", "-q")
			for _, id := range strings.Fields(ctrs) {
				c.ctrNS(ns, "container", "delete", id)
			}
		}
		c.stop()
	}
	// What a failed VM test left.
	c.killQemus()
	for _, d := range []string{c.run, c.dir} {
		unmountUnder(d)
	}
	os.RemoveAll(c.run)
}

func (c *ctrd) logTail(n int) string {
	b, _ := os.ReadFile(filepath.Join(c.dir, "containerd.log"))
	return tail(string(b), n)
}

// ctr runs ctr in the default namespace; output is stdout+stderr, minus
// containerd 2.x's cgroup v1 deprecation warning (expected on this host).
func (c *ctrd) ctr(args ...string) (string, error) {
	return c.ctrNS("default", args...)
}

func (c *ctrd) ctrNS(ns string, args ...string) (string, error) {
	return c.ctrIn(ns, nil, args...)
}

func (c *ctrd) ctrIn(ns string, stdin []byte, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.ctrBin, append([]string{"-a", c.sock, "-n", ns}, args...)...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	return cleanOutput(string(out)), err
}

// cleanOutput drops containerd 2.x's cgroup v1 deprecation warnings.
func cleanOutput(s string) string {
	var keep []string
	for _, l := range strings.SplitAfter(s, "\n") {
		if strings.Contains(l, "DEPRECATION") && strings.Contains(l, "cgroup v1") {
			continue
		}
		keep = append(keep, l)
	}
	return strings.Join(keep, "")
}

// taskStatus returns a task's status as `ctr task ls` shows it ("" if not
// listed).
func (c *ctrd) taskStatus(ns, id string) string {
	out, _ := c.ctrNS(ns, "task", "ls")
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) >= 3 && f[0] == id {
			return f[2]
		}
	}
	return ""
}

// pauseResume pauses task id in the default namespace and resumes it,
// checking the status containerd reports after each step.
func (c *ctrd) pauseResume(t *testing.T, id string) {
	t.Helper()
	if out, err := c.ctr("task", "pause", id); err != nil {
		t.Fatalf("pause: %v: %q", err, out)
	}
	if st := c.taskStatus("default", id); st != "PAUSED" {
		t.Fatalf("after pause: %q", st)
	}
	if out, err := c.ctr("task", "resume", id); err != nil {
		t.Fatalf("resume: %v: %q", err, out)
	}
	if st := c.taskStatus("default", id); st != "RUNNING" {
		t.Fatalf("after resume: %q", st)
	}
}

func (c *ctrd) taskPid(ns, id string) int {
	out, _ := c.ctrNS(ns, "task", "ls")
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) >= 3 && f[0] == id {
			p, _ := strconv.Atoi(f[1])
			return p
		}
	}
	return 0
}

// waitStatus waits until a task's status is want ("" = gone).
func (c *ctrd) waitStatus(ns, id, want string, timeout time.Duration) string {
	deadline := time.Now().Add(timeout)
	st := c.taskStatus(ns, id)
	for st != want && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		st = c.taskStatus(ns, id)
	}
	return st
}

// bundle is the directory containerd gives the shim for a task.
func (c *ctrd) bundle(ns, id string) string {
	return filepath.Join(c.run, "state", "io.containerd.runtime.v2.task", ns, id)
}

// huskState is where the shim keeps husk's state of that task.
func (c *ctrd) huskState(ns, id string) string {
	return filepath.Join(c.run, "state", "husk", ns, id)
}

// unmountUnder lazily unmounts everything at or below dir.
func unmountUnder(dir string) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	var mnts []string
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			mnts = append(mnts, f[4])
		}
	}
	for i := len(mnts) - 1; i >= 0; i-- {
		unix.Unmount(mnts[i], unix.MNT_DETACH)
	}
}

// mountsUnder lists mount points at or below dir.
func mountsUnder(dir string) []string {
	data, _ := os.ReadFile("/proc/self/mountinfo")
	var mnts []string
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			mnts = append(mnts, f[4])
		}
	}
	return mnts
}

// shimPids lists the running shim daemons (not start/delete invocations)
// serving namespace ns of this containerd.
func (c *ctrd) shimPids() []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
		exe, _ := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if len(args) == 0 || exe != daemonBin {
			continue
		}
		if args[len(args)-1] == "start" || args[len(args)-1] == "delete" {
			continue
		}
		cwd, _ := os.Readlink(filepath.Join("/proc", e.Name(), "cwd"))
		if strings.HasPrefix(cwd, c.run+"/") {
			pids = append(pids, pid)
		}
	}
	return pids
}

// ppid returns the parent of pid (0 if gone).
func ppid(pid int) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(data, ')')
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 2 {
		return 0
	}
	p, _ := strconv.Atoi(f[1])
	return p
}

func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(data, ')')
	f := strings.Fields(string(data[i+1:]))
	return len(f) > 0 && f[0] != "Z" && f[0] != "X"
}

// cgroupDirs lists the v1/v2 cgroup directories named path that exist.
func cgroupDirs(path string) []string {
	var dirs []string
	ents, _ := os.ReadDir("/sys/fs/cgroup")
	for _, e := range ents {
		d := filepath.Join("/sys/fs/cgroup", e.Name(), path)
		if fileExists(d) {
			dirs = append(dirs, d)
		}
	}
	if fileExists(filepath.Join("/sys/fs/cgroup", path)) {
		dirs = append(dirs, filepath.Join("/sys/fs/cgroup", path))
	}
	return dirs
}
