package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// The sandbox classes side by side: husk's microVM class (one VM per pod,
// io.containerd.huskvm.v2), husk's container class (io.containerd.husk.v2),
// runc, and gVisor's runsc (through its own shim, containerd-shim-runsc-v1,
// built by run.sh from the Go module proxy, platform systrap: the one
// that groups a pod's containers in one sandbox; without it, Debian's
// runsc through containerd's runc shim, whose pod containers do not find
// their sandbox), against one private containerd 2.4 (gVisor's shim
// speaks containerd 2's bootstrap protocol, which 1.6 does not read) with
// its CRI plugin and CNI's bridge:
//   - a Kubernetes pod (RunPodSandbox, then one container created and
//     started) until its first container runs;
//   - `ctr run --rm IMAGE ID true`;
//   - the memory (PSS) of an idle pod: every host process the pod added.
// Under TCG a VM's times are not KVM times: the report gives ratios to
// runsc, and the VM's boot phases from its shim's log.

const podImageRef = "docker.io/library/huskbench-pause:latest"

// podRuntime is one contender of the pod workloads.
type podRuntime struct {
	Name    string   `json:"name"`
	Handler string   `json:"handler"`
	Ctr     []string `json:"ctr_flags"`
}

// podResults are what the pod workloads measure.
type podResults struct {
	Runtimes []podRuntime `json:"runtimes"`
	Gvisor   string       `json:"gvisor"` // which runsc, through which shim
	Start    *workload    `json:"pod_start"`
	Ctr      *workload    `json:"ctr_run"`
	Memory   []*podMemRow `json:"memory"`
	// VMPhases are the medians of the VM class's boot phases (ms), from
	// its shim's log.
	VMPhases map[string]float64 `json:"vm_boot_phases_ms"`
	Err      string             `json:"err,omitempty"`
}

// podMemRow is the memory of one idle pod.
type podMemRow struct {
	Runtime string           `json:"runtime"`
	PssKiB  map[string]int64 `json:"pss_kib"` // per process name (summed)
	TotalMB float64          `json:"total_mib"`
	Err     string           `json:"err,omitempty"`
}

func (b *bench) workloadPods(ctx context.Context, n int) *podResults {
	res := &podResults{}
	if err := b.pods(ctx, n, res); err != nil {
		res.Err = err.Error()
	}
	return res
}

