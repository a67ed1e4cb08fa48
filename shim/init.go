package shim

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"time"

	eventstypes "github.com/containerd/containerd/api/events"
	taskapi "github.com/containerd/containerd/api/runtime/task/v2"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/husk-runtime/husk/libruntime"
	"github.com/husk-runtime/husk/shim/launch"
)

// Create mounts the rootfs, opens the stdio and creates the container with
// libruntime: when it returns, the init waits for Start.
func (s *service) Create(ctx context.Context, r *taskapi.CreateTaskRequest) (_ *taskapi.CreateTaskResponse, err error) {
	if r.Checkpoint != "" || r.ParentCheckpoint != "" {
		return nil, errorf(codes.Unimplemented, "restore from a checkpoint is not supported by %s", RuntimeName)
	}
	opts, err := parseOptions(r.Options)
	if err != nil {
		return nil, errorf(codes.InvalidArgument, "%v", err)
	}
	if len(opts.ignored) > 0 {
		s.log.Infof("container %s: ignoring runtime options %s", r.ID, strings.Join(opts.ignored, ", "))
	}
	// Reserve the id (a nil entry) while the container is being made.
	s.mu.Lock()
	if _, ok := s.containers[r.ID]; ok {
		s.mu.Unlock()
		return nil, errorf(codes.AlreadyExists, "container %s already exists", r.ID)
	}
	s.containers[r.ID] = nil
	s.starting++
	s.mu.Unlock()
	created := false
	defer func() {
		if !created {
			s.mu.Lock()
			delete(s.containers, r.ID)
			s.mu.Unlock()
			s.endStart(nil, 0)
		}
	}()

	c := &container{id: r.ID, bundle: r.Bundle, execs: map[string]*process{}}
	sio := stdio{stdin: r.Stdin, stdout: r.Stdout, stderr: r.Stderr, terminal: r.Terminal}
	p := newProcess("", c, sio)
	c.init = p
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
	copts := libruntime.CreateOpts{
		Bundle:        r.Bundle,
		NoPivot:       opts.noPivotRoot,
		NoNewKeyring:  opts.noNewKeyring,
		SystemdCgroup: opts.systemdCgroup,
		Stdin:         pio.in,
		Stdout:        pio.out,
		Stderr:        pio.err,
	}
	if r.Terminal {
		copts.Console = pio.attachConsole
	}
	lc, err := s.rt.Create(ctx, r.ID, copts)
	pio.afterStart()
	if err != nil {
		pio.close()
		return nil, toStatus(err)
	}
	c.lc = lc
	c.pidns = lc.State().PidNS
	pid := lc.State().InitPid
	p.setPid(pid)
	// A task that gets here again (stale exit file of a previous task of
	// the same id) must not report that one.
	os.Remove(filepath.Join(r.Bundle, launch.ExitFile))

	s.mu.Lock()
	s.containers[r.ID] = c
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
	// From creation on: the init sits in the cgroup already.
	s.watchOOM(c)
	s.endStart(p, pid)
	s.trimSoon()
	return &taskapi.CreateTaskResponse{Pid: uint32(pid)}, nil
}

func (s *service) watchOOM(c *container) {
	paths := c.lc.State().Cgroup.Paths
	dir, v2 := paths["memory"], false
	if dir == "" && s.isUnified() {
		dir, v2 = paths["unified"], true
	}
	if dir == "" {
		return
	}
	w, err := watchOOM(dir, v2, func() (uint64, error) {
		c.lmu.Lock()
		defer c.lmu.Unlock()
		return c.lc.OOMKills()
	}, func() {
		s.pub.publish(topicOOM, &eventstypes.TaskOOM{ContainerID: c.id})
	})
	if err != nil {
		s.log.Warnf("container %s: no OOM events: %v", c.id, err)
		return
	}
	c.mu.Lock()
	c.oom = w
	c.mu.Unlock()
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
	pid, exited, _, _ := p.state()
	if exited {
		return nil, errorf(codes.FailedPrecondition, "container %s init has exited", c.id)
	}
	// Until the start event is queued, the init's exit is an early one:
	// /tasks/exit must not come before /tasks/start.
	s.mu.Lock()
	s.starting++
	delete(s.running, pid)
	s.mu.Unlock()
	c.lmu.Lock()
	err = c.lc.Start(ctx)
	c.lmu.Unlock()
	if err != nil {
		s.endStart(p, pid)
		return nil, toStatus(err)
	}
	s.pub.publish(topicStart, &eventstypes.TaskStart{ContainerID: c.id, Pid: uint32(pid)})
	s.endStart(p, pid)
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
		return s.deleteExec(c, p)
	}
	if !p.hasExited() {
		switch st := c.status(); st {
		case libruntime.Running, libruntime.Paused:
			return nil, errorf(codes.FailedPrecondition, "cannot delete task %s: it is %s", c.id, st)
		}
	}
	c.lmu.Lock()
	err = c.lc.Delete(ctx, true)
	c.lmu.Unlock()
	var herr *libruntime.HookError
	if errors.As(err, &herr) {
		// The container is gone; a failing poststop hook is a warning.
		s.log.Warnf("container %s: %v", c.id, err)
		err = nil
	}
	if err != nil && !errors.Is(err, libruntime.ErrNotExist) {
		return nil, toStatus(err)
	}
	// A created init was killed just now: its exit, and its event, come
	// through the reaper.
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		pid, _, _, _ := p.state()
		s.log.Warnf("container %s: no exit of its init (pid %d) after delete", c.id, pid)
		s.finishExit(p, exit{pid: pid, status: 128 + 9, at: time.Now()})
	}
	for _, e := range c.execList() {
		e.closeIO()
	}
	p.closeIO()
	c.mu.Lock()
	c.oom.close()
	c.mu.Unlock()
	if c.rootfs != "" {
		if err := unmountAll(c.rootfs); err != nil {
			s.log.Warnf("container %s: %v", c.id, err)
		}
	}
	s.mu.Lock()
	delete(s.containers, c.id)
	s.mu.Unlock()
	pid, _, code, at := p.state()
	s.pub.publish(topicDelete, &eventstypes.TaskDelete{
		ContainerID: c.id,
		Pid:         uint32(pid),
		ExitStatus:  uint32(code),
		ExitedAt:    timestamppb.New(at),
	})
	os.Remove(filepath.Join(c.bundle, launch.ExitFile))
	s.trimSoon()
	return &taskapi.DeleteResponse{Pid: uint32(pid), ExitStatus: uint32(code), ExitedAt: timestamppb.New(at)}, nil
}
