package vmbackend

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/husk-runtime/husk/cgroups"
	"github.com/husk-runtime/husk/vm/podnet"
)

// podRecord is what a pod's VM made on the host, written before each
// step makes it: should the daemon die (SIGKILL), the delete action
// removes all of it.
type podRecord struct {
	// Dir is the VM's directory (package vm removes it and its mounts).
	Dir string `json:"dir"`
	// Netns and NICs: the taps and redirects made in the pod's network
	// namespace.
	Netns string       `json:"netns,omitempty"`
	NICs  []podnet.NIC `json:"nics,omitempty"`
	// Cgroup is the pod's cgroup on the host, which husk made, holding
	// qemu and the shim.
	Cgroup *cgroups.State `json:"cgroup,omitempty"`
	// Qemu and the daemon, each named by pid and start time.
	QemuPid   int    `json:"qemuPid,omitempty"`
	QemuStart uint64 `json:"qemuStart,omitempty"`
	ShimPid   int    `json:"shimPid"`
	ShimStart uint64 `json:"shimStart"`
}

func writeRecord(path string, r *podRecord) error {
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("pod record: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("pod record: %w", err)
	}
	return nil
}

// recordMax bounds a record read back.
const recordMax = 1 << 20

func readRecord(path string) (*podRecord, error) {
	if !filepath.IsAbs(path) || filepath.Clean(path) != path || !strings.HasSuffix(path, ".json") {
		return nil, fmt.Errorf("pod record %q: not a record path", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r podRecord
	if err := json.NewDecoder(io.LimitReader(f, recordMax)).Decode(&r); err != nil {
		return nil, fmt.Errorf("pod record %s: %w", path, err)
	}
	if r.Dir == "" || !filepath.IsAbs(r.Dir) {
		return nil, fmt.Errorf("pod record %s: no VM directory", path)
	}
	return &r, nil
}

// taskPodFile, in a task's state directory, names its pod's record.
const taskPodFile = "pod"
