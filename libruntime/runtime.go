// Package libruntime creates and manages OCI containers: the lifecycle
// (create, start, kill, delete, run), the state kept for each container,
// and the compilation of config.json into the plan the container's init
// executes (see libruntime/initproc).
//
// It is a library: it keeps no package-level configuration, never exits
// the process, and may be used by a long-running process (the containerd
// shim) for many containers at once. Operations that change a container
// hold a per-container lock; operations on different containers never
// wait for each other.
package libruntime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/husk-runtime/husk/cgroups"
	"github.com/husk-runtime/husk/cgroups/systemd"
)

// Logger receives what husk has to say besides errors. The CLI writes it
// to --log; a nil Logger discards everything.
type Logger interface {
	Warnf(format string, args ...any)
	Debugf(format string, args ...any)
}

type nopLogger struct{}

func (nopLogger) Warnf(string, ...any)  {}
func (nopLogger) Debugf(string, ...any) {}

// Runtime is one state root (runc's --root) and the options that apply to
// every container in it.
type Runtime struct {
	root   string
	log    Logger
	tracer *Tracer
	reaper Reaper

	// systemd reaches systemd for the systemd cgroup driver (nil: none).
	systemd    systemd.Connector
	debugSteps bool

	hierOnce sync.Once
	hier     *cgroups.Hierarchy
	hierErr  error
}

// Option configures a Runtime.
type Option func(*Runtime)

// WithLogger sets where warnings and debug messages go.
func WithLogger(l Logger) Option {
	return func(r *Runtime) {
		if l != nil {
			r.log = l
		}
	}
}

// WithTracer makes the runtime write a line per phase (see Tracer).
func WithTracer(t *Tracer) Option {
	return func(r *Runtime) { r.tracer = t }
}

// WithDebugSteps makes the runtime log each phase of a command, and each
// op husk-init executes, as a debug message to its Logger.
func WithDebugSteps() Option {
	return func(r *Runtime) { r.debugSteps = true }
}

// New returns a Runtime keeping container state under root. The directory
// is created when the first container is.
func New(root string, opts ...Option) (*Runtime, error) {
	if root == "" {
		return nil, errors.New("state root must not be empty")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("state root %s: %w", root, err)
	}
	r := &Runtime{root: abs, log: nopLogger{}, reaper: waitReaper{}}
	for _, o := range opts {
		o(r)
	}
	if r.debugSteps {
		t := &Tracer{debug: r.log}
		if r.tracer != nil {
			t.w = r.tracer.w
		}
		r.tracer = t
	}
	return r, nil
}

// Root returns the state root directory.
func (r *Runtime) Root() string { return r.root }

func (r *Runtime) dir(id string) string { return filepath.Join(r.root, id) }

// hierarchy returns the host's cgroup mounts, read once per Runtime: a
// command reads them several times (create, start, delete of `run`), and
// they do not change under a running husk.
func (r *Runtime) hierarchy() (*cgroups.Hierarchy, error) {
	r.hierOnce.Do(func() { r.hier, r.hierErr = cgroups.Detect() })
	return r.hier, r.hierErr
}

func (r *Runtime) ensureRoot() error {
	if err := os.MkdirAll(r.root, 0o711); err != nil {
		return fmt.Errorf("create state root %s: %w", r.root, err)
	}
	return nil
}
