package shim

import (
	"context"

	"github.com/containerd/ttrpc"
)

// Task service names: containerd 1.6/1.7 (and later ones given a plain
// address) call v2, containerd ≥ 2.0 told version 3 calls v3. Their
// messages are the same protobuf messages in two packages, identical on
// the wire, so one set of handlers serves both on the same socket.
const (
	taskServiceV2 = "containerd.task.v2.Task"
	taskServiceV3 = "containerd.task.v3.Task"
)

func registerTaskService(srv *ttrpc.Server, s *service) {
	methods := map[string]ttrpc.Method{
		"State":      method(s.State),
		"Create":     method(s.Create),
		"Start":      method(s.Start),
		"Delete":     method(s.Delete),
		"Pids":       method(s.Pids),
		"Pause":      method(s.Pause),
		"Resume":     method(s.Resume),
		"Checkpoint": method(s.Checkpoint),
		"Kill":       method(s.Kill),
		"Exec":       method(s.Exec),
		"ResizePty":  method(s.ResizePty),
		"CloseIO":    method(s.CloseIO),
		"Update":     method(s.Update),
		"Wait":       method(s.Wait),
		"Stats":      method(s.Stats),
		"Connect":    method(s.Connect),
		"Shutdown":   method(s.Shutdown),
	}
	srv.RegisterService(taskServiceV2, &ttrpc.ServiceDesc{Methods: methods})
	srv.RegisterService(taskServiceV3, &ttrpc.ServiceDesc{Methods: methods})
}

// method adapts a typed handler to ttrpc: decode the request, call it.
func method[Req, Resp any](h func(context.Context, *Req) (Resp, error)) ttrpc.Method {
	return func(ctx context.Context, unmarshal func(any) error) (any, error) {
		req := new(Req)
		if err := unmarshal(req); err != nil {
			return nil, err
		}
		return h(ctx, req)
	}
}
