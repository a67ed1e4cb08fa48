package libruntime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/husk-runtime/husk/specs"
)

// Status is a container's lifecycle status.
type Status string

// Statuses, as the OCI runtime spec names them, plus runc's "paused".
const (
	Creating Status = "creating"
	Created  Status = "created"
	Running  Status = "running"
	Stopped  Status = "stopped"
	Paused   Status = "paused"
)

// Container is a handle on one container's state.
type Container struct {
	rt    *Runtime
	id    string
	dir   string
	state *State
	// During create of a container without a mount namespace: the host's
	// mounts under its rootfs before husk made any.
	hostMountsBefore map[int]bool
}

// Load returns the container called id.
func (r *Runtime) Load(id string) (*Container, error) {
	if err := specs.ValidateID(id); err != nil {
		return nil, err
	}
	dir := r.dir(id)
	st, err := readState(dir)
	if err != nil {
		if errors.Is(err, ErrNotExist) {
			return nil, fmt.Errorf("container %s: %w", id, ErrNotExist)
		}
		return nil, err
	}
	return &Container{rt: r, id: id, dir: dir, state: st}, nil
}

// ID returns the container's ID.
func (c *Container) ID() string { return c.id }

// State returns what is recorded about the container.
func (c *Container) State() *State { return c.state }

// Status derives the status from the live processes: the init's pid and
// start time (a recycled pid does not count), the start socket (present
// until start), and the freezer.
func (c *Container) Status() Status {
	st := c.state
	if st.InitPid == 0 {
		if st.CreatorPid != 0 && alive(st.CreatorPid, st.CreatorStart) {
			return Creating
		}
		return Stopped
	}
	if !alive(st.InitPid, st.InitStart) {
		return Stopped
	}
	if _, err := os.Lstat(filepath.Join(c.dir, startSock)); err == nil {
		if !st.Ready {
			return Creating
		}
		// A created container can be paused too (runc can).
		if c.frozen() {
			return Paused
		}
		return Created
	}
	if c.frozen() {
		return Paused
	}
	return Running
}

func (c *Container) frozen() bool {
	if len(c.state.Cgroup.Paths) == 0 {
		return false
	}
	cg, err := c.cgroup()
	if err != nil {
		return false
	}
	f, err := cg.Frozen()
	return err == nil && f
}

// OCIState is a container's state as `husk state` prints it: the OCI
// state plus the fields runc adds (rootfs, created, owner).
type OCIState struct {
	OCIVersion  string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Pid         int               `json:"pid"`
	Status      Status            `json:"status"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Owner       string            `json:"owner"`
}

// OCIState returns the container's state with its current status.
func (c *Container) OCIState() OCIState {
	status := c.Status()
	return c.ociState(status)
}

func (c *Container) ociState(status Status) OCIState {
	st := c.state
	pid := st.InitPid
	if status == Stopped {
		pid = 0
	}
	return OCIState{
		OCIVersion:  rspec.Version,
		ID:          c.id,
		Pid:         pid,
		Status:      status,
		Bundle:      st.Bundle,
		Rootfs:      st.Rootfs,
		Created:     st.Created,
		Annotations: st.Annotations,
		Owner:       st.Owner,
	}
}

// hookState is the state hooks receive on stdin. A stopped container has
// no pid (poststop hooks get none, as from runc).
func (c *Container) hookState(status Status) rspec.State {
	pid := c.state.InitPid
	if status == Stopped {
		pid = 0
	}
	return rspec.State{
		Version:     rspec.Version,
		ID:          c.id,
		Status:      rspec.ContainerState(status),
		Pid:         pid,
		Bundle:      c.state.Bundle,
		Annotations: c.state.Annotations,
	}
}
