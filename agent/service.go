package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/agent/netcfg"
	"github.com/husk-runtime/husk/vm/api"
)

// container is what the service keeps about one container.
type container struct {
	id    string
	init  *process
	execs map[string]*process
	oom   *oomWatch
}

// Service implements the Agent API over a Backend.
type Service struct {
	be    Backend
	hello *api.HelloResponse
	// poweroff ends the VM; Shutdown calls it after answering.
	poweroff func()
	// network configures the guest's network (SetNetwork).
	network func(*netcfg.Config) error

	mu         sync.Mutex
	containers map[string]*container
	oomEvents  chan string

	// startPod starts the pod's namespace holder (SetPod); podPid is
	// the holder's once started.
	startPod func(hostname string) (int, error)
	podMu    sync.Mutex
	podPid   int
}

var _ api.AgentService = (*Service)(nil)

// oomQueue bounds the OOM events waiting for the host.
const oomQueue = 64

// NewService returns the service; hello is what Hello answers.
func NewService(be Backend, hello *api.HelloResponse, poweroff func()) *Service {
	return &Service{be: be, hello: hello, poweroff: poweroff,
		containers: map[string]*container{}, oomEvents: make(chan string, oomQueue)}
}

// SetNetwork gives the service what configures the guest's network
// (netcfg.Apply in a real guest).
func (s *Service) SetNetwork(apply func(*netcfg.Config) error) { s.network = apply }

var errNotFound = errors.New("not found")

func (s *Service) container(id string) (*container, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.containers[id]
	if !ok || c == nil {
		return nil, fmt.Errorf("container %q: %w", id, errNotFound)
	}
	return c, nil
}

