// Package vmbackend is the shim's backend of the microVM class
// (io.containerd.huskvm.v2): one VM per pod. The first container of the
// daemon's group (a Kubernetes pod's sandbox, or a lone `ctr run`'s
// container) boots the VM, sized from the pod's resources and connected
// to the pod's network namespace; the pod's other containers run in the
// same VM; the VM stops when the last is deleted. qemu and the shim are
// accounted in the pod's cgroup on the host. The guest is not trusted:
// what its agent answers is bounded and checked (package vm/sandbox).
package vmbackend

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/husk-runtime/husk/shim/backend"
	"github.com/husk-runtime/husk/specs"
)

// Logger is what the backend logs to.
type Logger interface {
	Infof(format string, args ...any)
	Warnf(format string, args ...any)
	Debugf(format string, args ...any)
}

// Backend runs a pod's containers in its VM.
type Backend struct {
	// root is the namespace's state root: a directory per task, naming
	// its pod's record.
	root   string
	events backend.Events
	log    Logger

	// createMu serialises creates: the first boots the VM, the others
	// need it.
	createMu sync.Mutex
	mu       sync.Mutex
	pod      *pod
	// sandbox is the pod containerd's sandbox API made (nil without).
	sandbox *sandboxState
}

// New returns the backend keeping its task records under root.
func New(root string, ev backend.Events, log Logger) *Backend {
	return &Backend{root: root, events: ev, log: log}
}

// NewCleaner returns a Backend that only cleans up (the delete action).
func NewCleaner(root string) *Backend {
	return &Backend{root: root}
}

// Create creates a container in the pod's VM, booting the VM for the
// first.
func (b *Backend) Create(ctx context.Context, r *backend.CreateRequest) (_ backend.Container, err error) {
	spec, err := specs.Load(r.Bundle)
	if err != nil {
		return nil, err
	}
	b.createMu.Lock()
	defer b.createMu.Unlock()
	b.mu.Lock()
	p := b.pod
	b.mu.Unlock()
	first := p == nil
	if first {
		if b.sandbox != nil {
			return nil, backend.Mark(backend.ErrPrecondition, fmt.Errorf("container %s: its sandbox %s is not running", r.ID, b.sandbox.cfg.ID))
		}
		if p, err = bootPod(ctx, b, r.ID, r.Options.ConfigPath, spec, resolvConf(spec, r.Bundle)); err != nil {
			return nil, err
		}
		b.mu.Lock()
		b.pod = p
		b.mu.Unlock()
		defer func() {
			if err != nil {
				b.podEnded(p)
				p.shutdown()
			}
		}()
	}
	dir := filepath.Join(b.root, r.ID)
	if err := os.MkdirAll(b.root, 0o711); err != nil {
		return nil, fmt.Errorf("state root: %w", err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, backend.Mark(backend.ErrExists, fmt.Errorf("container %s already exists", r.ID))
		}
		return nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	if err := os.WriteFile(filepath.Join(dir, taskPodFile), []byte(p.recordPath), 0o600); err != nil {
		return nil, err
	}
	c, err := p.createContainer(ctx, r, spec, first)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// podEnded forgets the pod once it has no container left.
func (b *Backend) podEnded(p *pod) {
	b.mu.Lock()
	if b.pod == p {
		b.pod = nil
	}
	b.mu.Unlock()
}

// Cleanup removes what a daemon that died left of container id: its
// record and, for the first of its pod's tasks cleaned up, everything of
// the pod's VM (qemu, the VM's directory and mounts, the taps and
// redirects in the pod's network namespace, the pod's cgroup). It
// returns qemu's pid, the pid containerd knew the task by.
func (b *Backend) Cleanup(ctx context.Context, id, bundle string) (int, error) {
	if err := specs.ValidateID(id); err != nil {
		return 0, err
	}
	dir := filepath.Join(b.root, id)
	data, err := os.ReadFile(filepath.Join(dir, taskPodFile))
	if errors.Is(err, os.ErrNotExist) {
		return 0, os.RemoveAll(dir)
	}
	if err != nil {
		return 0, err
	}
	pid, err := cleanupPod(string(data))
	return pid, errors.Join(err, os.RemoveAll(dir))
}
