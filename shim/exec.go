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

	"github.com/husk-runtime/husk/shim/lifecycle"
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
	p.beginStarting()
	pid, err := s.runExec(ctx, c, p)
	if err != nil {
		// A process that never started has no exit to wait for.
		p.endStarting()
		s.execEnded(c)
		return nil, err
	}
	p.setPid(pid)
	p.transition(lifecycle.Start)
	s.pub.publish(topicExecStarted, &eventstypes.TaskExecStarted{ContainerID: c.id, ExecID: p.id, Pid: uint32(pid)})
	s.endStarting(p)
	s.trimSoon()
	return &taskapi.StartResponse{Pid: uint32(pid)}, nil
}

func (s *service) runExec(ctx context.Context, c *container, p *process) (int, error) {
	pio, err := openIO(ctx, c.id+"-"+p.id, s.ns, p.stdio, s.reaper)
	if err != nil {
		return 0, errorf(codes.Unknown, "exec %s: %v", p.id, err)
	}
	p.setIO(pio)
	pid, err := c.bc.Exec(ctx, p.id, p.spec, pio.backendStdio(p.stdio.terminal))
	pio.afterStart()
	if err != nil {
		pio.close()
		return 0, toStatus(err)
	}
	return pid, nil
}

func (s *service) deleteExec(ctx context.Context, c *container, p *process) (*taskapi.DeleteResponse, error) {
	pid, st, e := p.state()
	if st == lifecycle.Running {
		return nil, errorf(codes.FailedPrecondition, "cannot delete exec process %s: it is running", p.id)
	}
	c.mu.Lock()
	delete(c.execs, p.id)
	c.mu.Unlock()
	if st == lifecycle.Stopped {
		if err := c.bc.DeleteExec(ctx, p.id); err != nil {
			s.log.Debugf("container %s: delete exec %s: %v", c.id, p.id, err)
		}
	}
	p.closeIO()
	resp := &taskapi.DeleteResponse{Pid: uint32(pid), ExitStatus: uint32(e.status)}
	if st == lifecycle.Stopped {
		p.transition(lifecycle.Delete)
		resp.ExitedAt = timestamppb.New(e.at)
	}
	return resp, nil
}
