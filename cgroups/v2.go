package cgroups

import (
	"fmt"
	"path"
	"slices"
	"strings"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// checkV2Controllers checks that an existing container directory, whose
// parent husk did not make and does not change, has the cgroup2
// controllers the resources need.
func (m *Manager) checkV2Controllers(dir string, r *rspec.LinuxResources) error {
	needed := m.neededV2Controllers(r)
	if len(needed) == 0 {
		return nil
	}
	s, err := m.fs.readFile(dir, "cgroup.controllers")
	if err != nil {
		return err
	}
	avail := strings.Fields(s)
	for _, n := range needed {
		if !slices.Contains(avail, n.ctrl) {
			return fmt.Errorf("%s: cgroup2 controller %q is not enabled for %s (its parent's cgroup.subtree_control lacks it)", n.field, n.ctrl, dir)
		}
	}
	return nil
}

// enableV2Controllers makes the controllers the resources need available in
// the container's cgroup2 directory. Only directories husk created get
// their cgroup.subtree_control written; the pre-existing parent must
// already delegate every needed controller. Created intermediate
// directories delegate everything the parent delegates, so that the
// container also gets accounting (memory.current, ...) for stats.
func (m *Manager) enableV2Controllers(created []string, r *rspec.LinuxResources) error {
	needed := m.neededV2Controllers(r)
	if len(created) == 0 || (len(needed) == 0 && len(created) == 1) {
		return nil
	}
	parent := path.Dir(created[0])
	s, err := m.fs.readFile(parent, "cgroup.subtree_control")
	if err != nil {
		return err
	}
	avail := strings.Fields(s)
	for _, n := range needed {
		if !slices.Contains(avail, n.ctrl) {
			return fmt.Errorf("%s: cgroup2 controller %q is not enabled in %s/cgroup.subtree_control (not created by husk, so husk will not change it)", n.field, n.ctrl, parent)
		}
	}
	if len(avail) == 0 {
		return nil
	}
	enable := "+" + strings.Join(avail, " +")
	for _, d := range created[:len(created)-1] {
		if err := m.fs.writeFile(d, "cgroup.subtree_control", enable); err != nil {
			return err
		}
	}
	return nil
}
