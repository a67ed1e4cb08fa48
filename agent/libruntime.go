package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/cgroups"
	"github.com/husk-runtime/husk/libruntime"
	"github.com/husk-runtime/husk/specs"
)

// Runtime is the Backend of a real guest: libruntime, with the agent's
// reaper, keeping container state under root and bundles under bundles.
type Runtime struct {
	rt      *libruntime.Runtime
	reaper  *Reaper
	bundles string
	// Each create writes its own trace lines; a shared tracer would mix
	// those of concurrent creates.
	traceMu sync.Mutex
}

// NewRuntime returns the libruntime backend.
func NewRuntime(root, bundles string, reaper *Reaper) (*Runtime, error) {
	rt, err := libruntime.New(root, libruntime.WithReaper(reaper))
	if err != nil {
		return nil, err
	}
	return &Runtime{rt: rt, reaper: reaper, bundles: bundles}, nil
}

func (r *Runtime) load(id string) (*libruntime.Container, error) {
	return r.rt.Load(id)
}

// Create writes the config into a bundle directory of the guest and
// creates the container from it.
func (r *Runtime) Create(ctx context.Context, id string, spec *rspec.Spec, io ProcIO, trace bool) (int, []string, error) {
	if err := specs.ValidateID(id); err != nil {
		return 0, nil, err
	}
	bundle := filepath.Join(r.bundles, id)
	if err := os.MkdirAll(bundle, 0o700); err != nil {
		return 0, nil, err
	}
	if spec.Process != nil {
		spec.Process.OOMScoreAdj = oomScoreAdj(spec.Process.OOMScoreAdj)
	}
	data, err := json.Marshal(spec)
	if err != nil {
		return 0, nil, err
	}
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), data, 0o600); err != nil {
		return 0, nil, err
	}
	rt := r.rt
	var buf bytes.Buffer
	if trace {
		r.traceMu.Lock()
		defer r.traceMu.Unlock()
		if rt, err = libruntime.New(r.rt.Root(), libruntime.WithReaper(r.reaper),
			libruntime.WithTracer(libruntime.NewTracer(&buf))); err != nil {
			return 0, nil, err
		}
	}
	c, err := rt.Create(ctx, id, libruntime.CreateOpts{
		Bundle: bundle, Stdin: io.Stdin, Stdout: io.Stdout, Stderr: io.Stderr, Console: io.Console,
	})
	if err != nil {
		os.RemoveAll(bundle)
		return 0, nil, err
	}
	var lines []string
	for _, l := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte{'\n'}) {
		if len(l) > 0 {
			lines = append(lines, string(l))
		}
	}
	return c.State().InitPid, lines, nil
}

func (r *Runtime) Start(ctx context.Context, id string) error {
	c, err := r.load(id)
	if err != nil {
		return err
	}
	return c.Start(ctx)
}

func (r *Runtime) Exec(ctx context.Context, id string, p *rspec.Process, io ProcIO) (int, error) {
	c, err := r.load(id)
	if err != nil {
		return 0, err
	}
	p.OOMScoreAdj = oomScoreAdj(p.OOMScoreAdj)
	return c.ExecStart(ctx, libruntime.ExecOpts{
		Process: p, Stdin: io.Stdin, Stdout: io.Stdout, Stderr: io.Stderr, Console: io.Console,
	})
}

func (r *Runtime) Kill(id string, sig unix.Signal, all bool) error {
	c, err := r.load(id)
	if err != nil {
		return err
	}
	return c.Kill(sig, all)
}

func (r *Runtime) Delete(ctx context.Context, id string, force bool) error {
	c, err := r.load(id)
	if err != nil {
		return err
	}
	if err := c.Delete(ctx, force); err != nil {
		return err
	}
	return os.RemoveAll(filepath.Join(r.bundles, id))
}

func (r *Runtime) Status(id string) (string, error) {
	c, err := r.load(id)
	if err != nil {
		return "", err
	}
	return string(c.Status()), nil
}

func (r *Runtime) Pause(id string) error {
	c, err := r.load(id)
	if err != nil {
		return err
	}
	return c.Pause()
}

func (r *Runtime) Resume(id string) error {
	c, err := r.load(id)
	if err != nil {
		return err
	}
	return c.Resume()
}

func (r *Runtime) Update(id string, res *rspec.LinuxResources) error {
	c, err := r.load(id)
	if err != nil {
		return err
	}
	return c.Update(res)
}

func (r *Runtime) Stats(id string) (*cgroups.Stats, error) {
	c, err := r.load(id)
	if err != nil {
		return nil, err
	}
	return c.Stats()
}

func (r *Runtime) OOMKills(id string) (uint64, error) {
	c, err := r.load(id)
	if err != nil {
		return 0, err
	}
	return c.OOMKills()
}

// MemoryEvents: the guest is a pure cgroup v2 host (the agent mounts
// cgroup2 alone), so the container's cgroup is its "unified" path.
func (r *Runtime) MemoryEvents(id string) string {
	c, err := r.load(id)
	if err != nil {
		return ""
	}
	dir := c.State().Cgroup.Paths["unified"]
	if dir == "" {
		return ""
	}
	return filepath.Join(dir, "memory.events")
}

func (r *Runtime) Pids(id string) ([]int, error) {
	c, err := r.load(id)
	if err != nil {
		return nil, err
	}
	return c.Processes()
}

func (r *Runtime) Wait(pid int) int {
	code, _ := r.reaper.Wait(pid)
	return code
}

func (r *Runtime) Signal(pid int, sig unix.Signal) error {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return fmt.Errorf("process %d: %w", pid, err)
	}
	defer unix.Close(fd)
	return unix.PidfdSendSignal(fd, sig, nil, 0)
}

// oomScoreAdj is a container process's OOM score adjustment: its own, or
// 0. Inherited, it would be the agent's -1000, which makes a container
// that reaches its memory limit unkillable (its cgroup stays at the
// limit, out of memory, forever).
func oomScoreAdj(adj *int) *int {
	if adj != nil {
		return adj
	}
	zero := 0
	return &zero
}