func (s *Service) process(cid, eid string) (*container, *process, error) {
	c, err := s.container(cid)
	if err != nil {
		return nil, nil, err
	}
	if eid == "" {
		return c, c.init, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := c.execs[eid]
	if !ok {
		return nil, nil, fmt.Errorf("process %q of container %q: %w", eid, cid, errNotFound)
	}
	return c, p, nil
}

func (s *Service) Hello(ctx context.Context, _ *api.HelloRequest) (*api.HelloResponse, error) {
	return s.hello, nil
}

func (s *Service) CreateContainer(ctx context.Context, r *api.CreateContainerRequest) (_ *api.CreateContainerResponse, err error) {
	var spec rspec.Spec
	if err := json.Unmarshal(r.Spec, &spec); err != nil {
		return nil, fmt.Errorf("config.json: %w", err)
	}
	s.mu.Lock()
	if _, ok := s.containers[r.Id]; ok {
		s.mu.Unlock()
		return nil, fmt.Errorf("container %q already exists", r.Id)
	}
	s.containers[r.Id] = nil // reserved while it is made
	s.mu.Unlock()
	defer func() {
		if err != nil {
			s.mu.Lock()
			delete(s.containers, r.Id)
			s.mu.Unlock()
		}
	}()
	p := &process{cid: r.Id, done: make(chan struct{})}
	pio, closeChild, err := p.procIO(r.Stdio)
	if err != nil {
		return nil, err
	}
	pid, lines, err := s.be.Create(ctx, r.Id, &spec, pio, r.Trace)
	closeChild()
	if err != nil {
		p.closeIO()
		return nil, err
	}
	p.pid = pid
	c := &container{id: r.Id, init: p, execs: map[string]*process{}}
	if path := s.be.MemoryEvents(r.Id); path != "" {
		c.oom = watchOOM(path, func() (uint64, error) { return s.be.OOMKills(r.Id) }, func() { s.queueOOM(r.Id) })
	}
	go s.waitExit(p)
	s.mu.Lock()
	s.containers[r.Id] = c
	s.mu.Unlock()
	return &api.CreateContainerResponse{Pid: uint32(pid), Trace: lines}, nil
}

// waitExit records the process's exit once the reaper has it.
func (s *Service) waitExit(p *process) {
	_, pid, _ := p.snapshot()
	p.setExited(s.be.Wait(pid))
}

// queueOOM queues an event, dropping the oldest when the host does not
// collect them.
func (s *Service) queueOOM(id string) {
	for {
		select {
		case s.oomEvents <- id:
			return
		default:
		}
		select {
		case <-s.oomEvents:
		default:
		}
	}
}

func (s *Service) StartContainer(ctx context.Context, r *api.ContainerRequest) (*api.Empty, error) {
	c, err := s.container(r.ContainerId)
	if err != nil {
		return nil, err
	}
	if err := s.be.Start(ctx, r.ContainerId); err != nil {
		return nil, err
	}
	_, pid, _ := c.init.snapshot()
	c.init.setRunning(pid)
	return &api.Empty{}, nil
}

func (s *Service) DeleteContainer(ctx context.Context, r *api.DeleteContainerRequest) (*api.Empty, error) {
	c, err := s.container(r.ContainerId)
	if err != nil {
		return nil, err
	}
	if err := s.be.Delete(ctx, r.ContainerId, r.Force); err != nil {
		return nil, err
	}
	s.mu.Lock()
	delete(s.containers, r.ContainerId)
	execs := c.execs
	s.mu.Unlock()
	c.oom.close()
	c.init.closeIO()
	for _, p := range execs {
		p.closeIO()
	}
	return &api.Empty{}, nil
}

func (s *Service) State(ctx context.Context, r *api.ContainerRequest) (*api.StateResponse, error) {
	c, err := s.container(r.ContainerId)
	if err != nil {
		return nil, err
	}
	status, err := s.be.Status(r.ContainerId)
	if err != nil {
		return nil, err
	}
	_, pid, _ := c.init.snapshot()
	return &api.StateResponse{Status: status, Pid: uint32(pid)}, nil
}

func (s *Service) ExecProcess(ctx context.Context, r *api.ExecProcessRequest) (*api.ProcessResponse, error) {
	if r.ExecId == "" {
		return nil, errors.New("exec: an exec id is required")
	}
	var proc rspec.Process
	if err := json.Unmarshal(r.Process, &proc); err != nil {
		return nil, fmt.Errorf("exec process: %w", err)
	}
	c, err := s.container(r.ContainerId)
	if err != nil {
		return nil, err
	}
	p := &process{cid: r.ContainerId, eid: r.ExecId, done: make(chan struct{})}
	s.mu.Lock()
	if _, ok := c.execs[r.ExecId]; ok {
		s.mu.Unlock()
		return nil, fmt.Errorf("process %q of container %q already exists", r.ExecId, r.ContainerId)
	}
	c.execs[r.ExecId] = p
	s.mu.Unlock()
	fail := func(err error) (*api.ProcessResponse, error) {
		s.mu.Lock()
		delete(c.execs, r.ExecId)
		s.mu.Unlock()
		p.closeIO()
		return nil, err
	}
	pio, closeChild, err := p.procIO(r.Stdio)
	if err != nil {
		return fail(err)
	}
	pid, err := s.be.Exec(ctx, r.ContainerId, &proc, pio)
	closeChild()
	if err != nil {
		return fail(err)
	}
	p.setRunning(pid)
	go s.waitExit(p)
	return &api.ProcessResponse{Pid: uint32(pid)}, nil
}

func (s *Service) DeleteProcess(ctx context.Context, r *api.ProcessRequest) (*api.Empty, error) {
	if r.ExecId == "" {
		return nil, errors.New("delete process: the init goes with DeleteContainer")
	}
	c, p, err := s.process(r.ContainerId, r.ExecId)
	if err != nil {
		return nil, err
	}
	if st, _, _ := p.snapshot(); st != procExited {
		return nil, fmt.Errorf("process %q of container %q is still running", r.ExecId, r.ContainerId)
	}
	s.mu.Lock()
	delete(c.execs, r.ExecId)
	s.mu.Unlock()
	p.closeIO()
	return &api.Empty{}, nil
}

func (s *Service) SignalProcess(ctx context.Context, r *api.SignalRequest) (*api.Empty, error) {
	sig := unix.Signal(r.Signal)
	if r.Signal == 0 || r.Signal > 64 {
		return nil, fmt.Errorf("signal %d is not a signal", r.Signal)
	}
	_, p, err := s.process(r.ContainerId, r.ExecId)
	if err != nil {
		return nil, err
	}
	if r.ExecId == "" {
		return &api.Empty{}, s.be.Kill(r.ContainerId, sig, r.All)
	}
	if r.All {
		return nil, errors.New("signal: all applies to a container, not to one exec'd process")
	}
	st, pid, _ := p.snapshot()
	if st == procExited {
		return nil, fmt.Errorf("process %q has exited", r.ExecId)
	}
	return &api.Empty{}, s.be.Signal(pid, sig)
}

func (s *Service) WaitProcess(ctx context.Context, r *api.ProcessRequest) (*api.WaitResponse, error) {
	_, p, err := s.process(r.ContainerId, r.ExecId)
	if err != nil {
		return nil, err
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	_, _, status := p.snapshot()
	return &api.WaitResponse{ExitStatus: int32(status)}, nil
}

func (s *Service) ReadStdout(ctx context.Context, r *api.ReadRequest) (*api.ReadResponse, error) {
	return s.read(r, false)
}

func (s *Service) ReadStderr(ctx context.Context, r *api.ReadRequest) (*api.ReadResponse, error) {
	return s.read(r, true)
}

func (s *Service) read(r *api.ReadRequest, stderr bool) (*api.ReadResponse, error) {
	_, p, err := s.process(r.ContainerId, r.ExecId)
	if err != nil {
		return nil, err
	}
	data, eof, err := read(p.stream(stderr), r.Max)
	if err != nil {
		return nil, err
	}
	return &api.ReadResponse{Data: data, Eof: eof}, nil
}

func (s *Service) WriteStdin(ctx context.Context, r *api.WriteRequest) (*api.WriteResponse, error) {
	_, p, err := s.process(r.ContainerId, r.ExecId)
	if err != nil {
		return nil, err
	}
	n, err := p.write(r.Data)
	if err != nil {
		return nil, err
	}
	return &api.WriteResponse{Written: uint32(n)}, nil
}

func (s *Service) CloseStdin(ctx context.Context, r *api.ProcessRequest) (*api.Empty, error) {
	_, p, err := s.process(r.ContainerId, r.ExecId)
	if err != nil {
		return nil, err
	}
	p.closeStdin()
	return &api.Empty{}, nil
}

func (s *Service) ResizeTty(ctx context.Context, r *api.ResizeRequest) (*api.Empty, error) {
	_, p, err := s.process(r.ContainerId, r.ExecId)
	if err != nil {
		return nil, err
	}
	return &api.Empty{}, p.resize(r.Rows, r.Cols)
}

func (s *Service) PauseContainer(ctx context.Context, r *api.ContainerRequest) (*api.Empty, error) {
	if _, err := s.container(r.ContainerId); err != nil {
		return nil, err
	}
	return &api.Empty{}, s.be.Pause(r.ContainerId)
}

func (s *Service) ResumeContainer(ctx context.Context, r *api.ContainerRequest) (*api.Empty, error) {
	if _, err := s.container(r.ContainerId); err != nil {
		return nil, err
	}
	return &api.Empty{}, s.be.Resume(r.ContainerId)
}

func (s *Service) UpdateContainer(ctx context.Context, r *api.UpdateRequest) (*api.Empty, error) {
	if _, err := s.container(r.ContainerId); err != nil {
		return nil, err
	}
	var res rspec.LinuxResources
	if err := json.Unmarshal(r.Resources, &res); err != nil {
		return nil, fmt.Errorf("resources: %w", err)
	}
	return &api.Empty{}, s.be.Update(r.ContainerId, &res)
}

func (s *Service) Stats(ctx context.Context, r *api.ContainerRequest) (*api.StatsResponse, error) {
	if _, err := s.container(r.ContainerId); err != nil {
		return nil, err
	}
	st, err := s.be.Stats(r.ContainerId)
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	kills, err := s.be.OOMKills(r.ContainerId)
	if err != nil {
		return nil, err
	}
	return &api.StatsResponse{Stats: data, OomKills: kills}, nil
}

func (s *Service) ListProcesses(ctx context.Context, r *api.ContainerRequest) (*api.ListProcessesResponse, error) {
	if _, err := s.container(r.ContainerId); err != nil {
		return nil, err
	}
	pids, err := s.be.Pids(r.ContainerId)
	if err != nil {
		return nil, err
	}
	out := make([]uint32, len(pids))
	for i, p := range pids {
		out[i] = uint32(p)
	}
	return &api.ListProcessesResponse{Pids: out}, nil
}

func (s *Service) GetOOMEvent(ctx context.Context, _ *api.Empty) (*api.OOMEvent, error) {
	select {
	case id := <-s.oomEvents:
		return &api.OOMEvent{ContainerId: id}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Shutdown kills and deletes every container, then powers off once the
// answer is on its way.
func (s *Service) Shutdown(ctx context.Context, _ *api.Empty) (*api.Empty, error) {
	s.mu.Lock()
	var ids []string
	for id, c := range s.containers {
		if c != nil {
			ids = append(ids, id)
		}
	}
	s.mu.Unlock()
	for _, id := range ids {
		s.DeleteContainer(ctx, &api.DeleteContainerRequest{ContainerId: id, Force: true})
	}
	if s.poweroff != nil {
		go s.poweroff()
	}
	return &api.Empty{}, nil
}

// ConfigureNetwork sets the guest's network up as the host asks.
func (s *Service) ConfigureNetwork(ctx context.Context, r *api.NetworkConfig) (*api.Empty, error) {
	c, err := netcfg.Parse(r)
	if err != nil {
		return nil, err
	}
	if s.network == nil {
		return nil, errors.New("configure network: this agent has no network to configure")
	}
	if err := s.network(c); err != nil {
		return nil, fmt.Errorf("configure network: %w", err)
	}
	return &api.Empty{}, nil
}
