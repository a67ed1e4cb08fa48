package vmbackend

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/cgroups"
	"github.com/husk-runtime/husk/shim/backend"
	"github.com/husk-runtime/husk/shim/reaper"
	"github.com/husk-runtime/husk/vm"
	"github.com/husk-runtime/husk/vm/api"
	"github.com/husk-runtime/husk/vm/assets"
	"github.com/husk-runtime/husk/vm/podnet"
	"github.com/husk-runtime/husk/vm/sandbox"
)

// pod is a VM and the containers in it.
type pod struct {
	b          *Backend
	sb         *sandbox.Sandbox
	recordPath string
	rec        podRecord
	// pid is qemu's: what containerd knows as every init's pid (the
	// process that holds the pod), and the pid the CRI plugin names the
	// sandbox's namespaces by.
	pid int
	// sandboxPid is the guest pid of the pod's first container, whose
	// namespaces the others join.
	sandboxPid int
	// ctx bounds the calls that last as long as the pod (waits, output,
	// OOM events).
	ctx    context.Context
	cancel context.CancelFunc
	// cg is the pod's cgroup on the host; own is where the shim was.
	cg, own *cgroups.Manager

	// held: the pod was started through containerd's sandbox API; it
	// lives until the sandbox is stopped, not until its last container
	// is deleted. files are its /etc/hostname, /etc/hosts and
	// /etc/resolv.conf on the host, bound into each of its containers.
	held  bool
	files []rspec.Mount

	// ended is closed once qemu has exited: endStatus is 0 if it was
	// stopped (shutdown), 128+SIGKILL if it died.
	ended     chan struct{}
	endStatus int
	endedAt   time.Time

	shutdownOnce sync.Once
	mu           sync.Mutex
	containers   map[string]*container
	stopping     bool
}

