package shim

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	bootapi "github.com/containerd/containerd/api/runtime/bootstrap/v1"
	"github.com/containerd/ttrpc"
	"github.com/containerd/typeurl/v2"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/husk-runtime/husk/shim/launch"
	"github.com/husk-runtime/husk/shim/sandboxapi"
	"github.com/husk-runtime/husk/shim/vmbackend"
)

// sandboxService is containerd 2.x's sandbox API
// (containerd.runtime.sandbox.v1.Sandbox) for the VM class: with a CRI
// runtime whose sandboxer is "shim", containerd runs no pause container
// but asks this shim for the pod itself; the pod's containers then come
// through the task API of the same shim. The VM is booted at
// StartSandbox and lives until StopSandbox.
type sandboxService struct {
	s  *service
	vb *vmbackend.Backend
}

const sandboxServiceName = "containerd.runtime.sandbox.v1.Sandbox"

func registerSandboxService(srv *ttrpc.Server, ss *sandboxService) {
	srv.RegisterService(sandboxServiceName, &ttrpc.ServiceDesc{Methods: map[string]ttrpc.Method{
		"CreateSandbox":   method(ss.CreateSandbox),
		"StartSandbox":    method(ss.StartSandbox),
		"Platform":        method(ss.Platform),
		"StopSandbox":     method(ss.StopSandbox),
		"WaitSandbox":     method(ss.WaitSandbox),
		"SandboxStatus":   method(ss.SandboxStatus),
		"PingSandbox":     method(ss.PingSandbox),
		"ShutdownSandbox": method(ss.ShutdownSandbox),
		"SandboxMetrics":  method(ss.SandboxMetrics),
		"UpdateSandbox":   method(ss.UpdateSandbox),
	}})
}

// podSandboxConfigName is the CRI plugin's options of a sandbox (its
// runtime.v1.PodSandboxConfig).
const podSandboxConfigName = "runtime.v1.PodSandboxConfig"

func (ss *sandboxService) CreateSandbox(ctx context.Context, r *sandboxapi.CreateSandboxRequest) (*sandboxapi.CreateSandboxResponse, error) {
	if len(r.Rootfs) > 0 {
		return nil, errorf(codes.InvalidArgument, "sandbox %s: a rootfs for the sandbox is not supported (the VM class holds the pod's namespaces itself)", r.SandboxId)
	}
	sb := &vmbackend.Sandbox{ID: r.SandboxId, Bundle: r.BundlePath, Netns: r.NetnsPath, Annotations: r.Annotations}
	if err := podConfig(sb, r.Options); err != nil {
		return nil, errorf(codes.InvalidArgument, "sandbox %s: %v", r.SandboxId, err)
	}
	opts, err := sandboxRuntimeOptions(r.BundlePath, ss.s.runtime)
	if err != nil {
		return nil, errorf(codes.InvalidArgument, "sandbox %s: %v", r.SandboxId, err)
	}
	sb.ConfigPath = opts.ConfigPath
	if err := sb.Check(); err != nil {
		return nil, errorf(codes.InvalidArgument, "sandbox %s: %v", r.SandboxId, err)
	}
	if err := ss.vb.CreateSandbox(ctx, sb); err != nil {
		return nil, toStatus(err)
	}
	return &sandboxapi.CreateSandboxResponse{}, nil
}

// podConfig takes from the CRI plugin's PodSandboxConfig what the VM
// needs. Other options (ctr sandboxes run gives none) leave the defaults.
func podConfig(sb *vmbackend.Sandbox, a *anypb.Any) error {
	if a == nil || len(a.Value) == 0 {
		return nil
	}
	if a.TypeUrl != podSandboxConfigName && !strings.HasSuffix(a.TypeUrl, "/"+podSandboxConfigName) {
		return fmt.Errorf("sandbox options of type %q: want %s", a.TypeUrl, podSandboxConfigName)
	}
	if err := decodePodConfig(sb, a.Value); err != nil {
		return fmt.Errorf("sandbox options: %w", err)
	}
	if sb.HostNetwork {
		// A host-network pod: the VM gets no network device.
		sb.Netns = ""
	}
	return nil
}

// sandboxRuntimeOptions reads the runtime options containerd gave the
// sandbox's start action (kept in its bundle by package launch).
func sandboxRuntimeOptions(bundle, rt string) (*runtimeOptions, error) {
	data, err := os.ReadFile(filepath.Join(bundle, launch.StartInputFile))
	if os.IsNotExist(err) {
		return &runtimeOptions{}, nil
	}
	if err != nil {
		return nil, err
	}
	var p bootapi.BootstrapParams
	if err := proto.Unmarshal(data, &p); err == nil && p.InstanceID != "" {
		// Other extensions (what later containerds add) are not runtime
		// options.
		for _, e := range p.Extensions {
			if v := e.GetValue(); v != nil && (strings.HasSuffix(v.TypeUrl, "runtimeoptions.v1.Options") || strings.HasSuffix(v.TypeUrl, "containerd.runc.v1.Options")) {
				return parseOptions(v, rt)
			}
		}
		return &runtimeOptions{}, nil
	}
	// containerd before 2.3: the options themselves.
	var a anypb.Any
	if err := proto.Unmarshal(data, &a); err != nil {
		return nil, fmt.Errorf("runtime options: %w", err)
	}
	return parseOptions(&a, rt)
}

