package libruntime

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// LookupUser resolves "user[:group]" for exec: numbers as they are, names
// from the container's /etc/passwd and /etc/group (read inside its rootfs,
// never following a symlink out of it). Without a group, the user's
// primary group is used (0 for an unknown numeric uid), as runc does.
func (c *Container) LookupUser(spec string) (uid, gid uint32, err error) {
	user, group, hasGroup := strings.Cut(spec, ":")
	entry, found, err := c.lookupDB("etc/passwd", user)
	if err != nil {
		return 0, 0, err
	}
	switch {
	case found:
		uid, _ = parseUint32(entry[2])
		gid, _ = parseUint32(entry[3])
	default:
		n, ok := parseUint32(user)
		if !ok {
			return 0, 0, fmt.Errorf("no user %q in the container's /etc/passwd", user)
		}
		uid = n
	}
	if !hasGroup {
		return uid, gid, nil
	}
	if n, ok := parseUint32(group); ok {
		return uid, n, nil
	}
	entry, found, err = c.lookupDB("etc/group", group)
	if err != nil {
		return 0, 0, err
	}
	if !found {
		return 0, 0, fmt.Errorf("no group %q in the container's /etc/group", group)
	}
	gid, _ = parseUint32(entry[2])
	return uid, gid, nil
}

// lookupDB finds the line of a passwd/group style file whose name (or,
// for a number, id) is key.
func (c *Container) lookupDB(file, key string) ([]string, bool, error) {
	root, err := unix.Open(c.state.Rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, false, fmt.Errorf("open rootfs %s: %w", c.state.Rootfs, err)
	}
	defer unix.Close(root)
	fd, err := unix.Openat2(root, file, &unix.OpenHow{
		Flags: unix.O_RDONLY | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return nil, false, nil // no such file: only numbers work
	}
	f := os.NewFile(uintptr(fd), file)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ":")
		if len(fields) >= 4 && (fields[0] == key || fields[2] == key) {
			return fields, true, nil
		}
	}
	return nil, false, nil
}

func parseUint32(s string) (uint32, bool) {
	n, err := strconv.ParseUint(s, 10, 32)
	return uint32(n), err == nil
}
