package nsutil

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// FormatIDMap renders mappings in the format of /proc/<pid>/uid_map.
func FormatIDMap(m []rspec.LinuxIDMapping) string {
	var b strings.Builder
	for _, e := range m {
		b.WriteString(strconv.FormatUint(uint64(e.ContainerID), 10))
		b.WriteByte(' ')
		b.WriteString(strconv.FormatUint(uint64(e.HostID), 10))
		b.WriteByte(' ')
		b.WriteString(strconv.FormatUint(uint64(e.Size), 10))
		b.WriteByte('\n')
	}
	return b.String()
}

// WriteIDMaps writes the uid and gid maps of the user namespace process
// pid has just created. pid must be a child of ours that we have not
// reaped, so it cannot be recycled under us; the files are opened through
// a /proc/<pid> directory handle so all writes go to the same process.
//
// Without privileges the kernel only lets a process map its own uid and
// gid, and only after giving up setgroups(2); anything more needs the
// setuid helpers newuidmap and newgidmap, which check /etc/subuid and
// /etc/subgid.
func WriteIDMaps(pid int, uid, gid []rspec.LinuxIDMapping) error {
	euid := os.Geteuid()
	if NeedHelpers(uid, gid) {
		if err := newIDMap("newuidmap", pid, uid); err != nil {
			return fmt.Errorf("linux.uidMappings: %w", err)
		}
		if err := newIDMap("newgidmap", pid, gid); err != nil {
			return fmt.Errorf("linux.gidMappings: %w", err)
		}
		return nil
	}
	dir, err := os.OpenFile("/proc/"+strconv.Itoa(pid), unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		return fmt.Errorf("open /proc/%d: %w", pid, err)
	}
	defer dir.Close()
	if err := writeAt(dir, "uid_map", FormatIDMap(uid)); err != nil {
		return fmt.Errorf("linux.uidMappings: %w", err)
	}
	if euid != 0 {
		if err := writeAt(dir, "setgroups", "deny"); err != nil {
			return fmt.Errorf("linux.gidMappings: %w", err)
		}
	}
	if err := writeAt(dir, "gid_map", FormatIDMap(gid)); err != nil {
		return fmt.Errorf("linux.gidMappings: %w", err)
	}
	return nil
}

// NeedHelpers tells whether writing these maps needs newuidmap and
// newgidmap: without root, anything but one's own ids does.
func NeedHelpers(uid, gid []rspec.LinuxIDMapping) bool {
	return os.Geteuid() != 0 && !(ownOnly(uid, os.Geteuid()) && ownOnly(gid, os.Getegid()))
}

// ProcIDMaps converts mappings for syscall.SysProcAttr.
func ProcIDMaps(m []rspec.LinuxIDMapping) []syscall.SysProcIDMap {
	out := make([]syscall.SysProcIDMap, len(m))
	for i, e := range m {
		out[i] = syscall.SysProcIDMap{ContainerID: int(e.ContainerID), HostID: int(e.HostID), Size: int(e.Size)}
	}
	return out
}

// MapsID tells whether id (inside the namespace) is mapped by m.
func MapsID(m []rspec.LinuxIDMapping, id uint32) bool {
	for _, e := range m {
		if id >= e.ContainerID && id-e.ContainerID < e.Size {
			return true
		}
	}
	return false
}

// ownOnly tells whether m maps exactly one id, the caller's own.
func ownOnly(m []rspec.LinuxIDMapping, id int) bool {
	return len(m) == 1 && m[0].Size == 1 && int(m[0].HostID) == id
}

// newIDMap runs newuidmap/newgidmap PID ID HOSTID SIZE...
func newIDMap(tool string, pid int, m []rspec.LinuxIDMapping) error {
	path, err := exec.LookPath(tool)
	if err != nil {
		return fmt.Errorf("mapping more than your own id needs %s (Debian package uidmap) and an entry in /etc/sub%sid",
			tool, tool[3:4])
	}
	args := []string{strconv.Itoa(pid)}
	for _, e := range m {
		args = append(args, strconv.FormatUint(uint64(e.ContainerID), 10),
			strconv.FormatUint(uint64(e.HostID), 10), strconv.FormatUint(uint64(e.Size), 10))
	}
	out, err := exec.Command(path, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", tool, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func writeAt(dir *os.File, name, data string) error {
	how := unix.OpenHow{
		Flags:   unix.O_WRONLY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_XDEV,
	}
	fd, err := unix.Openat2(int(dir.Fd()), name, &how)
	if err != nil {
		return fmt.Errorf("open %s/%s: %w", dir.Name(), name, err)
	}
	defer unix.Close(fd)
	// The kernel accepts a map only in a single write.
	if _, err := unix.Write(fd, []byte(data)); err != nil {
		return fmt.Errorf("write %s/%s: %w", dir.Name(), name, err)
	}
	return nil
}

// ParseIDMap parses the format of /proc/<pid>/uid_map.
func ParseIDMap(data string) ([]rspec.LinuxIDMapping, error) {
	var out []rspec.LinuxIDMapping
	for _, line := range strings.Split(data, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) != 3 {
			return nil, fmt.Errorf("bad id map line %q", line)
		}
		var n [3]uint32
		for i := range f {
			v, err := strconv.ParseUint(f[i], 10, 32)
			if err != nil {
				return nil, fmt.Errorf("bad id map line %q", line)
			}
			n[i] = uint32(v)
		}
		out = append(out, rspec.LinuxIDMapping{ContainerID: n[0], HostID: n[1], Size: n[2]})
	}
	return out, nil
}

// ReadIDMap reads a uid_map or gid_map file.
func ReadIDMap(path string) ([]rspec.LinuxIDMapping, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseIDMap(string(data))
}

// SameIDMaps tells whether a and b hold the same mappings, in any order.
func SameIDMaps(a, b []rspec.LinuxIDMapping) bool {
	if len(a) != len(b) {
		return false
	}
	used := make([]bool, len(b))
outer:
	for _, x := range a {
		for j, y := range b {
			if !used[j] && x == y {
				used[j] = true
				continue outer
			}
		}
		return false
	}
	return true
}
