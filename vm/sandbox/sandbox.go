// Package sandbox is the host's side of a husk microVM as a container
// sandbox: a VM (package vm) whose agent runs one or more containers,
// each with its rootfs and bind mounts shared into the guest. It is what
// `husk --vm` drives for one container, and what a shim drives for the
// containers of a pod.
package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/cgroups"
	"github.com/husk-runtime/husk/specs"
	"github.com/husk-runtime/husk/vm"
	"github.com/husk-runtime/husk/vm/api"
)

// Sandbox is a running VM and the containers in it.
type Sandbox struct {
	vm    *vm.VM
	agent api.AgentService

	mu         sync.Mutex
	containers map[string]bool
}

// Start launches the VM.
func Start(ctx context.Context, c vm.Config) (*Sandbox, error) {
	v, err := vm.Launch(ctx, c)
	if err != nil {
		return nil, err
	}
	return &Sandbox{vm: v, agent: v.Agent(), containers: map[string]bool{}}, nil
}

// VM is the sandbox's VM.
func (s *Sandbox) VM() *vm.VM { return s.vm }

// Agent is the guest agent's API.
func (s *Sandbox) Agent() api.AgentService { return s.agent }

// Stdio says which streams of a process the host connects.
type Stdio struct {
	Terminal              bool
	Stdin, Stdout, Stderr bool
	Rows, Cols            uint16
}

func (s Stdio) proto() *api.Stdio {
	return &api.Stdio{Terminal: s.Terminal, Stdin: s.Stdin, Stdout: s.Stdout, Stderr: s.Stderr,
		Rows: uint32(s.Rows), Cols: uint32(s.Cols)}
}

// CreateOpts are the options of CreateContainer.
type CreateOpts struct {
	Stdio Stdio
	// Trace asks for the guest's trace lines of the create.
	Trace bool
	// Spec, if set, is the container's config (else the bundle's
	// config.json). Its namespace paths, if any, must name namespaces of
	// the guest (see GuestNamespaces).
	Spec *rspec.Spec
	// GuestNamespaces: the caller translated Spec's namespace paths to
	// the guest's (a pod's containers join its sandbox's namespaces);
	// otherwise a path is refused.
	GuestNamespaces bool
	// OwnRootfs: the rootfs is the container's alone (containerd's
	// snapshot, mounted for it): a read-only one is shared writable, and
	// the guest makes it read-only once it has made the mount points in
	// it, as runc does on the host. A rootfs that may be another's (a
	// bundle's directory) is shared read-only, so that not even a
	// compromised guest kernel writes to it.
	OwnRootfs bool
}

// Created is what CreateContainer returns.
type Created struct {
	Init *Process
	// GuestPid is the init's pid in the guest.
	GuestPid int
	// Trace: the guest's trace lines (JSON, see TraceLine), checked.
	Trace []TraceLine
}

