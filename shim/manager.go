// Package shim is the daemon of containerd-shim-husk-v2, a containerd
// runtime v2 shim that runs containers in-process with libruntime.
//
// Its binary (containerd-shim-husk-v2-daemon) plays three parts, chosen by
// the command line:
//
//   - no action: the daemon itself, serving containerd.task.v2.Task and
//     containerd.task.v3.Task on one ttrpc socket until its last container
//     is deleted;
//   - delete: clean up after a daemon that died (kill, unmount, remove
//     state) and print the exit containerd should report;
//   - start: as the front does (package launch), spawning itself.
//
// containerd normally runs the front, containerd-shim-husk-v2, which
// answers start and the common delete without this package's
// dependencies and executes this binary for the rest.
package shim

import (
	"context"
	"encoding/json"
	"errors"
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
	"github.com/husk-runtime/husk/shim/backend"
	"github.com/husk-runtime/husk/shim/hostbackend"
	"github.com/husk-runtime/husk/shim/launch"
	"github.com/husk-runtime/husk/shim/vmbackend"
)

// Type URLs containerd registers for runtime-spec types carried as JSON.
const (
	specTypeURL      = "types.containerd.io/opencontainers/runtime-spec/1/"
	featuresTypeURL  = specTypeURL + "features/Features"
	processTypeURL   = specTypeURL + "Process"
	resourcesTypeURL = specTypeURL + "LinuxResources"
)

// Run runs the shim with os.Args and returns its exit code.
func Run(version, commit string) int {
	return launch.RunWith(run, version, commit)
}

func run(f *launch.Flags, version, commit string) error {
	switch {
	case f.Version:
		launch.PrintVersion(version, commit)
		return nil
	case f.Info:
		return printInfo(os.Stdin, os.Stdout, version, commit)
	}
	if f.Namespace == "" {
		return errors.New("shim namespace cannot be empty")
	}
	switch f.Action {
	case "start":
		// containerd was pointed at this binary directly: it is its own
		// daemon.
		self, err := os.Executable()
		if err != nil {
			return fmt.Errorf("find own binary: %w", err)
		}
		return launch.Start(f, self)
	case "delete":
		return deleteAction(f)
	case "":
		return serve(f, version)
	default:
		return fmt.Errorf("unknown action %q", f.Action)
	}
}

// printInfo answers `-info`: containerd ≥ 2.0 asks the shim what it is
// (and echoes the runtime options back) for its introspection API.
func printInfo(in io.Reader, out io.Writer, version, commit string) error {
	info := &types.RuntimeInfo{
		Name:    launch.Runtime(),
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

// deleteAction is `delete` after a daemon that did not go away cleanly
// (the front answers the clean case itself): one that was SIGKILLed leaves
// its container running (or its VM's qemu), its rootfs mounted and
// husk's state behind: remove all of it and report the container killed.
// It does all it can and always answers: what failed goes to stderr,
// which containerd logs as warnings, while it goes on removing the task.
func deleteAction(f *launch.Flags) error {
	bundle := f.Bundle
	if bundle == "" {
		wd, err := os.Getwd()
		if err != nil {
			return fmt.Errorf("working directory: %w", err)
		}
		bundle = wd
	}
	rtName := launch.Runtime()
	resp := &taskapi.DeleteResponse{
		ExitStatus: 128 + uint32(unix.SIGKILL),
		ExitedAt:   timestamppb.New(time.Now()),
	}
	warn := func(err error) { fmt.Fprintf(os.Stderr, "%s: delete %s: %v\n", rtName, f.ID, err) }
	root := launch.StateRoot(rtName, bundle, f.Namespace)
	var be backend.Backend
	var err error
	if rtName == launch.RuntimeName {
		be, err = hostbackend.NewCleaner(root)
	} else {
		be = vmbackend.NewCleaner(root)
	}
	if err != nil {
		warn(err)
	} else if pid, err := be.Cleanup(context.Background(), f.ID, bundle); err != nil {
		warn(err)
	} else if pid > 0 {
		resp.Pid = uint32(pid)
	}
	// The daemon recorded the init's exit, if it saw it before it died.
	if e, ok := launch.ReadExitFile(bundle); ok {
		resp.Pid, resp.ExitStatus, resp.ExitedAt = uint32(e.Pid), uint32(e.Status), timestamppb.New(e.At)
	}
	if err := unmountAll(filepath.Join(bundle, "rootfs")); err != nil {
		warn(err)
	}
	launch.RemoveDeadSocket(bundle)
	data, err := proto.Marshal(resp)
	if err != nil {
		return fmt.Errorf("encode delete response: %w", err)
	}
	_, err = os.Stdout.Write(data)
	return err
}
