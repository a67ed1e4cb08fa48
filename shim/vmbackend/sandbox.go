package vmbackend

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/husk-runtime/husk/cgroups"
	"github.com/husk-runtime/husk/shim/backend"
	"github.com/husk-runtime/husk/specs"
	"github.com/husk-runtime/husk/vm/api"
	"github.com/husk-runtime/husk/vm/podnet"
)

// Sandbox is a pod as containerd 2.x's sandbox API (sandboxer "shim")
// gives it: no pause container; the shim boots the VM at StartSandbox
// and holds the pod's namespaces in it itself, and the pod's containers
// are created through the task API of the same shim afterwards.
type Sandbox struct {
	ID     string
	Bundle string
	// ConfigPath is the VM class's configuration (the runtime options).
	ConfigPath string
	// Netns is the network namespace the CRI plugin made and ran CNI
	// in ("" for a host-network pod: the VM gets no network device).
	Netns string
	// HostNetwork: the pod is in the host's network namespace.
	HostNetwork bool
	Hostname    string
	// CgroupParent is the pod's cgroup parent (the kubelet's); the VM's
	// cgroup is <parent>/<id>, as the sandbox container's would be.
	CgroupParent string
	// The pod's resources (the sum of its containers', as the kubelet
	// computed them), which size the VM.
	MemoryLimit         int64
	CPUQuota, CPUPeriod int64
	Sysctls             map[string]string
	DNS                 *DNS
	Annotations         map[string]string
}

// DNS is the pod's DNS configuration.
type DNS struct {
	Servers, Searches, Options []string
}

// sandboxState is the sandbox API's pod in this shim.
type sandboxState struct {
	cfg     Sandbox
	pod     *pod
	created time.Time
}

// Sandbox states as the CRI plugin reads them (runtime.v1.PodSandboxState
// names).
const (
	SandboxReady    = "SANDBOX_READY"
	SandboxNotReady = "SANDBOX_NOTREADY"
)

// CreateSandbox records a pod; StartSandbox boots it. A shim serves one
// pod.
func (b *Backend) CreateSandbox(ctx context.Context, sb *Sandbox) error {
	if err := specs.ValidateID(sb.ID); err != nil {
		return err
	}
	if sb.Netns != "" && !filepath.IsAbs(sb.Netns) {
		return fmt.Errorf("sandbox %s: network namespace %q: not an absolute path", sb.ID, sb.Netns)
	}
	b.createMu.Lock()
	defer b.createMu.Unlock()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.sandbox != nil || b.pod != nil {
		return backend.Mark(backend.ErrExists, fmt.Errorf("sandbox %s: this shim serves a pod already", sb.ID))
	}
	b.sandbox = &sandboxState{cfg: *sb}
	return nil
}

func (b *Backend) getSandbox(id string) (*sandboxState, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.sandbox == nil || b.sandbox.cfg.ID != id {
		return nil, backend.Mark(backend.ErrNotFound, fmt.Errorf("sandbox %s not found", id))
	}
	return b.sandbox, nil
}

// spec is the pod as the sandbox container's config would have it, for
// what sizes and places the VM (Size, enterCgroup, netnsPath).
func (sb *Sandbox) spec() *rspec.Spec {
	l := &rspec.Linux{Resources: &rspec.LinuxResources{}}
	if sb.MemoryLimit > 0 {
		limit := sb.MemoryLimit
		l.Resources.Memory = &rspec.LinuxMemory{Limit: &limit}
	}
	if sb.CPUQuota > 0 && sb.CPUPeriod > 0 {
		quota, period := sb.CPUQuota, uint64(sb.CPUPeriod)
		l.Resources.CPU = &rspec.LinuxCPU{Quota: &quota, Period: &period}
	}
	if sb.CgroupParent != "" {
		if strings.HasSuffix(sb.CgroupParent, ".slice") {
			// The systemd driver's form: left to systemd (see
			// enterCgroup).
			l.CgroupsPath = sb.CgroupParent + ":cri-containerd:" + sb.ID
		} else {
			l.CgroupsPath = filepath.Join(sb.CgroupParent, sb.ID)
		}
	}
	if sb.Netns != "" {
		l.Namespaces = []rspec.LinuxNamespace{{Type: rspec.NetworkNamespace, Path: sb.Netns}}
	}
	ann := map[string]string{}
	for k, v := range sb.Annotations {
		// Only husk's own sizing annotations, as a sandbox container's
		// config would carry them.
		if k == annMemory || k == annCPUs {
			ann[k] = v
		}
	}
	return &rspec.Spec{Annotations: ann, Linux: l}
}

