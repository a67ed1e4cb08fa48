package launch

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bootapi "github.com/containerd/containerd/api/runtime/bootstrap/v1"
	taskapi "github.com/containerd/containerd/api/runtime/task/v2"
	"github.com/containerd/containerd/api/types/runc/options"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// The hand-written wire encoding against the generated types, which
// containerd uses on the other end.

func TestDeleteResponseWire(t *testing.T) {
	for _, tc := range []struct {
		pid, status uint32
		at          time.Time
	}{
		{12, 137, time.Unix(1700000000, 123456789)},
		{0, 0, time.Unix(0, 0)},
		{1 << 31, 255, time.Unix(-5, 999)}, // before the epoch: negative seconds
		{4194304, 1, time.Date(2026, 11, 22, 13, 0, 0, 1, time.UTC)},
	} {
		var got taskapi.DeleteResponse
		if err := proto.Unmarshal(encodeDeleteResponse(tc.pid, tc.status, tc.at), &got); err != nil {
			t.Fatalf("%+v: %v", tc, err)
		}
		want := &taskapi.DeleteResponse{Pid: tc.pid, ExitStatus: tc.status, ExitedAt: timestamppb.New(tc.at)}
		if !proto.Equal(&got, want) {
			t.Errorf("decoded %v, want %v", &got, want)
		}
	}
}

func TestBootstrapResultWire(t *testing.T) {
	var got bootapi.BootstrapResult
	if err := proto.Unmarshal(encodeBootstrapResult(3, "unix:///run/containerd/s/abc", "ttrpc"), &got); err != nil {
		t.Fatal(err)
	}
	want := &bootapi.BootstrapResult{Version: 3, Address: "unix:///run/containerd/s/abc", Protocol: "ttrpc"}
	if !proto.Equal(&got, want) {
		t.Errorf("decoded %v, want %v", &got, want)
	}
}

func TestBootstrapParamsWire(t *testing.T) {
	dir := "/run/x/s"
	ext, _ := anypb.New(&options.Options{BinaryName: "runc"})
	in := &bootapi.BootstrapParams{
		InstanceID: "c1", Namespace: "k8s.io", LogLevel: bootapi.LogLevel_LOG_LEVEL_DEBUG,
		ContainerdVersion: "v2.4.2", ContainerdTtrpcAddress: "/run/containerd/containerd.sock.ttrpc",
		ContainerdGrpcAddress: "/run/containerd/containerd.sock", ContainerdBinary: "/usr/bin/containerd",
		Extensions: []*bootapi.Extension{{Value: ext}}, SocketDir: &dir,
	}
	data, err := proto.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	p, err := decodeBootstrapParams(data)
	if err != nil {
		t.Fatal(err)
	}
	want := bootstrapParams{instanceID: "c1", namespace: "k8s.io", logLevel: -4,
		ttrpcAddress: in.ContainerdTtrpcAddress, grpcAddress: in.ContainerdGrpcAddress, socketDir: dir}
	if p != want {
		t.Errorf("decoded %+v, want %+v", p, want)
	}
	// Cut inside a field: an error. Anywhere: never a panic.
	if _, err := decodeBootstrapParams(data[:3]); err == nil {
		t.Error("a truncated instance_id decoded without error")
	}
	for i := range data {
		decodeBootstrapParams(data[:i])
	}
}

func TestReadStartInput(t *testing.T) {
	params, _ := proto.Marshal(&bootapi.BootstrapParams{InstanceID: "c1", Namespace: "default", ContainerdVersion: "v2.4.2"})
	opts, _ := anypb.New(&options.Options{BinaryName: "runc"})
	legacy, _ := proto.Marshal(opts)
	for _, tc := range []struct {
		name      string
		data      []byte
		id        string
		bootstrap bool
	}{
		{"empty (containerd 1.6 without options)", nil, "c1", false},
		{"bootstrap params (containerd >= 2.3)", params, "c1", true},
		{"runtime options Any (containerd < 2.3)", legacy, "c1", false},
		{"bootstrap params of another task", params, "c2", false},
	} {
		if got := readStartInput(tc.data, tc.id, "default").params != nil; got != tc.bootstrap {
			t.Errorf("%s: bootstrap = %v", tc.name, got)
		}
	}
}