func (b *bench) pods(ctx context.Context, n int, res *podResults) error {
	for _, f := range []string{"containerd", "ctr", "runc-shim/containerd-shim-runc-v2"} {
		if _, err := os.Stat(filepath.Join(b.o.containerd24, f)); err != nil {
			return fmt.Errorf("containerd 2.4 (make bench builds it, -containerd24): %w", err)
		}
	}
	for _, p := range []string{"bridge", "host-local", "loopback"} {
		if _, err := os.Stat(filepath.Join("/usr/lib/cni", p)); err != nil {
			return fmt.Errorf("CNI plugin %s (Debian package containernetworking-plugins): %w", p, err)
		}
	}
	shimDir := filepath.Dir(b.o.huskShim)
	// The VM class is husk's front under another name.
	vmShim := filepath.Join(shimDir, "containerd-shim-huskvm-v2")
	if _, err := os.Lstat(vmShim); err != nil {
		if err := os.Symlink(filepath.Base(b.o.huskShim), vmShim); err != nil {
			return err
		}
	}
	dir := filepath.Join(b.o.work, "pods")
	run := filepath.Join(b.o.state, "pods")
	cniBin, cniConf := filepath.Join(dir, "cni", "bin"), filepath.Join(dir, "cni", "conf")
	for _, d := range []string{dir, run, cniBin, cniConf} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	gv, err := b.gvisorSetup(dir)
	if err != nil {
		return err
	}
	res.Gvisor = gv.desc
	runc := b.rts[1].Path
	res.Runtimes = []podRuntime{
		{"husk-vm", "husk-vm", []string{"--runtime", "io.containerd.huskvm.v2"}},
		{"husk", "husk", []string{"--runtime", huskRuntime}},
		{"runc", "runc", []string{"--runtime", "io.containerd.runc.v2", "--runc-binary", runc}},
		{"runsc", "runsc", gv.ctr},
	}
	k := os.Getpid()%200 + 20
	netName, bridge := fmt.Sprintf("vp-bench-%d", k), fmt.Sprintf("vp-bb%d", k)
	defer func() {
		exec.Command("ip", "link", "del", bridge).Run()
		os.RemoveAll(filepath.Join("/var/lib/cni/networks", netName))
	}()
	for _, p := range []string{"bridge", "host-local", "loopback"} {
		os.Remove(filepath.Join(cniBin, p))
		if err := os.Symlink(filepath.Join("/usr/lib/cni", p), filepath.Join(cniBin, p)); err != nil {
			return err
		}
	}
	conf := fmt.Sprintf(`{"cniVersion": "0.4.0", "name": %q, "plugins": [{"type": "bridge", "bridge": %q, "isGateway": true,
  "ipMasq": false, "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.214.%d.0/24"}]], "routes": [{"dst": "0.0.0.0/0"}]}}]}`,
		netName, bridge, k)
	if err := os.WriteFile(filepath.Join(cniConf, "10-bench.conflist"), []byte(conf), 0o644); err != nil {
		return err
	}
	sock := filepath.Join(run, "containerd.sock")
	state := filepath.Join(run, "state")
	cfg := fmt.Sprintf(`version = 3
root = %q
state = %q
disabled_plugins = ["io.containerd.nri.v1.nri"]
[grpc]
  address = %q
[ttrpc]
  address = %q
[debug]
  level = "info"
[plugins."io.containerd.internal.v1.opt"]
  path = %q
[plugins."io.containerd.cri.v1.images".pinned_images]
  sandbox = %q
[plugins."io.containerd.cri.v1.runtime"]
  restrict_oom_score_adj = true
[plugins."io.containerd.cri.v1.runtime".containerd]
  default_runtime_name = "runc"
  [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
      BinaryName = %q
  [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runsc]
%s
  [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.husk]
    runtime_type = "io.containerd.husk.v2"
  [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.husk-vm]
    runtime_type = "io.containerd.huskvm.v2"
[plugins."io.containerd.cri.v1.runtime".cni]
  bin_dirs = [%q]
  conf_dir = %q
[plugins."io.containerd.grpc.v1.cri"]
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
`, filepath.Join(dir, "root"), state, sock, sock+".ttrpc", filepath.Join(dir, "opt"), podImageRef, runc, gv.cri, cniBin, cniConf)
	confPath := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(confPath, []byte(cfg), 0o644); err != nil {
		return err
	}
	// containerd 2.4's own runc shim for runc: Debian's is 1.6's.
	d, err := b.startDaemon("containerd-pods", sock, []string{filepath.Join(b.o.containerd24, "containerd"), "--config", confPath}, dir,
		"PATH="+shimDir+gv.path+":"+filepath.Join(b.o.containerd24, "runc-shim")+":"+os.Getenv("PATH"))
	if err != nil {
		return err
	}
	defer b.stopDaemon(d)
	const ns = "k8s.io"
	ctrBin := filepath.Join(b.o.containerd24, "ctr")
	ctr := func(args ...string) []string {
		return append([]string{ctrBin, "--address", sock, "--namespace", ns}, args...)
	}
	removeNSCgroup := cgroupsMadeFrom(ns)
	d.cleanup = func() {
		// Pods left by a failed round go through the CRI plugin first,
		// so that their network goes too (CNI's DEL, the namespace).
		if conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials())); err == nil {
			rs := runtimeapi.NewRuntimeServiceClient(conn)
			lctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			if l, err := rs.ListPodSandbox(lctx, &runtimeapi.ListPodSandboxRequest{}); err == nil {
				for _, p := range l.Items {
					b.removePod(rs, p.Id)
				}
			}
			cancel()
			conn.Close()
		}
		out, _ := exec.Command(ctrBin, "--address", sock, "--namespace", ns, "containers", "ls", "-q").Output()
		for _, id := range strings.Fields(string(out)) {
			b.run(context.Background(), 30*time.Second, ctr("task", "kill", "-s", "SIGKILL", id))
			time.Sleep(200 * time.Millisecond)
			b.run(context.Background(), 60*time.Second, ctr("task", "delete", "-f", id))
			b.run(context.Background(), 30*time.Second, ctr("containers", "delete", id))
		}
		removeNSCgroup()
	}
	img, err := b.buildImageOf(podImageRef, []string{"sleep", "infinity"}, "huskbench-pause.tar")
	if err != nil {
		return fmt.Errorf("image: %w", err)
	}
	if r := b.run(ctx, 120*time.Second, ctr("images", "import", img)); r.Err != nil {
		return fmt.Errorf("ctr images import: %w", r.Err)
	}
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	rs := runtimeapi.NewRuntimeServiceClient(conn)

	var cs []contender
	byName := map[string]podRuntime{}
	for _, r := range res.Runtimes {
		cs = append(cs, contender{Name: r.Name})
		byName[r.Name] = r
	}
	res.Start = newWorkload("pod", "Pod start to its first container running (CRI, CNI bridge)", "ms per pod",
		"RunPodSandbox (containerd 2.4's CRI plugin: network namespace, CNI bridge + host-local + loopback, the sandbox "+
			"container), then CreateContainer and StartContainer of one `sleep` container; wall time until StartContainer "+
			"returned (the container runs). The pod is then stopped and removed, untimed. Phases: run-pod, create, start.")
	var sandboxes []string
	b.rounds(ctx, res.Start, n, 1, cs, func(c contender) sample {
		s, pod := b.podStart(ctx, rs, byName[c.Name])
		if pod != "" && c.Name == "husk-vm" {
			sandboxes = append(sandboxes, pod)
		}
		return s
	})
	res.VMPhases = vmBootPhases(d.log, sandboxes)
	res.Ctr = newWorkload("podctr", "ctr run --rm true, per class", "ms per container",
		"`ctr run --rm RUNTIME-FLAGS IMAGE ID true` against the same containerd (husk-vm: its own VM; runsc: a gVisor sandbox). "+
			"Wall time of the ctr command.")
	b.rounds(ctx, res.Ctr, n, 1, cs, func(c contender) sample {
		argv := append(ctr("run", "--rm"), byName[c.Name].Ctr...)
		return sampleOf(b.run(ctx, 3*time.Minute, append(argv, podImageRef, b.id(), "true")))
	})
	for _, r := range res.Runtimes {
		if ctx.Err() != nil {
			break
		}
		res.Memory = append(res.Memory, b.podMemory(ctx, rs, r, state, 8*time.Second))
	}
	return nil
}