// bootPod starts the VM of the pod whose first container is r (spec):
// the pod's cgroup with the shim in it (qemu is born there), the taps in
// the pod's network namespace, qemu, and the guest's network. On error
// nothing is left.
func bootPod(ctx context.Context, b *Backend, id, configPath string, spec *rspec.Spec, resolv []byte) (_ *pod, err error) {
	start := time.Now()
	cfg, err := LoadConfig(configPath)
	if err != nil {
		return nil, err
	}
	a, err := assets.Lookup(cfg.Assets)
	if err != nil {
		return nil, err
	}
	mem, cpus, err := Size(spec, cfg, runtime.NumCPU())
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.RunDir, 0o700); err != nil {
		return nil, fmt.Errorf("VM directory: %w", err)
	}
	// Short names: the VM's unix sockets live in its directory.
	sum := sha256.Sum256([]byte(b.root + "\x00" + id))
	name := hex.EncodeToString(sum[:8])
	p := &pod{b: b, recordPath: filepath.Join(cfg.RunDir, name+".json"), containers: map[string]*container{}, ended: make(chan struct{})}
	p.rec = podRecord{Dir: filepath.Join(cfg.RunDir, name), ShimPid: os.Getpid(), ShimStart: reaper.StartTime(os.Getpid())}
	if err := writeRecord(p.recordPath, &p.rec); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			p.shutdown()
		}
	}()
	phases := []string{}
	phase := func(what string, since time.Time) time.Time {
		now := time.Now()
		phases = append(phases, fmt.Sprintf("%s %.1f ms", what, msBetween(since, now)))
		return now
	}
	t := phase("config", start)
	if err := p.enterCgroup(spec, id); err != nil {
		return nil, err
	}
	t = phase("cgroup", t)
	vc := vm.Config{Name: "husk-pod-" + id, Dir: p.rec.Dir, Kernel: a.Kernel, Initrd: a.Initrd,
		MemoryMiB: mem, CPUs: cpus, BootTimeout: cfg.bootTimeout(), Share: vm.ShareKind(cfg.Share)}
	var plan *podnet.Plan
	var taps []*os.File
	defer func() {
		for _, t := range taps {
			t.Close()
		}
	}()
	if ns := netnsPath(spec); ns != "" {
		facts, err := podnet.Read(ns)
		if err != nil {
			return nil, err
		}
		if plan, err = podnet.PlanFor(facts); err != nil {
			return nil, err
		}
		p.rec.Netns, p.rec.NICs = ns, plan.NICs
		if err := writeRecord(p.recordPath, &p.rec); err != nil {
			return nil, err
		}
		if taps, err = podnet.Attach(ns, plan); err != nil {
			return nil, err
		}
		for i, n := range plan.NICs {
			vc.NICs = append(vc.NICs, vm.NIC{Tap: taps[i], MAC: n.MAC, MTU: n.MTU})
		}
		plan.Guest.ResolvConf = resolv
		t = phase("network", t)
	}
	if p.sb, err = sandbox.Start(ctx, vc); err != nil {
		return nil, err
	}
	p.pid = p.sb.VM().Pid()
	go p.watch()
	p.rec.QemuPid, p.rec.QemuStart = p.pid, reaper.StartTime(p.pid)
	if err := writeRecord(p.recordPath, &p.rec); err != nil {
		return nil, err
	}
	// The VM's start: qemu until it connected, the guest until its agent
	// answered, and within that the guest's own phases (its clock).
	times := p.sb.VM().Times()
	phases = append(phases, fmt.Sprintf("qemu start %.1f ms", msBetween(times.Exec, times.Connected)),
		fmt.Sprintf("guest boot %.1f ms", msBetween(times.Connected, times.Ready)))
	if h := p.sb.VM().Hello(); h != nil {
		for _, ph := range h.Phases {
			if len(phases) < 64 && len(ph.Name) < 64 && ph.Micros >= 0 {
				phases = append(phases, fmt.Sprintf("guest %s %.1f ms", strings.ReplaceAll(ph.Name, ",", " "), float64(ph.Micros)/1000))
			}
		}
	}
	t = time.Now()
	// qemu holds the taps now; ours go (a tap lives while a descriptor
	// of it is open, so it goes with qemu).
	for _, t := range taps {
		t.Close()
	}
	taps = nil
	if plan != nil {
		if _, err := p.sb.Agent().ConfigureNetwork(ctx, plan.Guest); err != nil {
			return nil, fmt.Errorf("configure the guest's network: %w", err)
		}
		phase("guest network", t)
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	go p.oomEvents()
	b.log.Infof("pod %s: VM up (qemu pid %d; %d MiB; %d vCPUs; %d NICs) in %.1f ms: %s", id, p.pid, mem, cpus, len(vc.NICs),
		msBetween(start, time.Now()), strings.Join(phases, ", "))
	return p, nil
}

// enterCgroup makes the pod's cgroup on the host (the sandbox's
// linux.cgroupsPath, which the kubelet puts under the pod's) and moves
// the shim into it, so that qemu, born of the shim, is accounted there
// from its start. A systemd slice path is left to systemd's cgroup
// driver, which the VM class does not drive: qemu stays in the shim's
// cgroup then, as without a cgroupsPath.
func (p *pod) enterCgroup(spec *rspec.Spec, id string) error {
	if spec.Linux == nil || spec.Linux.CgroupsPath == "" {
		return nil
	}
	path := spec.Linux.CgroupsPath
	if strings.Contains(path, ":") {
		p.b.log.Warnf("pod %s: cgroupsPath %s is a systemd slice: qemu stays in the shim's cgroup", id, path)
		return nil
	}
	h, err := cgroups.Detect()
	if err != nil {
		return err
	}
	own, err := cgroups.Own(h)
	if err != nil {
		return fmt.Errorf("the shim's cgroup: %w", err)
	}
	m, err := cgroups.New(h, path, id)
	if err != nil {
		return err
	}
	intent := m.Intent()
	p.rec.Cgroup = &intent
	if err := writeRecord(p.recordPath, &p.rec); err != nil {
		return err
	}
	if err := m.Create(nil); err != nil {
		return fmt.Errorf("the pod's cgroup: %w", err)
	}
	st := m.State()
	p.rec.Cgroup = &st
	p.cg, p.own = m, own
	if err := writeRecord(p.recordPath, &p.rec); err != nil {
		return err
	}
	if err := m.AddProc(os.Getpid()); err != nil {
		return fmt.Errorf("move the shim into the pod's cgroup: %w", err)
	}
	return nil
}

