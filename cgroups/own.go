package cgroups

import (
	"fmt"
	"path"
	"strings"
)

// Own returns a Manager of the calling process's own cgroups, one per
// hierarchy. It records nothing as created, so Destroy removes nothing:
// it serves to move a process back to where the caller is (AddProc),
// e.g. the shim out of a pod's cgroup before that cgroup is removed.
func Own(h *Hierarchy) (*Manager, error) {
	own, err := readSelfCgroup()
	if err != nil {
		return nil, err
	}
	paths := map[string]string{}
	add := func(key, mnt string) error {
		p, ok := own[key]
		if !ok {
			return fmt.Errorf("/proc/self/cgroup has no %q entry", key)
		}
		// Outside a cgroup namespace the mount may expose only a subtree.
		if root := h.roots[mnt]; root != "" {
			if p != root && !strings.HasPrefix(p, root+"/") {
				return fmt.Errorf("own %s cgroup %s is outside the mounted subtree %s", key, p, root)
			}
			p = strings.TrimPrefix(p, root)
		}
		paths[key] = path.Join(mnt, p)
		return nil
	}
	for ctrl, mnt := range h.V1 {
		if err := add(ctrl, mnt); err != nil {
			return nil, err
		}
	}
	if h.Unified != "" {
		if err := add(unifiedKey, h.Unified); err != nil {
			return nil, err
		}
	}
	return &Manager{h: h, paths: paths, fs: osFS{}}, nil
}
