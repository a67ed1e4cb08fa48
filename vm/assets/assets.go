// Package assets finds and builds the guest side of husk's microVMs: an
// ELF kernel for direct PVH boot (Debian's linux-image-amd64, unpacked from
// its bzImage) and an uncompressed initramfs whose /init is husk-agent,
// with the few virtio modules the agent loads. Nothing is downloaded at
// run time: `make vm-assets` builds them once into a cache directory.
package assets

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// DefaultDir is where `make vm-assets` puts the assets.
const DefaultDir = "/var/cache/husk/vm"

// DirEnv overrides DefaultDir.
const DirEnv = "HUSK_VM_ASSETS"

// File names in the asset directory.
const (
	KernelFile   = "vmlinux"
	InitrdFile   = "initrd.cpio"
	ManifestFile = "manifest.json"
)

// Manifest describes a set of assets.
type Manifest struct {
	KernelVersion string    `json:"kernelVersion"` // uname -r of the guest
	KernelPackage string    `json:"kernelPackage"` // the Debian package it came from
	AgentVersion  string    `json:"agentVersion"`
	Built         time.Time `json:"built"`
	// ModuleGroups: the modules of each group, in load order.
	ModuleGroups map[string][]string `json:"moduleGroups"`
}

// Assets is a usable set of guest assets.
type Assets struct {
	Dir      string
	Kernel   string
	Initrd   string
	Manifest Manifest
}

// Dir returns the asset directory: $HUSK_VM_ASSETS, else DefaultDir.
func Dir() string {
	if d := os.Getenv(DirEnv); d != "" {
		return d
	}
	return DefaultDir
}

// ErrMissing: the assets have not been built.
var ErrMissing = errors.New("guest assets missing (build them with `make vm-assets`)")

// Lookup returns the assets in dir, checking that each file is there.
func Lookup(dir string) (*Assets, error) {
	a := &Assets{Dir: dir, Kernel: filepath.Join(dir, KernelFile), Initrd: filepath.Join(dir, InitrdFile)}
	for _, f := range []string{a.Kernel, a.Initrd} {
		if st, err := os.Stat(f); err != nil || !st.Mode().IsRegular() || st.Size() == 0 {
			return nil, fmt.Errorf("%s: %w", f, ErrMissing)
		}
	}
	data, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, ManifestFile), ErrMissing)
	}
	if err := json.Unmarshal(data, &a.Manifest); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, ManifestFile), err)
	}
	return a, nil
}
