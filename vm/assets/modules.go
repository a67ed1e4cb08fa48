package assets

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Module groups: the agent loads a group's modules when the kernel
// command line asks for it (husk.load=mmio,serial,9p), in the order of its
// list, dependencies first. A module in several groups is loaded once.
var moduleGroups = map[string][]string{
	"mmio":     {"virtio_mmio"},
	"pci":      {"virtio_pci"},
	"serial":   {"virtio_console"},
	"vsock":    {"vmw_vsock_virtio_transport"},
	"9p":       {"9pnet_virtio", "9p"},
	"virtiofs": {"virtiofs"},
	"balloon":  {"virtio_balloon"},
	"net":      {"virtio_net"},
}

// moduleIndex maps module names (with '_', as the kernel names them) to
// their files under a kernel's module directory.
type moduleIndex map[string]string

func indexModules(dir string) (moduleIndex, error) {
	idx := moduleIndex{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".ko") {
			idx[modName(filepath.Base(p))] = p
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("index kernel modules in %s: %w", dir, err)
	}
	return idx, nil
}

func modName(file string) string {
	return strings.ReplaceAll(strings.TrimSuffix(file, ".ko"), "-", "_")
}

// resolve returns names and every module they depend on, each after its
// dependencies. deps gives a module's direct dependencies.
func resolve(names []string, deps func(string) ([]string, error)) ([]string, error) {
	var order []string
	state := map[string]int{} // 1: visiting, 2: done
	var visit func(n string, chain []string) error
	visit = func(n string, chain []string) error {
		switch state[n] {
		case 1:
			return fmt.Errorf("module dependency cycle: %s", strings.Join(append(chain, n), " -> "))
		case 2:
			return nil
		}
		state[n] = 1
		ds, err := deps(n)
		if err != nil {
			return err
		}
		for _, d := range ds {
			if err := visit(d, append(chain, n)); err != nil {
				return err
			}
		}
		state[n] = 2
		order = append(order, n)
		return nil
	}
	for _, n := range names {
		if err := visit(n, nil); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// dependsOf reads the "depends=" entry of a module's .modinfo section.
func dependsOf(data []byte) ([]string, error) {
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	sec := f.Section(".modinfo")
	if sec == nil {
		return nil, errors.New("no .modinfo section")
	}
	info, err := sec.Data()
	if err != nil {
		return nil, err
	}
	for _, kv := range bytes.Split(info, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte("depends=")); ok {
			if len(v) == 0 {
				return nil, nil
			}
			return strings.Split(string(v), ","), nil
		}
	}
	return nil, nil
}

const sigMagic = "~Module signature appended~\n"

// stripSignature removes a module's appended signature. Debian signs its
// modules but does not enforce signatures; checking one costs the guest
// an RSA verification per module, slow under emulation.
func stripSignature(data []byte) ([]byte, error) {
	if !bytes.HasSuffix(data, []byte(sigMagic)) {
		return data, nil
	}
	// struct module_signature: algo, hash, id_type, signer_len,
	// key_id_len (1 byte each), 3 bytes of padding, sig_len (be32).
	end := len(data) - len(sigMagic)
	if end < 12 {
		return nil, errors.New("truncated module signature")
	}
	ms := data[end-12 : end]
	n := int(ms[3]) + int(ms[4]) + int(binary.BigEndian.Uint32(ms[8:]))
	if n > end-12 {
		return nil, errors.New("module signature longer than the module")
	}
	return data[:end-12-n], nil
}

// guestModule is one module file put in the initramfs.
type guestModule struct {
	name string
	data []byte
}

// collectModules resolves the groups' modules in a kernel's module
// directory and returns them (signatures stripped) with each group's load
// order.
func collectModules(moddir string) ([]guestModule, map[string][]string, error) {
	idx, err := indexModules(moddir)
	if err != nil {
		return nil, nil, err
	}
	files := map[string][]byte{}
	deps := func(n string) ([]string, error) {
		p, ok := idx[n]
		if !ok {
			return nil, fmt.Errorf("module %s not found in %s", n, moddir)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		ds, err := dependsOf(data)
		if err != nil {
			return nil, fmt.Errorf("module %s: %w", p, err)
		}
		if files[n], err = stripSignature(data); err != nil {
			return nil, fmt.Errorf("module %s: %w", p, err)
		}
		return ds, nil
	}
	lists := map[string][]string{}
	for group, names := range moduleGroups {
		order, err := resolve(names, deps)
		if err != nil {
			return nil, nil, fmt.Errorf("module group %s: %w", group, err)
		}
		lists[group] = order
	}
	var mods []guestModule
	for n, data := range files {
		mods = append(mods, guestModule{n, data})
	}
	return mods, lists, nil
}
