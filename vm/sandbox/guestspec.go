package sandbox

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// binder binds a host path into the VM's shared directory under a name of
// husk's choosing and returns where the guest sees it.
type binder func(name, src string, readonly bool) (string, error)

// guestSpec rewrites a container's config for the guest: the rootfs and
// the sources of bind mounts become their places in the shared directory;
// what names host objects that the guest cannot reach is refused: a
// namespace path, unless guestNS says the caller made it the guest's.
func guestSpec(spec *rspec.Spec, bundle string, guestNS bool, bind binder) (*rspec.Spec, error) {
	s := *spec
	if s.Root == nil || s.Root.Path == "" {
		return nil, errors.New("config.json: root.path is required")
	}
	if h := s.Hooks; h != nil && (len(h.Prestart)+len(h.CreateRuntime)+len(h.CreateContainer)+
		len(h.StartContainer)+len(h.Poststart)+len(h.Poststop) > 0) {
		return nil, errors.New("config.json: hooks: not supported in a VM (a hook would run in the guest, away from the host it expects)")
	}
	if l := s.Linux; l != nil {
		lc := *l
		for i, ns := range l.Namespaces {
			if ns.Path != "" && !guestNS {
				return nil, fmt.Errorf("config.json: linux.namespaces[%d]: %s: joining a namespace of the host is impossible in a VM", i, ns.Path)
			}
		}
		// The guest's own cgroup tree: the host's path means nothing there.
		lc.CgroupsPath = ""
		s.Linux = &lc
	}
	root := s.Root.Path
	if !filepath.IsAbs(root) {
		root = filepath.Join(bundle, root)
	}
	guestRoot, err := bind(rootfsName, root, s.Root.Readonly)
	if err != nil {
		return nil, fmt.Errorf("root.path %s: %w", root, err)
	}
	s.Root = &rspec.Root{Path: guestRoot, Readonly: s.Root.Readonly}
	s.Mounts = slices.Clone(spec.Mounts)
	for i, m := range s.Mounts {
		if !isBind(m) {
			continue
		}
		src := m.Source
		if !filepath.IsAbs(src) {
			src = filepath.Join(bundle, src)
		}
		ro := slices.Contains(m.Options, "ro")
		g, err := bind("mounts/"+strconv.Itoa(i), src, ro)
		if err != nil {
			return nil, fmt.Errorf("config.json: mounts[%d] (%s): %w", i, m.Destination, err)
		}
		s.Mounts[i].Source = g
	}
	return &s, nil
}

// rootfsName is the rootfs's name in the share.
const rootfsName = "rootfs"

func isBind(m rspec.Mount) bool {
	if m.Type == "bind" {
		return true
	}
	return slices.Contains(m.Options, "bind") || slices.Contains(m.Options, "rbind")
}
