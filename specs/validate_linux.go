package specs

import (
	"slices"
	"strings"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// namespaceTypes are the namespace types of runtime-spec; a type's
// position is its slot in checkNamespaces' table of seen types.
var namespaceTypes = [...]rspec.LinuxNamespaceType{
	rspec.PIDNamespace,
	rspec.NetworkNamespace,
	rspec.MountNamespace,
	rspec.IPCNamespace,
	rspec.UTSNamespace,
	rspec.UserNamespace,
	rspec.CgroupNamespace,
	rspec.TimeNamespace,
}

// checkLinux walks linux.* in the field order of rspec.Linux (the order
// encoders write it in), except that namespaces go first: mappings, sysctls
// and time offsets are judged by them, and a broken namespace entry should
// be reported as itself rather than as its consequences.
func checkLinux(l *rspec.Linux) error {
	if l == nil {
		return nil
	}
	if err := checkNamespaces(l.Namespaces); err != nil {
		return err
	}
	if err := checkUserMappings(l); err != nil {
		return err
	}
	if err := checkSysctl(l); err != nil {
		return err
	}
	if err := checkResources(l.Resources); err != nil {
		return err
	}
	if err := checkDevices(l.Devices); err != nil {
		return err
	}
	if err := checkSeccomp(l.Seccomp); err != nil {
		return err
	}
	if err := checkPropagation(l.RootfsPropagation); err != nil {
		return err
	}
	if err := checkPaths("linux.maskedPaths", l.MaskedPaths); err != nil {
		return err
	}
	if err := checkPaths("linux.readonlyPaths", l.ReadonlyPaths); err != nil {
		return err
	}
	if l.Personality != nil {
		switch l.Personality.Domain {
		case rspec.PerLinux, rspec.PerLinux32:
		default:
			return fieldErrorf("linux.personality.domain", "unknown domain %q (want LINUX or LINUX32)", l.Personality.Domain)
		}
	}
	if err := checkMemoryPolicy(l.MemoryPolicy); err != nil {
		return err
	}
	return checkTimeOffsets(l)
}

// checkMemoryPolicy refuses what runc refuses: an unknown mode or flag,
// nodes that do not parse, nodes for the modes that take none
// (MPOL_DEFAULT, MPOL_LOCAL) and no nodes for those that need some
// (all others but MPOL_PREFERRED). Whether the nodes exist is the
// kernel's to say.
func checkMemoryPolicy(mp *rspec.LinuxMemoryPolicy) error {
	if mp == nil {
		return nil
	}
	mode, ok := MemoryPolicyMode(string(mp.Mode))
	if !ok {
		return fieldErrorf("linux.memoryPolicy.mode", "invalid memory policy mode %q", mp.Mode)
	}
	nodes, err := ParseList(mp.Nodes)
	if err != nil {
		return fieldErrorf("linux.memoryPolicy.nodes", "%w", err)
	}
	for i, f := range mp.Flags {
		if _, ok := MemoryPolicyFlag(string(f)); !ok {
			return fieldErrorf(index("linux.memoryPolicy.flags", i), "invalid memory policy flag %q", f)
		}
	}
	switch n := ListCount(nodes); mode {
	case 0, 4: // MPOL_DEFAULT, MPOL_LOCAL
		if n != 0 {
			return fieldErrorf("linux.memoryPolicy.nodes", "%s takes no nodes, got %d", mp.Mode, n)
		}
	case 1: // MPOL_PREFERRED: zero or more
	default:
		if n == 0 {
			return fieldErrorf("linux.memoryPolicy.nodes", "%s needs at least one node", mp.Mode)
		}
	}
	return nil
}

func checkNamespaces(nss []rspec.LinuxNamespace) error {
	// seen[k] is 1 + the index of the entry of namespaceTypes[k].
	var seen [len(namespaceTypes)]int
	for i, ns := range nss {
		p := index("linux.namespaces", i)
		k := slices.Index(namespaceTypes[:], ns.Type)
		switch {
		case ns.Type == "":
			return required(p + ".type")
		case k < 0:
			return fieldErrorf(p+".type", "unknown namespace type %q", ns.Type)
		case seen[k] != 0:
			return fieldErrorf(p+".type", "duplicate %q namespace (already in %s)", ns.Type, index("linux.namespaces", seen[k]-1))
		}
		seen[k] = i + 1
		if ns.Path != "" {
			if err := checkAbs(p+".path", ns.Path); err != nil {
				return err
			}
		}
	}
	return nil
}

// maxMappings is the kernel's limit on lines in uid_map/gid_map (since 4.15).
const maxMappings = 340

func checkUserMappings(l *rspec.Linux) error {
	userns := namespace(l, rspec.UserNamespace)
	maps := [...]struct {
		field string
		kind  string
		m     []rspec.LinuxIDMapping
	}{
		{"linux.uidMappings", "uid", l.UIDMappings},
		{"linux.gidMappings", "gid", l.GIDMappings},
	}
	for _, m := range maps {
		// Mappings without a user namespace are ignored, as by runc.
		if userns == nil {
			continue
		}
		if userns.Path == "" && len(m.m) == 0 {
			return fieldErrorf(m.field, "a new user namespace needs at least one %s mapping", m.kind)
		}
		if err := checkMappings(m.field, m.m); err != nil {
			return err
		}
	}
	return nil
}

// checkMappings rejects what the kernel would refuse when the map is
// written: empty or overflowing ranges and ranges overlapping on either
// side.
func checkMappings(field string, ms []rspec.LinuxIDMapping) error {
	if len(ms) > maxMappings {
		return fieldErrorf(field, "%d mappings, the kernel allows at most %d", len(ms), maxMappings)
	}
	for i, m := range ms {
		p := index(field, i)
		if m.Size == 0 {
			return fieldErrorf(p+".size", "must be greater than 0")
		}
		if uint64(m.ContainerID)+uint64(m.Size) > 1<<32 {
			return fieldErrorf(p+".size", "containerID %d + size %d overflows the 32-bit ID space", m.ContainerID, m.Size)
		}
		if uint64(m.HostID)+uint64(m.Size) > 1<<32 {
			return fieldErrorf(p+".size", "hostID %d + size %d overflows the 32-bit ID space", m.HostID, m.Size)
		}
		for j, o := range ms[:i] {
			if overlaps(m.ContainerID, m.Size, o.ContainerID, o.Size) {
				return fieldErrorf(p+".containerID", "range [%d, %d) overlaps %s", m.ContainerID, uint64(m.ContainerID)+uint64(m.Size), index(field, j))
			}
			if overlaps(m.HostID, m.Size, o.HostID, o.Size) {
				return fieldErrorf(p+".hostID", "range [%d, %d) overlaps %s", m.HostID, uint64(m.HostID)+uint64(m.Size), index(field, j))
			}
		}
	}
	return nil
}

func overlaps(a, asize, b, bsize uint32) bool {
	return uint64(a) < uint64(b)+uint64(bsize) && uint64(b) < uint64(a)+uint64(asize)
}

func checkSysctl(l *rspec.Linux) error {
	// Sorted so that the error reported does not depend on map order.
	for _, k := range sortedKeys(l.Sysctl) {
		p := key("linux.sysctl", k)
		for _, c := range strings.Split(SysctlPath(k), "/") {
			if c == "" || c == "." || c == ".." {
				return fieldErrorf(p, "invalid name: empty, \".\" or \"..\" component")
			}
		}
		name := SysctlName(k)
		// As runc: kernel.hostname is the hostname field's business.
		if name == "kernel.hostname" {
			return fieldErrorf(p, "not allowed: it conflicts with the hostname field")
		}
		ns := sysctlNamespace(name)
		if ns == "" {
			return fieldErrorf(p, "not namespaced, refusing to set a host-wide sysctl from a container")
		}
		if namespace(l, ns) == nil {
			return fieldErrorf(p, `requires a %s namespace (add {"type":%q} to linux.namespaces)`, ns, ns)
		}
	}
	return nil
}

// SysctlName is a sysctl's name in its dotted form: a key written with
// slashes (net/ipv4/conf/eth0.100/forwarding, as sysctl.d allows) has
// its dots and slashes swapped, as runc does.
func SysctlName(k string) string {
	if i := strings.IndexAny(k, "./"); i < 0 || k[i] == '.' {
		return k
	}
	return swapDotsSlashes(k)
}

// SysctlPath is the file of sysctl k under /proc/sys.
func SysctlPath(k string) string {
	return swapDotsSlashes(SysctlName(k))
}

func swapDotsSlashes(k string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '.':
			return '/'
		case '/':
			return '.'
		}
		return r
	}, k)
}

