package shim

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"time"

	eventstypes "github.com/containerd/containerd/api/events"
	taskapi "github.com/containerd/containerd/api/runtime/task/v2"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/husk-runtime/husk/shim/backend"
	"github.com/husk-runtime/husk/shim/launch"
	"github.com/husk-runtime/husk/shim/lifecycle"
)

// Create mounts the rootfs, opens the stdio and creates the container
// with the backend: when it returns, the init waits for Start.
func (s *service) Create(ctx context.Context, r *taskapi.CreateTaskRequest) (_ *taskapi.CreateTaskResponse, err error) {
	if r.Checkpoint != "" || r.ParentCheckpoint != "" {
		return nil, errorf(codes.Unimplemented, "restore from a checkpoint is not supported by %s", s.runtime)
	}
	opts, err := parseOptions(r.Options, s.runtime)
	if err != nil {
		return nil, errorf(codes.InvalidArgument, "%v", err)
	}
	if len(opts.ignored) > 0 {
		s.log.Infof("container %s: ignoring runtime options %s", r.ID, strings.Join(opts.ignored, ", "))
	}
	c := &container{id: r.ID, bundle: r.Bundle, execs: map[string]*process{}}
	sio := stdio{stdin: r.Stdin, stdout: r.Stdout, stderr: r.Stderr, terminal: r.Terminal}
	p := newProcess("", c, sio)
	c.init = p
	// An exit reported while the container is made waits for the create
	// event.
	p.beginStarting()
	// Reserve the id while the container is being made.
	s.mu.Lock()
	if _, ok := s.containers[r.ID]; ok {
		s.mu.Unlock()
		return nil, errorf(codes.AlreadyExists, "container %s already exists", r.ID)
	}
	s.containers[r.ID] = c
	s.mu.Unlock()
	created := false
	defer func() {
		if !created {
			s.mu.Lock()
			delete(s.containers, r.ID)
			s.mu.Unlock()
		}
	}()

	if len(r.Rootfs) > 0 {
		c.rootfs = filepath.Join(r.Bundle, "rootfs")
		if err := mountRootfs(c.rootfs, r.Rootfs); err != nil {
			return nil, errorf(codes.Unknown, "%v", err)
		}
		defer func() {
			if !created {
				unmountAll(c.rootfs)
			}
		}()
	}
	pio, err := openIO(ctx, r.ID, s.ns, sio, s.reaper)
	if err != nil {
		return nil, errorf(codes.Unknown, "%v", err)
	}
	p.setIO(pio)
	bc, err := s.be.Create(ctx, &backend.CreateRequest{
		ID:      r.ID,
		Bundle:  r.Bundle,
		Rootfs:  c.rootfs,
		Options: opts.Options,
		Stdio:   pio.backendStdio(r.Terminal),
	})
	pio.afterStart()
	if err != nil {
		pio.close()
		return nil, toStatus(err)
	}
	c.bc = bc
	pid := bc.Pid()
	p.setPid(pid)
	// A task that gets here again (stale exit file of a previous task of
	// the same id) must not report that one.
	os.Remove(filepath.Join(r.Bundle, launch.ExitFile))

	s.mu.Lock()
	s.ready[r.ID] = true
	s.mu.Unlock()
	created = true
	s.pub.publish(topicCreate, &eventstypes.TaskCreate{
		ContainerID: r.ID,
		Bundle:      r.Bundle,
		Rootfs:      r.Rootfs,
		IO:          &eventstypes.TaskIO{Stdin: r.Stdin, Stdout: r.Stdout, Stderr: r.Stderr, Terminal: r.Terminal},
		Checkpoint:  r.Checkpoint,
		Pid:         uint32(pid),
	})
	s.endStarting(p)
	s.trimSoon()
	return &taskapi.CreateTaskResponse{Pid: uint32(pid)}, nil
}

// Start starts the container's init or an exec'd process.
func (s *service) Start(ctx context.Context, r *taskapi.StartRequest) (*taskapi.StartResponse, error) {
	c, p, err := s.getProcess(r.ID, r.ExecID)
	if err != nil {
		return nil, err
	}
	if p.id != "" {
		return s.startExec(ctx, c, p)
	}
	if err := p.check(lifecycle.Start); err != nil {
		return nil, errorf(codes.FailedPrecondition, "container %s init: %v", c.id, err)
	}
	// Until the start event is queued, the init's exit waits: /tasks/exit
	// must not come before /tasks/start.
	p.beginStarting()
	if err := c.bc.Start(ctx); err != nil {
		s.endStarting(p)
		return nil, toStatus(err)
	}
	if err := p.transition(lifecycle.Start); err != nil {
		// Cannot happen: only Start moves a created init, and only one
		// Start gets here (the backend refuses a second).
		s.log.Warnf("container %s: %v", c.id, err)
	}
	pid, _, _ := p.state()
	s.pub.publish(topicStart, &eventstypes.TaskStart{ContainerID: c.id, Pid: uint32(pid)})
	s.endStarting(p)
	return &taskapi.StartResponse{Pid: uint32(pid)}, nil
}

// Delete deletes an exec'd process, or the container: its init must have
// exited or never started (it is killed then).
func (s *service) Delete(ctx context.Context, r *taskapi.DeleteRequest) (*taskapi.DeleteResponse, error) {
	c, p, err := s.getProcess(r.ID, r.ExecID)
	if err != nil {
		return nil, err
	}
	if p.id != "" {
		return s.deleteExec(ctx, c, p)
	}
	switch st := p.getStatus(); st {
	case lifecycle.Running, lifecycle.Paused:
		return nil, errorf(codes.FailedPrecondition, "cannot delete task %s: it is %s", c.id, st)
	}
	if err := c.bc.Delete(ctx); err != nil {
		return nil, toStatus(err)
	}
	// A created init was killed just now: its exit, and its event, come
	// from the backend.
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		pid, _, _ := p.state()
		s.log.Warnf("container %s: no exit of its init (pid %d) after delete", c.id, pid)
		s.finishExit(p, exit{status: 128 + 9, at: time.Now()})
	}
	for _, e := range c.execList() {
		e.closeIO()
	}
	p.closeIO()
	if c.rootfs != "" {
		if err := unmountAll(c.rootfs); err != nil {
			s.log.Warnf("container %s: %v", c.id, err)
		}
	}
	p.transition(lifecycle.Delete)
	s.mu.Lock()
	delete(s.containers, c.id)
	delete(s.ready, c.id)
	s.mu.Unlock()
	pid, _, e := p.state()
	s.pub.publish(topicDelete, &eventstypes.TaskDelete{
		ContainerID: c.id,
		Pid:         uint32(pid),
		ExitStatus:  uint32(e.status),
		ExitedAt:    timestamppb.New(e.at),
	})
	os.Remove(filepath.Join(c.bundle, launch.ExitFile))
	s.trimSoon()
	return &taskapi.DeleteResponse{Pid: uint32(pid), ExitStatus: uint32(e.status), ExitedAt: timestamppb.New(e.at)}, nil
}
