package shim

import (
	"context"
	"encoding/json"
	"os"
	"strings"

	eventstypes "github.com/containerd/containerd/api/events"
	taskapi "github.com/containerd/containerd/api/runtime/task/v2"
	"github.com/containerd/containerd/api/types/runc/options"
	"github.com/containerd/containerd/api/types/task"
	"github.com/containerd/typeurl/v2"
	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/husk-runtime/husk/shim/lifecycle"
)

// The task RPCs on running containers; the lifecycle ones (Create, Start,
// Delete, Exec) are in init.go and exec.go.

// taskStatus is a process's status as containerd names it.
var taskStatus = map[lifecycle.Status]task.Status{
	lifecycle.Created: task.Status_CREATED,
	lifecycle.Running: task.Status_RUNNING,
	lifecycle.Paused:  task.Status_PAUSED,
	lifecycle.Stopped: task.Status_STOPPED,
	lifecycle.Deleted: task.Status_STOPPED,
}

// State reports a process's status and stdio.
func (s *service) State(ctx context.Context, r *taskapi.StateRequest) (*taskapi.StateResponse, error) {
	c, p, err := s.getProcess(r.ID, r.ExecID)
	if err != nil {
		return nil, err
	}
	pid, st, e := p.state()
	resp := &taskapi.StateResponse{
		ID:         p.id,
		Bundle:     c.bundle,
		Pid:        uint32(pid),
		Status:     taskStatus[st],
		Stdin:      p.stdio.stdin,
		Stdout:     p.stdio.stdout,
		Stderr:     p.stdio.stderr,
		Terminal:   p.stdio.terminal,
		ExitStatus: uint32(e.status),
	}
	if st == lifecycle.Stopped {
		resp.ExitedAt = timestamppb.New(e.at)
	}
	return resp, nil
}

// Pids lists every process of the container; exec'd ones carry their
// exec id, as in the runc shim.
func (s *service) Pids(ctx context.Context, r *taskapi.PidsRequest) (*taskapi.PidsResponse, error) {
	c, err := s.getContainer(r.ID)
	if err != nil {
		return nil, err
	}
	pids, err := c.bc.Pids(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	resp := &taskapi.PidsResponse{}
	for _, pid := range pids {
		info := &task.ProcessInfo{Pid: uint32(pid)}
		if p := c.execByPid(pid); p != nil {
			if a, err := typeurl.MarshalAnyToProto(&options.ProcessDetails{ExecID: p.id}); err == nil {
				info.Info = a
			}
		}
		resp.Processes = append(resp.Processes, info)
	}
	return resp, nil
}

// Pause freezes the container.
func (s *service) Pause(ctx context.Context, r *taskapi.PauseRequest) (*emptypb.Empty, error) {
	c, err := s.getContainer(r.ID)
	if err != nil {
		return nil, err
	}
	if err := c.init.check(lifecycle.Pause); err != nil {
		return nil, toStatus(err)
	}
	if err := c.bc.Pause(ctx); err != nil {
		return nil, toStatus(err)
	}
	if err := c.init.transition(lifecycle.Pause); err != nil {
		return nil, toStatus(err)
	}
	s.pub.publish(topicPaused, &eventstypes.TaskPaused{ContainerID: c.id})
	return empty, nil
}

// Resume thaws the container.
func (s *service) Resume(ctx context.Context, r *taskapi.ResumeRequest) (*emptypb.Empty, error) {
	c, err := s.getContainer(r.ID)
	if err != nil {
		return nil, err
	}
	if err := c.init.check(lifecycle.Resume); err != nil {
		return nil, toStatus(err)
	}
	if err := c.bc.Resume(ctx); err != nil {
		return nil, toStatus(err)
	}
	if err := c.init.transition(lifecycle.Resume); err != nil {
		return nil, toStatus(err)
	}
	s.pub.publish(topicResumed, &eventstypes.TaskResumed{ContainerID: c.id})
	return empty, nil
}

// Kill signals the init (with All, every process of the container) or an
// exec'd process.
func (s *service) Kill(ctx context.Context, r *taskapi.KillRequest) (*emptypb.Empty, error) {
	c, p, err := s.getProcess(r.ID, r.ExecID)
	if err != nil {
		return nil, err
	}
	sig := unix.Signal(r.Signal)
	if p.id == "" {
		if p.hasExited() && !r.All {
			return nil, status.Errorf(codes.NotFound, "process already finished")
		}
		if err := c.bc.Kill(ctx, sig, r.All); err != nil {
			return nil, toStatus(err)
		}
		return empty, nil
	}
	switch _, st, _ := p.state(); st {
	case lifecycle.Created:
		return nil, status.Errorf(codes.FailedPrecondition, "process %s has not started", p.id)
	case lifecycle.Stopped, lifecycle.Deleted:
		return nil, status.Errorf(codes.NotFound, "process already finished")
	}
	if err := c.bc.Signal(ctx, p.id, sig); err != nil {
		return nil, toStatus(err)
	}
	return empty, nil
}

// ResizePty sets the window size of a process's terminal.
func (s *service) ResizePty(ctx context.Context, r *taskapi.ResizePtyRequest) (*emptypb.Empty, error) {
	_, p, err := s.getProcess(r.ID, r.ExecID)
	if err != nil {
		return nil, err
	}
	pio := p.getIO()
	if pio == nil {
		return nil, status.Errorf(codes.FailedPrecondition, "process %q has no terminal", p.id)
	}
	if err := pio.resize(r.Width, r.Height); err != nil {
		return nil, status.Errorf(codes.FailedPrecondition, "resize terminal: %v", err)
	}
	return empty, nil
}

// CloseIO closes a process's stdin.
func (s *service) CloseIO(ctx context.Context, r *taskapi.CloseIORequest) (*emptypb.Empty, error) {
	_, p, err := s.getProcess(r.ID, r.ExecID)
	if err != nil {
		return nil, err
	}
	if pio := p.getIO(); r.Stdin && pio != nil {
		pio.closeStdin()
	}
	return empty, nil
}

// Update changes the container's resources (docker update, CRI).
func (s *service) Update(ctx context.Context, r *taskapi.UpdateTaskRequest) (*emptypb.Empty, error) {
	c, err := s.getContainer(r.ID)
	if err != nil {
		return nil, err
	}
	if r.Resources == nil {
		return empty, nil
	}
	if !strings.HasSuffix(r.Resources.TypeUrl, "LinuxResources") {
		return nil, status.Errorf(codes.InvalidArgument, "resources of type %q: want %s", r.Resources.TypeUrl, resourcesTypeURL)
	}
	var res rspec.LinuxResources
	if err := json.Unmarshal(r.Resources.Value, &res); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "decode resources: %v", err)
	}
	if err := c.bc.Update(ctx, &res); err != nil {
		return nil, toStatus(err)
	}
	return empty, nil
}

