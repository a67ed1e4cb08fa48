package shim

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/containerd/cgroups/v3/cgroup1/stats"
	v2 "github.com/containerd/cgroups/v3/cgroup2/stats"
	bootapi "github.com/containerd/containerd/api/runtime/bootstrap/v1"
	"github.com/containerd/containerd/api/types/runc/options"
	runtimeoptions "github.com/containerd/containerd/api/types/runtimeoptions/v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/husk-runtime/husk/cgroups"
)

func TestReadStartInput(t *testing.T) {
	params, _ := proto.Marshal(&bootapi.BootstrapParams{InstanceID: "c1", Namespace: "default", ContainerdVersion: "v2.4.2"})
	opts, _ := anypb.New(&options.Options{BinaryName: "runc"})
	legacy, _ := proto.Marshal(opts)
	for _, tc := range []struct {
		name      string
		data      []byte
		bootstrap bool
	}{
		{"empty (containerd 1.6 without options)", nil, false},
		{"bootstrap params (containerd >= 2.3)", params, true},
		{"runtime options Any (containerd < 2.3)", legacy, false},
		{"bootstrap params of another task", params, false},
	} {
		id := "c1"
		if strings.Contains(tc.name, "another") {
			id = "c2"
		}
		if got := readStartInput(tc.data, id, "default").params != nil; got != tc.bootstrap {
			t.Errorf("%s: bootstrap = %v", tc.name, got)
		}
	}
}

