// Command husk-agent is PID 1 of a husk microVM: it brings the guest up
// (agent/boot) and serves the Agent API (vm/api) to the host over
// virtio-serial or vsock, running containers with libruntime.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/containerd/ttrpc"
	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/agent"
	"github.com/husk-runtime/husk/agent/boot"
	"github.com/husk-runtime/husk/agent/netcfg"
	"github.com/husk-runtime/husk/vm/api"
)

// Set with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

func main() {
	// A pod's namespace holder, started by the agent (agent.StartPod).
	if len(os.Args) == 3 && os.Args[1] == agent.PodHolderArg {
		agent.PodHolder(os.Args[2])
		return
	}
	if os.Getpid() != 1 {
		fmt.Fprintln(os.Stderr, "husk-agent: runs only as PID 1 of a husk VM")
		os.Exit(2)
	}
	// PID 1 must not exit (the kernel would panic): every failure ends in
	// a message on the console and a power-off, which the host sees.
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "husk-agent: %v\n", err)
	}
	boot.PowerOff()
}

func run() error {
	sys, err := boot.Up()
	if err != nil {
		return fmt.Errorf("boot: %w", err)
	}
	// A pod's containers share the guest's network namespace, and lo.
	if err := netcfg.LoopbackUp(); err != nil {
		fmt.Fprintf(os.Stderr, "husk-agent: %v\n", err)
	}
	reaper := agent.NewReaper()
	be, err := agent.NewRuntime(boot.StateRoot, boot.BundleRoot, reaper)
	if err != nil {
		return err
	}
	var uts unix.Utsname
	unix.Uname(&uts)
	hello := &api.HelloResponse{
		Version:         version,
		KernelRelease:   unix.ByteSliceToString(uts.Release[:]),
		Phases:          sys.Phases,
		ReadyBoottimeNs: int64(boot.Boottime()),
	}
	srv, err := ttrpc.NewServer()
	if err != nil {
		return err
	}
	svc := agent.NewService(be, hello, boot.PowerOff)
	svc.SetNetwork(netcfg.Apply)
	svc.SetPod(agent.StartPodHolder)
	api.RegisterAgentService(srv, svc)
	return srv.Serve(context.Background(), boot.NewListener(sys.Conn))
}