// CreateContainer binds the bundle's rootfs and bind mounts into the
// shared directory and creates the container in the guest. On error the
// binds are undone.
func (s *Sandbox) CreateContainer(ctx context.Context, id, bundle string, o CreateOpts) (_ *Created, err error) {
	if err := specs.ValidateID(id); err != nil {
		return nil, err
	}
	spec := o.Spec
	if spec == nil {
		if spec, err = specs.Load(bundle); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	if s.containers[id] {
		s.mu.Unlock()
		return nil, fmt.Errorf("container %s already exists in this VM", id)
	}
	s.containers[id] = true
	s.mu.Unlock()
	share := s.vm.Share()
	defer func() {
		if err != nil {
			share.Remove(id)
			s.mu.Lock()
			delete(s.containers, id)
			s.mu.Unlock()
		}
	}()
	gs, err := guestSpec(spec, bundle, o.GuestNamespaces, func(name, src string, ro bool) (string, error) {
		if name == rootfsName && o.OwnRootfs {
			ro = false
		}
		return share.Bind(id, name, src, ro)
	})
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(gs)
	if err != nil {
		return nil, err
	}
	r, err := s.agent.CreateContainer(ctx, &api.CreateContainerRequest{Id: id, Spec: data, Stdio: o.Stdio.proto(), Trace: o.Trace})
	if err != nil {
		return nil, fmt.Errorf("create container %s in the VM: %w", id, err)
	}
	if err := checkPid(r.Pid); err != nil {
		s.agent.DeleteContainer(ctx, &api.DeleteContainerRequest{ContainerId: id, Force: true})
		return nil, fmt.Errorf("create container %s in the VM: %w", id, err)
	}
	return &Created{Init: NewProcess(s.agent, id, ""), GuestPid: int(r.Pid), Trace: checkTrace(r.Trace)}, nil
}

// StartPod starts the pod's namespace holder in the guest (new IPC, UTS
// with hostname, and PID namespaces, which the pod's containers join) and
// returns its pid in the guest.
func (s *Sandbox) StartPod(ctx context.Context, hostname string) (int, error) {
	r, err := s.agent.StartPod(ctx, &api.StartPodRequest{Hostname: hostname})
	if err != nil {
		return 0, fmt.Errorf("start the pod in the VM: %w", err)
	}
	if r.Pid <= 1 || r.Pid > maxPid {
		return 0, fmt.Errorf("start the pod in the VM: the agent reported pid %d", r.Pid)
	}
	return int(r.Pid), nil
}

// Start starts a created container.
func (s *Sandbox) StartContainer(ctx context.Context, id string) error {
	if _, err := s.agent.StartContainer(ctx, &api.ContainerRequest{ContainerId: id}); err != nil {
		return fmt.Errorf("start container %s: %w", id, err)
	}
	return nil
}

// Exec starts another process in a container; it returns the process
// and its pid in the guest.
func Exec(ctx context.Context, agent api.AgentService, cid, eid string, p *rspec.Process, stdio Stdio) (*Process, int, error) {
	data, err := json.Marshal(p)
	if err != nil {
		return nil, 0, err
	}
	r, err := agent.ExecProcess(ctx, &api.ExecProcessRequest{ContainerId: cid, ExecId: eid, Process: data, Stdio: stdio.proto()})
	if err != nil {
		return nil, 0, fmt.Errorf("exec in container %s: %w", cid, err)
	}
	if err := checkPid(r.Pid); err != nil {
		return nil, 0, fmt.Errorf("exec in container %s: %w", cid, err)
	}
	return NewProcess(agent, cid, eid), int(r.Pid), nil
}

// maxPid is Linux's largest pid (PID_MAX_LIMIT).
const maxPid = 1 << 22

// checkPid checks a pid from the guest.
func checkPid(pid uint32) error {
	if pid == 0 || pid > maxPid {
		return fmt.Errorf("the agent reported pid %d", pid)
	}
	return nil
}

// maxPids bounds a process list from the guest.
const maxPids = 1 << 16

// Pids lists a container's processes (pids in the guest).
func Pids(ctx context.Context, agent api.AgentService, cid string) ([]int, error) {
	r, err := agent.ListProcesses(ctx, &api.ContainerRequest{ContainerId: cid})
	if err != nil {
		return nil, fmt.Errorf("processes of container %s: %w", cid, err)
	}
	if len(r.Pids) > maxPids {
		return nil, fmt.Errorf("processes of container %s: the agent listed %d", cid, len(r.Pids))
	}
	out := make([]int, 0, len(r.Pids))
	for _, p := range r.Pids {
		if err := checkPid(p); err != nil {
			return nil, fmt.Errorf("processes of container %s: %w", cid, err)
		}
		out = append(out, int(p))
	}
	return out, nil
}

// Kill signals a container's init, or with all every process in it.
func Kill(ctx context.Context, agent api.AgentService, cid string, sig unix.Signal, all bool) error {
	if _, err := agent.SignalProcess(ctx, &api.SignalRequest{ContainerId: cid, Signal: uint32(sig), All: all}); err != nil {
		return fmt.Errorf("signal container %s: %w", cid, err)
	}
	return nil
}

// DeleteContainer deletes a container in the guest and its binds.
func (s *Sandbox) DeleteContainer(ctx context.Context, id string, force bool) error {
	_, err := s.agent.DeleteContainer(ctx, &api.DeleteContainerRequest{ContainerId: id, Force: force})
	if err != nil {
		return fmt.Errorf("delete container %s: %w", id, err)
	}
	s.mu.Lock()
	delete(s.containers, id)
	s.mu.Unlock()
	return s.vm.Share().Remove(id)
}

// statsMax bounds the statistics the host decodes.
const statsMax = 1 << 20

// Stats returns a container's cgroup statistics, read in the guest.
func Stats(ctx context.Context, agent api.AgentService, cid string) (*cgroups.Stats, uint64, error) {
	r, err := agent.Stats(ctx, &api.ContainerRequest{ContainerId: cid})
	if err != nil {
		return nil, 0, fmt.Errorf("stats of container %s: %w", cid, err)
	}
	if len(r.Stats) > statsMax {
		return nil, 0, fmt.Errorf("stats of container %s: %d bytes from the agent", cid, len(r.Stats))
	}
	var st cgroups.Stats
	if err := json.Unmarshal(r.Stats, &st); err != nil {
		return nil, 0, fmt.Errorf("stats of container %s: %w", cid, err)
	}
	return &st, r.OomKills, nil
}

// Shutdown stops every container and the VM and releases everything on
// the host.
func (s *Sandbox) Shutdown(ctx context.Context) error {
	err := s.vm.Shutdown(ctx)
	return errors.Join(err, s.vm.Close())
}
