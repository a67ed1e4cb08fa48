package shimtest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// TestVMSandboxFaults: a pod of containerd 2.x's sandbox API (the VM
// class's shim holds the pod; no pause container) survives a restart of
// containerd (the CRI plugin finds it ready, its container answers), and
// its shim SIGKILLed takes qemu with it: containerd's cleanup (the shim's
// delete action) removes the rest, and the pod can be stopped and
// removed with nothing left.
func TestVMSandboxFaults(t *testing.T) {
	vmAssets(t)
	c := newContainerd(t, "2.4", true)
	dial := func() (runtimeapi.RuntimeServiceClient, func()) {
		conn, err := grpc.NewClient("unix://"+c.sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		return runtimeapi.NewRuntimeServiceClient(conn), func() { conn.Close() }
	}
	rs, closeConn := dial()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	parent := fmt.Sprintf("/vp-pod-%d-sandbox-faults", os.Getpid())
	podCfg := &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: "vp-faults", Uid: fmt.Sprintf("uid-%d", time.Now().UnixNano()), Namespace: "default"},
		Hostname:     "vp-faults",
		LogDirectory: t.TempDir(),
		Linux: &runtimeapi.LinuxPodSandboxConfig{
			CgroupParent: parent,
			SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
				NamespaceOptions: &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_NODE},
			},
		},
	}
	pod, err := rs.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: podCfg, RuntimeHandler: "husk-vm-sandbox"})
	if err != nil {
		t.Fatalf("RunPodSandbox: %v", err)
	}
	podID := pod.PodSandboxId
	defer func() {
		rs.StopPodSandbox(context.Background(), &runtimeapi.StopPodSandboxRequest{PodSandboxId: podID})
		rs.RemovePodSandbox(context.Background(), &runtimeapi.RemovePodSandboxRequest{PodSandboxId: podID})
		closeConn()
	}()
	cc := &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: "sleeper"},
		Image:    &runtimeapi.ImageSpec{Image: imageRef},
		Command:  []string{"sleep", "1000"},
		LogPath:  "sleeper.log",
		Linux:    &runtimeapi.LinuxContainerConfig{},
	}
	cr, err := rs.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: podID, Config: cc, SandboxConfig: podCfg})
	if err != nil {
		t.Fatalf("CreateContainer: %v", err)
	}
	if _, err := rs.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: cr.ContainerId}); err != nil {
		t.Fatalf("StartContainer: %v", err)
	}
	qemu := c.taskPid("k8s.io", cr.ContainerId)

	t.Run("containerd-restart", func(t *testing.T) {
		closeConn()
		c.restart()
		rs, closeConn = dial()
		waitFor(t, 30*time.Second, "the pod ready after the restart", func() bool {
			st, err := rs.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: podID})
			return err == nil && st.Status.State == runtimeapi.PodSandboxState_SANDBOX_READY
		})
		r, err := rs.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: cr.ContainerId, Cmd: []string{"hostname"}, Timeout: 30})
		if err != nil || strings.TrimSpace(string(r.Stdout)) != "vp-faults" {
			t.Fatalf("ExecSync after the restart: %v %v", err, r)
		}
		if !alive(qemu) || c.taskPid("k8s.io", cr.ContainerId) != qemu {
			t.Errorf("after the restart: qemu %d alive %v, task pid %d", qemu, alive(qemu), c.taskPid("k8s.io", cr.ContainerId))
		}
	})
	t.Run("shim-killed", func(t *testing.T) {
		shims := c.shimPids()
		if len(shims) != 1 || ppid(qemu) != shims[0] {
			t.Fatalf("want one shim, qemu's parent: shims %v, qemu %d's parent %d", shims, qemu, ppid(qemu))
		}
		if err := syscall.Kill(shims[0], syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, "qemu to die with its shim", func() bool { return !alive(qemu) })
		waitFor(t, 30*time.Second, "the pod not ready", func() bool {
			st, err := rs.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: podID})
			return err == nil && st.Status.State == runtimeapi.PodSandboxState_SANDBOX_NOTREADY
		})
		// containerd reports the container's exit once it has cleaned up
		// after the dead shim.
		waitFor(t, 30*time.Second, "the container exited", func() bool {
			st, err := rs.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: cr.ContainerId})
			return err == nil && st.Status.State == runtimeapi.ContainerState_CONTAINER_EXITED
		})
		if _, err := rs.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: podID}); err != nil {
			t.Errorf("StopPodSandbox: %v", err)
		}
		if _, err := rs.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: podID}); err != nil {
			t.Errorf("RemovePodSandbox: %v", err)
		}
		checkNoVMs(t, c)
		if d := cgroupDirs(parent); len(d) > 0 {
			t.Errorf("cgroups left: %v", d)
		}
		for _, id := range []string{podID, cr.ContainerId} {
			if d := c.run + "/state/husk-vm/k8s.io/" + id; fileExists(d) {
				t.Errorf("state left: %s", d)
			}
			if m := mountsUnder(c.bundle("k8s.io", id)); len(m) > 0 {
				t.Errorf("still mounted: %v", m)
			}
		}
		if m := mountsUnder(c.run + "/state/io.containerd.sandbox.controller.v1.shim"); len(m) > 0 {
			t.Errorf("still mounted: %v", m)
		}
	})
}
