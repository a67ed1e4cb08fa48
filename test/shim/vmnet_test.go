package shimtest

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// podNetns is a network namespace made as CNI's bridge plugin would make
// a pod's, for `ctr run --with-ns network:PATH`: eth0 inside (an address
// of 10.215.K.0/24 and a default route), the veth's peer on the host with
// the gateway's address.
type podNetns struct {
	name, path string
	hostIf     string
	hostIP     string // the gateway, on the host
	podIP      string // eth0's, in the namespace
}

var netnsSeq atomic.Int32

func newPodNetns(t *testing.T) *podNetns {
	t.Helper()
	k := (os.Getpid()+int(netnsSeq.Add(1)))%200 + 20
	n := &podNetns{name: fmt.Sprintf("vp-ns-%d-%d", os.Getpid(), k), hostIf: fmt.Sprintf("vp-vh%d", k),
		hostIP: fmt.Sprintf("10.215.%d.1", k), podIP: fmt.Sprintf("10.215.%d.2", k)}
	n.path = filepath.Join("/var/run/netns", n.name)
	t.Cleanup(func() {
		exec.Command("ip", "link", "del", n.hostIf).Run()
		exec.Command("ip", "netns", "del", n.name).Run()
	})
	for _, args := range [][]string{
		{"netns", "add", n.name},
		{"link", "add", n.hostIf, "type", "veth", "peer", "name", "eth0", "netns", n.name},
		{"addr", "add", n.hostIP + "/24", "dev", n.hostIf},
		{"link", "set", n.hostIf, "up"},
		{"-n", n.name, "addr", "add", n.podIP + "/24", "dev", "eth0"},
		{"-n", n.name, "link", "set", "eth0", "up"},
		{"-n", n.name, "link", "set", "lo", "up"},
		{"-n", n.name, "route", "add", "default", "via", n.hostIP},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	return n
}

// serve answers GET / with body on the host's side, for the rest of the
// test; it returns the URL.
func (n *podNetns) serve(t *testing.T, body string) string {
	t.Helper()
	l, err := net.Listen("tcp", n.hostIP+":0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, body) })}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return "http://" + l.Addr().String() + "/"
}

// checkClean checks that the namespace has what it had before a VM used
// it: lo and eth0, no tap, no redirect (an ingress qdisc) on eth0.
func (n *podNetns) checkClean(t *testing.T) {
	t.Helper()
	// stdout only: ip complains on stderr about the veth's peer, in
	// another namespace.
	out, err := exec.Command("ip", "-n", n.name, "-o", "link", "show").Output()
	if err != nil {
		t.Fatalf("ip link in %s: %v", n.name, err)
	}
	var links []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if f := strings.Fields(l); len(f) > 1 {
			links = append(links, strings.SplitN(strings.TrimSuffix(f[1], ":"), "@", 2)[0])
		}
	}
	if strings.Join(links, " ") != "lo eth0" {
		t.Errorf("links left in the pod's namespace: %v", links)
	}
	out, _ = exec.Command("ip", "netns", "exec", n.name, "tc", "qdisc", "show", "dev", "eth0").CombinedOutput()
	if strings.Contains(string(out), "ingress") {
		t.Errorf("a redirect is left on eth0: %s", out)
	}
}

// brokenVMConfig writes a VM class configuration whose kernel qemu cannot
// load: a VM fails to boot after the pod's cgroup, its taps and qemu
// were made.
func (c *ctrd) brokenVMConfig(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(c.dir, "broken-assets")
	if !fileExists(dir) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, data := range map[string]string{
			"vmlinux":       strings.Repeat("not a kernel\n", 512),
			"initrd.cpio":   "not an initramfs\n",
			"manifest.json": `{"kernelVersion": "0.0.0-broken"}`,
		} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	p := c.brokenConfigPath()
	if err := os.WriteFile(p, []byte(fmt.Sprintf("run_dir = %q\nassets = %q\n", c.vmRun, dir)), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func (c *ctrd) brokenConfigPath() string { return filepath.Join(c.dir, "vm-broken.toml") }

// qemus lists the qemu processes of this containerd's VMs (their
// command lines name its VM run directory).
func (c *ctrd) qemus() []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !strings.HasPrefix(filepath.Base(strings.SplitN(string(cmdline), "\x00", 2)[0]), "qemu-system") {
			continue
		}
		if strings.Contains(string(cmdline), c.vmRun+"/") && alive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// killQemus kills what a failed test left of this containerd's VMs.
func (c *ctrd) killQemus() {
	for _, pid := range c.qemus() {
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

// checkNoVMs checks that none of this containerd's VMs is left: no qemu,
// nothing in the VM run directory (VMs' directories, pod records), no
// mount below it, no shim.
func checkNoVMs(t *testing.T, c *ctrd) {
	t.Helper()
	waitFor(t, 30*time.Second, "every qemu gone", func() bool { return len(c.qemus()) == 0 })
	waitFor(t, 30*time.Second, "no shim left", func() bool { return len(c.shimPids()) == 0 })
	if ents, _ := os.ReadDir(c.vmRun); len(ents) > 0 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("left in %s: %v", c.vmRun, names)
	}
	if m := mountsUnder(c.vmRun); len(m) > 0 {
		t.Errorf("VM mounts left: %v", m)
	}
}
