package cgroups

import (
	"fmt"
	"path"
	"strings"
)

// initCpuset fills cpuset.cpus and cpuset.mems of newly created v1 cpusets
// (top-down) from their nearest configured ancestor: the kernel leaves them
// empty, and a cpuset without cpus or mems accepts no tasks.
func (m *Manager) initCpuset(created []string, mnt string) error {
	if len(created) == 0 {
		return nil
	}
	var cpus, mems string
	for dir := path.Dir(created[0]); cpus == "" || mems == ""; dir = path.Dir(dir) {
		if mnt == "" || (dir != mnt && !strings.HasPrefix(dir, mnt+"/")) {
			return fmt.Errorf("cpuset: no ancestor of %s has cpuset.cpus and cpuset.mems set", created[0])
		}
		var err error
		if cpus == "" {
			if cpus, err = m.fs.readFile(dir, "cpuset.cpus"); err != nil {
				return err
			}
			cpus = strings.TrimSpace(cpus)
		}
		if mems == "" {
			if mems, err = m.fs.readFile(dir, "cpuset.mems"); err != nil {
				return err
			}
			mems = strings.TrimSpace(mems)
		}
	}
	for _, d := range created {
		if err := m.fs.writeFile(d, "cpuset.cpus", cpus); err != nil {
			return err
		}
		if err := m.fs.writeFile(d, "cpuset.mems", mems); err != nil {
			return err
		}
	}
	return nil
}
