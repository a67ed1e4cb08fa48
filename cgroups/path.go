package cgroups

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path"
	"slices"
	"strings"
)

// unifiedKey is the State.Paths key of the cgroup2 directory.
const unifiedKey = "unified"

// selfCgroupReader returns the calling process's cgroups as
// controller -> path ("unified" for the cgroup2 line). It is a parameter of
// newManager so tests can fake /proc/self/cgroup.
type selfCgroupReader func() (map[string]string, error)

func readSelfCgroup() (map[string]string, error) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	return parseProcCgroup(string(b))
}

// parseProcCgroup parses /proc/<pid>/cgroup: "id:controllers:path" lines,
// where the cgroup2 line is "0::path".
func parseProcCgroup(s string) (map[string]string, error) {
	m := make(map[string]string)
	for line := range strings.SplitSeq(s, "\n") {
		if line == "" {
			continue
		}
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			return nil, fmt.Errorf("malformed /proc/self/cgroup line %q", line)
		}
		if parts[1] == "" {
			m[unifiedKey] = parts[2]
			continue
		}
		for c := range strings.SplitSeq(parts[1], ",") {
			m[c] = parts[2]
		}
	}
	return m, nil
}

// resolvePaths computes the container's directory in every mounted
// hierarchy without touching the filesystem (except reading
// /proc/self/cgroup through self, and only for relative paths).
//
// As with runc, an empty cgroupsPath is the relative path <id>, and a
// relative path is joined to the caller's own cgroup in each hierarchy;
// on a unified (cgroup v2 only) host to the parent of the caller's
// cgroup, because the caller's own holds processes (husk itself), so
// cgroup v2 would let it have no child with controllers enabled.
func resolvePaths(h *Hierarchy, cgroupsPath, id string, self selfCgroupReader) (map[string]string, error) {
	if h == nil || (h.Unified == "" && len(h.V1) == 0) {
		return nil, errors.New("no cgroup hierarchy mounted")
	}
	inner := cgroupsPath
	if inner == "" {
		if id == "" || strings.Contains(id, "/") || id == "." || id == ".." {
			return nil, fmt.Errorf("cannot derive a cgroup path from container id %q", id)
		}
		inner = id
	}
	for c := range strings.SplitSeq(inner, "/") {
		if c == ".." {
			return nil, fmt.Errorf("linux.cgroupsPath %q: must not contain \"..\"", cgroupsPath)
		}
	}
	abs := strings.HasPrefix(inner, "/")
	inner = path.Clean(inner)
	if inner == "/" || inner == "." {
		// The container would share the hierarchy root or the caller's own
		// cgroup, neither of which husk may modify or remove.
		return nil, fmt.Errorf("linux.cgroupsPath %q: names an existing cgroup, not a container cgroup", cgroupsPath)
	}

	var own map[string]string
	if !abs {
		var err error
		if own, err = self(); err != nil {
			return nil, fmt.Errorf("linux.cgroupsPath %q is relative: reading own cgroup: %w", cgroupsPath, err)
		}
	}
	join := func(key, mnt string) (string, error) {
		if abs {
			return path.Join(mnt, inner), nil
		}
		parent, ok := own[key]
		if !ok {
			return "", fmt.Errorf("linux.cgroupsPath %q is relative but /proc/self/cgroup has no %q entry", cgroupsPath, key)
		}
		// Outside a cgroup namespace the mount may expose only a subtree.
		if root := h.roots[mnt]; root != "" {
			if parent != root && !strings.HasPrefix(parent, root+"/") {
				return "", fmt.Errorf("own %s cgroup %s is outside the mounted subtree %s", key, parent, root)
			}
			parent = strings.TrimPrefix(parent, root)
		}
		if h.Mode() == Unified {
			parent = path.Dir(path.Join("/", parent))
		}
		return path.Join(mnt, parent, inner), nil
	}

	paths := make(map[string]string, len(h.V1)+1)
	for _, ctrl := range slices.Sorted(maps.Keys(h.V1)) {
		p, err := join(ctrl, h.V1[ctrl])
		if err != nil {
			return nil, err
		}
		paths[ctrl] = p
	}
	if h.Unified != "" {
		p, err := join(unifiedKey, h.Unified)
		if err != nil {
			return nil, err
		}
		paths[unifiedKey] = p
	}
	return paths, nil
}
