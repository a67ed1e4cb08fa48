package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"

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
		_, err := os.Stat(filepath.Join(global["root"].s, pos[0], vmStateFile))
		return err == nil
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

// execVM replaces husk with husk-vm: the one next to husk (after
// symlinks), else the one on PATH.
func execVM() error {
	path := ""
	if exe, err := os.Executable(); err == nil {
		if real, err := filepath.EvalSymlinks(exe); err == nil {
			exe = real
		}
		if p := filepath.Join(filepath.Dir(exe), "husk-vm"); isExecutable(p) {
			path = p
		}
	}
	if path == "" {
		p, err := exec.LookPath("husk-vm")
		if err != nil {
			return fmt.Errorf("a VM container needs husk-vm, installed next to husk or on PATH: %w", err)
		}
		path = p
	}
	return syscall.Exec(path, append([]string{"husk-vm"}, os.Args[1:]...), os.Environ())
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}
