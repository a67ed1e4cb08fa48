package sandbox

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/husk-runtime/husk/specs"
	"github.com/husk-runtime/husk/vm/api"
)

func TestGuestSpec(t *testing.T) {
	s := specs.Default(false)
	s.Root.Readonly = true
	s.Linux.CgroupsPath = "/host/path"
	s.Mounts = append(s.Mounts,
		rspec.Mount{Destination: "/data", Type: "bind", Source: "/srv/data", Options: []string{"rbind", "ro"}},
		rspec.Mount{Destination: "/etc/hosts", Source: "hosts", Options: []string{"bind"}})
	type bound struct {
		name, src string
		ro        bool
	}
	var binds []bound
	gs, err := guestSpec(s, "/b", false, func(name, src string, ro bool) (string, error) {
		binds = append(binds, bound{name, src, ro})
		return "/run/husk/share/c/" + name, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []bound{{"rootfs", "/b/rootfs", true}, {"mounts/7", "/srv/data", true}, {"mounts/8", "/b/hosts", false}}
	if len(binds) != len(want) {
		t.Fatalf("binds %v", binds)
	}
	for i := range want {
		if binds[i] != want[i] {
			t.Errorf("bind %d: %+v, want %+v", i, binds[i], want[i])
		}
	}
	if gs.Root.Path != "/run/husk/share/c/rootfs" || !gs.Root.Readonly {
		t.Errorf("root %+v", gs.Root)
	}
	if gs.Mounts[7].Source != "/run/husk/share/c/mounts/7" || gs.Mounts[0].Source != "proc" {
		t.Errorf("mounts %+v", gs.Mounts)
	}
	if gs.Linux.CgroupsPath != "" {
		t.Errorf("cgroupsPath %q", gs.Linux.CgroupsPath)
	}
	// The caller's spec is left as it was.
	if s.Root.Path != "rootfs" || s.Mounts[7].Source != "/srv/data" || s.Linux.CgroupsPath != "/host/path" {
		t.Error("guestSpec changed its input")
	}
}

func TestGuestSpecRefuses(t *testing.T) {
	nobind := func(string, string, bool) (string, error) { return "/g", nil }
	hooks := specs.Default(false)
	hooks.Hooks = &rspec.Hooks{Prestart: []rspec.Hook{{Path: "/bin/true"}}}
	if _, err := guestSpec(hooks, "/b", false, nobind); err == nil || !strings.Contains(err.Error(), "hooks") {
		t.Errorf("hooks: %v", err)
	}
	ns := specs.Default(false)
	ns.Linux.Namespaces[0].Path = "/proc/1/ns/pid"
	if _, err := guestSpec(ns, "/b", false, nobind); err == nil || !strings.Contains(err.Error(), "linux.namespaces[0]") {
		t.Errorf("a namespace path: %v", err)
	}
	if gs, err := guestSpec(ns, "/b", true, nobind); err != nil || gs.Linux.Namespaces[0].Path != "/proc/1/ns/pid" {
		t.Errorf("a namespace path of the guest: %v", err)
	}
	failing := func(string, string, bool) (string, error) { return "", errors.New("boom") }
	if _, err := guestSpec(specs.Default(false), "/b", false, failing); err == nil || !strings.Contains(err.Error(), "root.path") {
		t.Errorf("a failed bind: %v", err)
	}
}

func TestCheckTrace(t *testing.T) {
	lines := []string{
		`{"cmd":"create","proc":"husk","phase":"plan","ms":1.5}`,
		`not json`,
		`{"cmd":"create","proc":"husk","phase":"` + strings.Repeat("x", 300) + `","ms":1}`,
		`{"cmd":"create","proc":"husk","phase":"neg","ms":-1}`,
	}
	for i := 0; i < 2*traceLinesMax; i++ {
		lines = append(lines, `{"cmd":"c","proc":"p","phase":"x","ms":0}`)
	}
	got := checkTrace(lines)
	if len(got) != traceLinesMax || got[0].Phase != "plan" || got[0].Ms != 1.5 {
		t.Errorf("%d lines, first %+v", len(got), got[0])
	}
}

// fakeAgent answers reads from scripted chunks and records writes.
type fakeAgent struct {
	api.AgentService
	mu     sync.Mutex
	out    [][]byte
	stdin  bytes.Buffer
	closed bool
	status int32
}

func (f *fakeAgent) ReadStdout(ctx context.Context, r *api.ReadRequest) (*api.ReadResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.out) == 0 {
		return &api.ReadResponse{Eof: true}, nil
	}
	d := f.out[0]
	f.out = f.out[1:]
	return &api.ReadResponse{Data: d}, nil
}

func (f *fakeAgent) ReadStderr(ctx context.Context, r *api.ReadRequest) (*api.ReadResponse, error) {
	return &api.ReadResponse{Eof: true}, nil
}

func (f *fakeAgent) WriteStdin(ctx context.Context, r *api.WriteRequest) (*api.WriteResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stdin.Write(r.Data)
	return &api.WriteResponse{Written: uint32(len(r.Data))}, nil
}

func (f *fakeAgent) CloseStdin(ctx context.Context, r *api.ProcessRequest) (*api.Empty, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	return &api.Empty{}, nil
}

func (f *fakeAgent) WaitProcess(ctx context.Context, r *api.ProcessRequest) (*api.WaitResponse, error) {
	return &api.WaitResponse{ExitStatus: f.status}, nil
}

func TestProcessCopy(t *testing.T) {
	f := &fakeAgent{out: [][]byte{[]byte("hel"), nil, []byte("lo")}}
	p := NewProcess(f, "c", "")
	var out bytes.Buffer
	if err := p.Copy(context.Background(), IO{Stdin: strings.NewReader("input"), Stdout: &out, Stderr: &out}); err != nil {
		t.Fatal(err)
	}
	if out.String() != "hello" {
		t.Errorf("output %q", out.String())
	}
	// Stdin is copied concurrently: it ends soon after.
	for i := 0; i < 1000; i++ {
		f.mu.Lock()
		done := f.closed
		f.mu.Unlock()
		if done {
			break
		}
		testSleep()
	}
	if f.stdin.String() != "input" || !f.closed {
		t.Errorf("stdin %q, closed %v", f.stdin.String(), f.closed)
	}
}

func TestProcessUntrustedAnswers(t *testing.T) {
	f := &fakeAgent{out: [][]byte{make([]byte, readChunk+1)}}
	p := NewProcess(f, "c", "e")
	if err := p.Copy(context.Background(), IO{Stdout: &bytes.Buffer{}}); err == nil {
		t.Error("more data than asked for: no error")
	}
	f.status = 1000
	if _, err := p.Wait(context.Background()); err == nil {
		t.Error("exit status 1000: no error")
	}
	f.status = 137
	if code, err := p.Wait(context.Background()); err != nil || code != 137 {
		t.Errorf("exit status 137: %d %v", code, err)
	}
}

func testSleep() { time.Sleep(time.Millisecond) }