// podStart runs one pod to its first container running, and removes it.
func (b *bench) podStart(ctx context.Context, rs runtimeapi.RuntimeServiceClient, r podRuntime) (sample, string) {
	ctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()
	id := b.id()
	cleanCg := cgroupsMadeFrom("huskbench-" + id)
	cfg := &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: id, Uid: id, Namespace: "bench"},
		Hostname:     id,
		LogDirectory: filepath.Join(b.o.state, "tmp"),
		Linux:        &runtimeapi.LinuxPodSandboxConfig{CgroupParent: "/huskbench-" + id},
	}
	t0 := time.Now()
	var s sample
	fail := func(pod string, err error) (sample, string) {
		s.Err = err.Error()
		b.removePod(rs, pod)
		cleanCg()
		return s, ""
	}
	pr, err := rs.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: cfg, RuntimeHandler: r.Handler})
	if err != nil {
		return fail("", fmt.Errorf("RunPodSandbox: %w", err))
	}
	t1 := time.Now()
	cc := &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: "sleep"},
		Image:    &runtimeapi.ImageSpec{Image: podImageRef},
		Command:  []string{"sleep", "1000"},
		Linux:    &runtimeapi.LinuxContainerConfig{},
	}
	cr, err := rs.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: pr.PodSandboxId, Config: cc, SandboxConfig: cfg})
	if err != nil {
		return fail(pr.PodSandboxId, fmt.Errorf("CreateContainer: %w", err))
	}
	t2 := time.Now()
	if _, err := rs.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: cr.ContainerId}); err != nil {
		return fail(pr.PodSandboxId, fmt.Errorf("StartContainer: %w", err))
	}
	t3 := time.Now()
	s = sample{Ms: ms(t3.Sub(t0)), OK: true, Phases: map[string]float64{"run-pod": ms(t1.Sub(t0)), "create": ms(t2.Sub(t1)), "start": ms(t3.Sub(t2))}}
	b.removePod(rs, pr.PodSandboxId)
	cleanCg()
	return s, pr.PodSandboxId
}

func (b *bench) removePod(rs runtimeapi.RuntimeServiceClient, pod string) {
	if pod == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rs.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: pod})
	rs.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: pod})
}

