package shimtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// TestCRI drives containerd's CRI plugin as the kubelet would, over its
// gRPC socket, with the runtime handlers "husk" (runtime_type
// io.containerd.husk.v2) and "husk-vm" (io.containerd.huskvm.v2, one VM
// per pod): a host-network pod with two containers, served by one shim
// process.
func TestCRI(t *testing.T) {
	for _, v := range versions {
		t.Run("containerd-"+v, func(t *testing.T) {
			c := newContainerd(t, v, true)
			t.Run("husk", func(t *testing.T) { testCRI(t, c, "husk") })
			t.Run("husk-vm", func(t *testing.T) {
				vmAssets(t)
				testCRI(t, c, "husk-vm")
			})
			if v != "1.6" {
				t.Run("husk-vm-sandbox", func(t *testing.T) {
					vmAssets(t)
					testCRI(t, c, "husk-vm-sandbox")
				})
			}
		})
	}
}

func testCRI(t *testing.T, c *ctrd, handler string) {
	conn, err := grpc.NewClient("unix://"+c.sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rs := runtimeapi.NewRuntimeServiceClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if _, err := rs.Version(ctx, &runtimeapi.VersionRequest{}); err != nil {
		t.Fatalf("CRI Version: %v", err)
	}

	logDir := t.TempDir()
	podCfg := &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: "husk-pod", Uid: fmt.Sprintf("uid-%d", time.Now().UnixNano()), Namespace: "default"},
		LogDirectory: logDir,
		DnsConfig:    &runtimeapi.DNSConfig{Servers: []string{"10.213.0.53"}, Searches: []string{"vp.local"}},
		Linux: &runtimeapi.LinuxPodSandboxConfig{
			SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
				NamespaceOptions: &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_NODE},
			},
		},
	}
	pod, err := rs.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: podCfg, RuntimeHandler: handler})
	if err != nil {
		t.Fatalf("RunPodSandbox: %v", err)
	}
	podID := pod.PodSandboxId
	removed := false
	defer func() {
		if !removed {
			rs.StopPodSandbox(context.Background(), &runtimeapi.StopPodSandboxRequest{PodSandboxId: podID})
			rs.RemovePodSandbox(context.Background(), &runtimeapi.RemovePodSandboxRequest{PodSandboxId: podID})
		}
	}()

	names := []string{"one", "two"}
	ids := map[string]string{}
	for _, name := range names {
		cc := &runtimeapi.ContainerConfig{
			Metadata: &runtimeapi.ContainerMetadata{Name: name},
			Image:    &runtimeapi.ImageSpec{Image: imageRef},
			Command:  []string{"sh", "-c", fmt.Sprintf("echo log-from-%s; echo err-from-%s >&2; exec sleep 1000", name, name)},
			LogPath:  name + ".log",
			Linux:    &runtimeapi.LinuxContainerConfig{},
		}
		cr, err := rs.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: podID, Config: cc, SandboxConfig: podCfg})
		if err != nil {
			t.Fatalf("CreateContainer %s: %v", name, err)
		}
		if _, err := rs.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: cr.ContainerId}); err != nil {
			t.Fatalf("StartContainer %s: %v", name, err)
		}
		ids[name] = cr.ContainerId
	}

	t.Run("one-shim", func(t *testing.T) {
		shims := c.shimPids()
		if len(shims) != 1 {
			t.Fatalf("want one shim process for the pod, have %v", shims)
		}
		// Every init (the sandbox's too) is the shim's child: with a pid
		// namespace each is re-parented to the shim, its subreaper. In
		// the VM class every task's pid is the pod's qemu, the shim's
		// child.
		tasks := []string{podID, ids["one"], ids["two"]}
		if handler == "husk-vm-sandbox" {
			// The sandbox API's pod has no task (no pause container):
			// the shim made it.
			if pid := c.taskPid("k8s.io", podID); pid != 0 {
				t.Errorf("a sandbox API pod has a task: pid %d", pid)
			}
			if out, _ := c.ctrNS("k8s.io", "sandboxes", "info", podID); !strings.Contains(out, `"Sandboxer": "shim"`) {
				t.Errorf("ctr sandboxes info: %q", out)
			}
			tasks = tasks[1:]
		}
		for _, id := range tasks {
			pid := c.taskPid("k8s.io", id)
			if pid == 0 || ppid(pid) != shims[0] {
				t.Errorf("task %s: pid %d, parent %d, shim %d", id, pid, ppid(pid), shims[0])
			}
		}
		// containerd 1.6 ran the shim's start for each container, which
		// found the pod's socket: the bundles have one address. (2.x
		// sends a pod's containers to its sandbox's shim directly.)
		addr := ""
		for _, id := range []string{podID, ids["one"], ids["two"]} {
			b, err := os.ReadFile(filepath.Join(c.bundle("k8s.io", id), "address"))
			if err != nil {
				if c.version == "1.6" {
					t.Errorf("address of %s: %v", id, err)
				}
				continue
			}
			if addr != "" && string(b) != addr {
				t.Errorf("task %s has address %s, the pod %s", id, b, addr)
			}
			addr = string(b)
		}
	})
	t.Run("status", func(t *testing.T) {
		for _, name := range names {
			st, err := rs.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: ids[name]})
			if err != nil || st.Status.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
				t.Fatalf("ContainerStatus %s: %v %v", name, err, st)
			}
		}
		ps, err := rs.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: podID})
		if err != nil || ps.Status.State != runtimeapi.PodSandboxState_SANDBOX_READY {
			t.Fatalf("PodSandboxStatus: %v %v", err, ps)
		}
	})
	t.Run("logs", func(t *testing.T) {
		for _, name := range names {
			path := filepath.Join(logDir, name+".log")
			var data []byte
			waitFor(t, 5*time.Second, "log lines of "+name, func() bool {
				data, _ = os.ReadFile(path)
				return strings.Contains(string(data), "err-from-"+name)
			})
			// CRI log format: "<time> <stream> <P|F> <line>".
			s := string(data)
			if !strings.Contains(s, " stdout F log-from-"+name) || !strings.Contains(s, " stderr F err-from-"+name) {
				t.Errorf("log of %s: %q", name, s)
			}
		}
	})
	t.Run("exec-sync", func(t *testing.T) {
		r, err := rs.ExecSync(ctx, &runtimeapi.ExecSyncRequest{
			ContainerId: ids["one"], Cmd: []string{"sh", "-c", "echo exec-out; echo exec-err >&2; exit 3"}, Timeout: 20,
		})
		if err != nil {
			t.Fatalf("ExecSync: %v", err)
		}
		if string(r.Stdout) != "exec-out\n" || string(r.Stderr) != "exec-err\n" || r.ExitCode != 3 {
			t.Fatalf("ExecSync: stdout %q stderr %q exit %d", r.Stdout, r.Stderr, r.ExitCode)
		}
		r, err = rs.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: ids["two"], Cmd: []string{"hostname"}, Timeout: 20})
		if err != nil || r.ExitCode != 0 || len(r.Stdout) == 0 {
			t.Fatalf("ExecSync hostname: %v %v", err, r)
		}
		// The pod's DNS configuration is the containers' resolv.conf.
		r, err = rs.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: ids["two"], Cmd: []string{"cat", "/etc/resolv.conf"}, Timeout: 20})
		if err != nil || !strings.Contains(string(r.Stdout), "nameserver 10.213.0.53") || !strings.Contains(string(r.Stdout), "search vp.local") {
			t.Errorf("resolv.conf: %v %q", err, r.GetStdout())
		}
	})
	t.Run("update-and-stats", func(t *testing.T) {
		_, err := rs.UpdateContainerResources(ctx, &runtimeapi.UpdateContainerResourcesRequest{
			ContainerId: ids["two"], Linux: &runtimeapi.LinuxContainerResources{CpuShares: 512, MemoryLimitInBytes: 64 << 20},
		})
		if err != nil {
			t.Fatalf("UpdateContainerResources: %v", err)
		}
		st, err := rs.ContainerStats(ctx, &runtimeapi.ContainerStatsRequest{ContainerId: ids["two"]})
		if err != nil || st.Stats == nil || st.Stats.Memory == nil || st.Stats.Cpu == nil {
			t.Fatalf("ContainerStats: %v %v", err, st)
		}
	})
	t.Run("stop-remove", func(t *testing.T) {
		for _, name := range names {
			// The pod shares one pid namespace (the CRI default), whose
			// init is the sandbox's: sleep dies of SIGTERM.
			if _, err := rs.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: ids[name], Timeout: 1}); err != nil {
				t.Fatalf("StopContainer %s: %v", name, err)
			}
			// The CRI plugin records the exit from the /tasks/exit event.
			var st *runtimeapi.ContainerStatusResponse
			var err error
			deadline := time.Now().Add(10 * time.Second)
			for {
				st, err = rs.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: ids[name]})
				if err != nil || st.Status.State == runtimeapi.ContainerState_CONTAINER_EXITED || time.Now().After(deadline) {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			if err != nil || st.Status.State != runtimeapi.ContainerState_CONTAINER_EXITED || st.Status.ExitCode != 143 {
				t.Fatalf("after stop %s: %v %+v", name, err, st.GetStatus())
			}
			if _, err := rs.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: ids[name]}); err != nil {
				t.Fatalf("RemoveContainer %s: %v", name, err)
			}
		}
		// The pod's shim serves the sandbox still.
		if n := len(c.shimPids()); n != 1 {
			t.Errorf("%d shims after removing the containers", n)
		}
		if _, err := rs.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: podID}); err != nil {
			t.Fatalf("StopPodSandbox: %v", err)
		}
		if _, err := rs.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: podID}); err != nil {
			t.Fatalf("RemovePodSandbox: %v", err)
		}
		removed = true
		// The VM class's shim powers the VM off first.
		waitFor(t, 30*time.Second, "the pod's shim to exit", func() bool { return len(c.shimPids()) == 0 })
		checkNoVMs(t, c)
		for _, id := range []string{podID, ids["one"], ids["two"]} {
			if m := mountsUnder(c.bundle("k8s.io", id)); len(m) > 0 {
				t.Errorf("still mounted: %v", m)
			}
			for _, d := range []string{c.huskState("k8s.io", id), filepath.Join(c.run, "state", "husk-vm", "k8s.io", id)} {
				if fileExists(d) {
					t.Errorf("husk state left: %s", d)
				}
			}
		}
	})
}
