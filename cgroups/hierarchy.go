// Package cgroups places containers in cgroups and applies OCI resource
// limits by writing cgroupfs files directly, for cgroup v1, cgroup v2 and
// hybrid hosts.
//
// The package deliberately depends on nothing heavier than x/sys/unix and
// the runtime-spec types: the husk CLI runs once per create/start/delete, so
// package initialisation cost is paid on every container operation.
package cgroups

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Mode is the cgroup layout of a host.
type Mode int

const (
	// Legacy hosts mount only cgroup v1 hierarchies.
	Legacy Mode = iota
	// Hybrid hosts mount v1 controllers plus a cgroup2 hierarchy (usually
	// at /sys/fs/cgroup/unified) that holds the controllers not bound to v1.
	Hybrid
	// Unified hosts mount only cgroup2.
	Unified
)

func (m Mode) String() string {
	switch m {
	case Legacy:
		return "legacy"
	case Hybrid:
		return "hybrid"
	case Unified:
		return "unified"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Hierarchy is what the host mounts, read once from /proc/self/mountinfo.
type Hierarchy struct {
	// V1 maps each v1 controller (and named hierarchies such as
	// "name=systemd") to its mountpoint. Co-mounted controllers
	// (cpu,cpuacct) map to the same mountpoint.
	V1 map[string]string
	// V1Mounts are the v1 mountpoints in the host's mount order.
	V1Mounts []string
	// Unified is the cgroup2 mountpoint, "" if none.
	Unified string

	// roots maps a mountpoint to the cgroup path it exposes (mountinfo
	// field 4) when that is not "/": outside a cgroup namespace a
	// container's /sys/fs/cgroup/memory may show only /docker/<id>, and
	// /proc/self/cgroup paths must then be made relative to it.
	roots map[string]string
}

// Mode reports the host layout. A Hierarchy without any mount reports
// Legacy; Detect never returns one.
func (h *Hierarchy) Mode() Mode {
	switch {
	case h.Unified == "":
		return Legacy
	case len(h.V1) == 0:
		return Unified
	default:
		return Hybrid
	}
}

// Detect reads /proc/self/mountinfo once and returns the cgroup mounts.
func Detect() (*Hierarchy, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("detect cgroups: %w", err)
	}
	defer f.Close()
	h, err := parseMountinfo(f)
	if err != nil {
		return nil, fmt.Errorf("detect cgroups: /proc/self/mountinfo: %w", err)
	}
	return h, nil
}

// isV1MountOption reports whether a cgroup v1 super option is a mount
// flag rather than a controller or "name=" hierarchy.
func isV1MountOption(opt string) bool {
	switch opt {
	case "rw", "ro", "none", "all", "noprefix", "clone_children",
		"cpuset_v2_mode", "xattr", "favordynmods", "nofavordynmods":
		return true
	}
	return strings.HasPrefix(opt, "release_agent=")
}

func parseMountinfo(r io.Reader) (*Hierarchy, error) {
	h := &Hierarchy{V1: map[string]string{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		// Cheap filter before splitting: most mounts are not cgroups.
		sep := bytes.Index(line, []byte(" - cgroup"))
		if sep < 0 {
			continue
		}
		// After the separator: fstype source superoptions.
		post := strings.Fields(string(line[sep+3:]))
		if len(post) < 3 || (post[0] != "cgroup" && post[0] != "cgroup2") {
			continue
		}
		// Before it: id parent major:minor root mountpoint options [optional...].
		pre := strings.Fields(string(line[:sep]))
		if len(pre) < 5 {
			return nil, fmt.Errorf("malformed line %q", line)
		}
		root, mnt := unescapeMountinfo(pre[3]), unescapeMountinfo(pre[4])
		if post[0] == "cgroup2" {
			if h.Unified != "" {
				continue // keep the first mount; later ones are usually bind mounts
			}
			h.Unified = mnt
		} else {
			added := false
			for opt := range strings.SplitSeq(post[2], ",") {
				if isV1MountOption(opt) {
					continue
				}
				if _, dup := h.V1[opt]; dup {
					continue
				}
				h.V1[opt] = mnt
				added = true
			}
			if !added {
				continue
			}
			h.V1Mounts = append(h.V1Mounts, mnt)
		}
		if root != "/" {
			if h.roots == nil {
				h.roots = map[string]string{}
			}
			h.roots[mnt] = root
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if h.Unified == "" && len(h.V1) == 0 {
		return nil, errors.New("no cgroup or cgroup2 filesystem mounted")
	}
	return h, nil
}

// unescapeMountinfo undoes the kernel's octal escaping of space, tab,
// newline and backslash in mountinfo paths.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }
