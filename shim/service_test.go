package shim

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	eventstypes "github.com/containerd/containerd/api/events"
	taskapi "github.com/containerd/containerd/api/runtime/task/v2"
	"github.com/containerd/containerd/api/types/task"
	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	v2 "github.com/containerd/cgroups/v3/cgroup2/stats"
	"github.com/containerd/typeurl/v2"

	"github.com/husk-runtime/husk/cgroups"
	"github.com/husk-runtime/husk/shim/backend"
	"github.com/husk-runtime/husk/shim/launch"
	"github.com/husk-runtime/husk/shim/reaper"
)

// The task service against a fake backend: what containerd sees (events
// and their order, statuses, errors) whatever the backend does when.

type recorded struct {
	topic string
	ev    proto.Message
}

// sink records the published events.
type sink struct {
	mu  sync.Mutex
	evs []recorded
}

func (s *sink) publish(topic string, ev proto.Message) {
	s.mu.Lock()
	s.evs = append(s.evs, recorded{topic, ev})
	s.mu.Unlock()
}

func (s *sink) topics() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, e := range s.evs {
		out = append(out, e.topic)
	}
	return out
}

// fakeBackend runs nothing; hooks let a test act at each step, as a real
// backend's processes would (an exit reported during Start, ...).
type fakeBackend struct {
	ev         backend.Events
	onCreate   func(id string)
	onStart    func(id string)
	onExec     func(id, eid string)
	createErr  error
	mu         sync.Mutex
	containers map[string]*fakeContainer
}

func (b *fakeBackend) Create(ctx context.Context, r *backend.CreateRequest) (backend.Container, error) {
	if b.createErr != nil {
		return nil, b.createErr
	}
	if b.onCreate != nil {
		b.onCreate(r.ID)
	}
	c := &fakeContainer{b: b, id: r.ID, pid: 100 + len(b.containers), execPids: map[string]int{}}
	b.mu.Lock()
	b.containers[r.ID] = c
	b.mu.Unlock()
	return c, nil
}

func (b *fakeBackend) Cleanup(ctx context.Context, id, bundle string) (int, error) { return 0, nil }

type fakeContainer struct {
	b        *fakeBackend
	id       string
	pid      int
	started  bool
	paused   bool
	deleted  bool
	execPids map[string]int
	signals  []unix.Signal
}

func (c *fakeContainer) Pid() int { return c.pid }

func (c *fakeContainer) Start(ctx context.Context) error {
	if c.started {
		return backend.Mark(backend.ErrPrecondition, errors.New("started already"))
	}
	c.started = true
	if c.b.onStart != nil {
		c.b.onStart(c.id)
	}
	return nil
}

func (c *fakeContainer) Exec(ctx context.Context, eid string, p *rspec.Process, stdio backend.Stdio) (int, error) {
	pid := 1000 + len(c.execPids)
	c.execPids[eid] = pid
	if c.b.onExec != nil {
		c.b.onExec(c.id, eid)
	}
	return pid, nil
}

func (c *fakeContainer) Kill(ctx context.Context, sig unix.Signal, all bool) error {
	c.signals = append(c.signals, sig)
	return nil
}

func (c *fakeContainer) Signal(ctx context.Context, eid string, sig unix.Signal) error {
	c.signals = append(c.signals, sig)
	return nil
}

func (c *fakeContainer) DeleteExec(ctx context.Context, eid string) error { return nil }
func (c *fakeContainer) Pause(ctx context.Context) error                  { c.paused = true; return nil }
func (c *fakeContainer) Resume(ctx context.Context) error                 { c.paused = false; return nil }
func (c *fakeContainer) Update(ctx context.Context, r *rspec.LinuxResources) error {
	return nil
}

func (c *fakeContainer) Stats(ctx context.Context) (*backend.Stats, error) {
	st := &cgroups.Stats{}
	st.Pids.Current = 2
	st.Memory.Usage.Usage = 4096
	return &backend.Stats{Cgroup: st, V2: true, OOMKills: 1}, nil
}

func (c *fakeContainer) Pids(ctx context.Context) ([]int, error) {
	pids := []int{c.pid}
	for _, p := range c.execPids {
		pids = append(pids, p)
	}
	return pids, nil
}

func (c *fakeContainer) Delete(ctx context.Context) error {
	c.deleted = true
	if !c.started {
		// The created init is killed.
		go c.b.ev.Exited(c.id, "", 137, time.Now())
	}
	return nil
}

