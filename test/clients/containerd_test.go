package clients

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// containerd is a private containerd (Debian's 1.6 unless told): root
// under /tmp, state and sockets under /run, CRI off unless its config
// turns it on.
type containerd struct {
	root, state string // private dirs
	sock        string
	bins        containerdBins
	d           *daemon
}

// containerdBins are the binaries of one version of containerd.
type containerdBins struct {
	name            string
	containerd, ctr string
	config          int    // the version of its config file
	shimDir         string // put first on its PATH, with its runc shim ("": Debian's, on PATH)
}

var debianContainerd = containerdBins{name: "1.6", containerd: containerdBin, ctr: ctrBin, config: 2}

// containerd24 is containerd 2.4 with its runc shim, built by make (see
// -containerd24); ok is false when they are not there.
func containerd24() (bins containerdBins, ok bool) {
	dir := *containerd24Flag
	bins = containerdBins{name: "2.4", containerd: filepath.Join(dir, "containerd"), ctr: filepath.Join(dir, "ctr"), config: 3,
		shimDir: filepath.Join(dir, "runc-shim")}
	for _, f := range []string{bins.containerd, bins.ctr, filepath.Join(bins.shimDir, "containerd-shim-runc-v2")} {
		if _, err := os.Stat(f); err != nil {
			return bins, false
		}
	}
	return bins, true
}

// startContainerd starts a private containerd and registers its cleanup:
// kill and delete every task it runs, stop it, kill shims left over for
// its socket, unmount and remove its dirs.
func startContainerd(t *testing.T, name string) *containerd {
	t.Helper()
	return startContainerdConfig(t, name, debianContainerd, `disabled_plugins = ["io.containerd.grpc.v1.cri"]`+"\n")
}

