// Package backend is what the shim's task service runs containers with:
// libruntime in the shim's own process (package shim/hostbackend) or a
// microVM's agent (package shim/vmbackend). The service keeps everything
// containerd sees (the tasks, their processes' life as a state machine,
// events, stdio FIFOs, exit order); a backend only runs processes and
// reports what happens to them.
package backend

import (
	"context"
	"errors"
	"io"
	"os"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/cgroups"
)

// Backend creates containers and cleans up after a daemon that died.
type Backend interface {
	// Create creates a container: when it returns, its init exists and
	// waits for Start.
	Create(ctx context.Context, r *CreateRequest) (Container, error)
	// Cleanup removes what a daemon that died left of container id (its
	// processes, state, anything of its VM) and returns the pid the
	// container's init had (0 if unknown). It runs in a process of its
	// own (the shim's delete action), with nothing created by this
	// Backend.
	Cleanup(ctx context.Context, id, bundle string) (pid int, err error)
}

// Container is one container of a Backend.
type Container interface {
	// Pid is the init's pid as containerd sees it.
	Pid() int
	Start(ctx context.Context) error
	// Exec starts another process in the container and returns its pid.
	Exec(ctx context.Context, execID string, p *rspec.Process, stdio Stdio) (int, error)
	// Kill signals the init, or with all every process of the container.
	Kill(ctx context.Context, sig unix.Signal, all bool) error
	// Signal signals an exec'd process; ErrNotFound if it has exited.
	Signal(ctx context.Context, execID string, sig unix.Signal) error
	// DeleteExec forgets an exec'd process that has exited.
	DeleteExec(ctx context.Context, execID string) error
	Pause(ctx context.Context) error
	Resume(ctx context.Context) error
	Update(ctx context.Context, r *rspec.LinuxResources) error
	Stats(ctx context.Context) (*Stats, error)
	// Pids lists the container's processes.
	Pids(ctx context.Context) ([]int, error)
	// Delete removes the container, killing its init if it still runs
	// (its exit is still reported).
	Delete(ctx context.Context) error
}

// CreateRequest is a container to create.
type CreateRequest struct {
	ID     string
	Bundle string
	// Rootfs is where containerd's rootfs mounts are mounted ("" if
	// containerd gave none: config.json's root is used as it is).
	Rootfs  string
	Options Options
	Stdio   Stdio
}

// Options are containerd's runtime options as the backends use them.
type Options struct {
	NoPivotRoot   bool
	NoNewKeyring  bool
	SystemdCgroup bool
	// ConfigPath is a runtime configuration file (the CRI plugin's
	// runtime options).
	ConfigPath string
}

// Stdio is a process's stdio as the service made it: pipes, never
// containerd's FIFOs or log files. The backend gives the process these
// files (or copies between them and the process) and closes nothing:
// the service closes its copies once Create or Exec returned.
type Stdio struct {
	Stdin          *os.File // read end, nil if not connected
	Stdout, Stderr *os.File // write ends, nil if not connected; may be one file
	Terminal       bool
	// Console, with Terminal, receives the process's terminal, which the
	// service copies to and from the FIFOs.
	Console func(Console) error
}

// Console is the backend's end of a process's terminal.
type Console interface {
	io.ReadWriteCloser
	Resize(width, height uint32) error
}

// Stats are a container's cgroup statistics.
type Stats struct {
	Cgroup *cgroups.Stats
	// V2: the statistics are a cgroup v2 hierarchy's (reported with
	// containerd's v2 metrics type).
	V2       bool
	OOMKills uint64
}

// Events is how a backend reports what happens on its own.
type Events interface {
	// Exited reports a process's exit: once for every init created and
	// every exec'd process started, the init's after its Create
	// returned or failed, an exec'd process's possibly before Exec
	// returned.
	Exited(id, execID string, status int, at time.Time)
	// OOM reports an OOM kill in a container.
	OOM(id string)
}

// Errors a backend wraps, for the service to map to containerd's codes.
var (
	ErrNotFound     = errors.New("not found")
	ErrExists       = errors.New("already exists")
	ErrPrecondition = errors.New("failed precondition")
)

// Mark returns err as being of kind (one of the errors above) too: it
// matches kind with errors.Is, and its message stays err's.
func Mark(kind, err error) error {
	if err == nil {
		return nil
	}
	return &marked{kind: kind, err: err}
}

type marked struct{ kind, err error }

func (m *marked) Error() string   { return m.err.Error() }
func (m *marked) Unwrap() []error { return []error{m.kind, m.err} }
