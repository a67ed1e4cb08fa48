package nsutil

import (
	"fmt"
	"os"
	"strconv"
	"strings"

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
// a /proc/<pid> directory handle so both writes go to the same process.
func WriteIDMaps(pid int, uid, gid []rspec.LinuxIDMapping) error {
	dir, err := os.OpenFile("/proc/"+strconv.Itoa(pid), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open /proc/%d: %w", pid, err)
	}
	defer dir.Close()
	if err := writeAt(dir, "uid_map", FormatIDMap(uid)); err != nil {
		return fmt.Errorf("linux.uidMappings: %w", err)
	}
	if err := writeAt(dir, "gid_map", FormatIDMap(gid)); err != nil {
		return fmt.Errorf("linux.gidMappings: %w", err)
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