// sysctlNamespace returns the namespace that isolates sysctl k (dotted),
// or "" for sysctls that are global to the host. The list follows runc's:
// user.* (ucounts) are per user namespace.
func sysctlNamespace(k string) rspec.LinuxNamespaceType {
	switch {
	case strings.HasPrefix(k, "net."):
		return rspec.NetworkNamespace
	case strings.HasPrefix(k, "kernel.shm"), strings.HasPrefix(k, "kernel.msg"),
		k == "kernel.sem", strings.HasPrefix(k, "fs.mqueue."):
		return rspec.IPCNamespace
	case k == "kernel.domainname":
		return rspec.UTSNamespace
	case strings.HasPrefix(k, "user."):
		return rspec.UserNamespace
	}
	return ""
}

func sortedKeys[V any](m map[string]V) []string {
	if len(m) == 0 {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Device numbers as the kernel's mknod takes them: 12-bit major, 20-bit minor.
const (
	maxMajor = 1<<12 - 1
	maxMinor = 1<<20 - 1
)

// File type bits of st_mode (see inode(7)).
const (
	sIFMT  = 0o170000
	sIFCHR = 0o020000
	sIFBLK = 0o060000
	sIFIFO = 0o010000
)

func checkDevices(devs []rspec.LinuxDevice) error {
	for i, d := range devs {
		p := index("linux.devices", i)
		if err := checkAbs(p+".path", d.Path); err != nil {
			return err
		}
		var typeBits uint32
		switch d.Type {
		case "c", "u":
			typeBits = sIFCHR
		case "b":
			typeBits = sIFBLK
		case "p":
			typeBits = sIFIFO
		case "":
			return required(p + ".type")
		default:
			return fieldErrorf(p+".type", "unknown device type %q (want c, b, u or p)", d.Type)
		}
		if err := checkDeviceNumbers(p, d); err != nil {
			return err
		}
		if d.FileMode != nil {
			m := uint32(*d.FileMode)
			if m&^(sIFMT|0o7777) != 0 {
				return fieldErrorf(p+".fileMode", "%#o has bits other than permission and file type bits", m)
			}
			if t := m & sIFMT; t != 0 && t != typeBits {
				return fieldErrorf(p+".fileMode", "file type bits %#o do not match device type %q", t, d.Type)
			}
		}
	}
	return nil
}

func checkDeviceNumbers(p string, d rspec.LinuxDevice) error {
	// A FIFO has no device numbers; runc ignores any given, and configs in
	// the wild (runtime-tools' linux_devices among them) carry some.
	if d.Type == "p" {
		return nil
	}
	// JSON cannot tell an omitted number from 0, and 0:0 is no device:
	// treat it as missing.
	if d.Major == 0 && d.Minor == 0 {
		return fieldErrorf(p+".major", "major and minor numbers are required for device type %q", d.Type)
	}
	if d.Major < 0 || d.Major > maxMajor {
		return fieldErrorf(p+".major", "%d is out of range [0, %d]", d.Major, maxMajor)
	}
	if d.Minor < 0 || d.Minor > maxMinor {
		return fieldErrorf(p+".minor", "%d is out of range [0, %d]", d.Minor, maxMinor)
	}
	return nil
}

func checkPropagation(p string) error {
	switch p {
	case "", "shared", "rshared", "slave", "rslave", "private", "rprivate", "unbindable", "runbindable":
		return nil
	}
	return fieldErrorf("linux.rootfsPropagation", "unknown propagation %q (want shared, rshared, slave, rslave, private, rprivate, unbindable or runbindable)", p)
}

// checkPaths checks masked and read-only paths. A relative one is taken
// relative to the container's root, as runc does.
func checkPaths(field string, paths []string) error {
	for i, p := range paths {
		if err := checkPath(index(field, i), p); err != nil {
			return err
		}
	}
	return nil
}

func checkTimeOffsets(l *rspec.Linux) error {
	if len(l.TimeOffsets) == 0 {
		return nil
	}
	if ns := namespace(l, rspec.TimeNamespace); ns == nil || ns.Path != "" {
		// Offsets can only be written before the first process enters a
		// time namespace, so joining an existing one cannot honour them.
		return fieldErrorf("linux.timeOffsets", `requires a new time namespace (add {"type":"time"} to linux.namespaces)`)
	}
	for _, k := range sortedKeys(l.TimeOffsets) {
		p := key("linux.timeOffsets", k)
		if k != "monotonic" && k != "boottime" {
			return fieldErrorf(p, `unknown clock %q (want "monotonic" or "boottime")`, k)
		}
		if ns := l.TimeOffsets[k].Nanosecs; ns >= 1e9 {
			return fieldErrorf(p+".nanosecs", "%d is not less than one second (1000000000)", ns)
		}
	}
	return nil
}