// createContainer creates a container in the VM.
func (p *pod) createContainer(ctx context.Context, r *backend.CreateRequest, spec *rspec.Spec, first bool) (*container, error) {
	select {
	case <-p.ended:
		return nil, fmt.Errorf("container %s: the pod's VM has ended", r.ID)
	default:
	}
	gs := *spec
	if err := guestNamespaces(&gs, p.pid, p.sandboxPid); err != nil {
		return nil, err
	}
	podMounts(&gs, p.files)
	if sysctls := netSysctls(&gs); len(sysctls) > 0 {
		if _, err := p.sb.Agent().ConfigureNetwork(ctx, &api.NetworkConfig{Sysctls: sysctls}); err != nil {
			return nil, fmt.Errorf("container %s: net sysctls: %w", r.ID, err)
		}
	}
	st := r.Stdio
	stdio := sandbox.Stdio{Terminal: st.Terminal, Stdin: st.Stdin != nil, Stdout: st.Stdout != nil, Stderr: st.Stderr != nil}
	if st.Terminal {
		stdio.Stdin, stdio.Stdout, stdio.Stderr = false, false, false
	}
	created, err := p.sb.CreateContainer(ctx, r.ID, r.Bundle, sandbox.CreateOpts{Stdio: stdio, Spec: &gs, GuestNamespaces: true, OwnRootfs: r.Rootfs != ""})
	if err != nil {
		return nil, err
	}
	if first {
		p.sandboxPid = created.GuestPid
	}
	c := &container{p: p, id: r.ID, execs: map[string]*proc{}}
	c.init, err = p.attach(created.Init, "", st)
	if err != nil {
		p.sb.DeleteContainer(ctx, r.ID, true)
		return nil, err
	}
	p.mu.Lock()
	p.containers[r.ID] = c
	p.mu.Unlock()
	go c.wait(c.init)
	return c, nil
}

// attach connects a guest process's stdio to what the service made.
func (p *pod) attach(sp *sandbox.Process, eid string, st backend.Stdio) (*proc, error) {
	pr := &proc{sp: sp, agent: p.sb.Agent(), cid: sp.ContainerID(), eid: eid, ioDone: make(chan struct{}), exited: make(chan struct{})}
	if st.Terminal {
		close(pr.ioDone)
		return pr, st.Console(&console{ctx: p.ctx, agent: pr.agent, cid: pr.cid, eid: eid})
	}
	if err := pr.copyIO(p.ctx, st); err != nil {
		return nil, err
	}
	return pr, nil
}

// remove forgets a deleted container; the last one stops the VM, unless
// the sandbox API holds the pod.
func (p *pod) remove(id string) {
	p.mu.Lock()
	delete(p.containers, id)
	n := len(p.containers)
	p.mu.Unlock()
	if n == 0 && !p.held {
		p.b.podEnded(p)
		p.shutdown()
	}
}

// watch records the end of qemu. A held pod whose VM died has its host
// side removed at once (its containers' exits are reported as their
// waits fail).
func (p *pod) watch() {
	<-p.sb.VM().Done()
	p.mu.Lock()
	p.endStatus, p.endedAt = 0, time.Now()
	stopping := p.stopping
	if !stopping {
		p.endStatus = 128 + int(unix.SIGKILL)
	}
	p.mu.Unlock()
	close(p.ended)
	if p.held && !stopping {
		p.b.log.Warnf("pod VM %s: qemu (pid %d) ended: %v", p.rec.Dir, p.pid, p.sb.VM().ExitError())
		p.shutdown()
	}
}