// Wait blocks until the process has exited and returns its exit.
func (s *service) Wait(ctx context.Context, r *taskapi.WaitRequest) (*taskapi.WaitResponse, error) {
	_, p, err := s.getProcess(r.ID, r.ExecID)
	if err != nil {
		return nil, err
	}
	if err := p.wait(ctx); err != nil {
		return nil, toStatus(err)
	}
	_, _, e := p.state()
	return &taskapi.WaitResponse{ExitStatus: uint32(e.status), ExitedAt: timestamppb.New(e.at)}, nil
}

// Stats returns the container's cgroup metrics.
func (s *service) Stats(ctx context.Context, r *taskapi.StatsRequest) (*taskapi.StatsResponse, error) {
	c, err := s.getContainer(r.ID)
	if err != nil {
		return nil, err
	}
	st, err := c.bc.Stats(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	a, err := typeurl.MarshalAnyToProto(metrics(st.Cgroup, st.V2, st.OOMKills))
	if err != nil {
		return nil, status.Errorf(codes.Internal, "encode metrics: %v", err)
	}
	return &taskapi.StatsResponse{Stats: a}, nil
}

// Connect tells containerd (after a restart) who serves the task.
func (s *service) Connect(ctx context.Context, r *taskapi.ConnectRequest) (*taskapi.ConnectResponse, error) {
	resp := &taskapi.ConnectResponse{ShimPid: uint32(os.Getpid())}
	if c, err := s.getContainer(r.ID); err == nil {
		pid, _, _ := c.init.state()
		resp.TaskPid = uint32(pid)
	}
	return resp, nil
}

// Shutdown ends the daemon once it serves no container: containerd calls
// it after each task delete.
func (s *service) Shutdown(ctx context.Context, r *taskapi.ShutdownRequest) (*emptypb.Empty, error) {
	s.exitIfIdle()
	return empty, nil
}

// exitIfIdle ends the daemon when it has no container left and no
// sandbox holds it (the sandbox API's pod outlives its containers).
func (s *service) exitIfIdle() {
	s.mu.Lock()
	n := len(s.containers)
	s.mu.Unlock()
	if n == 0 && (s.holds == nil || !s.holds()) {
		s.shutdownOnce.Do(func() { close(s.done) })
	}
}

// Checkpoint is not implemented: husk has no checkpoint/restore.
func (s *service) Checkpoint(ctx context.Context, r *taskapi.CheckpointTaskRequest) (*emptypb.Empty, error) {
	return nil, status.Errorf(codes.Unimplemented, "checkpoint is not supported by %s", s.runtime)
}