// startContainerdConfig is startContainerd of the version bins with
// plugins in its config: the plugins to disable and the configuration of
// the others.
func startContainerdConfig(t *testing.T, name string, bins containerdBins, plugins string) *containerd {
	t.Helper()
	created := missingDirs("/run/containerd/runc", "/run/containerd/s", "/run/containerd/fifo", "/run/containerd")
	root := filepath.Join(workDir, name)
	if err := os.MkdirAll(root, 0o711); err != nil {
		t.Fatal(err)
	}
	state, err := os.MkdirTemp("/run", "husk-clients-"+name+"-")
	if err != nil {
		t.Fatal(err)
	}
	c := &containerd{root: root, state: state, sock: filepath.Join(state, "containerd.sock"), bins: bins}
	cfg := fmt.Sprintf(`version = %d
root = %q
state = %q
%s
[grpc]
  address = %q
[ttrpc]
  address = %q
[debug]
  address = %q
  level = "info"
[plugins."io.containerd.internal.v1.opt"]
  path = %q
`, bins.config, filepath.Join(root, "root"), filepath.Join(state, "state"), plugins, c.sock, c.sock+".ttrpc",
		filepath.Join(state, "debug.sock"), filepath.Join(root, "opt"))
	cfgPath := filepath.Join(root, "config.toml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	var env []string
	if bins.shimDir != "" {
		env = append(env, "PATH="+bins.shimDir+":"+os.Getenv("PATH"))
	}
	c.d = startDaemon(t, bins.containerd, filepath.Join(root, "containerd.log"), root, env, "--config", cfgPath)
	t.Cleanup(func() {
		c.cleanup(t)
		removeDirs(t, root, state)
		rmdirEmpty(created)
	})
	ok := poll(60*time.Second, func() bool {
		if !c.d.alive() {
			return true
		}
		_, err := os.Stat(c.sock)
		return err == nil && run(t, cmdSpec{name: bins.ctr, args: []string{"--address", c.sock, "version"}, timeout: 10 * time.Second}).code == 0
	})
	if !ok || !c.d.alive() {
		t.Fatalf("containerd did not start:\n%s", c.d.logTail())
	}
	return c
}

// ctr runs ctr against this containerd in namespace ns.
func (c *containerd) ctr(t *testing.T, ns string, args ...string) result {
	t.Helper()
	return run(t, cmdSpec{name: c.bins.ctr, args: append([]string{"--address", c.sock, "--namespace", ns}, args...)})
}

func (c *containerd) cleanup(t *testing.T) {
	if c.d.alive() {
		nss := run(t, cmdSpec{name: c.bins.ctr, args: []string{"--address", c.sock, "namespaces", "ls", "-q"}, timeout: 20 * time.Second})
		for _, ns := range strings.Fields(nss.stdout) {
			tasks := strings.Fields(c.ctr(t, ns, "task", "ls", "-q").stdout)
			for _, id := range tasks {
				c.ctr(t, ns, "task", "kill", "-a", "-s", "SIGKILL", id)
			}
			for _, id := range tasks {
				poll(10*time.Second, func() bool { return c.taskStatus(t, ns, id) != "RUNNING" })
				c.ctr(t, ns, "task", "delete", "-f", id)
			}
			for _, id := range strings.Fields(c.ctr(t, ns, "containers", "ls", "-q").stdout) {
				c.ctr(t, ns, "containers", "delete", id)
			}
		}
	}
	c.d.stop(t, 20*time.Second)
	// Shims outlive containerd; the ones started for this socket are ours,
	// and so are their children: container inits (killing an init ends
	// its pid namespace) and exec processes.
	for _, pid := range pidsWithArg(c.sock) {
		for _, child := range childrenOf(pid) {
			t.Logf("killing process %d left by shim %d of %s", child, pid, c.sock)
			syscall.Kill(child, syscall.SIGKILL)
		}
		t.Logf("killing leftover shim %d of %s", pid, c.sock)
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

// taskStatus is the STATUS column of `ctr task ls` for id ("" if absent).
func (c *containerd) taskStatus(t *testing.T, ns, id string) string {
	for _, l := range strings.Split(c.ctr(t, ns, "task", "ls").stdout, "\n") {
		if f := strings.Fields(l); len(f) >= 3 && f[0] == id {
			return f[2]
		}
	}
	return ""
}

func (c *containerd) taskPid(t *testing.T, ns, id string) string {
	for _, l := range strings.Split(c.ctr(t, ns, "task", "ls").stdout, "\n") {
		if f := strings.Fields(l); len(f) >= 3 && f[0] == id {
			return f[1]
		}
	}
	return ""
}

// TestContainerd runs containers with ctr through containerd's runc shim
// (io.containerd.runc.v2) told to use husk as its runc binary.
func TestContainerd(t *testing.T) {
	argv := newArgvLog(t, "containerd")
	ns := fmt.Sprintf("husk-test-%d", os.Getpid())
	// The runc shim keeps the runtime's state in /run/containerd/runc/<ns>
	// and ctr puts containers in the cgroup /<ns>/<id>: a namespace of our
	// own keeps those private too. (Registered first: runs after
	// containerd's cleanup has deleted the containers.)
	runcRoot := filepath.Join("/run/containerd/runc", ns)
	t.Cleanup(func() {
		removeDirs(t, runcRoot)
		removeCgroups(t, ns)
	})
	c := startContainerd(t, "containerd")
	argv.addSubst(c.state, "<CTRD_STATE>")
	argv.addSubst(c.root, "<CTRD_ROOT>")
	argv.addSubst(ns, "<NS>")
	argv.bundles = regexp.MustCompile(regexp.QuoteMeta(filepath.Join(c.state, "state/io.containerd.runtime.v2.task", ns)) + `/[^/]+`)

	ctr := func(t *testing.T, args ...string) result { t.Helper(); return c.ctr(t, ns, args...) }
	rt := []string{"--runtime", "io.containerd.runc.v2", "--runc-binary", argv.wrapper}
	runArgs := func(extra []string, id string, cmd ...string) []string {
		a := append([]string{"run"}, rt...)
		a = append(a, extra...)
		return append(append(a, imageRef, id), cmd...)
	}

	r := run(t, cmdSpec{name: ctrBin, args: []string{"--address", c.sock, "--namespace", ns, "image", "import", imageTar}, timeout: longTimeout})
	mustOK(t, r)
	if ls := ctr(t, "image", "ls", "-q"); !strings.Contains(ls.stdout, imageRef) {
		t.Fatalf("image %s not in containerd after import: %s", imageRef, ls)
	}

	t.Run("echo", func(t *testing.T) {
		wantOut(t, ctr(t, runArgs([]string{"--rm"}, uniqueName(), "sh", "-c", "echo hello-$(id -u)")...), "hello-0")
	})
	t.Run("exit_code", func(t *testing.T) {
		if r := ctr(t, runArgs([]string{"--rm"}, uniqueName(), "sh", "-c", "exit 3")...); r.code != 3 {
			t.Errorf("want exit 3: %s", r)
		}
	})
	t.Run("stdin", func(t *testing.T) {
		// ctr never closes the container's stdin: read one line, not to EOF.
		r := run(t, cmdSpec{name: ctrBin, args: append([]string{"--address", c.sock, "--namespace", ns},
			runArgs([]string{"--rm"}, uniqueName(), "head", "-n1")...), stdin: []byte("piped-stdin\nsecond\n")})
		wantOut(t, r, "piped-stdin")
	})
	t.Run("tty", func(t *testing.T) {
		r := runPTY(t, cmdSpec{name: ctrBin, args: append([]string{"--address", c.sock, "--namespace", ns},
			runArgs([]string{"--rm", "-t"}, uniqueName(), "sh", "-c", ttyScript)...)}, 30, 100)
		checkTTY(t, r)
	})
	t.Run("detached", func(t *testing.T) {
		id := uniqueName()
		mustOK(t, ctr(t, runArgs([]string{"-d"}, id, "sleep", "1000")...))
		if st := c.taskStatus(t, ns, id); st != "RUNNING" {
			t.Fatalf("task %s after run -d: status %q", id, st)
		}
		pid := c.taskPid(t, ns, id)

		wantOut(t, ctr(t, "task", "exec", "--exec-id", uniqueName(), id, "sh", "-c", "echo exec-ok $(cat /proc/1/comm)"), "exec-ok sleep")
		checkTTYExec := runPTY(t, cmdSpec{name: ctrBin, args: []string{"--address", c.sock, "--namespace", ns,
			"task", "exec", "-t", "--exec-id", uniqueName(), id, "sh", "-c", ttyScript}}, 30, 100)
		checkTTY(t, checkTTYExec)

		ps := mustOK(t, ctr(t, "task", "ps", id))
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(pid) + `\s`).MatchString(ps.stdout) {
			t.Errorf("task ps does not list the init pid %s: %s", pid, ps)
		}

		mustOK(t, ctr(t, "task", "pause", id))
		if st := c.taskStatus(t, ns, id); st != "PAUSED" {
			t.Errorf("after pause: status %q", st)
		}
		mustOK(t, ctr(t, "task", "resume", id))
		if st := c.taskStatus(t, ns, id); st != "RUNNING" {
			t.Errorf("after resume: status %q", st)
		}

		m := mustOK(t, ctr(t, "task", "metrics", "--format", "json", id))
		var metrics struct {
			Pids   struct{ Current uint64 } `json:"pids"`
			Memory map[string]any           `json:"memory"`
		}
		if err := json.Unmarshal([]byte(m.stdout), &metrics); err != nil {
			t.Errorf("task metrics: %v: %s", err, m)
		} else if metrics.Pids.Current < 1 || metrics.Memory == nil {
			t.Errorf("task metrics (read by the shim from the container's cgroup) show no pids or memory: %s", m)
		}

		mustOK(t, ctr(t, "task", "kill", "-a", "-s", "SIGKILL", id))
		if !poll(20*time.Second, func() bool { return c.taskStatus(t, ns, id) == "STOPPED" }) {
			t.Fatalf("task %s not STOPPED after SIGKILL: %q", id, c.taskStatus(t, ns, id))
		}
		mustOK(t, ctr(t, "task", "delete", id))
		mustOK(t, ctr(t, "containers", "delete", id))
		if st := c.taskStatus(t, ns, id); st != "" {
			t.Errorf("task %s still listed after delete: %q", id, st)
		}
	})
	t.Run("invalid_config", func(t *testing.T) {
		// A bind mount of a missing source: husk's config check names it.
		id := uniqueName()
		r := ctr(t, runArgs([]string{"--rm", "--mount", "type=bind,src=/nonexistent-husk-src,dst=/x,options=rbind"}, id, "true")...)
		ctr(t, "containers", "delete", id)
		wantHuskError(t, r, `mounts\[[0-9]+\]\.source: /nonexistent-husk-src: no such file or directory`)
		// A mount option only the kernel rejects: husk reports the mount
		// and the kernel's own words.
		id = uniqueName()
		r = ctr(t, runArgs([]string{"--rm", "--mount", "type=tmpfs,src=tmpfs,dst=/x,options=size=abc"}, id, "true")...)
		ctr(t, "containers", "delete", id)
		wantHuskError(t, r, `mounts\[[0-9]+\] \(/x\): mount tmpfs: option size=abc`)
	})
	t.Run("no_leftovers", func(t *testing.T) {
		// Every container was deleted through husk: its state dir is empty.
		r := run(t, cmdSpec{name: huskBin, args: []string{"--root", runcRoot, "list", "-q"}})
		if r.code != 0 || strings.TrimSpace(r.stdout) != "" {
			t.Errorf("husk still lists containers in %s: %s", runcRoot, r)
		}
	})
	t.Run("argv", argv.check)
}

// wantHuskError checks that a client failed and that its output carries
// husk's own error message (pattern).
func wantHuskError(t *testing.T, r result, pattern string) {
	t.Helper()
	if r.code == 0 {
		t.Errorf("an invalid config was accepted: %s", r)
		return
	}
	if !regexp.MustCompile(pattern).MatchString(r.out()) {
		t.Errorf("husk's error (%s) does not reach the client's output: %s", pattern, r)
	}
}
