package shim

import (
	"reflect"
	"testing"
	"time"

	csandbox "github.com/containerd/containerd/api/runtime/sandbox/v1"
	ctypes "github.com/containerd/containerd/api/types"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/husk-runtime/husk/shim/sandboxapi"
	"github.com/husk-runtime/husk/shim/vmbackend"
)

// The shim's copy of the sandbox API's messages reads what containerd
// sends and writes what containerd reads.
func TestSandboxAPIWire(t *testing.T) {
	opts, _ := anypb.New(&runtimeapi.PodSandboxConfig{Hostname: "h"})
	in, err := proto.Marshal(&csandbox.CreateSandboxRequest{
		SandboxID: "sb1", BundlePath: "/b", NetnsPath: "/var/run/netns/cni-1", Options: opts,
		Rootfs: []*ctypes.Mount{{Type: "bind", Source: "/x"}}, Annotations: map[string]string{"a": "b"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var req sandboxapi.CreateSandboxRequest
	if err := proto.Unmarshal(in, &req); err != nil {
		t.Fatal(err)
	}
	if req.SandboxId != "sb1" || req.BundlePath != "/b" || req.NetnsPath != "/var/run/netns/cni-1" || len(req.Rootfs) != 1 ||
		req.Annotations["a"] != "b" || req.Options.GetTypeUrl() != opts.TypeUrl || !reflect.DeepEqual(req.Options.GetValue(), opts.Value) {
		t.Errorf("CreateSandboxRequest read as %v", &req)
	}
	in, _ = proto.Marshal(&csandbox.SandboxStatusRequest{SandboxID: "sb1", Verbose: true})
	var sreq sandboxapi.SandboxStatusRequest
	if err := proto.Unmarshal(in, &sreq); err != nil || sreq.SandboxId != "sb1" || !sreq.Verbose {
		t.Errorf("SandboxStatusRequest read as %v (%v)", &sreq, err)
	}

	at := time.Unix(1700000000, 5)
	check := func(ours, theirs proto.Message) {
		t.Helper()
		out, err := proto.Marshal(ours)
		if err != nil {
			t.Fatal(err)
		}
		if err := proto.Unmarshal(out, theirs); err != nil {
			t.Fatalf("%T: %v", theirs, err)
		}
	}
	var start csandbox.StartSandboxResponse
	check(&sandboxapi.StartSandboxResponse{Pid: 42, CreatedAt: timestamppb.New(at)}, &start)
	if start.Pid != 42 || !start.CreatedAt.AsTime().Equal(at) {
		t.Errorf("StartSandboxResponse read by containerd as %v", &start)
	}
	var plat csandbox.PlatformResponse
	check(&sandboxapi.PlatformResponse{Platform: &sandboxapi.Platform{Os: "linux", Architecture: "amd64"}}, &plat)
	if plat.Platform.GetOS() != "linux" || plat.Platform.GetArchitecture() != "amd64" {
		t.Errorf("PlatformResponse read by containerd as %v", &plat)
	}
	var wait csandbox.WaitSandboxResponse
	check(&sandboxapi.WaitSandboxResponse{ExitStatus: 137, ExitedAt: timestamppb.New(at)}, &wait)
	if wait.ExitStatus != 137 || !wait.ExitedAt.AsTime().Equal(at) {
		t.Errorf("WaitSandboxResponse read by containerd as %v", &wait)
	}
	var met csandbox.SandboxMetricsResponse
	data, _ := anypb.New(&ctypes.Platform{OS: "x"})
	check(&sandboxapi.SandboxMetricsResponse{Metrics: &sandboxapi.Metric{Timestamp: timestamppb.New(at), Id: "sb1", Data: data}}, &met)
	if met.Metrics.GetID() != "sb1" || !met.Metrics.GetTimestamp().AsTime().Equal(at) || met.Metrics.GetData().GetTypeUrl() != data.TypeUrl {
		t.Errorf("SandboxMetricsResponse read by containerd as %v", &met)
	}
	var st csandbox.SandboxStatusResponse
	check(&sandboxapi.SandboxStatusResponse{SandboxId: "sb1", Pid: 7, State: "SANDBOX_READY", Info: map[string]string{"k": "v"},
		CreatedAt: timestamppb.New(at), ExitedAt: timestamppb.New(at)}, &st)
	if st.SandboxID != "sb1" || st.Pid != 7 || st.State != "SANDBOX_READY" || st.Info["k"] != "v" || !st.CreatedAt.AsTime().Equal(at) || !st.ExitedAt.AsTime().Equal(at) {
		t.Errorf("SandboxStatusResponse read by containerd as %v", &st)
	}
}

// decodePodConfig reads what cri-api encodes.
func TestDecodePodConfig(t *testing.T) {
	c := &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: "p", Uid: "u", Namespace: "n"},
		Hostname:     "pod-a",
		LogDirectory: "/var/log/pods/x",
		DnsConfig:    &runtimeapi.DNSConfig{Servers: []string{"10.0.0.10", "10.0.0.11"}, Searches: []string{"svc.local"}, Options: []string{"ndots:5"}},
		PortMappings: []*runtimeapi.PortMapping{{ContainerPort: 80}},
		Labels:       map[string]string{"l": "1"},
		Annotations:  map[string]string{"a": "1"},
		Linux: &runtimeapi.LinuxPodSandboxConfig{
			CgroupParent: "/kubepods/pod1",
			SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
				NamespaceOptions: &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_POD, Pid: runtimeapi.NamespaceMode_CONTAINER},
				Privileged:       true,
			},
			Sysctls:   map[string]string{"net.ipv4.ip_forward": "1", "kernel.shm_rmid_forced": "1"},
			Overhead:  &runtimeapi.LinuxContainerResources{MemoryLimitInBytes: 1},
			Resources: &runtimeapi.LinuxContainerResources{CpuPeriod: 100000, CpuQuota: 150000, CpuShares: 2, MemoryLimitInBytes: 192 << 20},
		},
	}
	data, err := proto.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var sb vmbackend.Sandbox
	if err := decodePodConfig(&sb, data); err != nil {
		t.Fatal(err)
	}
	want := vmbackend.Sandbox{
		Hostname:     "pod-a",
		DNS:          &vmbackend.DNS{Servers: []string{"10.0.0.10", "10.0.0.11"}, Searches: []string{"svc.local"}, Options: []string{"ndots:5"}},
		CgroupParent: "/kubepods/pod1",
		Sysctls:      map[string]string{"net.ipv4.ip_forward": "1", "kernel.shm_rmid_forced": "1"},
		MemoryLimit:  192 << 20, CPUQuota: 150000, CPUPeriod: 100000,
	}
	if !reflect.DeepEqual(sb, want) {
		t.Errorf("decoded %+v, want %+v", sb, want)
	}
	c.Linux.SecurityContext.NamespaceOptions.Network = runtimeapi.NamespaceMode_NODE
	data, _ = proto.Marshal(c)
	sb = vmbackend.Sandbox{}
	if err := decodePodConfig(&sb, data); err != nil || !sb.HostNetwork {
		t.Errorf("host network not seen: %v %+v", err, sb)
	}
	// Truncated input is an error, not a partial pod.
	if err := decodePodConfig(&sb, data[:len(data)-3]); err == nil {
		t.Error("truncated PodSandboxConfig decoded")
	}
	// The options as the CRI plugin passes them.
	a, _ := anypb.New(c)
	sb = vmbackend.Sandbox{Netns: "/var/run/netns/x"}
	if err := podConfig(&sb, a); err != nil || sb.Hostname != "pod-a" || sb.Netns != "" {
		t.Errorf("podConfig: %v %+v", err, sb)
	}
	if err := podConfig(&sb, &anypb.Any{TypeUrl: "other.Type", Value: []byte{1}}); err == nil {
		t.Error("options of another type taken")
	}
}
