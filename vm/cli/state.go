package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Files in a VM container's state directory (<root>/<id>).
const (
	stateFile  = "vm.json"
	socketFile = "agent.sock"
	vmDir      = "vm"
)

// state is what husk keeps about a VM container. The container's status
// comes from the agent while its supervisor lives.
type state struct {
	ID          string            `json:"id"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Annotations map[string]string `json:"annotations,omitempty"`
	// The supervisor: the process that owns qemu and the agent's
	// connection, by pid and start time.
	Pid      int    `json:"pid"`
	PidStart uint64 `json:"pidStart"`
	// Once the container has stopped.
	Stopped    bool   `json:"stopped,omitempty"`
	ExitStatus int    `json:"exitStatus,omitempty"`
	Error      string `json:"error,omitempty"`
}

func readState(dir string) (*state, error) {
	data, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return nil, err
	}
	var st state
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, stateFile), err)
	}
	return &st, nil
}

func writeState(dir string, st *state) error {
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, stateFile+".tmp")
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, stateFile))
}

// supervisorAlive: the recorded supervisor still runs (a recycled pid
// does not count).
func (st *state) supervisorAlive() bool {
	return st.Pid > 0 && startTime(st.Pid) == st.PidStart
}

// startTime is a process's start time in clock ticks after boot (0 if
// it is gone).
func startTime(pid int) uint64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	i := strings.LastIndexByte(string(data), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 20 {
		return 0
	}
	v, _ := strconv.ParseUint(f[19], 10, 64)
	return v
}

// waitGone waits until pid (started at start) has exited.
func waitGone(pid int, start uint64, timeout time.Duration) bool {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return true
	}
	defer unix.Close(fd)
	if startTime(pid) != start {
		return true
	}
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); {
		n, err := unix.Poll(fds, int(time.Until(deadline).Milliseconds())+1)
		if err == unix.EINTR {
			continue
		}
		return err == nil && n > 0
	}
	return false
}

// ociState is `husk state` of a VM container: runc's fields; pid is the
// supervisor's, the host process that stands for the container.
type ociState struct {
	OCIVersion  string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Pid         int               `json:"pid"`
	Status      string            `json:"status"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Owner       string            `json:"owner"`
}

func (st *state) oci(status string) ociState {
	pid := st.Pid
	if status == "stopped" {
		pid = 0
	}
	return ociState{OCIVersion: rspec.Version, ID: st.ID, Pid: pid, Status: status, Bundle: st.Bundle,
		Rootfs: st.Rootfs, Created: st.Created, Annotations: st.Annotations, Owner: ""}
}
