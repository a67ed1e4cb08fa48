package shim

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	eventstypes "github.com/containerd/containerd/api/events"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/husk-runtime/husk/shim/backend"
	"github.com/husk-runtime/husk/shim/launch"
	"github.com/husk-runtime/husk/shim/lifecycle"
	"github.com/husk-runtime/husk/shim/reaper"
)

var empty = &emptypb.Empty{}

// eventSink takes the events containerd is told of, in order.
type eventSink interface {
	publish(topic string, ev proto.Message)
}

// service implements the task API (containerd.task.v2.Task and v3, whose
// messages are the same) for every container of the shim's group, over a
// backend that runs them. It is the backend's backend.Events.
type service struct {
	be      backend.Backend
	reaper  *reaper.Reaper // for logging binaries
	pub     eventSink
	log     *logger
	ns      string
	runtime string

	mu sync.Mutex
	// containers holds every task, from the moment its Create reserves
	// the id; ready says which have been created.
	containers map[string]*container
	ready      map[string]bool

	shutdownOnce sync.Once
	done         chan struct{} // closed by Shutdown with no containers left
	// holds reports whether a sandbox keeps the daemon (nil: none can).
	holds func() bool

	trimMu    sync.Mutex
	trimTimer *time.Timer
}

func newService(r *reaper.Reaper, pub eventSink, log *logger, ns, runtime string) *service {
	return &service{
		reaper:     r,
		pub:        pub,
		log:        log,
		ns:         ns,
		runtime:    runtime,
		containers: map[string]*container{},
		ready:      map[string]bool{},
		done:       make(chan struct{}),
	}
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

// Exited implements backend.Events.
func (s *service) Exited(id, execID string, status int, at time.Time) {
	s.mu.Lock()
	c := s.containers[id]
	s.mu.Unlock()
	var p *process
	switch {
	case c == nil:
	case execID == "":
		p = c.init
	default:
		p = c.exec(execID)
	}
	if p == nil {
		s.log.Debugf("exit of unknown process %q of %q", execID, id)
		return
	}
	e := exit{status: status, at: at}
	if p.holdExit(e) {
		return
	}
	s.handleExit(p, e)
}

// OOM implements backend.Events.
func (s *service) OOM(id string) {
	s.pub.publish(topicOOM, &eventstypes.TaskOOM{ContainerID: id})
}

// endStarting ends a create or start once its event is queued, and
// handles the exit that came meanwhile.
func (s *service) endStarting(p *process) {
	if e := p.endStarting(); e != nil {
		s.handleExit(p, *e)
	}
}

// handleExit records a process's exit and publishes /tasks/exit, after
// which Wait returns it. A container's init exit comes last: after those
// of its execs, which are killed with it.
func (s *service) handleExit(p *process, e exit) {
	c := p.ctr
	if p.id != "" {
		s.finishExit(p, e)
		s.execEnded(c)
		return
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

// execEnded counts a started exec'd process out; the init's exit that
// waited for it goes out when it was the last.
func (s *service) execEnded(c *container) {
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
}

func (s *service) finishExit(p *process, e exit) {
	if !p.recordExit(e) {
		return
	}
	c := p.ctr
	pid, _, _ := p.state()
	if p.id == "" {
		// Kept in the bundle for the delete action, should this daemon
		// die before the task is deleted.
		launch.WriteExitFile(c.bundle, launch.Exit{Pid: pid, Status: e.status, At: e.at})
	}
	s.pub.publish(topicExit, &eventstypes.TaskExit{
		ContainerID: c.id,
		ID:          p.id,
		Pid:         uint32(pid),
		ExitStatus:  uint32(e.status),
		ExitedAt:    timestamppb.New(e.at),
	})
	close(p.done)
}

func (s *service) getContainer(id string) (*container, error) {
	s.mu.Lock()
	c, ok := s.containers[id], s.ready[id]
	s.mu.Unlock()
	if !ok {
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

// toStatus maps the backend's and the state machine's errors to the gRPC
// codes containerd turns back into its errdefs (NotFound,
// FailedPrecondition, ...); the message is husk's, which containerd shows
// as it is.
func toStatus(err error) error {
	if _, ok := status.FromError(err); ok {
		return err
	}
	code := codes.Unknown
	switch {
	case errors.Is(err, backend.ErrNotFound), errors.Is(err, lifecycle.ErrGone):
		code = codes.NotFound
	case errors.Is(err, backend.ErrExists):
		code = codes.AlreadyExists
	case errors.Is(err, backend.ErrPrecondition), errors.Is(err, lifecycle.ErrState):
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
