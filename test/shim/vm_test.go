package shimtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/husk-runtime/husk/vm/assets"
)

// The microVM class, io.containerd.huskvm.v2: one VM per task group (a
// pod), under containerd 1.6 (task API v2) and 2.4 (v3). Under TCG a VM
// boots in 3-5 s: the checks share a few VMs.
const vmRuntime = "io.containerd.huskvm.v2"

// vmAssets returns the guest's kernel release, or skips the test (with
// the reason) where VMs cannot run.
func vmAssets(t *testing.T) string {
	t.Helper()
	a, err := assets.Lookup(assets.Dir())
	if err != nil {
		t.Skipf("no microVM guest assets (make vm-assets): %v", err)
	}
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Skip("no qemu-system-x86_64 (Debian package qemu-system-x86)")
	}
	return a.Manifest.KernelVersion
}

func TestVMCtr(t *testing.T) {
	kernel := vmAssets(t)
	for _, v := range versions {
		t.Run("containerd-"+v, func(t *testing.T) {
			c := newContainerd(t, v, false)
			testVMCtr(t, c, kernel)
		})
	}
}

func testVMCtr(t *testing.T, c *ctrd, kernel string) {
	rt := "--runtime=" + vmRuntime
	id := func(name string) string { return fmt.Sprintf("vp-%s-%d", name, time.Now().UnixNano()%1e6) }
	ev := watchEvents(t, c)
	// A pod's network namespace as CNI makes it, given to ctr run.
	pn := newPodNetns(t)
	hostURL := pn.serve(t, "hello-from-the-host")

	// Two VMs at once (each boot mostly waits on one core under TCG).
	t.Run("runs", func(t *testing.T) {
		t.Run("uname-network-readonly", func(t *testing.T) {
			t.Parallel()
			testVMRun(t, c, pn, kernel, id("uname"), hostURL)
		})
		t.Run("tty-and-exit-code", func(t *testing.T) {
			t.Parallel()
			out, err := runInPty(120*time.Second, c.ctrBin, "-a", c.sock, "run", "--rm", "-t", rt, imageRef, id("tty"),
				"sh", "-c", "tty; sleep 1; stty size; exit 7")
			if exitCode(err) != 7 || !strings.Contains(out, "/dev/pts/") || !strings.Contains(out, "24 80") {
				t.Fatalf("ctr run -t: exit %d (%v): %q", exitCode(err), err, out)
			}
		})
	})
	checkNoVMs(t, c)
	pn.checkClean(t)
	// Every error path leaves nothing: no qemu, shim, VM directory or
	// record, mount, state, cgroup, tap or redirect.
	t.Run("errors-leave-nothing", func(t *testing.T) {
		check := func(t *testing.T, name string) {
			t.Helper()
			c.ctr("container", "delete", name)
			checkNoVMs(t, c)
			pn.checkClean(t)
			if d := cgroupDirs("default/" + name); len(d) > 0 {
				t.Errorf("cgroups left: %v", d)
			}
			if d := filepath.Join(c.run, "state", "husk-vm", "default", name); fileExists(d) {
				t.Errorf("state left: %s", d)
			}
			if m := mountsUnder(c.bundle("default", name)); len(m) > 0 {
				t.Errorf("still mounted: %v", m)
			}
		}
		t.Run("boot", func(t *testing.T) {
			// qemu cannot load the kernel: the pod's cgroup, the taps and
			// qemu were made.
			name := id("badboot")
			out, err := c.ctr("run", "--rm", rt, "--runtime-config-path", c.brokenVMConfig(t), "--with-ns", "network:"+pn.path,
				"--memory-limit", strconv.Itoa(64<<20), imageRef, name, "true")
			if err == nil || !strings.Contains(out, "qemu") {
				t.Fatalf("ctr run with a kernel qemu cannot load: %v: %q", err, out)
			}
			check(t, name)
		})
		t.Run("first-container", func(t *testing.T) {
			// The VM is up; its first container cannot be made. The
			// backend's error path does not depend on containerd's
			// version: one VM boot, on the newer containerd only.
			if c.version == "1.6" {
				t.Skip("checked with containerd 2.4")
			}
			name := id("badcmd")
			out, err := c.ctr("run", "--rm", rt, "--with-ns", "network:"+pn.path, imageRef, name, "/vp-no-such-program")
			if err == nil || !strings.Contains(out, "vp-no-such-program") {
				t.Fatalf("ctr run of a missing program: %v: %q", err, out)
			}
			check(t, name)
		})
	})

	// One VM for the task subcommands: a 64 MiB container whose output
	// goes to a logging binary (binary://: fd 3 stdout, fd 4 stderr,
	// closing fd 5 says it is ready), which the shim runs on the host.
	name := id("detached")
	logDir := t.TempDir()
	logOut := filepath.Join(logDir, "out.log")
	logger := filepath.Join(logDir, "logger.sh")
	if err := os.WriteFile(logger, []byte("#!/bin/sh\nexec 5>&-\ncat <&3 >> "+logOut+" &\ncat <&4 >> "+logOut+"\nwait\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := c.ctr("run", "-d", rt, "--memory-limit", strconv.Itoa(64<<20), "--log-uri", "binary://"+logger, imageRef, name,
		"sh", "-c", "echo to-the-logger; echo err-to-the-logger >&2; exec sleep 1000"); err != nil {
		t.Fatalf("ctr run -d: %v: %q", err, out)
	}
	if st := c.waitStatus("default", name, "RUNNING", 10*time.Second); st != "RUNNING" {
		t.Fatalf("detached task is %q", st)
	}
	pid := c.taskPid("default", name)
	t.Run("log-uri-binary", func(t *testing.T) {
		waitFor(t, 20*time.Second, "the container's output in the logger's file", func() bool {
			data, _ := os.ReadFile(logOut)
			return strings.Contains(string(data), "to-the-logger\n") && strings.Contains(string(data), "err-to-the-logger\n")
		})
	})
	t.Run("pid-is-qemu", func(t *testing.T) {
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if !strings.HasPrefix(string(comm), "qemu-system") {
			t.Errorf("task pid %d is %q, want the pod's qemu", pid, comm)
		}
	})
	t.Run("exec", func(t *testing.T) {
		out, err := c.ctr("task", "exec", "--exec-id", "e1", name, "sh", "-c", "echo exec-ok; uname -r; exit 5")
		if exitCode(err) != 5 || !strings.Contains(out, "exec-ok\n"+kernel) {
			t.Fatalf("ctr task exec: exit %d (%v): %q", exitCode(err), err, out)
		}
		out, err = c.ctrIn("default", []byte("exec-stdin\nsecond\n"), "task", "exec", "--exec-id", "e2", name, "head", "-n1")
		if err != nil || strings.TrimSpace(out) != "exec-stdin" {
			t.Fatalf("ctr task exec with stdin: %v: %q", err, out)
		}
		out, err = c.ctr("task", "exec", "--exec-id", "e3", name, "sh", "-c", "kill -TERM $$")
		if exitCode(err) != 143 {
			t.Fatalf("exec killed by SIGTERM: exit %d (%v): %q", exitCode(err), err, out)
		}
	})
	t.Run("exec-tty", func(t *testing.T) {
		out, err := runInPty(60*time.Second, c.ctrBin, "-a", c.sock, "task", "exec", "-t", "--exec-id", "t1", name, "sh", "-c", "tty; sleep 1; stty size")
		if err != nil || !strings.Contains(out, "/dev/pts/") || !strings.Contains(out, "24 80") {
			t.Fatalf("ctr task exec -t: %v: %q", err, out)
		}
	})
	t.Run("ps", func(t *testing.T) {
		ch := make(chan error, 1)
		go func() {
			_, err := c.ctr("task", "exec", "--exec-id", "ps1", name, "sleep", "1000")
			ch <- err
		}()
		// The guest's pids, the exec'd one named by its exec id.
		waitFor(t, 20*time.Second, "two processes in ctr task ps", func() bool {
			out, _ := c.ctr("task", "ps", name)
			return strings.Count(out, "\n") >= 3 && strings.Contains(out, "ps1")
		})
		if out, err := c.ctr("task", "kill", "--exec-id", "ps1", "-s", "SIGKILL", name); err != nil {
			t.Fatalf("kill exec: %v: %q", err, out)
		}
		if err := <-ch; exitCode(err) != 137 {
			t.Errorf("killed exec exited %d (%v)", exitCode(err), err)
		}
	})
	t.Run("pause-resume", func(t *testing.T) { c.pauseResume(t, name) })
	t.Run("metrics", func(t *testing.T) {
		// The guest's cgroup v2 statistics, with the container's limit.
		out, err := c.ctr("task", "metrics", name)
		if err != nil || !strings.Contains(out, "pids.current") || !strings.Contains(out, strconv.Itoa(64<<20)) {
			t.Fatalf("ctr task metrics: %v: %q", err, out)
		}
	})
	t.Run("oom", func(t *testing.T) {
		// 100 MiB in a 64 MiB container: the guest's OOM killer ends
		// the exec'd process, and containerd hears of it.
		out, err := c.ctr("task", "exec", "--exec-id", "oom1", name, "sh", "-c", "x=0123456789; while true; do x=$x$x; done")
		if exitCode(err) != 137 {
			t.Errorf("OOM-killed exec exited %d (%v): %q", exitCode(err), err, out)
		}
		ev.waitLine(t, name, "/tasks/oom", name)
	})
	t.Run("kill", func(t *testing.T) {
		if out, err := c.ctr("task", "kill", "-s", "SIGKILL", name); err != nil {
			t.Fatalf("kill: %v: %q", err, out)
		}
		if st := c.waitStatus("default", name, "STOPPED", 20*time.Second); st != "STOPPED" {
			t.Fatalf("after SIGKILL: %q", st)
		}
		if out, err := c.ctr("task", "delete", name); err != nil {
			t.Fatalf("ctr task delete: %v: %q", err, out)
		}
		c.ctr("container", "delete", name)
		checkVMGone(t, c, "default", name, pid)
	})
	t.Run("events", func(t *testing.T) {
		// Every exec'd process's exit came before the init's.
		got := ev.topics(name)
		n := len(got)
		if n < 4 || got[0] != "/tasks/create" || got[1] != "/tasks/start" || got[n-2] != "/tasks/exit" || got[n-1] != "/tasks/delete" ||
			strings.Count(strings.Join(got, " "), "/tasks/exit") != strings.Count(strings.Join(got, " "), "/tasks/exec-started")+1 {
			t.Errorf("events of %s: %v", name, got)
		}
	})
	t.Run("shim-exits", func(t *testing.T) {
		waitFor(t, 30*time.Second, "no shim left", func() bool { return len(c.shimPids()) == 0 })
		checkNoVMs(t, c)
		waitFor(t, 10*time.Second, "the logging binary gone", func() bool { return len(pidsWithArg(logger)) == 0 })
	})
}

// testVMRun is ctr run of the VM class through a pod's network namespace.
func testVMRun(t *testing.T, c *ctrd, pn *podNetns, kernel, name, hostURL string) {
	rt := "--runtime=" + vmRuntime
	// One VM: the guest's kernel first; the VM connected to the pod's
	// network namespace (eth0's address, the host reached through
	// it); a read-only rootfs with a bind mount whose mount point is
	// not in the image (the guest makes it before sealing the
	// rootfs); the exit code.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "data"), []byte("from-the-host\n"), 0o644)
	out, err := c.ctr("run", "--rm", rt, "--with-ns", "network:"+pn.path, "--read-only",
		"--mount", "type=bind,src="+dir+",dst=/vp-data,options=rbind:ro", imageRef, name,
		"sh", "-c", "uname -r; cat /vp-data/data; touch /x 2>/dev/null || echo read-only; ip -4 -o addr show eth0; wget -O - "+hostURL+" 2>/dev/null; exit 3")
	lines := strings.Split(out, "\n")
	if exitCode(err) != 3 || len(lines) < 5 || lines[0] != kernel || lines[1] != "from-the-host" || lines[2] != "read-only" ||
		!strings.Contains(lines[3], pn.podIP+"/24") || lines[4] != "hello-from-the-host" {
		t.Fatalf("ctr run: exit %d (%v): %q; want the guest's kernel %s, the bind mount, a read-only rootfs, eth0 with %s and the host's answer",
			exitCode(err), err, out, kernel, pn.podIP)
	}
}

// pidsWithArg lists the live processes with arg in their command line.
func pidsWithArg(arg string) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		for _, a := range strings.Split(string(cmdline), "\x00") {
			if a == arg && alive(pid) {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// checkVMGone checks that nothing of a deleted VM task is left: qemu, the
// rootfs mounts, husk's state and the VM's directory.
func checkVMGone(t *testing.T, c *ctrd, ns, id string, qemu int) {
	t.Helper()
	waitFor(t, 10*time.Second, "qemu gone", func() bool { return !alive(qemu) })
	if m := mountsUnder(c.bundle(ns, id)); len(m) > 0 {
		t.Errorf("still mounted: %v", m)
	}
	if d := filepath.Join(c.run, "state", "husk-vm", ns, id); fileExists(d) {
		t.Errorf("state left: %s", d)
	}
	if m := mountsUnder(c.vmRun); len(m) > 0 {
		t.Errorf("VM mounts left: %v", m)
	}
}

// topics lists the task topics of container id so far, in order.
func (e *events) topics(id string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var got []string
	for _, l := range e.lines {
		for _, w := range strings.Fields(l) {
			if strings.HasPrefix(w, "/tasks/") && strings.Contains(l, `"`+id+`"`) {
				got = append(got, w)
				break
			}
		}
	}
	return got
}

// TestVMFaults: containerd restarted under a running VM (the shim and
// its VM outlive it and serve the new one), then the VM class's shim
// SIGKILLed (its qemu dies with it, and the delete action removes the
// rest), on one VM.
func TestVMFaults(t *testing.T) {
	vmAssets(t)
	for _, v := range versions {
		t.Run("containerd-"+v, func(t *testing.T) {
			c := newContainerd(t, v, false)
			testVMFaults(t, c)
		})
	}
}

func testVMFaults(t *testing.T, c *ctrd) {
	id := fmt.Sprintf("vp-faults-%d", time.Now().UnixNano()%1e6)
	if out, err := c.ctr("run", "-d", "--runtime="+vmRuntime, imageRef, id, "sleep", "1000"); err != nil {
		t.Fatalf("ctr run -d: %v: %q", err, out)
	}
	qemu := c.taskPid("default", id)
	t.Run("containerd-restart", func(t *testing.T) {
		c.restart()
		if st := c.waitStatus("default", id, "RUNNING", 20*time.Second); st != "RUNNING" {
			t.Fatalf("after restart: task %q", st)
		}
		if p := c.taskPid("default", id); p != qemu || !alive(qemu) {
			t.Errorf("after restart: task pid %d, qemu %d (alive %v)", p, qemu, alive(qemu))
		}
		if out, err := c.ctr("task", "exec", "--exec-id", "after-restart", id, "echo", "still-here"); err != nil || strings.TrimSpace(out) != "still-here" {
			t.Errorf("exec after restart: %v: %q", err, out)
		}
		if out, err := c.ctr("task", "pause", id); err != nil {
			t.Errorf("pause after restart: %v: %q", err, out)
		}
		if out, err := c.ctr("task", "resume", id); err != nil {
			t.Errorf("resume after restart: %v: %q", err, out)
		}
	})
	t.Run("shim-killed", func(t *testing.T) {
		// Events from the containerd now running.
		ev := watchEvents(t, c)
		shims := c.shimPids()
		if len(shims) != 1 || ppid(qemu) != shims[0] {
			t.Fatalf("want one shim, qemu's parent: shims %v, qemu %d's parent %d", shims, qemu, ppid(qemu))
		}
		if d := cgroupDirs("default/" + id); len(d) == 0 {
			t.Errorf("no cgroup for the VM at /default/%s", id)
		}
		if err := syscall.Kill(shims[0], syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, "qemu to die with its shim", func() bool { return !alive(qemu) })
		waitFor(t, 20*time.Second, "task stopped or gone", func() bool {
			st := c.taskStatus("default", id)
			return st == "" || st == "STOPPED"
		})
		if st := c.taskStatus("default", id); st == "STOPPED" {
			c.ctr("task", "delete", id)
		}
		if out, err := c.ctr("container", "delete", id); err != nil {
			t.Errorf("container delete: %v: %q", err, out)
		}
		ev.waitLine(t, id, "/tasks/exit", `"exit_status":137`)
		checkVMGone(t, c, "default", id, qemu)
		checkNoVMs(t, c)
		if d := cgroupDirs("default/" + id); len(d) > 0 {
			t.Errorf("cgroups left: %v", d)
		}
	})
}
