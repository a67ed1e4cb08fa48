package shim

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	eventstypes "github.com/containerd/containerd/api/events"
	"golang.org/x/sys/unix"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/husk-runtime/husk/cgroups"
	"github.com/husk-runtime/husk/libruntime"
	"github.com/husk-runtime/husk/shim/launch"
)

var empty = &emptypb.Empty{}

// service implements the task API (containerd.task.v2.Task and v3, whose
// messages are the same) for every container of the shim's group.
type service struct {
	rt     *libruntime.Runtime
	reaper *reaper
	pub    *publisher
	log    *logger
	ns     string

	// unified: a cgroup v2 only host (v2 metrics, v2 OOM events); found
	// when first needed, not on the way to serving.
	unifiedOnce sync.Once
	unified     bool

	mu         sync.Mutex
	containers map[string]*container
	// running maps the pid of each started, not yet reaped process.
	running map[int]*process
	// starting counts processes being created or started: their pid is
	// not known yet when they may already exit, so exits seen meanwhile
	// are kept in early for them (containerd's runc shim does the same).
	starting int
	early    []exit

	shutdownOnce sync.Once
	done         chan struct{} // closed by Shutdown with no containers left

	trimMu    sync.Mutex
	trimTimer *time.Timer
}

func newService(rt *libruntime.Runtime, r *reaper, pub *publisher, log *logger, ns string) *service {
	s := &service{
		rt:         rt,
		reaper:     r,
		pub:        pub,
		log:        log,
		ns:         ns,
		containers: map[string]*container{},
		running:    map[int]*process{},
		done:       make(chan struct{}),
	}
	return s
}

// trimSoon returns the heap's free memory to the kernel a moment after a
// burst of work (a create or an exec allocates a few hundred KiB that are
// garbage once it returns). A shim lives as long as its containers: what
// counts is the memory it keeps while they run, not its peak.
func (s *service) trimSoon() {
	s.trimMu.Lock()
	defer s.trimMu.Unlock()
	if s.trimTimer == nil {
		s.trimTimer = time.AfterFunc(trimDelay, debug.FreeOSMemory)
		return
	}
	s.trimTimer.Reset(trimDelay)
}

// trimDelay lets a burst (a pod's containers, one after the other) end
// before the heap is trimmed, once.
const trimDelay = 300 * time.Millisecond

func (s *service) isUnified() bool {
	s.unifiedOnce.Do(func() {
		if h, err := cgroups.Detect(); err == nil {
			s.unified = h.Mode() == cgroups.Unified
		}
	})
	return s.unified
}

// beginStart announces a process whose pid is about to be learnt.
func (s *service) beginStart() {
	s.mu.Lock()
	s.starting++
	s.mu.Unlock()
}

// endStart is called once the process's start event is queued (pid 0 if
// it failed to start): from now on its exit is handled when reaped, or now
// if it was reaped meanwhile.
func (s *service) endStart(p *process, pid int) {
	s.mu.Lock()
	s.starting--
	var early *exit
	for i := range s.early {
		if s.early[i].pid == pid {
			e := s.early[i]
			early = &e
		}
	}
	if s.starting == 0 {
		s.early = nil
	}
	if early == nil && pid > 0 && p != nil {
		s.running[pid] = p
	}
	s.mu.Unlock()
	if early != nil && p != nil {
		s.handleExit(p, *early)
	}
}

// processExit receives every exit from the reaper.
func (s *service) processExit(e exit) {
	s.mu.Lock()
	if s.starting > 0 {
		s.early = append(s.early, e)
	}
	p := s.running[e.pid]
	delete(s.running, e.pid)
	s.mu.Unlock()
	if p != nil {
		s.handleExit(p, e)
	}
}

// handleExit records a process's exit and publishes /tasks/exit, after
// which Wait returns it. A container's init exit comes last: after those
// of its execs, which are killed with it.
func (s *service) handleExit(p *process, e exit) {
	c := p.ctr
	if p.id != "" {
		s.finishExit(p, e)
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
		return
	}
	if !c.pidns {
		// Nothing of the container may outlive its init, as with runc
		// (without a pid namespace the kernel does not see to it). Not
		// from the reaper's goroutine: the kill may wait.
		go func() {
			c.lmu.Lock()
			err := c.lc.Kill(unix.SIGKILL, true)
			c.lmu.Unlock()
			if err != nil && !errors.Is(err, libruntime.ErrNotRunning) {
				s.log.Debugf("kill the rest of %s: %v", c.id, err)
			}
		}()
	}
	c.mu.Lock()
	if c.runningExecs > 0 {
		c.initExit = &e
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	s.finishExit(p, e)
}

func (s *service) finishExit(p *process, e exit) {
	if !p.recordExit(e) {
		return
	}
	c := p.ctr
	if p.id == "" {
		// Kept in the bundle for the delete action, should this daemon
		// die before the task is deleted.
		launch.WriteExitFile(c.bundle, launch.Exit{Pid: e.pid, Status: e.status, At: e.at})
	}
	s.pub.publish(topicExit, &eventstypes.TaskExit{
		ContainerID: c.id,
		ID:          p.id,
		Pid:         uint32(e.pid),
		ExitStatus:  uint32(e.status),
		ExitedAt:    timestamppb.New(e.at),
	})
	close(p.done)
}

func (s *service) getContainer(id string) (*container, error) {
	s.mu.Lock()
	c := s.containers[id]
	s.mu.Unlock()
	if c == nil {
		return nil, status.Errorf(codes.NotFound, "container %s not created", id)
	}
	return c, nil
}

func (s *service) getProcess(id, execID string) (*container, *process, error) {
	c, err := s.getContainer(id)
	if err != nil {
		return nil, nil, err
	}
	if execID == "" {
		return c, c.init, nil
	}
	p := c.exec(execID)
	if p == nil {
		return nil, nil, status.Errorf(codes.NotFound, "process %s does not exist in container %s", execID, id)
	}
	return c, p, nil
}

// toStatus maps libruntime's errors to the gRPC codes containerd turns
// back into its errdefs (NotFound, FailedPrecondition, ...); the message
// is husk's, which containerd shows as it is.
func toStatus(err error) error {
	if _, ok := status.FromError(err); ok {
		return err
	}
	code := codes.Unknown
	switch {
	case errors.Is(err, libruntime.ErrNotExist), errors.Is(err, libruntime.ErrNotRunning):
		code = codes.NotFound
	case errors.Is(err, libruntime.ErrExist):
		code = codes.AlreadyExists
	case errors.Is(err, libruntime.ErrRunning), errors.Is(err, libruntime.ErrNotCreated):
		code = codes.FailedPrecondition
	case errors.Is(err, context.Canceled):
		code = codes.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		code = codes.DeadlineExceeded
	}
	return status.Error(code, err.Error())
}

// errorf is a status error with a code and husk's message.
func errorf(code codes.Code, format string, args ...any) error {
	return status.Error(code, fmt.Sprintf(format, args...))
}
