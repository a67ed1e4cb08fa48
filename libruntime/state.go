package libruntime

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/cgroups"
	"github.com/husk-runtime/husk/specs"
)

const (
	stateFile  = "state.json"
	configFile = "config.json"
	startSock  = "start.sock"
)

// State is what husk keeps about a container, in <root>/<id>/state.json.
// It records facts only; the status is derived from the live process each
// time it is asked for.
type State struct {
	ID          string            `json:"id"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Owner       string            `json:"owner"`
	Annotations map[string]string `json:"annotations,omitempty"`

	// The container's init, identified by pid and start time so a recycled
	// pid is never mistaken for it.
	InitPid   int    `json:"initPid,omitempty"`
	InitStart uint64 `json:"initStart,omitempty"`
	// The husk process creating the container, while it does.
	CreatorPid   int    `json:"creatorPid,omitempty"`
	CreatorStart uint64 `json:"creatorStart,omitempty"`

	// PidNS: the container has its own pid namespace, so its processes die
	// with its init.
	PidNS bool `json:"pidns"`
	// HostMounts: without a mount namespace the container's mounts are
	// made in the host's; these are the IDs of those husk made, for
	// delete (their paths may have changed by then).
	HostMounts []int `json:"hostMounts,omitempty"`
	// HostMountsBefore: the IDs of the host's mounts under Rootfs before
	// create made any, kept until create finishes so a killed create can
	// be undone. Not omitempty: an empty list (no mounts before) differs
	// from none.
	HostMountsBefore []int         `json:"hostMountsBefore"`
	Cgroup           cgroups.State `json:"cgroup"`
	// Ready: create finished; the init waits for start (or ran).
	Ready bool `json:"ready,omitempty"`
	// Hooks are the config's hooks (start and delete run some). The whole
	// config is kept apart, in configFile, for the commands that need it:
	// decoding an OCI spec costs a cold process over a millisecond.
	Hooks *rspec.Hooks `json:"hooks,omitempty"`
}

// lockedDir is an open container directory holding its flock.
type lockedDir struct {
	f    *os.File
	path string
}

// lockDir locks a container's directory, creating it if create is set.
// A directory removed while we waited for the lock is reported as gone.
func lockDir(path string, create bool) (*lockedDir, error) {
	if create {
		if err := os.Mkdir(path, 0o711); err != nil {
			if errors.Is(err, os.ErrExist) {
				return nil, ErrExist
			}
			return nil, fmt.Errorf("create %s: %w", path, err)
		}
	}
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, ErrNotExist
		}
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil || st.Nlink == 0 {
		f.Close()
		return nil, ErrNotExist
	}
	return &lockedDir{f: f, path: path}, nil
}

func (d *lockedDir) unlock() {
	d.f.Close()
}

// lock takes the container's lock and re-reads its state, which may have
// changed while we waited. The caller unlocks.
func (c *Container) lock() (*lockedDir, error) {
	d, err := lockDir(c.dir, false)
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", c.id, err)
	}
	if st, err := readState(c.dir); err == nil {
		c.state = st
	}
	return d, nil
}

// writeState replaces state.json atomically: readers never see half a file.
func writeState(dir string, st *State) error {
	data, err := encodeState(st)
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	return writeAtomic(dir, stateFile, data)
}

// writeAtomic replaces dir/name with data through a rename.
func writeAtomic(dir, name string, data []byte) error {
	tmp, err := os.CreateTemp(dir, "."+name+"-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, name)); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

func readState(dir string) (*State, error) {
	data, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			if _, derr := os.Stat(dir); derr == nil {
				// The directory exists but its creator has not written the
				// first state yet (or was killed before it could).
				return &State{}, nil
			}
			return nil, ErrNotExist
		}
		return nil, fmt.Errorf("read state: %w", err)
	}
	st, err := decodeState(data)
	if err != nil {
		return nil, fmt.Errorf("read state %s: %w", filepath.Join(dir, stateFile), err)
	}
	return st, nil
}

// removeDir deletes a container's directory and everything in it.
func removeDir(path string) error {
	if err := os.RemoveAll(path); err != nil && !errors.Is(err, syscall.ENOENT) {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	return nil
}

// Config reads the config the container was created with.
func (c *Container) Config() (*rspec.Spec, error) {
	data, err := os.ReadFile(filepath.Join(c.dir, configFile))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("container %s has no recorded config (its create did not finish)", c.id)
		}
		return nil, fmt.Errorf("read config of %s: %w", c.id, err)
	}
	s, err := specs.Decode(data)
	if err != nil {
		return nil, fmt.Errorf("read config of %s: %w", c.id, err)
	}
	return s, nil
}

func writeConfig(dir string, s *rspec.Spec) error {
	data, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("encode config: %w", err)
	}
	return writeAtomic(dir, configFile, data)
}
