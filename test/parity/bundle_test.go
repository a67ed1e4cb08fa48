package parity

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/husk-runtime/husk/internal/testbundle"
)

// Bundle is one runtime's copy of a case: its directory, the bundle in
// it, the state root, the container IDs and cgroup paths.
type Bundle struct {
	Dir     string // the runtime's directory of the case
	Path    string // Dir/bundle
	Rootfs  string // Path/rootfs
	Root    string // the runtime's --root
	ID, ID2 string // container IDs (the second for cases with two containers)
	Cgroup  string // cgroupsPath of the container ("/parity-...-cg")
	Cgroup2 string // cgroupsPath of the second container
	NetDev  string // a host network device name for netDevices cases
}

func newBundle(work string, index int, tag string) (*Bundle, error) {
	name := fmt.Sprintf("parity-%d-%d-%s", os.Getpid(), index, tag)
	dir := filepath.Join(work, fmt.Sprintf("c%d", index), tag)
	b := &Bundle{
		Dir: dir, Path: filepath.Join(dir, "bundle"), Root: filepath.Join(dir, "root"),
		ID: name, ID2: name + "-2", Cgroup: "/" + name + "-cg", Cgroup2: "/" + name + "-2-cg",
		// Interface names have at most 15 characters.
		NetDev: fmt.Sprintf("pd%d%s%d", index, tag, os.Getpid()%10000),
	}
	b.Rootfs = filepath.Join(b.Path, "rootfs")
	for _, d := range []string{dir, b.Path} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("bundle directory: %w", err)
		}
		if err := os.Chmod(d, 0o755); err != nil {
			return nil, err
		}
	}
	if err := testbundle.Rootfs(b.Rootfs); err != nil {
		return nil, fmt.Errorf("rootfs: %w", err)
	}
	return b, nil
}

// Fill replaces the placeholders in s.
func (b *Bundle) Fill(s string) string {
	return strings.NewReplacer(
		"{dir}", b.Dir, "{bundle}", b.Path, "{rootfs}", b.Rootfs, "{root}", b.Root,
		"{id2}", b.ID2, "{id}", b.ID, "{cgroup2}", b.Cgroup2, "{cgroup}", b.Cgroup, "{netdev}", b.NetDev,
	).Replace(s)
}

// FillAll replaces the placeholders in each string.
func (b *Bundle) FillAll(in []string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = b.Fill(s)
	}
	return out
}

// normaliser replaces this bundle's names by placeholders in outputs.
// Binds from the case's directory show it, in mountinfo's root field,
// relative to its filesystem: those paths are replaced too.
func (b *Bundle) normaliser(runtimeBin string) *Normaliser {
	names := map[string]string{
		b.Dir: "<dir>", b.Path: "<bundle>", b.Root: "<root>",
		b.ID: "<id>", b.ID2: "<id2>", b.Cgroup: "<cgroup>", b.Cgroup2: "<cgroup2>",
		b.NetDev: "<netdev>", runtimeBin: "<runtime>",
	}
	if e := &theEnv; e.workInFS != "" && e.workInFS != e.work {
		for _, p := range []string{b.Dir, b.Path, b.Root} {
			if rel, err := filepath.Rel(e.work, p); err == nil && !strings.HasPrefix(rel, "..") {
				names[filepath.Join(e.workInFS, rel)] = names[p]
			}
		}
	}
	return NewNormaliser(names)
}

// WriteSpec writes config.json with the placeholders filled.
func (b *Bundle) WriteSpec(s *rspec.Spec) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "\t")
	if err := enc.Encode(s); err != nil {
		return fmt.Errorf("config.json: %w", err)
	}
	return b.WriteFile("{bundle}/config.json", buf.String(), 0o644)
}

// WriteFile writes a file (path with placeholders), making its directory.
func (b *Bundle) WriteFile(path, content string, mode os.FileMode) error {
	p := b.Fill(path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(p, []byte(b.Fill(content)), mode); err != nil {
		return err
	}
	return os.Chmod(p, mode)
}

// InRootfs is the host path of a path in the rootfs.
func (b *Bundle) InRootfs(p string) string { return filepath.Join(b.Rootfs, p) }

// installProbe copies the probe binary to /bin/probe in the rootfs.
func (b *Bundle) installProbe(probe string) error {
	src, err := os.Open(probe)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(b.InRootfs("bin/probe"), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}