func newTestService(t *testing.T) (*service, *fakeBackend, *sink) {
	t.Helper()
	pub := &sink{}
	s := newService(reaper.New(false), pub, openLogger("", false, launch.VMRuntimeName), "ns", launch.VMRuntimeName)
	fb := &fakeBackend{ev: s, containers: map[string]*fakeContainer{}}
	s.be = fb
	return s, fb, pub
}

var ctx = context.Background()

func create(t *testing.T, s *service, id string) {
	t.Helper()
	if _, err := s.Create(ctx, &taskapi.CreateTaskRequest{ID: id, Bundle: t.TempDir()}); err != nil {
		t.Fatalf("Create %s: %v", id, err)
	}
}

func wantCode(t *testing.T, what string, err error, code codes.Code) {
	t.Helper()
	if status.Code(err) != code {
		t.Errorf("%s: %v, want %s", what, err, code)
	}
}

func wantTopics(t *testing.T, pub *sink, want ...string) {
	t.Helper()
	got := pub.topics()
	if len(got) != len(want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("events %v, want %v", got, want)
		}
	}
}

func state(t *testing.T, s *service, id, eid string) *taskapi.StateResponse {
	t.Helper()
	st, err := s.State(ctx, &taskapi.StateRequest{ID: id, ExecID: eid})
	if err != nil {
		t.Fatalf("State %s/%s: %v", id, eid, err)
	}
	return st
}

