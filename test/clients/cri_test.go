package clients

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// The CRI pod sandbox ("pause") image: the test image with a command that
// waits.
const pauseImage = "docker.io/library/huskbb-pause:latest"

// TestCRI drives the CRI plugin of containerd 1.6 (Debian's) and 2.4 as
// the kubelet does, through its gRPC API, with the README's first recipe:
// a runtime handler "husk" of runtime_type io.containerd.runc.v2 (each
// version's own runc shim) with husk as its BinaryName. Its checks stop
// containers and a pod right after a container has exited (see
// words_test.go): the runc shim must recognise husk's errors as "already
// gone".
func TestCRI(t *testing.T) {
	t.Run("containerd-1.6", func(t *testing.T) { testCRI(t, debianContainerd) })
	t.Run("containerd-2.4", func(t *testing.T) {
		bins, ok := containerd24()
		if !ok {
			t.Skipf("SKIP: containerd 2.4 and its runc shim are not in %s (make clients builds them)", *containerd24Flag)
		}
		testCRI(t, bins)
	})
}

func testCRI(t *testing.T, bins containerdBins) {
	argv := newArgvLog(t, "cri-"+bins.name)
	name := fmt.Sprintf("husk-cri%s-%d", strings.ReplaceAll(bins.name, ".", ""), os.Getpid())
	// The runc shim's state root (its Root option) and the pod's cgroup
	// parent, private to this run. Registered first: runs after
	// containerd's cleanup.
	runcRoot := filepath.Join("/run", name)
	t.Cleanup(func() {
		removeDirs(t, runcRoot)
		removeCgroups(t, name)
	})
	cni := filepath.Join(workDir, name+"-cni")
	for _, d := range []string{"bin", "conf"} {
		if err := os.MkdirAll(filepath.Join(cni, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	layer, err := os.ReadFile(rootfsTar)
	if err != nil {
		t.Fatal(err)
	}
	pauseTar := filepath.Join(workDir, "huskbb-pause.tar")
	if err := writeImageTar(pauseTar, layer, pauseImage, "huskbb-pause:latest", []string{"sleep", "infinity"}); err != nil {
		t.Fatal(err)
	}
	cfg := criConfig(bins, argv.wrapper, runcRoot, cni)
	c := startContainerdConfig(t, name, bins, cfg)
	argv.addSubst(c.state, "<CTRD_STATE>")
	argv.addSubst(c.root, "<CTRD_ROOT>")
	argv.addSubst(runcRoot, "<RUNC_ROOT>")
	argv.bundles = regexp.MustCompile(regexp.QuoteMeta(filepath.Join(c.state, "state/io.containerd.runtime.v2.task/k8s.io")) + `/[^/]+`)
	for _, tar := range []string{imageTar, pauseTar} {
		mustOK(t, run(t, cmdSpec{name: bins.ctr, args: []string{"--address", c.sock, "--namespace", "k8s.io", "image", "import", tar}, timeout: longTimeout}))
	}

	conn, err := grpc.NewClient("unix://"+c.sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rs := runtimeapi.NewRuntimeServiceClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// A pod in the host's pid namespace, like its containers: the runc
	// shim kills what is left of such a container once its init has
	// exited, the call holdKillAll holds.
	hostPID := &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_NODE, Pid: runtimeapi.NamespaceMode_NODE}
	podCfg := &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: "words", Uid: name, Namespace: "default"},
		LogDirectory: t.TempDir(),
		Linux: &runtimeapi.LinuxPodSandboxConfig{
			CgroupParent:    "/" + name,
			SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{NamespaceOptions: hostPID},
		},
	}
	pod, err := rs.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: podCfg, RuntimeHandler: "husk"})
	if err != nil {
		t.Fatalf("RunPodSandbox: %v\ncontainerd's log:\n%s", err, c.d.logTail())
	}
	podID := pod.PodSandboxId
	podGone := false
	defer func() {
		if !podGone {
			rs.StopPodSandbox(context.Background(), &runtimeapi.StopPodSandboxRequest{PodSandboxId: podID})
			rs.RemovePodSandbox(context.Background(), &runtimeapi.RemovePodSandboxRequest{PodSandboxId: podID})
		}
	}()

	// exited runs a container that exits 3 a second after its start and
	// returns its id once husk sees it stopped while the CRI plugin,
	// which the shim has not told yet, still has it running; release lets
	// the shim go on.
	exited := func(t *testing.T, cname string) (id string, release func()) {
		t.Helper()
		cc := &runtimeapi.ContainerConfig{
			Metadata: &runtimeapi.ContainerMetadata{Name: cname},
			Image:    &runtimeapi.ImageSpec{Image: imageRef},
			Command:  []string{"sh", "-c", "sleep 1; exit 3"},
			LogPath:  cname + ".log",
			Linux: &runtimeapi.LinuxContainerConfig{
				SecurityContext: &runtimeapi.LinuxContainerSecurityContext{NamespaceOptions: hostPID},
			},
		}
		cr, err := rs.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: podID, Config: cc, SandboxConfig: podCfg})
		if err != nil {
			t.Fatalf("CreateContainer %s: %v", cname, err)
		}
		id = cr.ContainerId
		release = argv.holdKillAll(t, id)
		if _, err := rs.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: id}); err != nil {
			t.Fatalf("StartContainer %s: %v", cname, err)
		}
		argv.waitHeld(t, id)
		if st := criState(ctx, t, rs, id); st != runtimeapi.ContainerState_CONTAINER_RUNNING {
			t.Fatalf("container %s: the CRI plugin has it %v before the shim reported its exit", cname, st)
		}
		if st := huskStatus(t, filepath.Join(runcRoot, "k8s.io"), id); st != "stopped" {
			t.Fatalf("container %s: husk has it %q after its init exited", cname, st)
		}
		return id, release
	}
	// exitCode waits until the CRI plugin has the container exited and
	// checks the exit code is the container's own.
	exitCode := func(t *testing.T, id string) {
		t.Helper()
		var st *runtimeapi.ContainerStatusResponse
		ok := poll(20*time.Second, func() bool {
			st, err = rs.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: id})
			return err == nil && st.Status.State == runtimeapi.ContainerState_CONTAINER_EXITED
		})
		if !ok || st.Status.ExitCode != 3 {
			t.Errorf("container %s: want exited with code 3, have %v %+v", id, err, st.GetStatus())
		}
	}

	t.Run("stop_container_after_exit", func(t *testing.T) {
		// The kubelet's StopContainer with a grace period: SIGTERM through
		// the shim to husk, which says "container not running".
		id, release := exited(t, "stop-after-exit")
		releaseSoon(release)
		if _, err := rs.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: id, Timeout: 10}); err != nil {
			t.Errorf("StopContainer of a container that has just exited: %v", err)
		}
		exitCode(t, id)
		argv.wantHuskSaid(t, "kill", id, "container not running")
		if _, err := rs.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: id}); err != nil {
			t.Errorf("RemoveContainer: %v", err)
		}
	})
	t.Run("stop_container_husk_deleted", func(t *testing.T) {
		// The container was deleted with husk behind containerd's back
		// (as with `runc delete`) after it exited: its kill and then the
		// shim's delete say "container does not exist", which the shim
		// takes as gone.
		id, release := exited(t, "deleted-after-exit")
		mustOK(t, run(t, cmdSpec{name: huskBin, args: []string{"--root", filepath.Join(runcRoot, "k8s.io"), "delete", id}}))
		releaseSoon(release)
		if _, err := rs.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: id, Timeout: 10}); err != nil {
			t.Errorf("StopContainer of a container husk no longer has: %v", err)
		}
		exitCode(t, id)
		argv.wantHuskSaid(t, "kill", id, "container does not exist")
		argv.wantHuskSaid(t, "delete", id, "container does not exist")
		if _, err := rs.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: id}); err != nil {
			t.Errorf("RemoveContainer: %v", err)
		}
	})
	t.Run("stop_pod_after_exit", func(t *testing.T) {
		// The case: StopPodSandbox right after a container of the
		// pod has exited (it SIGKILLs the pod's containers). The container
		// shares the host's pid namespace: husk, as runc 1.5.3, kills what
		// is left in its cgroup and succeeds.
		id, release := exited(t, "pod-stop-after-exit")
		releaseSoon(release)
		if _, err := rs.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: podID}); err != nil {
			t.Fatalf("StopPodSandbox right after a container exited: %v", err)
		}
		exitCode(t, id)
		argv.wantHuskKilled(t, id)
		if _, err := rs.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: podID}); err != nil {
			t.Fatalf("RemovePodSandbox: %v", err)
		}
		podGone = true
		if r := run(t, cmdSpec{name: huskBin, args: []string{"--root", filepath.Join(runcRoot, "k8s.io"), "list", "-q"}}); r.code != 0 || r.stdout != "" {
			t.Errorf("husk still has containers of the removed pod: %s", r)
		}
	})
	t.Run("argv", argv.check)
}

