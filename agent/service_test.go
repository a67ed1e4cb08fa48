package agent

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/agent/netcfg"
	"github.com/husk-runtime/husk/cgroups"
	"github.com/husk-runtime/husk/specs"
	"github.com/husk-runtime/husk/vm/api"
)

// fakeBackend runs fake processes: a container's init copies its stdin to
// its stdout and exits 3; an exec'd process prints its arguments and
// exits 0.
type fakeBackend struct {
	mu       sync.Mutex
	next     int
	exits    map[int]chan int
	io       map[string]ProcIO
	inits    map[string]int
	status   map[string]string
	signals  []unix.Signal
	resource *rspec.LinuxResources
}

func newFake() *fakeBackend {
	return &fakeBackend{next: 100, exits: map[int]chan int{}, io: map[string]ProcIO{}, inits: map[string]int{}, status: map[string]string{}}
}

// keep duplicates the process's files: the service closes its copies.
func keep(io ProcIO) ProcIO {
	dup := func(f *os.File) *os.File {
		fd, _ := unix.Dup(int(f.Fd()))
		return os.NewFile(uintptr(fd), f.Name())
	}
	return ProcIO{Stdin: dup(io.Stdin), Stdout: dup(io.Stdout), Stderr: dup(io.Stderr)}
}

func (f *fakeBackend) newPid() int {
	f.next++
	f.exits[f.next] = make(chan int, 1)
	return f.next
}

func (f *fakeBackend) Create(ctx context.Context, id string, spec *rspec.Spec, pio ProcIO, trace bool) (int, []string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.io[id] = keep(pio)
	f.status[id] = "created"
	f.inits[id] = f.newPid()
	return f.inits[id], []string{`{"cmd":"create"}`}, nil
}

func (f *fakeBackend) Start(ctx context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	pio, exit := f.io[id], f.exits[f.inits[id]]
	f.status[id] = "running"
	go func() {
		io.Copy(pio.Stdout, pio.Stdin)
		pio.Stdout.Close()
		pio.Stderr.Close()
		exit <- 3
	}()
	return nil
}

func (f *fakeBackend) Exec(ctx context.Context, id string, p *rspec.Process, pio ProcIO) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	pid := f.newPid()
	kept := keep(pio)
	exit := f.exits[pid]
	go func() {
		kept.Stdout.WriteString(strings.Join(p.Args, " "))
		kept.Stdout.Close()
		kept.Stderr.Close()
		kept.Stdin.Close()
		exit <- 0
	}()
	return pid, nil
}

func (f *fakeBackend) Kill(id string, sig unix.Signal, all bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.signals = append(f.signals, sig)
	return nil
}

func (f *fakeBackend) Delete(ctx context.Context, id string, force bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.status, id)
	return nil
}

func (f *fakeBackend) Status(id string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.status[id], nil
}

func (f *fakeBackend) Pause(id string) error  { return nil }
func (f *fakeBackend) Resume(id string) error { return nil }

func (f *fakeBackend) Update(id string, r *rspec.LinuxResources) error {
	f.resource = r
	return nil
}

func (f *fakeBackend) Stats(id string) (*cgroups.Stats, error) {
	return &cgroups.Stats{Pids: cgroups.Pids{Current: 2}}, nil
}

func (f *fakeBackend) OOMKills(id string) (uint64, error) { return 1, nil }
func (f *fakeBackend) MemoryEvents(id string) string      { return "" }
func (f *fakeBackend) Pids(id string) ([]int, error)      { return []int{101, 105}, nil }

func (f *fakeBackend) Wait(pid int) int {
	f.mu.Lock()
	ch := f.exits[pid]
	f.mu.Unlock()
	return <-ch
}

func (f *fakeBackend) Signal(pid int, sig unix.Signal) error { return nil }

func readAll(t *testing.T, s *Service, cid, eid string) string {
	t.Helper()
	var out strings.Builder
	for {
		r, err := s.ReadStdout(context.Background(), &api.ReadRequest{ContainerId: cid, ExecId: eid, Max: 3})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Data) > 3 {
			t.Fatalf("read of 3 returned %d bytes", len(r.Data))
		}
		out.Write(r.Data)
		if r.Eof {
			return out.String()
		}
	}
}

