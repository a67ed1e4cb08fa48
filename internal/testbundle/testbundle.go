// Package testbundle builds OCI bundles for the demo and the tests: a
// rootfs made from Debian's busybox-static and husk's default config.
package testbundle

import (
	"bytes"
	"debug/elf"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/husk-runtime/husk/specs"
)

// Busybox returns the path of a static busybox, or an error saying which
// package to install.
func Busybox() (string, error) {
	path, err := exec.LookPath("busybox")
	if err != nil {
		return "", fmt.Errorf("no busybox: install busybox-static")
	}
	f, err := elf.Open(path)
	if err != nil {
		return "", fmt.Errorf("busybox %s: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return "", fmt.Errorf("busybox %s is dynamically linked: install busybox-static", path)
		}
	}
	return path, nil
}

// Rootfs fills dir with a busybox rootfs: the applets as hard links (so
// the rootfs also works where symlinks are resolved strictly), /etc/passwd
// and /etc/group with root and nobody.
func Rootfs(dir string) error {
	bb, err := Busybox()
	if err != nil {
		return err
	}
	for _, d := range []string{"bin", "dev", "etc", "proc", "sys", "tmp", "root"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	if err := os.Chmod(filepath.Join(dir, "tmp"), 0o1777); err != nil {
		return err
	}
	data, err := os.ReadFile(bb)
	if err != nil {
		return err
	}
	bin := filepath.Join(dir, "bin", "busybox")
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		return err
	}
	out, err := exec.Command(bb, "--list").Output()
	if err != nil {
		return fmt.Errorf("busybox --list: %w", err)
	}
	for _, applet := range strings.Fields(string(out)) {
		if applet == "busybox" {
			continue
		}
		if err := os.Link(bin, filepath.Join(dir, "bin", applet)); err != nil && !os.IsExist(err) {
			return err
		}
	}
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
		"etc/group":  "root:x:0:\ntty:x:5:\nnogroup:x:65534:\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Config is husk's default config running args without a terminal.
func Config(args ...string) *rspec.Spec {
	s := specs.Default(false)
	s.Process.Terminal = false
	if len(args) > 0 {
		s.Process.Args = args
	}
	return s
}

// Write builds a bundle in dir with a fresh rootfs and the given config.
func Write(dir string, s *rspec.Spec) error {
	if err := Rootfs(filepath.Join(dir, "rootfs")); err != nil {
		return err
	}
	return WriteConfig(dir, s)
}

// WriteConfig (re)writes dir/config.json.
func WriteConfig(dir string, s *rspec.Spec) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "\t")
	if err := enc.Encode(s); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "config.json"), b.Bytes(), 0o644)
}
