package shim

import (
	"context"
	"encoding/json"
	"strings"

	eventstypes "github.com/containerd/containerd/api/events"
	taskapi "github.com/containerd/containerd/api/runtime/task/v2"
	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/husk-runtime/husk/libruntime"
)

// Exec registers a process to run in the container; Start runs it.
func (s *service) Exec(ctx context.Context, r *taskapi.ExecProcessRequest) (*emptypb.Empty, error) {
	c, err := s.getContainer(r.ID)
	if err != nil {
		return nil, err
	}
	if r.Spec == nil || !strings.HasSuffix(r.Spec.TypeUrl, "Process") {
		return nil, errorf(codes.InvalidArgument, "exec %s: the process spec must be a %s", r.ExecID, processTypeURL)
	}
	var spec rspec.Process
	if err := json.Unmarshal(r.Spec.Value, &spec); err != nil {
		return nil, errorf(codes.InvalidArgument, "exec %s: decode process spec: %v", r.ExecID, err)
	}
	if c.init.hasExited() {
		return nil, errorf(codes.FailedPrecondition, "container %s is not running", c.id)
	}
	p := newProcess(r.ExecID, c, stdio{stdin: r.Stdin, stdout: r.Stdout, stderr: r.Stderr, terminal: r.Terminal})
	p.spec = &spec
	c.mu.Lock()
	if _, ok := c.execs[r.ExecID]; ok {
		c.mu.Unlock()
		return nil, errorf(codes.AlreadyExists, "exec process %s already exists in container %s", r.ExecID, c.id)
	}
	c.execs[r.ExecID] = p
	c.mu.Unlock()
	s.pub.publish(topicExecAdded, &eventstypes.TaskExecAdded{ContainerID: c.id, ExecID: r.ExecID})
	return empty, nil
}

func (s *service) startExec(ctx context.Context, c *container, p *process) (*taskapi.StartResponse, error) {
	if !p.claimStart() {
		return nil, errorf(codes.FailedPrecondition, "exec process %s already started", p.id)
	}
	// Counted before it can exit, so the init's exit waits for it.
	c.mu.Lock()
	if c.init.hasExited() || c.initExit != nil {
		c.mu.Unlock()
		return nil, errorf(codes.FailedPrecondition, "container %s init process is not running", c.id)
	}
	c.runningExecs++
	c.mu.Unlock()
	s.beginStart()
	pid, err := s.runExec(ctx, c, p)
	if err != nil {
		s.endStart(nil, 0)
		c.mu.Lock()
		c.runningExecs--
		pending := c.initExit
		if c.runningExecs == 0 {
			c.initExit = nil
		} else {
			pending = nil
		}
		c.mu.Unlock()
		if pending != nil {
			s.finishExit(c.init, *pending)
		}
		return nil, err
	}
	p.setPid(pid)
	s.pub.publish(topicExecStarted, &eventstypes.TaskExecStarted{ContainerID: c.id, ExecID: p.id, Pid: uint32(pid)})
	s.endStart(p, pid)
	s.trimSoon()
	return &taskapi.StartResponse{Pid: uint32(pid)}, nil
}

func (s *service) runExec(ctx context.Context, c *container, p *process) (int, error) {
	pio, err := openIO(ctx, c.id+"-"+p.id, s.ns, p.stdio, s.reaper)
	if err != nil {
		return 0, errorf(codes.Unknown, "exec %s: %v", p.id, err)
	}
	p.setIO(pio)
	o := libruntime.ExecOpts{
		Process:     p.spec,
		ProcessFile: "exec " + p.id,
		Stdin:       pio.in,
		Stdout:      pio.out,
		Stderr:      pio.err,
	}
	if p.stdio.terminal {
		o.Console = pio.attachConsole
	}
	c.lmu.Lock()
	pid, err := c.lc.ExecStart(ctx, o)
	c.lmu.Unlock()
	pio.afterStart()
	if err != nil {
		pio.close()
		return 0, toStatus(err)
	}
	return pid, nil
}

func (s *service) deleteExec(c *container, p *process) (*taskapi.DeleteResponse, error) {
	pid, exited, code, at := p.state()
	if p.isStarted() && !exited {
		return nil, errorf(codes.FailedPrecondition, "cannot delete exec process %s: it is running", p.id)
	}
	c.mu.Lock()
	delete(c.execs, p.id)
	c.mu.Unlock()
	p.closeIO()
	resp := &taskapi.DeleteResponse{Pid: uint32(pid), ExitStatus: uint32(code)}
	if exited {
		resp.ExitedAt = timestamppb.New(at)
	}
	return resp, nil
}

func (c *container) execList() []*process {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := make([]*process, 0, len(c.execs))
	for _, p := range c.execs {
		l = append(l, p)
	}
	return l
}