func TestServiceLifecycle(t *testing.T) {
	ctx := context.Background()
	fb := newFake()
	powered := make(chan struct{})
	s := NewService(fb, &api.HelloResponse{Version: "test"}, func() { close(powered) })
	spec, _ := json.Marshal(specs.Default(false))
	r, err := s.CreateContainer(ctx, &api.CreateContainerRequest{Id: "c", Spec: spec,
		Stdio: &api.Stdio{Stdin: true, Stdout: true, Stderr: true}, Trace: true})
	if err != nil {
		t.Fatal(err)
	}
	if r.Pid != 101 || len(r.Trace) != 1 {
		t.Errorf("create: %+v", r)
	}
	if _, err := s.CreateContainer(ctx, &api.CreateContainerRequest{Id: "c", Spec: spec}); err == nil {
		t.Error("a second container c: no error")
	}
	if _, err := s.StartContainer(ctx, &api.ContainerRequest{ContainerId: "c"}); err != nil {
		t.Fatal(err)
	}
	if w, err := s.WriteStdin(ctx, &api.WriteRequest{ContainerId: "c", Data: []byte("ping!")}); err != nil || w.Written != 5 {
		t.Fatalf("write: %v %v", w, err)
	}
	s.CloseStdin(ctx, &api.ProcessRequest{ContainerId: "c"})
	if out := readAll(t, s, "c", ""); out != "ping!" {
		t.Errorf("init output %q", out)
	}
	if w, err := s.WaitProcess(ctx, &api.ProcessRequest{ContainerId: "c"}); err != nil || w.ExitStatus != 3 {
		t.Errorf("wait: %v %v", w, err)
	}
	st, err := s.State(ctx, &api.ContainerRequest{ContainerId: "c"})
	if err != nil || st.Status != "running" || st.Pid != 101 {
		t.Errorf("state: %v %v", st, err)
	}
	proc, _ := json.Marshal(&rspec.Process{Args: []string{"echo", "hi"}, Cwd: "/"})
	if _, err := s.ExecProcess(ctx, &api.ExecProcessRequest{ContainerId: "c", ExecId: "e1", Process: proc,
		Stdio: &api.Stdio{Stdout: true}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ExecProcess(ctx, &api.ExecProcessRequest{ContainerId: "c", ExecId: "e1", Process: proc}); err == nil {
		t.Error("a second exec e1: no error")
	}
	if out := readAll(t, s, "c", "e1"); out != "echo hi" {
		t.Errorf("exec output %q", out)
	}
	if r, err := s.ReadStderr(ctx, &api.ReadRequest{ContainerId: "c", ExecId: "e1"}); err != nil || !r.Eof {
		t.Errorf("stderr not connected: %v %v", r, err)
	}
	if w, err := s.WaitProcess(ctx, &api.ProcessRequest{ContainerId: "c", ExecId: "e1"}); err != nil || w.ExitStatus != 0 {
		t.Errorf("exec wait: %v %v", w, err)
	}
	if _, err := s.SignalProcess(ctx, &api.SignalRequest{ContainerId: "c", ExecId: "e1", Signal: 15}); err == nil {
		t.Error("signal to an exited process: no error")
	}
	if _, err := s.DeleteProcess(ctx, &api.ProcessRequest{ContainerId: "c", ExecId: "e1"}); err != nil {
		t.Error(err)
	}
	if _, err := s.WaitProcess(ctx, &api.ProcessRequest{ContainerId: "c", ExecId: "e1"}); err == nil {
		t.Error("wait for a deleted process: no error")
	}
	if _, err := s.SignalProcess(ctx, &api.SignalRequest{ContainerId: "c", Signal: 10, All: true}); err != nil || fb.signals[0] != 10 {
		t.Errorf("signal: %v %v", err, fb.signals)
	}
	if _, err := s.SignalProcess(ctx, &api.SignalRequest{ContainerId: "c", Signal: 99}); err == nil {
		t.Error("signal 99: no error")
	}
	res, _ := json.Marshal(&rspec.LinuxResources{Pids: &rspec.LinuxPids{Limit: ptr(int64(9))}})
	if _, err := s.UpdateContainer(ctx, &api.UpdateRequest{ContainerId: "c", Resources: res}); err != nil || *fb.resource.Pids.Limit != 9 {
		t.Errorf("update: %v", err)
	}
	if sr, err := s.Stats(ctx, &api.ContainerRequest{ContainerId: "c"}); err != nil || !strings.Contains(string(sr.Stats), `"current":2`) || sr.OomKills != 1 {
		t.Errorf("stats: %v %v", sr, err)
	}
	if lp, err := s.ListProcesses(ctx, &api.ContainerRequest{ContainerId: "c"}); err != nil || len(lp.Pids) != 2 {
		t.Errorf("ps: %v %v", lp, err)
	}
	if _, err := s.State(ctx, &api.ContainerRequest{ContainerId: "nope"}); err == nil {
		t.Error("state of an unknown container: no error")
	}
	if _, err := s.Shutdown(ctx, &api.Empty{}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-powered:
	case <-time.After(5 * time.Second):
		t.Fatal("no power-off after shutdown")
	}
	if _, err := s.State(ctx, &api.ContainerRequest{ContainerId: "c"}); err == nil {
		t.Error("the container outlived shutdown")
	}
}

func ptr[T any](v T) *T { return &v }

func TestOOMEvents(t *testing.T) {
	s := NewService(newFake(), &api.HelloResponse{}, nil)
	for i := 0; i < oomQueue+5; i++ {
		s.queueOOM("c" + string(rune('a'+i%26)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	ev, err := s.GetOOMEvent(ctx, &api.Empty{})
	if err != nil || ev.ContainerId != "cf" {
		t.Errorf("first event kept: %v %v (the oldest are dropped)", ev, err)
	}
	for i := 1; i < oomQueue; i++ {
		s.GetOOMEvent(ctx, &api.Empty{})
	}
	short, cancel2 := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel2()
	if _, err := s.GetOOMEvent(short, &api.Empty{}); err == nil {
		t.Error("an event from an empty queue")
	}
}

func TestConfigureNetwork(t *testing.T) {
	s := NewService(newFake(), &api.HelloResponse{}, nil)
	ctx := context.Background()
	req := &api.NetworkConfig{Interfaces: []*api.Interface{{Mac: "0a:58:0a:fa:4d:05", Name: "eth0", Addresses: []string{"10.250.77.5/24"}}}}
	if _, err := s.ConfigureNetwork(ctx, req); err == nil {
		t.Error("configured a network without a configurator")
	}
	var got *netcfg.Config
	s.SetNetwork(func(c *netcfg.Config) error { got = c; return nil })
	if _, err := s.ConfigureNetwork(ctx, &api.NetworkConfig{Interfaces: []*api.Interface{{Mac: "x", Name: "eth0"}}}); err == nil || got != nil {
		t.Errorf("a bad config: %v, applied %v", err, got)
	}
	if _, err := s.ConfigureNetwork(ctx, req); err != nil || got == nil || got.Interfaces[0].Addrs[0].String() != "10.250.77.5/24" {
		t.Errorf("configure: %v, applied %+v", err, got)
	}
}

func TestStartPod(t *testing.T) {
	s := NewService(newFake(), &api.HelloResponse{}, nil)
	ctx := context.Background()
	if _, err := s.StartPod(ctx, &api.StartPodRequest{Hostname: "pod-a"}); err == nil {
		t.Error("a pod started by an agent that cannot start one")
	}
	var got []string
	s.SetPod(func(h string) (int, error) { got = append(got, h); return 42, nil })
	for _, bad := range []string{"a b", "a\nb", "x;rm", strings.Repeat("h", 65)} {
		if _, err := s.StartPod(ctx, &api.StartPodRequest{Hostname: bad}); err == nil {
			t.Errorf("hostname %q taken", bad)
		}
	}
	r, err := s.StartPod(ctx, &api.StartPodRequest{Hostname: "pod-a.example_1"})
	if err != nil || r.Pid != 42 {
		t.Fatalf("StartPod: %v %v", r, err)
	}
	if _, err := s.StartPod(ctx, &api.StartPodRequest{Hostname: "again"}); err == nil {
		t.Error("a second pod started in one VM")
	}
	if strings.Join(got, ",") != "pod-a.example_1" {
		t.Errorf("holders started for %v", got)
	}
}