func TestStartResponse(t *testing.T) {
	addr := "unix:///run/containerd/s/abc"
	var res bootapi.BootstrapResult
	out := startResponse(startInput{params: &bootstrapParams{}}, "", addr)
	if err := proto.Unmarshal(out, &res); err != nil || res.Version != 3 || res.Address != addr || res.Protocol != "ttrpc" {
		t.Errorf("bootstrap result %v %v", err, &res)
	}
	// Unknown containerd (no readable binary): the plain address.
	if out := startResponse(startInput{}, "/nonexistent", addr); string(out) != addr {
		t.Errorf("legacy answer %q", out)
	}
	if c2 := "/var/cache/husk-test/containerd-2.4.2/containerd"; fileExists(c2) {
		out := startResponse(startInput{}, c2, addr)
		var j struct {
			Version  int
			Address  string
			Protocol string
		}
		if err := json.Unmarshal(out, &j); err != nil || j.Version != 3 || j.Address != addr || j.Protocol != "ttrpc" {
			t.Errorf("containerd 2.x legacy start: %q", out)
		}
	}
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
		data, _ := json.Marshal(map[string]any{"ociVersion": "1.2.0", "process": map[string]any{"args": []string{"sh"}}, "annotations": ann})
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
	// A sandbox's bundle (the sandbox API) has no config: its own group.
	if g, err := groupOf(t.TempDir(), "sb1"); err != nil || g != "sb1" {
		t.Errorf("no config: %q %v", g, err)
	}
	unreadable := t.TempDir()
	os.Mkdir(filepath.Join(unreadable, "config.json"), 0o755)
	if _, err := groupOf(unreadable, "c1"); err == nil || !strings.Contains(err.Error(), "config.json") {
		t.Errorf("unreadable config: %v", err)
	}
}

func TestExitFile(t *testing.T) {
	dir := t.TempDir()
	at := time.Unix(1700000000, 5).UTC()
	WriteExitFile(dir, Exit{Pid: 12, Status: 137, At: at})
	e, ok := ReadExitFile(dir)
	if !ok || e.Pid != 12 || e.Status != 137 || !e.At.Equal(at) {
		t.Errorf("exit file: %v %+v", ok, e)
	}
	os.WriteFile(filepath.Join(dir, ExitFile), []byte(`{"pid":1,"at":"yesterday"}`), 0o600)
	if _, ok := ReadExitFile(dir); ok {
		t.Error("an exit file with a bad time was read")
	}
}

func TestStateRoot(t *testing.T) {
	b := "/run/containerd/io.containerd.runtime.v2.task/k8s.io/abc"
	if got := StateRoot(RuntimeName, b, "k8s.io"); got != "/run/containerd/husk/k8s.io" {
		t.Errorf("StateRoot = %q", got)
	}
	if got := StateRoot(VMRuntimeName, b, "k8s.io"); got != "/run/containerd/husk-vm/k8s.io" {
		t.Errorf("StateRoot of the VM class = %q", got)
	}
	sb := "/run/containerd/io.containerd.sandbox.controller.v1.shim/k8s.io/sb1"
	if got := StateRoot(VMRuntimeName, sb, "k8s.io"); got != "/run/containerd/husk-vm/k8s.io" {
		t.Errorf("StateRoot of a sandbox = %q", got)
	}
	if got := StateRoot(RuntimeName, "/somewhere/else", "ns"); got != "/run/husk-shim/ns" {
		t.Errorf("StateRoot elsewhere = %q", got)
	}
}

func TestQuickDelete(t *testing.T) {
	state := t.TempDir()
	bundle := filepath.Join(state, "io.containerd.runtime.v2.task", "ns", "c1")
	os.MkdirAll(filepath.Join(bundle, "rootfs"), 0o755)
	f := &Flags{Namespace: "ns", ID: "c1", Bundle: bundle}

	// Clean: the recorded exit.
	at := time.Unix(1700000000, 0)
	WriteExitFile(bundle, Exit{Pid: 42, Status: 3, At: at})
	out, err := quickDelete(f)
	if err != nil {
		t.Fatal(err)
	}
	var resp taskapi.DeleteResponse
	if err := proto.Unmarshal(out, &resp); err != nil || resp.Pid != 42 || resp.ExitStatus != 3 || !resp.ExitedAt.AsTime().Equal(at) {
		t.Errorf("response %v %v", err, &resp)
	}
	// No exit recorded: killed.
	os.Remove(filepath.Join(bundle, ExitFile))
	out, _ = quickDelete(f)
	if err := proto.Unmarshal(out, &resp); err != nil || resp.ExitStatus != 137 {
		t.Errorf("response without an exit file %v %v", err, &resp)
	}
	// husk state left: the daemon binary's full clean-up.
	os.MkdirAll(filepath.Join(state, "husk", "ns", "c1"), 0o700)
	if _, err := quickDelete(f); !errors.Is(err, errNeedsCleanup) {
		t.Errorf("with state left: %v", err)
	}
}

func TestDaemonBinaryMissing(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := DaemonBinary()
	if err == nil || !strings.Contains(err.Error(), DaemonName) {
		t.Errorf("no daemon binary anywhere: %v", err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, DaemonName), []byte("#!/bin/sh\n"), 0o755)
	t.Setenv("PATH", dir)
	if p, err := DaemonBinary(); err != nil || p != filepath.Join(dir, DaemonName) {
		t.Errorf("daemon on PATH: %q %v", p, err)
	}
}