// podMemory starts an idle pod (the sandbox and one sleeping container),
// lets it settle, and sums the PSS of every host process it added: its
// shim(s) (found by their working directory, the task's bundle) and all
// their descendants (qemu; runsc's sandbox and gofer; the containers'
// processes for the classes that run them on the host).
func (b *bench) podMemory(ctx context.Context, rs runtimeapi.RuntimeServiceClient, r podRuntime, state string, settle time.Duration) *podMemRow {
	row := &podMemRow{Runtime: r.Name, PssKiB: map[string]int64{}}
	id := b.id()
	cleanCg := cgroupsMadeFrom("huskbench-" + id)
	defer cleanCg()
	cfg := &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: id, Uid: id, Namespace: "bench"},
		LogDirectory: filepath.Join(b.o.state, "tmp"),
		Linux:        &runtimeapi.LinuxPodSandboxConfig{CgroupParent: "/huskbench-" + id},
	}
	pr, err := rs.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: cfg, RuntimeHandler: r.Handler})
	if err != nil {
		row.Err = err.Error()
		return row
	}
	defer b.removePod(rs, pr.PodSandboxId)
	cc := &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: "sleep"},
		Image:    &runtimeapi.ImageSpec{Image: podImageRef},
		Command:  []string{"sleep", "1000"},
		Linux:    &runtimeapi.LinuxContainerConfig{},
	}
	cr, err := rs.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: pr.PodSandboxId, Config: cc, SandboxConfig: cfg})
	if err == nil {
		_, err = rs.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: cr.ContainerId})
	}
	if err != nil {
		row.Err = err.Error()
		return row
	}
	time.Sleep(settle)
	tasks := filepath.Join(state, "io.containerd.runtime.v2.task")
	var total int64
	seen := map[int]bool{}
	for _, pid := range allPids() {
		cwd, _ := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
		comm := procComm(pid)
		if !strings.HasPrefix(comm, "containerd-shim") || !strings.HasPrefix(cwd, tasks+"/") {
			continue
		}
		if !strings.Contains(cwd, pr.PodSandboxId) && !strings.Contains(cwd, cr.ContainerId) {
			continue
		}
		for _, p := range append([]int{pid}, descendants(pid)...) {
			if seen[p] {
				continue
			}
			seen[p] = true
			kib := pss(p)
			row.PssKiB[procComm(p)] += kib
			total += kib
		}
	}
	row.TotalMB = float64(total) / 1024
	return row
}

func allPids() []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		if n, err := strconv.Atoi(e.Name()); err == nil {
			out = append(out, n)
		}
	}
	return out
}

func procComm(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return strings.TrimSpace(string(b))
}

func descendants(pid int) []int {
	var out []int
	for _, c := range children(pid) {
		out = append(out, c)
		out = append(out, descendants(c)...)
	}
	return out
}

// vmBootLine is the VM class's shim's log line of a pod's boot.
var vmBootLine = regexp.MustCompile(`pod ([0-9a-f]+): VM up \(.*?\) in ([0-9.]+) ms: (.*?)" runtime=`)

// vmBootPhases reads the VM class's boot phases of the given pods from
// containerd's log (where the shims' logs go) and returns their medians.
func vmBootPhases(log string, pods []string) map[string]float64 {
	want := map[string]bool{}
	for _, p := range pods {
		want[p] = true
	}
	f, err := os.Open(log)
	if err != nil {
		return nil
	}
	defer f.Close()
	all := map[string][]float64{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	phase := regexp.MustCompile(`^(.*?) ([0-9.]+) ms$`)
	for sc.Scan() {
		m := vmBootLine.FindStringSubmatch(sc.Text())
		if m == nil || !want[m[1]] {
			continue
		}
		if v, err := strconv.ParseFloat(m[2], 64); err == nil {
			all["shim: VM up (total)"] = append(all["shim: VM up (total)"], v)
		}
		for _, part := range strings.Split(m[3], ", ") {
			pm := phase.FindStringSubmatch(part)
			if pm == nil {
				continue
			}
			name := pm[1]
			if v, err := strconv.ParseFloat(pm[2], 64); err == nil {
				all["shim: "+name] = append(all["shim: "+name], v)
			}
		}
	}
	out := map[string]float64{}
	for k, xs := range all {
		sort.Float64s(xs)
		out[k] = xs[len(xs)/2]
	}
	return out
}
