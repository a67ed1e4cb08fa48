package systemd

import (
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/husk-runtime/husk/cgroups"
)

// defaultSlice holds containers whose cgroupsPath names no slice, as with
// runc (root, system instance).
const defaultSlice = "system.slice"

// defaultPrefix names the scopes of containers without a cgroupsPath
// ("husk-<id>.scope"; runc makes "runc-<id>.scope").
const defaultPrefix = "husk"

// maxUnitName is systemd's UNIT_NAME_MAX (including the suffix).
const maxUnitName = 255

// Unit is where a container goes: a transient unit in a parent slice.
type Unit struct {
	// Slice is the parent slice: "system.slice",
	// "kubepods-besteffort-pod<uid>.slice", or "-.slice" for the root.
	Slice string
	// Name is the unit: "<prefix>-<name>.scope", or the name itself when
	// it ends in ".slice" (a slice is made instead of a scope, as runc
	// does for a name given that way).
	Name string
}

// IsSlice reports whether the container's unit is a slice, not a scope.
func (u Unit) IsSlice() bool { return strings.HasSuffix(u.Name, ".slice") }

// ParsePath turns linux.cgroupsPath in runc's systemd form
// "slice:prefix:name" into the unit: an empty slice is system.slice, and
// an empty cgroupsPath is "system.slice:husk:<id>".
func ParsePath(cgroupsPath, id string) (Unit, error) {
	if cgroupsPath == "" {
		if id == "" {
			return Unit{}, fmt.Errorf("cannot derive a systemd unit from an empty container id")
		}
		cgroupsPath = defaultSlice + ":" + defaultPrefix + ":" + id
	}
	parts := strings.Split(cgroupsPath, ":")
	if len(parts) != 3 {
		return Unit{}, fmt.Errorf("linux.cgroupsPath %q: the systemd cgroup driver expects \"slice:prefix:name\" (e.g. system.slice:docker:<id>)", cgroupsPath)
	}
	slice, prefix, name := parts[0], parts[1], parts[2]
	if slice == "" {
		slice = defaultSlice
	}
	if _, err := ExpandSlice(slice); err != nil {
		return Unit{}, fmt.Errorf("linux.cgroupsPath %q: %w", cgroupsPath, err)
	}
	if name == "" {
		return Unit{}, fmt.Errorf("linux.cgroupsPath %q: the name part is empty", cgroupsPath)
	}
	u := Unit{Slice: slice, Name: name}
	if !u.IsSlice() {
		// As runc: the prefix and the dash are kept even when the prefix
		// is empty, so both runtimes name the same unit.
		u.Name = prefix + "-" + name + ".scope"
	} else if _, err := ExpandSlice(name); err != nil {
		return Unit{}, fmt.Errorf("linux.cgroupsPath %q: %w", cgroupsPath, err)
	}
	if err := checkUnitName(u.Name); err != nil {
		return Unit{}, fmt.Errorf("linux.cgroupsPath %q: %w", cgroupsPath, err)
	}
	return u, nil
}

// checkUnitName applies systemd's rules for unit names
// (unit_name_is_valid): at most 255 bytes of [A-Za-z0-9:_.\-] and "\\".
func checkUnitName(name string) error {
	if len(name) > maxUnitName {
		return fmt.Errorf("unit name %q is longer than %d bytes", name, maxUnitName)
	}
	for _, c := range []byte(name) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(":_.-\\", c) >= 0
		if !ok {
			return fmt.Errorf("unit name %q: character %q is not allowed by systemd", name, c)
		}
	}
	return nil
}

// ExpandSlice returns the cgroup path of a slice: systemd nests slices by
// the dashes in their names, so "a-b-c.slice" is
// "/a.slice/a-b.slice/a-b-c.slice" and "-.slice" (the root) is "/".
func ExpandSlice(slice string) (string, error) {
	const suffix = ".slice"
	base, ok := strings.CutSuffix(slice, suffix)
	if !ok || base == "" || strings.Contains(slice, "/") {
		return "", fmt.Errorf("invalid slice name %q (want e.g. system.slice or kubepods-burstable.slice)", slice)
	}
	if base == "-" {
		return "/", nil
	}
	var b strings.Builder
	prefix := ""
	for comp := range strings.SplitSeq(base, "-") {
		if comp == "" {
			return "", fmt.Errorf("invalid slice name %q: empty component between dashes", slice)
		}
		b.WriteString("/" + prefix + comp + suffix)
		prefix += comp + "-"
	}
	return b.String(), nil
}

// Paths returns the container's directory in every mounted hierarchy:
// systemd puts a unit at <mount>/<expanded slice>/<unit> in each (the
// keys are those of cgroups.State.Paths: v1 controllers, "unified").
func Paths(h *cgroups.Hierarchy, u Unit) (map[string]string, error) {
	if h == nil || (h.Unified == "" && len(h.V1) == 0) {
		return nil, fmt.Errorf("no cgroup hierarchy mounted")
	}
	sl, err := ExpandSlice(u.Slice)
	if err != nil {
		return nil, err
	}
	rel := path.Join(sl, u.Name)
	paths := make(map[string]string, len(h.V1)+1)
	for _, c := range slices.Sorted(maps.Keys(h.V1)) {
		paths[c] = path.Join(h.V1[c], rel)
	}
	if h.Unified != "" {
		paths[unifiedKey] = path.Join(h.Unified, rel)
	}
	return paths, nil
}

// unifiedKey is the cgroups.State.Paths key of the cgroup2 directory.
const unifiedKey = "unified"
