// Package shim is containerd-shim-husk-v2: a containerd runtime v2 shim
// that runs containers in-process with libruntime.
//
// One binary plays three parts, chosen by containerd's command line:
//
//   - start: spawn the long-running daemon for a container (or find the one
//     already serving its pod), print its ttrpc address and exit;
//   - delete: clean up after a daemon that died (kill, unmount, remove
//     state) and print the exit containerd should report;
//   - no action: the daemon itself, serving containerd.task.v2.Task and
//     containerd.task.v3.Task on one ttrpc socket until its last container
//     is deleted.
package shim

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	taskapi "github.com/containerd/containerd/api/runtime/task/v2"
	"github.com/containerd/containerd/api/types"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/husk-runtime/husk/libruntime"
)

// RuntimeName is the containerd runtime this shim implements.
const RuntimeName = "io.containerd.husk.v2"

// Type URLs containerd registers for runtime-spec types carried as JSON.
const (
	specTypeURL      = "types.containerd.io/opencontainers/runtime-spec/1/"
	featuresTypeURL  = specTypeURL + "features/Features"
	processTypeURL   = specTypeURL + "Process"
	resourcesTypeURL = specTypeURL + "LinuxResources"
)

// flags are the command line containerd gives every shim invocation.
type flags struct {
	namespace     string
	id            string
	address       string // containerd's gRPC address
	publishBinary string // containerd's own binary
	bundle        string // delete only; otherwise the working directory
	socket        string // accepted: containerd ≥ 2.x passes it to some shims
	debugSocket   string
	debug         bool
	version       bool
	info          bool
	action        string
}

func parseFlags(args []string) (*flags, error) {
	f := &flags{}
	fs := flag.NewFlagSet(filepath.Base(os.Args[0]), flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&f.namespace, "namespace", "", "namespace that owns the shim")
	fs.StringVar(&f.id, "id", "", "id of the task")
	fs.StringVar(&f.address, "address", "", "grpc address back to main containerd")
	fs.StringVar(&f.publishBinary, "publish-binary", "", "path to containerd's binary")
	fs.StringVar(&f.bundle, "bundle", "", "path to the bundle if not the working directory")
	fs.StringVar(&f.socket, "socket", "", "socket path to serve")
	fs.StringVar(&f.debugSocket, "debug-socket", "", "debug socket path to serve")
	fs.BoolVar(&f.debug, "debug", false, "enable debug output in logs")
	fs.BoolVar(&f.version, "v", false, "show the shim version and exit")
	fs.BoolVar(&f.version, "version", false, "show the shim version and exit")
	fs.BoolVar(&f.info, "info", false, "print the runtime info protobuf and exit")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	f.action = fs.Arg(0)
	return f, nil
}

// Run runs the shim with os.Args and returns its exit code.
func Run(version, commit string) int {
	f, err := parseFlags(os.Args[1:])
	if err == nil {
		err = run(f, version, commit)
	}
	if err != nil {
		// containerd shows this (start and delete) in its error message.
		fmt.Fprintf(os.Stderr, "%s: %v\n", RuntimeName, err)
		return 1
	}
	return 0
}

func run(f *flags, version, commit string) error {
	switch {
	case f.version:
		fmt.Printf("%s:\n  Version:  %s\n  Revision: %s\n", filepath.Base(os.Args[0]), version, commit)
		return nil
	case f.info:
		return printInfo(os.Stdin, os.Stdout, version, commit)
	}
	if f.namespace == "" {
		return errors.New("shim namespace cannot be empty")
	}
	switch f.action {
	case "start":
		return start(f)
	case "delete":
		return deleteAction(f)
	case "":
		return serve(f, version)
	default:
		return fmt.Errorf("unknown action %q", f.action)
	}
}

// printInfo answers `-info`: containerd ≥ 2.0 asks the shim what it is
// (and echoes the runtime options back) for its introspection API.
func printInfo(in io.Reader, out io.Writer, version, commit string) error {
	info := &types.RuntimeInfo{
		Name:    RuntimeName,
		Version: &types.RuntimeVersion{Version: version, Revision: commit},
	}
	data, err := io.ReadAll(io.LimitReader(in, 1<<20))
	if err != nil {
		return fmt.Errorf("read runtime options: %w", err)
	}
	if len(data) > 0 {
		var opts anypb.Any
		if err := proto.Unmarshal(data, &opts); err != nil {
			return fmt.Errorf("decode runtime options: %w", err)
		}
		info.Options = &opts
	}
	// containerd decodes the features as the JSON type it registers for
	// runtime-spec's features.Features.
	if feat, err := json.Marshal(libruntime.Features()); err == nil {
		info.Features = &anypb.Any{TypeUrl: featuresTypeURL, Value: feat}
	}
	b, err := proto.Marshal(info)
	if err != nil {
		return fmt.Errorf("encode runtime info: %w", err)
	}
	_, err = out.Write(b)
	return err
}

// deleteAction is `delete`: containerd runs it after a shim process has
// gone away (1.6 after every exit, later versions when one died). A daemon
// that was SIGKILLed leaves its container running, its rootfs mounted and
// husk's state behind: remove all of it and report the container killed.
// It does all it can and always answers: what failed goes to stderr, which
// containerd logs as warnings, while it goes on removing the task.
func deleteAction(f *flags) error {
	bundle := f.bundle
	if bundle == "" {
		wd, err := os.Getwd()
		if err != nil {
			return fmt.Errorf("working directory: %w", err)
		}
		bundle = wd
	}
	resp := &taskapi.DeleteResponse{
		ExitStatus: 128 + uint32(unix.SIGKILL),
		ExitedAt:   timestamppb.New(time.Now()),
	}
	warn := func(err error) { fmt.Fprintf(os.Stderr, "%s: delete %s: %v\n", RuntimeName, f.id, err) }
	if rt, err := libruntime.New(stateRoot(bundle, f.namespace)); err != nil {
		warn(err)
	} else if c, err := rt.Load(f.id); err == nil {
		resp.Pid = uint32(c.State().InitPid)
		if err := c.Delete(context.Background(), true); err != nil {
			warn(err)
		}
	} else if !errors.Is(err, libruntime.ErrNotExist) {
		warn(err)
	}
	// The daemon recorded the init's exit, if it saw it before it died.
	if e, ok := readExitFile(bundle); ok {
		resp.Pid, resp.ExitStatus, resp.ExitedAt = uint32(e.pid), uint32(e.status), timestamppb.New(e.at)
	}
	if err := unmountAll(filepath.Join(bundle, "rootfs")); err != nil {
		warn(err)
	}
	removeDeadSocket(bundle)
	data, err := proto.Marshal(resp)
	if err != nil {
		return fmt.Errorf("encode delete response: %w", err)
	}
	_, err = os.Stdout.Write(data)
	return err
}

// stateRoot is where husk keeps the state of a containerd's containers:
// beside the bundles, in containerd's state directory (bundles are
// <state>/io.containerd.runtime.v2.task/<ns>/<id>), so that two
// containerd instances never share it and it goes with that directory.
func stateRoot(bundle, ns string) string {
	nsDir := filepath.Dir(bundle)
	tasks := filepath.Dir(nsDir)
	if filepath.Base(tasks) == "io.containerd.runtime.v2.task" && filepath.Base(nsDir) == ns {
		return filepath.Join(filepath.Dir(tasks), "husk", ns)
	}
	return filepath.Join("/run/husk-shim", ns)
}
