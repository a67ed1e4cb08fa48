package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"

	"github.com/husk-runtime/husk/libruntime"
	"github.com/husk-runtime/husk/specs"
)

// Containers in microVMs are husk-vm's: husk executes it, with the same
// command line, for `--vm`, for a bundle whose config.json has the
// annotation io.husk.vm=true, and for commands on a VM container (its
// state directory holds vm.json). husk-vm is a binary of its own because
// its protocol (ttrpc, protobuf) would cost every husk command ~1.8 ms
// of package initialisation.

const (
	vmAnnotation = "io.husk.vm"
	vmStateFile  = "vm.json"
)

// wantsVM tells whether a parsed command line is for husk-vm.
func wantsVM(cmd *command, global, values map[string]*flagValue, pos []string) bool {
	switch cmd.name {
	case "create", "run":
		return boolean(values["vm"].s) || bundleWantsVM(values["bundle"].s)
	case "start", "exec", "kill", "delete", "state", "pause", "resume", "ps", "update", "events":
		if len(pos) == 0 || specs.ValidateID(pos[0]) != nil {
			return false
		}
		return isVMContainer(global["root"].s, pos[0])
	}
	return false
}

// bundleWantsVM: the config's annotations ask for a VM. Configs that do
// not mention the annotation are not decoded.
func bundleWantsVM(bundle string) bool {
	data, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil || !bytes.Contains(data, []byte(vmAnnotation)) {
		return false
	}
	var c struct {
		Annotations map[string]string `json:"annotations"`
	}
	return json.Unmarshal(data, &c) == nil && c.Annotations[vmAnnotation] == "true"
}

// execVM replaces husk with husk-vm.
func execVM() error {
	path, err := vmBinary()
	if err != nil {
		return err
	}
	return syscall.Exec(path, append([]string{"husk-vm"}, os.Args[1:]...), os.Environ())
}

// vmBinary is husk-vm: the one next to husk (after symlinks), else the
// one on PATH.
func vmBinary() (string, error) {
	if exe, err := os.Executable(); err == nil {
		if real, err := filepath.EvalSymlinks(exe); err == nil {
			exe = real
		}
		if p := filepath.Join(filepath.Dir(exe), "husk-vm"); isExecutable(p) {
			return p, nil
		}
	}
	p, err := exec.LookPath("husk-vm")
	if err != nil {
		return "", fmt.Errorf("a VM container needs husk-vm, installed next to husk or on PATH: %w", err)
	}
	return p, nil
}

// isVMContainer: the state directory of container id under root is a VM
// container's.
func isVMContainer(root, id string) bool {
	_, err := os.Stat(filepath.Join(root, id, vmStateFile))
	return err == nil
}

// vmState is a VM container's state as `husk-vm state` reports it.
func vmState(root, id string) (libruntime.OCIState, error) {
	var st libruntime.OCIState
	path, err := vmBinary()
	if err != nil {
		return st, err
	}
	var stderr bytes.Buffer
	cmd := exec.Command(path, "--root", root, "state", id)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return st, fmt.Errorf("state of VM container %s: %w: %s", id, err, bytes.TrimSpace(stderr.Bytes()))
	}
	if err := json.Unmarshal(out, &st); err != nil {
		return st, fmt.Errorf("state of VM container %s: %w", id, err)
	}
	return st, nil
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}