func TestStartResponse(t *testing.T) {
	addr := "unix:///run/containerd/s/abc"
	out, err := startResponse(startInput{params: &bootapi.BootstrapParams{}}, "", addr)
	if err != nil {
		t.Fatal(err)
	}
	var res bootapi.BootstrapResult
	if err := proto.Unmarshal(out, &res); err != nil || res.Version != 3 || res.Address != addr || res.Protocol != "ttrpc" {
		t.Errorf("bootstrap result %v %v", err, &res)
	}
	// Unknown containerd (no readable binary): the plain address.
	out, _ = startResponse(startInput{}, "/nonexistent", addr)
	if string(out) != addr {
		t.Errorf("legacy answer %q", out)
	}
	if c2 := "/var/cache/husk-test/containerd-2.4.2/containerd"; fileExists(c2) {
		out, _ = startResponse(startInput{}, c2, addr)
		var j struct {
			Version  int
			Address  string
			Protocol string
		}
		if err := json.Unmarshal(out, &j); err != nil || j.Version != 3 || j.Address != addr {
			t.Errorf("containerd 2.x legacy start: %q", out)
		}
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func TestSocketAddress(t *testing.T) {
	// containerd's pkg/shim names the socket sha256(address/ns/id).
	got := socketAddress("/run/containerd/s", "/run/containerd/containerd.sock", "default", "c1")
	sum := sha256.Sum256([]byte("/run/containerd/containerd.sock/default/c1"))
	if want := "unix:///run/containerd/s/" + hex.EncodeToString(sum[:]); got != want {
		t.Errorf("socketAddress = %q, want %q", got, want)
	}
	if socketAddress("/run/containerd/s", "/run/containerd/containerd.sock", "default", "c2") == got {
		t.Error("two groups share a socket")
	}
}

func TestGroupOf(t *testing.T) {
	dir := t.TempDir()
	write := func(ann map[string]string) {
		data, _ := json.Marshal(map[string]any{"annotations": ann})
		os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644)
	}
	write(map[string]string{"io.kubernetes.cri.sandbox-id": "pod1"})
	if g, _ := groupOf(dir, "c1"); g != "pod1" {
		t.Errorf("CRI container: group %q", g)
	}
	write(map[string]string{"io.kubernetes.cri.sandbox-id": "pod1", "io.containerd.husk.v2.group": "mine"})
	if g, _ := groupOf(dir, "c1"); g != "mine" {
		t.Errorf("husk group annotation: group %q", g)
	}
	write(nil)
	if g, _ := groupOf(dir, "c1"); g != "c1" {
		t.Errorf("no annotation: group %q", g)
	}
	os.WriteFile(filepath.Join(dir, "config.json"), []byte("{not json"), 0o644)
	if g, err := groupOf(dir, "c1"); err != nil || g != "c1" {
		t.Errorf("invalid config: %q %v (Create reports it)", g, err)
	}
}

func TestParseOptions(t *testing.T) {
	a, _ := anypb.New(&options.Options{BinaryName: "runc", Root: "/run/x", SystemdCgroup: true, NoPivotRoot: true})
	// containerd's typeurl names types without the googleapis prefix.
	a.TypeUrl = "containerd.runc.v1.Options"
	o, err := parseOptions(a)
	if err != nil || !o.noPivotRoot || len(o.ignored) != 3 {
		t.Errorf("runc options: %v %+v", err, o)
	}
	r, _ := anypb.New(&runtimeoptions.Options{ConfigPath: "/etc/x.toml"})
	if o, err := parseOptions(r); err != nil || len(o.ignored) != 1 {
		t.Errorf("runtimeoptions: %v %+v", err, o)
	}
	if o, err := parseOptions(nil); err != nil || o.noPivotRoot {
		t.Errorf("no options: %v %+v", err, o)
	}
	x, _ := anypb.New(&bootapi.BootstrapResult{})
	if _, err := parseOptions(x); err == nil || !strings.Contains(err.Error(), "not husk's") {
		t.Errorf("foreign options: %v", err)
	}
}

func TestMetrics(t *testing.T) {
	s := &cgroups.Stats{}
	s.CPU.Usage.Total, s.CPU.Usage.User = 5000, 3000
	s.Memory.Usage = cgroups.MemoryEntry{Usage: 100, Limit: 200}
	s.Memory.Raw = map[string]uint64{"rss": 42, "total_cache": 7, "anon": 9, "file": 11}
	s.Pids.Current = 3
	s.Blkio.IoServiceBytesRecursive = []cgroups.BlkioEntry{{Major: 8, Minor: 0, Op: "Read", Value: 10}, {Major: 8, Minor: 0, Op: "Write", Value: 20}}
	m1 := metrics(s, false, 2).(*v1.Metrics)
	if m1.CPU.Usage.Total != 5000 || m1.Memory.RSS != 42 || m1.Memory.TotalCache != 7 || m1.Memory.Usage.Usage != 100 ||
		m1.Pids.Current != 3 || m1.MemoryOomControl.OomKill != 2 || m1.Blkio.IoServiceBytesRecursive[1].Op != "write" {
		t.Errorf("v1 metrics: %v", m1)
	}
	m2 := metrics(s, true, 2).(*v2.Metrics)
	if m2.CPU.UsageUsec != 5 || m2.Memory.Anon != 9 || m2.Memory.File != 11 || m2.Memory.UsageLimit != 200 ||
		len(m2.Io.Usage) != 1 || m2.Io.Usage[0].Rbytes != 10 || m2.Io.Usage[0].Wbytes != 20 || m2.MemoryEvents.OomKill != 2 {
		t.Errorf("v2 metrics: %v", m2)
	}
}

func TestReaperKeepsEarlyExits(t *testing.T) {
	r := newReaper()
	r.mu.Lock()
	r.remember(exit{pid: 999999, status: 3, at: time.Now()})
	r.mu.Unlock()
	// A Wait after the exit still gets it.
	if code, err := r.Wait(999999); err != nil || code != 3 {
		t.Errorf("Wait = %d, %v", code, err)
	}
	// Nothing recorded: times out.
	if _, ok := r.wait(999998, 10*time.Millisecond); ok {
		t.Error("wait returned an exit that never happened")
	}
}

func TestExitFile(t *testing.T) {
	dir := t.TempDir()
	at := time.Unix(1700000000, 0).UTC()
	writeExitFile(dir, exit{pid: 12, status: 137, at: at})
	e, ok := readExitFile(dir)
	if !ok || e.pid != 12 || e.status != 137 || !e.at.Equal(at) {
		t.Errorf("exit file: %v %+v", ok, e)
	}
}

func TestStateRoot(t *testing.T) {
	b := "/run/containerd/io.containerd.runtime.v2.task/k8s.io/abc"
	if got := stateRoot(b, "k8s.io"); got != "/run/containerd/husk/k8s.io" {
		t.Errorf("stateRoot = %q", got)
	}
	if got := stateRoot("/somewhere/else", "ns"); got != "/run/husk-shim/ns" {
		t.Errorf("stateRoot elsewhere = %q", got)
	}
}
