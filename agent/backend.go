// Package agent is the service husk-agent runs in the guest: the ttrpc
// Agent API (vm/api) over a Backend that creates and manages containers.
// The real Backend is libruntime, the engine husk runs on the host; tests
// give a fake one.
package agent

import (
	"context"
	"os"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/cgroups"
)

// ProcIO is a process's stdio as the backend hands it to the process:
// files for its fds 0-2, or with a terminal, Console receiving the pty
// master.
type ProcIO struct {
	Stdin, Stdout, Stderr *os.File
	Console               func(master *os.File) error
}

// Backend runs containers.
type Backend interface {
	// Create creates container id from spec; it returns the init's pid
	// and, with trace set, the trace lines of the create.
	Create(ctx context.Context, id string, spec *rspec.Spec, io ProcIO, trace bool) (pid int, lines []string, err error)
	Start(ctx context.Context, id string) error
	Exec(ctx context.Context, id string, p *rspec.Process, io ProcIO) (pid int, err error)
	// Kill signals the init, or with all every process of the container.
	Kill(id string, sig unix.Signal, all bool) error
	Delete(ctx context.Context, id string, force bool) error
	Status(id string) (string, error)
	Pause(id string) error
	Resume(id string) error
	Update(id string, r *rspec.LinuxResources) error
	Stats(id string) (*cgroups.Stats, error)
	OOMKills(id string) (uint64, error)
	// MemoryEvents is the container's memory.events file, watched for
	// OOM kills ("" if it has none).
	MemoryEvents(id string) string
	Pids(id string) ([]int, error)
	// Wait returns pid's exit code once it has exited.
	Wait(pid int) int
	// Signal signals one process.
	Signal(pid int, sig unix.Signal) error
}
