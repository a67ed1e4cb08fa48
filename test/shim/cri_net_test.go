package shimtest

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// TestCRIPodNetwork runs pods with networks through containerd's CRI
// plugin, as the kubelet would, with Debian's CNI plugins (bridge,
// host-local, loopback), once per class: husk's containers and husk's
// microVMs are held to the same checks. Two containers in a pod share
// localhost; a pod reaches another pod's IP over the bridge; a server in
// a pod answers the host on its pod IP.
func TestCRIPodNetwork(t *testing.T) {
	plugins := "/usr/lib/cni"
	for _, p := range []string{"bridge", "host-local", "loopback"} {
		if !fileExists(filepath.Join(plugins, p)) {
			t.Skipf("no CNI plugin %s in %s (Debian package containernetworking-plugins)", p, plugins)
		}
	}
	for _, v := range versions {
		t.Run("containerd-"+v, func(t *testing.T) {
			n := newPodNet(t, plugins)
			c := newContainerdWith(t, v, true, n.install)
			conn, err := grpc.NewClient("unix://"+c.sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			rs := runtimeapi.NewRuntimeServiceClient(conn)
			t.Run("husk", func(t *testing.T) { testPodNetwork(t, c, rs, n, "husk", "") })
			t.Run("husk-vm", func(t *testing.T) { testPodNetwork(t, c, rs, n, "husk-vm", vmAssets(t)) })
			if v != "1.6" {
				// containerd 2.x's sandbox API (sandboxer "shim"): the shim
				// makes the pod, without a pause container.
				t.Run("husk-vm-sandbox", func(t *testing.T) { testPodNetwork(t, c, rs, n, "husk-vm-sandbox", vmAssets(t)) })
			}
		})
	}
}

// podNet is a CNI network of the test's own: a bridge and a subnet
// named after the test's pid, removed at the end.
type podNet struct {
	plugins string
	name    string
	bridge  string
	subnet  string // 10.213.N.0/24
	gateway string
}

func newPodNet(t *testing.T, plugins string) *podNet {
	k := os.Getpid()%200 + 20
	n := &podNet{plugins: plugins, name: fmt.Sprintf("vp-net-%d", k), bridge: fmt.Sprintf("vp-br%d", k),
		subnet: fmt.Sprintf("10.213.%d.0/24", k), gateway: fmt.Sprintf("10.213.%d.1", k)}
	t.Cleanup(func() {
		exec.Command("ip", "link", "del", n.bridge).Run()
		os.RemoveAll(filepath.Join("/var/lib/cni/networks", n.name))
	})
	return n
}

// install puts the plugins and the network's configuration where the
// containerd under test looks for them.
func (n *podNet) install(c *ctrd) {
	for _, p := range []string{"bridge", "host-local", "loopback"} {
		if err := os.Symlink(filepath.Join(n.plugins, p), filepath.Join(c.dir, "cni", "bin", p)); err != nil {
			c.t.Fatal(err)
		}
	}
	conf := fmt.Sprintf(`{
  "cniVersion": "0.4.0",
  "name": %q,
  "plugins": [{
    "type": "bridge",
    "bridge": %q,
    "isGateway": true,
    "ipMasq": false,
    "hairpinMode": true,
    "ipam": {"type": "host-local", "ranges": [[{"subnet": %q, "gateway": %q}]], "routes": [{"dst": "0.0.0.0/0"}]}
  }]
}`, n.name, n.bridge, n.subnet, n.gateway)
	if err := os.WriteFile(filepath.Join(c.dir, "cni", "conf", "10-vp.conflist"), []byte(conf), 0o644); err != nil {
		c.t.Fatal(err)
	}
}

// webPage is what pod a's server answers.
const webPage = "hello-from-pod-a"

func testPodNetwork(t *testing.T, c *ctrd, rs runtimeapi.RuntimeServiceClient, n *podNet, handler, guestKernel string) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	vmClass := guestKernel != ""
	// Each pod's cgroup parent is its own (the kubelet's part): the
	// runtime makes it and removes it with the pod.
	parent := func(name string) string { return fmt.Sprintf("/vp-pod-%d-%s-%s", os.Getpid(), handler, name) }
	var pods []string
	defer func() {
		for _, p := range pods {
			rs.StopPodSandbox(context.Background(), &runtimeapi.StopPodSandboxRequest{PodSandboxId: p})
			rs.RemovePodSandbox(context.Background(), &runtimeapi.RemovePodSandboxRequest{PodSandboxId: p})
		}
	}()
	podConfig := func(name string, res *runtimeapi.LinuxContainerResources) *runtimeapi.PodSandboxConfig {
		return &runtimeapi.PodSandboxConfig{
			Metadata:     &runtimeapi.PodSandboxMetadata{Name: name, Uid: fmt.Sprintf("uid-%s-%d", name, time.Now().UnixNano()), Namespace: "default"},
			Hostname:     name,
			LogDirectory: t.TempDir(),
			Linux:        &runtimeapi.LinuxPodSandboxConfig{CgroupParent: parent(name), Resources: res},
		}
	}
	// The two pods start side by side: their VMs boot at the same time.
	runPods := func(cfgs ...*runtimeapi.PodSandboxConfig) []string {
		ids := make([]string, len(cfgs))
		errs := make([]error, len(cfgs))
		var wg sync.WaitGroup
		for i, cfg := range cfgs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := rs.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: cfg, RuntimeHandler: handler})
				if err == nil {
					ids[i] = r.PodSandboxId
				}
				errs[i] = err
			}()
		}
		wg.Wait()
		for i, id := range ids {
			if id != "" {
				pods = append(pods, id)
			} else {
				t.Fatalf("RunPodSandbox %s: %v", cfgs[i].Metadata.Name, errs[i])
			}
		}
		return ids
	}
	run := func(pod string, podCfg *runtimeapi.PodSandboxConfig, name string, cmd ...string) string {
		cc := &runtimeapi.ContainerConfig{
			Metadata: &runtimeapi.ContainerMetadata{Name: name},
			Image:    &runtimeapi.ImageSpec{Image: imageRef},
			Command:  cmd,
			LogPath:  name + ".log",
			Linux:    &runtimeapi.LinuxContainerConfig{},
		}
		cr, err := rs.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: pod, Config: cc, SandboxConfig: podCfg})
		if err != nil {
			t.Fatalf("CreateContainer %s: %v", name, err)
		}
		if _, err := rs.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: cr.ContainerId}); err != nil {
			t.Fatalf("StartContainer %s: %v", name, err)
		}
		return cr.ContainerId
	}
	execOut := func(id string, cmd ...string) (string, int32) {
		r, err := rs.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: id, Cmd: cmd, Timeout: 30})
		if err != nil {
			t.Fatalf("ExecSync %v: %v", cmd, err)
		}
		return string(r.Stdout) + string(r.Stderr), r.ExitCode
	}
	podIP := func(pod string) string {
		st, err := rs.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: pod})
		if err != nil || st.Status.GetNetwork().GetIp() == "" {
			t.Fatalf("PodSandboxStatus: %v %v", err, st)
		}
		return st.Status.Network.Ip
	}

	// Pod a: 192 MiB (the VM is sized from it), a web server and a client.
	aCfg := podConfig("vp-a", &runtimeapi.LinuxContainerResources{MemoryLimitInBytes: 192 << 20, CpuPeriod: 100000, CpuQuota: 100000})
	bCfg := podConfig("vp-b", nil)
	ids := runPods(aCfg, bCfg)
	a, b := ids[0], ids[1]
	web := run(a, aCfg, "web", "sh", "-c", "mkdir -p /www && echo "+webPage+" > /www/index.html && exec httpd -f -p 8080 -h /www")
	clientA := run(a, aCfg, "client", "sleep", "1000")
	clientB := run(b, bCfg, "client", "sleep", "1000")
	ipA, ipB := podIP(a), podIP(b)
	_, subnet, _ := net.ParseCIDR(n.subnet)
	if !subnet.Contains(net.ParseIP(ipA)) || !subnet.Contains(net.ParseIP(ipB)) || ipA == ipB {
		t.Fatalf("pod IPs %s, %s: not two addresses of %s", ipA, ipB, n.subnet)
	}
	// busybox's wget -q segfaults here: its progress goes to stderr.
	get := func(from, url string) string {
		r, err := rs.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: from, Cmd: []string{"wget", "-O", "-", url}, Timeout: 30})
		if err != nil {
			t.Fatalf("ExecSync wget: %v", err)
		}
		return strings.TrimSpace(string(r.Stdout))
	}
	waitFor(t, 30*time.Second, "the web server", func() bool { return get(clientA, "http://127.0.0.1:8080/") == webPage })

	t.Run("localhost-shared", func(t *testing.T) {
		if got := get(clientA, "http://localhost:8080/"); got != webPage {
			t.Errorf("the pod's other container on localhost: %q", got)
		}
		out, _ := execOut(web, "hostname")
		if strings.TrimSpace(out) != "vp-a" {
			t.Errorf("hostname %q", out)
		}
	})
	t.Run("pod-to-pod", func(t *testing.T) {
		if got := get(clientB, "http://"+ipA+":8080/"); got != webPage {
			t.Errorf("pod b to pod a's IP %s: %q", ipA, got)
		}
		// And b's address as a's own interface has it.
		if out, _ := execOut(clientB, "ip", "-4", "-o", "addr", "show", "eth0"); !strings.Contains(out, ipB+"/24") {
			t.Errorf("pod b's eth0: %q, want %s", out, ipB)
		}
	})
	t.Run("host-to-pod", func(t *testing.T) {
		hc := &http.Client{Timeout: 10 * time.Second}
		resp, err := hc.Get("http://" + ipA + ":8080/")
		if err != nil {
			t.Fatalf("from the host to %s: %v", ipA, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.TrimSpace(string(body)) != webPage {
			t.Errorf("from the host: %q", body)
		}
	})
	t.Run("failed-container", func(t *testing.T) {
		// A container that cannot start leaves the pod's others running
		// (in the VM class: the VM stays up).
		cc := &runtimeapi.ContainerConfig{
			Metadata: &runtimeapi.ContainerMetadata{Name: "bad"},
			Image:    &runtimeapi.ImageSpec{Image: imageRef},
			Command:  []string{"/vp-no-such-program"},
			LogPath:  "bad.log",
			Linux:    &runtimeapi.LinuxContainerConfig{},
		}
		cr, err := rs.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: a, Config: cc, SandboxConfig: aCfg})
		if err == nil {
			if _, err = rs.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: cr.ContainerId}); err == nil {
				t.Fatalf("a missing program started")
			}
			rs.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: cr.ContainerId})
		}
		if got := get(clientA, "http://localhost:8080/"); got != webPage {
			t.Errorf("after a failed container, the pod's server: %q", got)
		}
	})
	if vmClass {
		t.Run("one-vm-per-pod", func(t *testing.T) {
			boot := func(id string) string {
				out, _ := execOut(id, "cat", "/proc/sys/kernel/random/boot_id")
				return strings.TrimSpace(out)
			}
			host, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
			if bw, ba, bb := boot(web), boot(clientA), boot(clientB); bw != ba || ba == bb || bw == strings.TrimSpace(string(host)) || bw == "" {
				t.Errorf("boot ids: web %s, client a %s, client b %s, host %s", bw, ba, bb, host)
			}
			if out, _ := execOut(web, "uname", "-r"); strings.TrimSpace(out) != guestKernel {
				t.Errorf("kernel %q, want the guest's %s", out, guestKernel)
			}
			// 192 MiB for the pod, 128 MiB of overhead: the guest has
			// more than a default VM's 256 MiB (less the kernel's own).
			out, _ := execOut(web, "sh", "-c", "grep MemTotal /proc/meminfo")
			if f := strings.Fields(out); len(f) < 2 || atoi(f[1]) <= 256<<10 || atoi(f[1]) > 320<<10 {
				t.Errorf("guest memory %q, want 256-320 MiB", out)
			}
			// qemu and the shim are accounted in the pod's cgroup.
			// A container's task pid is its pod's qemu (the sandbox API's
			// pods have no task of their own).
			qemu := c.taskPid("k8s.io", web)
			cg, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", qemu))
			if !strings.Contains(string(cg), parent("vp-a")+"/") {
				t.Errorf("qemu (pid %d) is not in the pod's cgroup: %s", qemu, cg)
			}
			shimCg, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", ppid(qemu)))
			if string(shimCg) != string(cg) {
				t.Errorf("the shim (pid %d) is not with qemu: %s", ppid(qemu), shimCg)
			}
			if handler == "husk-vm-sandbox" {
				// The sandbox API's pod statistics are its cgroup on the
				// host: qemu's memory, tens of MiB.
				st, err := rs.PodSandboxStats(ctx, &runtimeapi.PodSandboxStatsRequest{PodSandboxId: a})
				if ws := st.GetStats().GetLinux().GetMemory().GetWorkingSetBytes().GetValue(); err != nil || ws < 32<<20 {
					t.Errorf("PodSandboxStats: %v; working set %d", err, ws)
				}
			}
		})
	} else {
		t.Run("one-netns-per-pod", func(t *testing.T) {
			if out, _ := execOut(web, "uname", "-r"); strings.TrimSpace(out) == guestKernel {
				t.Errorf("a container of the container class runs a guest kernel")
			}
		})
	}
	t.Run("remove", func(t *testing.T) {
		var qemus []int
		for _, id := range []string{web, clientB} {
			qemus = append(qemus, c.taskPid("k8s.io", id))
		}
		for _, p := range pods {
			if _, err := rs.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: p}); err != nil {
				t.Fatalf("StopPodSandbox: %v", err)
			}
			if _, err := rs.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: p}); err != nil {
				t.Fatalf("RemovePodSandbox: %v", err)
			}
		}
		pods = nil
		waitFor(t, 30*time.Second, "the pods' shims to exit", func() bool { return len(c.shimPids()) == 0 })
		for _, q := range qemus {
			if vmClass && alive(q) {
				t.Errorf("qemu %d still runs", q)
			}
		}
		for _, name := range []string{"vp-a", "vp-b"} {
			if d := cgroupDirs(parent(name)); len(d) > 0 {
				t.Errorf("cgroups left: %v", d)
			}
		}
		checkNoVMs(t, c)
		// CNI's DEL removed the veths: no pod is left on the bridge.
		if ents, _ := os.ReadDir(filepath.Join("/sys/class/net", n.bridge, "brif")); len(ents) > 0 {
			t.Errorf("ports left on %s: %d", n.bridge, len(ents))
		}
	})
	if vmClass {
		t.Run("boot-fails", func(t *testing.T) {
			// The pod's VM cannot boot after its network (taps and
			// redirects in the pod's namespace) and cgroup were made:
			// RunPodSandbox fails and nothing is left.
			uid := fmt.Sprintf("uid-broken-%d", time.Now().UnixNano())
			cfg := &runtimeapi.PodSandboxConfig{
				Metadata:     &runtimeapi.PodSandboxMetadata{Name: "vp-broken", Uid: uid, Namespace: "default"},
				LogDirectory: t.TempDir(),
				Linux:        &runtimeapi.LinuxPodSandboxConfig{CgroupParent: parent("vp-broken")},
			}
			r, err := rs.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: cfg, RuntimeHandler: handler + "-broken"})
			if err == nil {
				pods = append(pods, r.PodSandboxId)
				t.Fatalf("a pod whose VM cannot boot runs")
			}
			if !strings.Contains(err.Error(), "qemu") {
				t.Errorf("RunPodSandbox: %v; want qemu's error", err)
			}
			checkNoVMs(t, c)
			if d := cgroupDirs(parent("vp-broken")); len(d) > 0 {
				t.Errorf("cgroups left: %v", d)
			}
			if ents, _ := os.ReadDir(filepath.Join("/sys/class/net", n.bridge, "brif")); len(ents) > 0 {
				t.Errorf("ports left on %s: %d", n.bridge, len(ents))
			}
		})
	}
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