func TestWholeLife(t *testing.T) {
	s, fb, pub := newTestService(t)
	create(t, s, "c")
	if st := state(t, s, "c", ""); st.Status != task.Status_CREATED || st.Pid != 100 {
		t.Errorf("after create: %v", st)
	}
	if _, err := s.Start(ctx, &taskapi.StartRequest{ID: "c"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pause(ctx, &taskapi.PauseRequest{ID: "c"}); err != nil {
		t.Fatal(err)
	}
	if st := state(t, s, "c", ""); st.Status != task.Status_PAUSED {
		t.Errorf("after pause: %v", st.Status)
	}
	_, err := s.Pause(ctx, &taskapi.PauseRequest{ID: "c"})
	wantCode(t, "pause a paused task", err, codes.FailedPrecondition)
	_, err = s.Delete(ctx, &taskapi.DeleteRequest{ID: "c"})
	wantCode(t, "delete a paused task", err, codes.FailedPrecondition)
	if _, err := s.Resume(ctx, &taskapi.ResumeRequest{ID: "c"}); err != nil {
		t.Fatal(err)
	}
	_, err = s.Resume(ctx, &taskapi.ResumeRequest{ID: "c"})
	wantCode(t, "resume a running task", err, codes.FailedPrecondition)
	if _, err := s.Kill(ctx, &taskapi.KillRequest{ID: "c", Signal: 9}); err != nil {
		t.Fatal(err)
	}
	s.Exited("c", "", 137, time.Now())
	w, err := s.Wait(ctx, &taskapi.WaitRequest{ID: "c"})
	if err != nil || w.ExitStatus != 137 {
		t.Fatalf("Wait: %v %v", w, err)
	}
	if st := state(t, s, "c", ""); st.Status != task.Status_STOPPED || st.ExitStatus != 137 || st.ExitedAt == nil {
		t.Errorf("after exit: %v", st)
	}
	_, err = s.Kill(ctx, &taskapi.KillRequest{ID: "c", Signal: 15})
	wantCode(t, "kill a stopped task", err, codes.NotFound)
	_, err = s.Pause(ctx, &taskapi.PauseRequest{ID: "c"})
	wantCode(t, "pause a stopped task", err, codes.NotFound)
	// A second report of the same exit changes nothing.
	s.Exited("c", "", 1, time.Now())
	d, err := s.Delete(ctx, &taskapi.DeleteRequest{ID: "c"})
	if err != nil || d.ExitStatus != 137 || d.Pid != 100 {
		t.Fatalf("Delete: %v %v", d, err)
	}
	if !fb.containers["c"].deleted {
		t.Error("the backend's container was not deleted")
	}
	_, err = s.State(ctx, &taskapi.StateRequest{ID: "c"})
	wantCode(t, "state of a deleted task", err, codes.NotFound)
	wantTopics(t, pub, topicCreate, topicStart, topicPaused, topicResumed, topicExit, topicDelete)
}

// An exit the backend reports while Create or Start has not returned
// comes after their events.
func TestExitWaitsForCreateAndStart(t *testing.T) {
	s, fb, pub := newTestService(t)
	fb.onCreate = func(id string) { s.Exited(id, "", 3, time.Now()) }
	create(t, s, "early")
	wantTopics(t, pub, topicCreate, topicExit)

	s, fb, pub = newTestService(t)
	fb.onStart = func(id string) { s.Exited(id, "", 0, time.Now()) }
	create(t, s, "quick")
	if _, err := s.Start(ctx, &taskapi.StartRequest{ID: "quick"}); err != nil {
		t.Fatal(err)
	}
	wantTopics(t, pub, topicCreate, topicStart, topicExit)
	if st := state(t, s, "quick", ""); st.Status != task.Status_STOPPED {
		t.Errorf("status %v", st.Status)
	}
}

func execSpec(t *testing.T) *anypb.Any {
	data, err := json.Marshal(&rspec.Process{Args: []string{"true"}, Cwd: "/"})
	if err != nil {
		t.Fatal(err)
	}
	return &anypb.Any{TypeUrl: processTypeURL, Value: data}
}

func startExec(t *testing.T, s *service, id, eid string) {
	t.Helper()
	if _, err := s.Exec(ctx, &taskapi.ExecProcessRequest{ID: id, ExecID: eid, Spec: execSpec(t)}); err != nil {
		t.Fatalf("Exec: %v", err)
	}
	if _, err := s.Start(ctx, &taskapi.StartRequest{ID: id, ExecID: eid}); err != nil {
		t.Fatalf("Start exec: %v", err)
	}
}

// The init's exit comes after those of its exec'd processes; an exec'd
// process that exits before Exec returns is reported after its start.
func TestExitOrder(t *testing.T) {
	s, fb, pub := newTestService(t)
	create(t, s, "c")
	s.Start(ctx, &taskapi.StartRequest{ID: "c"})
	startExec(t, s, "c", "long")
	fb.onExec = func(id, eid string) { s.Exited(id, eid, 5, time.Now()) }
	startExec(t, s, "c", "quick")
	s.Exited("c", "", 137, time.Now())
	if st := state(t, s, "c", ""); st.Status != task.Status_RUNNING {
		t.Errorf("init reported %v while an exec'd process runs", st.Status)
	}
	s.Exited("c", "long", 137, time.Now())
	wantTopics(t, pub, topicCreate, topicStart, topicExecAdded, topicExecStarted,
		topicExecAdded, topicExecStarted, topicExit, topicExit, topicExit)
	var order []string
	for _, e := range pub.evs {
		if x, ok := e.ev.(*eventstypes.TaskExit); ok {
			order = append(order, x.ID)
		}
	}
	if order[0] != "quick" || order[1] != "long" || order[2] != "" {
		t.Errorf("exit order %q", order)
	}
	if w, err := s.Wait(ctx, &taskapi.WaitRequest{ID: "c", ExecID: "quick"}); err != nil || w.ExitStatus != 5 {
		t.Errorf("Wait quick: %v %v", w, err)
	}
	// No exec into a container whose init has exited.
	_, err := s.Exec(ctx, &taskapi.ExecProcessRequest{ID: "c", ExecID: "late", Spec: execSpec(t)})
	wantCode(t, "exec after the init's exit", err, codes.FailedPrecondition)
}

func TestExecRefusals(t *testing.T) {
	s, _, _ := newTestService(t)
	create(t, s, "c")
	s.Start(ctx, &taskapi.StartRequest{ID: "c"})
	if _, err := s.Exec(ctx, &taskapi.ExecProcessRequest{ID: "c", ExecID: "e", Spec: execSpec(t)}); err != nil {
		t.Fatal(err)
	}
	_, err := s.Exec(ctx, &taskapi.ExecProcessRequest{ID: "c", ExecID: "e", Spec: execSpec(t)})
	wantCode(t, "the same exec id twice", err, codes.AlreadyExists)
	_, err = s.Kill(ctx, &taskapi.KillRequest{ID: "c", ExecID: "e", Signal: 9})
	wantCode(t, "kill an exec not started", err, codes.FailedPrecondition)
	_, err = s.Exec(ctx, &taskapi.ExecProcessRequest{ID: "c", ExecID: "x", Spec: &anypb.Any{TypeUrl: "other", Value: []byte("{}")}})
	wantCode(t, "a spec of another type", err, codes.InvalidArgument)
	if _, err := s.Start(ctx, &taskapi.StartRequest{ID: "c", ExecID: "e"}); err != nil {
		t.Fatal(err)
	}
	_, err = s.Start(ctx, &taskapi.StartRequest{ID: "c", ExecID: "e"})
	wantCode(t, "start an exec twice", err, codes.FailedPrecondition)
	_, err = s.Delete(ctx, &taskapi.DeleteRequest{ID: "c", ExecID: "e"})
	wantCode(t, "delete a running exec", err, codes.FailedPrecondition)
	s.Exited("c", "e", 0, time.Now())
	_, err = s.Kill(ctx, &taskapi.KillRequest{ID: "c", ExecID: "e", Signal: 9})
	wantCode(t, "kill an exited exec", err, codes.NotFound)
	if _, err := s.Delete(ctx, &taskapi.DeleteRequest{ID: "c", ExecID: "e"}); err != nil {
		t.Fatal(err)
	}
	_, err = s.State(ctx, &taskapi.StateRequest{ID: "c", ExecID: "e"})
	wantCode(t, "state of a deleted exec", err, codes.NotFound)
	_, err = s.State(ctx, &taskapi.StateRequest{ID: "nope"})
	wantCode(t, "state of an unknown task", err, codes.NotFound)
}

// Deleting a created task kills its init: the exit is published before
// the delete.
func TestDeleteCreated(t *testing.T) {
	s, _, pub := newTestService(t)
	create(t, s, "c")
	d, err := s.Delete(ctx, &taskapi.DeleteRequest{ID: "c"})
	if err != nil || d.ExitStatus != 137 {
		t.Fatalf("Delete: %v %v", d, err)
	}
	wantTopics(t, pub, topicCreate, topicExit, topicDelete)
	_, err = s.Start(ctx, &taskapi.StartRequest{ID: "c"})
	wantCode(t, "start a deleted task", err, codes.NotFound)
}

func TestCreateFailureLeavesNothing(t *testing.T) {
	s, fb, pub := newTestService(t)
	fb.createErr = backend.Mark(backend.ErrExists, errors.New("container c exists in the VM"))
	_, err := s.Create(ctx, &taskapi.CreateTaskRequest{ID: "c", Bundle: t.TempDir()})
	wantCode(t, "a failed create", err, codes.AlreadyExists)
	if status.Convert(err).Message() != "container c exists in the VM" {
		t.Errorf("message %q: want the backend's", status.Convert(err).Message())
	}
	fb.createErr = nil
	create(t, s, "c")
	wantTopics(t, pub, topicCreate)
}

func TestPidsStatsShutdown(t *testing.T) {
	s, _, _ := newTestService(t)
	create(t, s, "c")
	s.Start(ctx, &taskapi.StartRequest{ID: "c"})
	startExec(t, s, "c", "e")
	ps, err := s.Pids(ctx, &taskapi.PidsRequest{ID: "c"})
	if err != nil || len(ps.Processes) != 2 {
		t.Fatalf("Pids: %v %v", ps, err)
	}
	for _, p := range ps.Processes {
		if (p.Pid == 1000) != (p.Info != nil) {
			t.Errorf("process %d: info %v", p.Pid, p.Info)
		}
	}
	st, err := s.Stats(ctx, &taskapi.StatsRequest{ID: "c"})
	if err != nil {
		t.Fatal(err)
	}
	m, err := typeurl.UnmarshalAny(st.Stats)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := m.(*v2.Metrics); !ok || v.Pids.Current != 2 || v.MemoryEvents.OomKill != 1 {
		t.Errorf("metrics %T %v", m, m)
	}
	s.Shutdown(ctx, &taskapi.ShutdownRequest{})
	select {
	case <-s.done:
		t.Fatal("shut down with a task left")
	default:
	}
	s.Exited("c", "e", 0, time.Now())
	s.Exited("c", "", 0, time.Now())
	if _, err := s.Delete(ctx, &taskapi.DeleteRequest{ID: "c"}); err != nil {
		t.Fatal(err)
	}
	s.Shutdown(ctx, &taskapi.ShutdownRequest{})
	select {
	case <-s.done:
	default:
		t.Fatal("not shut down with no task left")
	}
}