func (p *pod) has(id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.containers[id] != nil
}

// alive reports whether qemu still runs.
func (p *pod) alive() bool {
	select {
	case <-p.sb.VM().Done():
		return false
	default:
		return true
	}
}

// oomEvents reports the guest's OOM kills in the pod's containers.
func (p *pod) oomEvents() {
	for {
		ev, err := p.sb.Agent().GetOOMEvent(p.ctx, &api.Empty{})
		if err != nil {
			return
		}
		// The guest names the container: only the pod's are reported.
		if p.has(ev.ContainerId) {
			p.b.events.OOM(ev.ContainerId)
		}
	}
}

// shutdown stops the VM and removes everything of the pod on the host,
// whatever state booting left it in; once.
func (p *pod) shutdown() {
	p.shutdownOnce.Do(p.doShutdown)
}

func (p *pod) doShutdown() {
	p.mu.Lock()
	p.stopping = true
	p.mu.Unlock()
	if p.cancel != nil {
		p.cancel()
	}
	var errs []error
	if p.sb != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		errs = append(errs, p.sb.Shutdown(ctx))
		cancel()
	} else {
		errs = append(errs, vm.RemoveDir(p.rec.Dir))
	}
	if p.rec.Netns != "" {
		errs = append(errs, podnet.Detach(p.rec.Netns, p.rec.NICs))
	}
	if p.cg != nil {
		// The shim goes back where it came from: the cgroup must be
		// empty to go.
		if err := p.own.AddProc(os.Getpid()); err != nil {
			errs = append(errs, err)
		} else {
			errs = append(errs, p.cg.Destroy())
		}
	}
	if err := errors.Join(errs...); err != nil {
		p.b.log.Warnf("pod VM %s: %v", p.rec.Dir, err)
		return
	}
	os.Remove(p.recordPath)
}

// cleanupPod removes what the pod of record path left after its daemon
// died (see Backend.Cleanup); the first task cleaned up does it, a
// later one finds no record. A daemon still alive keeps its pod.
func cleanupPod(path string) (int, error) {
	lock, err := os.OpenFile(path, os.O_RDONLY, 0)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return 0, err
	}
	rec, err := readRecord(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if rec.ShimPid > 0 && rec.ShimPid != os.Getpid() && reaper.Alive(rec.ShimPid, rec.ShimStart) {
		return rec.QemuPid, nil
	}
	var errs []error
	if rec.QemuPid > 0 {
		errs = append(errs, killWait(rec.QemuPid, rec.QemuStart))
	}
	errs = append(errs, vm.RemoveDir(rec.Dir))
	if rec.Netns != "" {
		errs = append(errs, podnet.Detach(rec.Netns, rec.NICs))
	}
	if rec.Cgroup != nil {
		if h, err := cgroups.Detect(); err != nil {
			errs = append(errs, err)
		} else {
			errs = append(errs, cgroups.Load(h, *rec.Cgroup).Destroy())
		}
	}
	if err := errors.Join(errs...); err != nil {
		return rec.QemuPid, err
	}
	return rec.QemuPid, os.Remove(path)
}

// killWait kills the process pid that started at start, if it still
// runs, and waits until it is gone.
func killWait(pid int, start uint64) error {
	if err := reaper.Signal(pid, start, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("kill qemu (pid %d): %w", pid, err)
	}
	for deadline := time.Now().Add(10 * time.Second); reaper.Alive(pid, start); {
		if time.Now().After(deadline) {
			return fmt.Errorf("qemu (pid %d) did not die", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

func msBetween(a, b time.Time) float64 { return float64(b.Sub(a).Microseconds()) / 1000 }