// criConfig turns the CRI plugin on with the runtime handler "husk": the
// runc shim with the wrapper as its BinaryName and runcRoot as its Root.
func criConfig(bins containerdBins, wrapper, runcRoot, cni string) string {
	// root here lacks CAP_SYS_RESOURCE: no runtime may set an
	// oom_score_adj below containerd's own (the sandbox asks for -998).
	if bins.config == 2 {
		return fmt.Sprintf(`[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %q
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "husk"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.husk]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.husk.options]
      BinaryName = %q
      Root = %q
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = %q
    conf_dir = %q
`, pauseImage, wrapper, runcRoot, filepath.Join(cni, "bin"), filepath.Join(cni, "conf"))
	}
	return fmt.Sprintf(`disabled_plugins = ["io.containerd.nri.v1.nri"]
[plugins."io.containerd.cri.v1.images".pinned_images]
  sandbox = %q
[plugins."io.containerd.cri.v1.runtime"]
  restrict_oom_score_adj = true
[plugins."io.containerd.cri.v1.runtime".containerd]
  default_runtime_name = "husk"
  [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.husk]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.husk.options]
      BinaryName = %q
      Root = %q
[plugins."io.containerd.cri.v1.runtime".cni]
  bin_dirs = [%q]
  conf_dir = %q
[plugins."io.containerd.grpc.v1.cri"]
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
`, pauseImage, wrapper, runcRoot, filepath.Join(cni, "bin"), filepath.Join(cni, "conf"))
}

func criState(ctx context.Context, t *testing.T, rs runtimeapi.RuntimeServiceClient, id string) runtimeapi.ContainerState {
	t.Helper()
	st, err := rs.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: id})
	if err != nil {
		t.Fatalf("ContainerStatus %s: %v", id, err)
	}
	return st.Status.State
}

// huskStatus is the status `husk state` gives for id under root.
func huskStatus(t *testing.T, root, id string) string {
	t.Helper()
	r := run(t, cmdSpec{name: huskBin, args: []string{"--root", root, "state", id}})
	var st struct{ Status string }
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		t.Fatalf("husk state: %v: %s", err, r)
	}
	return st.Status
}