// resolvConf is the pod's resolv.conf: its DNS configuration, else the
// host's (as the CRI plugin makes the sandbox's).
func (sb *Sandbox) resolvConf() []byte {
	if sb.DNS == nil || len(sb.DNS.Servers)+len(sb.DNS.Searches)+len(sb.DNS.Options) == 0 {
		data, err := os.ReadFile("/etc/resolv.conf")
		if err != nil || len(data) > podnet.ResolvConfMax {
			return nil
		}
		return data
	}
	var b strings.Builder
	line := func(key string, vals []string) {
		if len(vals) > 0 {
			b.WriteString(key + " " + strings.Join(vals, " ") + "\n")
		}
	}
	line("search", sb.DNS.Searches)
	for _, s := range sb.DNS.Servers {
		line("nameserver", []string{s})
	}
	line("options", sb.DNS.Options)
	return []byte(b.String())
}

// checkWord refuses what would break a resolv.conf or hosts line.
func checkWord(what, s string) error {
	if s == "" || len(s) > 253 || strings.ContainsAny(s, " \t\r\n#;\x00") {
		return fmt.Errorf("%s %q: not one word", what, s)
	}
	return nil
}

// Check validates what goes into the guest's files.
func (sb *Sandbox) Check() error {
	if len(sb.Hostname) > 64 {
		return fmt.Errorf("hostname %q: longer than 64 bytes", sb.Hostname)
	}
	if sb.Hostname != "" {
		if err := checkWord("hostname", sb.Hostname); err != nil {
			return err
		}
	}
	if d := sb.DNS; d != nil {
		if len(d.Servers)+len(d.Searches)+len(d.Options) > 64 {
			return errors.New("DNS configuration: too many entries")
		}
		for _, l := range [][]string{d.Servers, d.Searches, d.Options} {
			for _, w := range l {
				if err := checkWord("DNS configuration", w); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// StartSandbox boots the pod's VM, connected to its network namespace
// and in its cgroup, starts the holder of its namespaces in the guest,
// and returns qemu's pid (what the CRI plugin knows as the sandbox's) and
// when it started. On error nothing of the VM is left.
func (b *Backend) StartSandbox(ctx context.Context, id string) (pid int, created time.Time, err error) {
	b.createMu.Lock()
	defer b.createMu.Unlock()
	s, err := b.getSandbox(id)
	if err != nil {
		return 0, time.Time{}, err
	}
	if s.pod != nil {
		return 0, time.Time{}, backend.Mark(backend.ErrPrecondition, fmt.Errorf("sandbox %s was started already", id))
	}
	cfg := &s.cfg
	if err := cfg.Check(); err != nil {
		return 0, time.Time{}, fmt.Errorf("sandbox %s: %w", id, err)
	}
	resolv := cfg.resolvConf()
	p, err := bootPod(ctx, b, id, cfg.ConfigPath, cfg.spec(), resolv)
	if err != nil {
		return 0, time.Time{}, err
	}
	dir := filepath.Join(b.root, id)
	defer func() {
		if err != nil {
			p.shutdown()
			os.RemoveAll(dir)
		}
	}()
	// The task's record, for the delete action after a crash.
	if err := os.MkdirAll(b.root, 0o711); err != nil {
		return 0, time.Time{}, fmt.Errorf("state root: %w", err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return 0, time.Time{}, err
	}
	if err := os.WriteFile(filepath.Join(dir, taskPodFile), []byte(p.recordPath), 0o600); err != nil {
		return 0, time.Time{}, err
	}
	if sysctls, rest := splitSysctls(cfg.Sysctls); len(sysctls) > 0 || len(rest) > 0 {
		if len(rest) > 0 {
			b.log.Warnf("sandbox %s: sysctls %s are not set (only net.* ones are, in the guest's network namespace)", id, strings.Join(rest, ", "))
		}
		if len(sysctls) > 0 {
			if _, err := p.sb.Agent().ConfigureNetwork(ctx, &api.NetworkConfig{Sysctls: sysctls}); err != nil {
				return 0, time.Time{}, fmt.Errorf("sandbox %s: net sysctls: %w", id, err)
			}
		}
	}
	if p.sandboxPid, err = p.sb.StartPod(ctx, cfg.Hostname); err != nil {
		return 0, time.Time{}, err
	}
	if p.files, err = writePodFiles(cfg.Bundle, cfg.Hostname, resolv); err != nil {
		return 0, time.Time{}, fmt.Errorf("sandbox %s: %w", id, err)
	}
	p.held = true
	s.created = time.Now()
	b.mu.Lock()
	s.pod, b.pod = p, p
	b.mu.Unlock()
	return p.pid, s.created, nil
}

// splitSysctls parts the pod's sysctls into net.* ones and the names of
// the others.
func splitSysctls(all map[string]string) (map[string]string, []string) {
	var net map[string]string
	var rest []string
	for k, v := range all {
		if strings.HasPrefix(k, "net.") {
			if net == nil {
				net = map[string]string{}
			}
			net[k] = v
			continue
		}
		rest = append(rest, k)
	}
	sort.Strings(rest)
	return net, rest
}

// writePodFiles writes the pod's /etc/hostname, /etc/hosts and
// /etc/resolv.conf into its bundle and returns them as the read-only
// binds every container of the pod gets (the CRI plugin makes none for
// a sandbox it does not run).
func writePodFiles(bundle, hostname string, resolv []byte) ([]rspec.Mount, error) {
	if bundle == "" || !filepath.IsAbs(bundle) {
		return nil, fmt.Errorf("bundle %q: not an absolute path", bundle)
	}
	hosts := "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
	files := []struct {
		name, dest string
		data       []byte
	}{
		{"hostname", "/etc/hostname", []byte(hostname + "\n")},
		{"hosts", "/etc/hosts", []byte(hosts)},
		{"resolv.conf", "/etc/resolv.conf", resolv},
	}
	var mounts []rspec.Mount
	for _, f := range files {
		if f.name == "hostname" && hostname == "" {
			continue
		}
		p := filepath.Join(bundle, "husk-pod-"+f.name)
		if err := os.WriteFile(p, f.data, 0o644); err != nil {
			return nil, err
		}
		mounts = append(mounts, rspec.Mount{Destination: f.dest, Type: "bind", Source: p, Options: []string{"rbind", "ro", "nosuid", "nodev", "noexec"}})
	}
	return mounts, nil
}

// podMounts adds the pod's files to a container's mounts where the
// container has none of its own there.
func podMounts(spec *rspec.Spec, files []rspec.Mount) {
	if len(files) == 0 {
		return
	}
	have := map[string]bool{}
	for _, m := range spec.Mounts {
		have[filepath.Clean(m.Destination)] = true
	}
	mounts := append([]rspec.Mount(nil), spec.Mounts...)
	for _, f := range files {
		if !have[f.Destination] {
			mounts = append(mounts, f)
		}
	}
	spec.Mounts = mounts
}

// StopSandbox stops the pod's VM (killing what still runs in it) and
// removes its host side; the sandbox stays until ShutdownSandbox.
func (b *Backend) StopSandbox(ctx context.Context, id string) error {
	s, err := b.getSandbox(id)
	if err != nil {
		return err
	}
	if p := s.pod; p != nil {
		p.shutdown()
	}
	return nil
}

// WaitSandbox waits until the pod's VM has ended and returns its exit
// status (0 if stopped, 128+SIGKILL if qemu died) and when.
func (b *Backend) WaitSandbox(ctx context.Context, id string) (int, time.Time, error) {
	s, err := b.getSandbox(id)
	if err != nil {
		return 0, time.Time{}, err
	}
	p := s.pod
	if p == nil {
		return 0, time.Time{}, backend.Mark(backend.ErrPrecondition, fmt.Errorf("sandbox %s is not started", id))
	}
	select {
	case <-p.ended:
	case <-ctx.Done():
		return 0, time.Time{}, ctx.Err()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.endStatus, p.endedAt, nil
}

// SandboxStatus is what the sandbox API reports of the pod.
type SandboxStatus struct {
	Pid             int
	State           string
	Created, Exited time.Time
	Info            map[string]string
}

// SandboxStatus reports the pod's state.
func (b *Backend) SandboxStatus(id string) (*SandboxStatus, error) {
	s, err := b.getSandbox(id)
	if err != nil {
		return nil, err
	}
	st := &SandboxStatus{State: SandboxNotReady}
	p := s.pod
	if p == nil {
		return st, nil
	}
	st.Pid, st.Created = p.pid, s.created
	st.Info = map[string]string{"qemuPid": strconv.Itoa(p.pid), "vmDir": p.rec.Dir}
	select {
	case <-p.ended:
		p.mu.Lock()
		st.Exited = p.endedAt
		p.mu.Unlock()
	default:
		st.State = SandboxReady
	}
	return st, nil
}

// SandboxStats are the statistics of the pod's cgroup on the host: its
// qemu and its shim, what the pod costs the host.
func (b *Backend) SandboxStats(id string) (*backend.Stats, error) {
	s, err := b.getSandbox(id)
	if err != nil {
		return nil, err
	}
	p := s.pod
	if p == nil || p.cg == nil {
		return nil, backend.Mark(backend.ErrPrecondition, fmt.Errorf("sandbox %s has no cgroup of its own on the host", id))
	}
	st, err := p.cg.Stats()
	if err != nil {
		return nil, err
	}
	h, err := cgroups.Detect()
	if err != nil {
		return nil, err
	}
	return &backend.Stats{Cgroup: st, V2: h.Mode() == cgroups.Unified}, nil
}

// ShutdownSandbox stops the pod if it runs and forgets it: its state goes
// (containerd removes the bundle).
func (b *Backend) ShutdownSandbox(ctx context.Context, id string) error {
	s, err := b.getSandbox(id)
	if err != nil {
		return err
	}
	if s.pod != nil {
		s.pod.shutdown()
	}
	if err := os.RemoveAll(filepath.Join(b.root, id)); err != nil {
		return err
	}
	b.mu.Lock()
	if b.sandbox == s {
		b.sandbox = nil
	}
	if s.pod != nil && b.pod == s.pod {
		b.pod = nil
	}
	b.mu.Unlock()
	return nil
}

// HasSandbox reports whether a sandbox holds this shim (until
// ShutdownSandbox).
func (b *Backend) HasSandbox() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sandbox != nil
}