func (ss *sandboxService) StartSandbox(ctx context.Context, r *sandboxapi.StartSandboxRequest) (*sandboxapi.StartSandboxResponse, error) {
	pid, created, err := ss.vb.StartSandbox(ctx, r.SandboxId)
	if err != nil {
		return nil, toStatus(err)
	}
	ss.s.trimSoon()
	return &sandboxapi.StartSandboxResponse{Pid: uint32(pid), CreatedAt: timestamppb.New(created)}, nil
}

func (ss *sandboxService) Platform(ctx context.Context, r *sandboxapi.PlatformRequest) (*sandboxapi.PlatformResponse, error) {
	return &sandboxapi.PlatformResponse{Platform: &sandboxapi.Platform{Os: "linux", Architecture: runtime.GOARCH}}, nil
}

func (ss *sandboxService) StopSandbox(ctx context.Context, r *sandboxapi.StopSandboxRequest) (*sandboxapi.StopSandboxResponse, error) {
	if err := ss.vb.StopSandbox(ctx, r.SandboxId); err != nil {
		return nil, toStatus(err)
	}
	return &sandboxapi.StopSandboxResponse{}, nil
}

func (ss *sandboxService) WaitSandbox(ctx context.Context, r *sandboxapi.WaitSandboxRequest) (*sandboxapi.WaitSandboxResponse, error) {
	status, at, err := ss.vb.WaitSandbox(ctx, r.SandboxId)
	if err != nil {
		return nil, toStatus(err)
	}
	return &sandboxapi.WaitSandboxResponse{ExitStatus: uint32(status), ExitedAt: timestamppb.New(at)}, nil
}

func (ss *sandboxService) SandboxStatus(ctx context.Context, r *sandboxapi.SandboxStatusRequest) (*sandboxapi.SandboxStatusResponse, error) {
	st, err := ss.vb.SandboxStatus(r.SandboxId)
	if err != nil {
		return nil, toStatus(err)
	}
	resp := &sandboxapi.SandboxStatusResponse{SandboxId: r.SandboxId, Pid: uint32(st.Pid), State: st.State}
	if r.Verbose {
		resp.Info = st.Info
	}
	if !st.Created.IsZero() {
		resp.CreatedAt = timestamppb.New(st.Created)
	}
	if !st.Exited.IsZero() {
		resp.ExitedAt = timestamppb.New(st.Exited)
	}
	return resp, nil
}

func (ss *sandboxService) PingSandbox(ctx context.Context, r *sandboxapi.PingRequest) (*sandboxapi.PingResponse, error) {
	if _, err := ss.vb.SandboxStatus(r.SandboxId); err != nil {
		return nil, toStatus(err)
	}
	return &sandboxapi.PingResponse{}, nil
}

// ShutdownSandbox stops the pod if it still runs and forgets it; the
// daemon exits once no task is left either.
func (ss *sandboxService) ShutdownSandbox(ctx context.Context, r *sandboxapi.ShutdownSandboxRequest) (*sandboxapi.ShutdownSandboxResponse, error) {
	if err := ss.vb.ShutdownSandbox(ctx, r.SandboxId); err != nil {
		return nil, toStatus(err)
	}
	ss.s.exitIfIdle()
	return &sandboxapi.ShutdownSandboxResponse{}, nil
}

// SandboxMetrics are the pod's cgroup on the host (qemu and the shim), in
// the metrics types a task's stats have (the CRI plugin's pod stats).
func (ss *sandboxService) SandboxMetrics(ctx context.Context, r *sandboxapi.SandboxMetricsRequest) (*sandboxapi.SandboxMetricsResponse, error) {
	st, err := ss.vb.SandboxStats(r.SandboxId)
	if err != nil {
		return nil, toStatus(err)
	}
	a, err := typeurl.MarshalAnyToProto(metrics(st.Cgroup, st.V2, st.OOMKills))
	if err != nil {
		return nil, errorf(codes.Internal, "encode metrics: %v", err)
	}
	return &sandboxapi.SandboxMetricsResponse{Metrics: &sandboxapi.Metric{Timestamp: timestamppb.Now(), Id: r.SandboxId, Data: a}}, nil
}

func (ss *sandboxService) UpdateSandbox(ctx context.Context, r *sandboxapi.UpdateSandboxRequest) (*sandboxapi.UpdateSandboxResponse, error) {
	return nil, errorf(codes.Unimplemented, "updating a sandbox is not supported by %s", ss.s.runtime)
}
