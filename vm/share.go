package vm

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/specs"
)

// GuestShareDir is where the guest mounts the shared directory.
const GuestShareDir = "/run/husk/share"

// Share is the host directory a VM's guest sees at GuestShareDir. It
// holds only bind mounts of what the VM's containers need: each
// container's rootfs and the sources of its bind mounts, under a directory
// named by the container's ID. Everything is bound nosuid and nodev (the
// guest can neither reach a host device through a node it finds or makes
// nor leave a set-id file that works on the host), read-only where the
// container has it read-only (a compromised guest kernel cannot write
// through). The directory is a private mount, so none of this propagates
// to the host's other mount namespaces.
type Share struct {
	dir string
}

func newShare(dir string) (*Share, error) {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, err
	}
	if err := unix.Mount(dir, dir, "", unix.MS_BIND, ""); err != nil {
		os.Remove(dir)
		return nil, fmt.Errorf("bind %s: %w", dir, err)
	}
	if err := unix.Mount("", dir, "", unix.MS_PRIVATE, ""); err != nil {
		unix.Unmount(dir, unix.MNT_DETACH)
		os.Remove(dir)
		return nil, fmt.Errorf("make %s private: %w", dir, err)
	}
	return &Share{dir: dir}, nil
}

// Dir is the host path of the share.
func (s *Share) Dir() string { return s.dir }

// Bind binds host path src (a directory or a file) at name under the
// container's directory in the share and returns the path the guest sees
// it at. name is husk's own ("rootfs", "mounts/3"), never the guest's.
func (s *Share) Bind(containerID, name, src string, readonly bool) (string, error) {
	if err := specs.ValidateID(containerID); err != nil {
		return "", err
	}
	if strings.Contains(name, "..") {
		return "", fmt.Errorf("share: bad name %q", name)
	}
	st, err := os.Stat(src)
	if err != nil {
		return "", err
	}
	rel := filepath.Join(containerID, name)
	dst := filepath.Join(s.dir, rel)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", err
	}
	if st.IsDir() {
		err = os.Mkdir(dst, 0o755)
	} else {
		var f *os.File
		if f, err = os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644); err == nil {
			f.Close()
		}
	}
	if err != nil {
		return "", err
	}
	if err := unix.Mount(src, dst, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return "", fmt.Errorf("bind %s into the share: %w", src, err)
	}
	flags := uintptr(unix.MS_BIND | unix.MS_REMOUNT | unix.MS_NOSUID | unix.MS_NODEV)
	if readonly {
		flags |= unix.MS_RDONLY
	}
	if err := unix.Mount("", dst, "", flags, ""); err != nil {
		unix.Unmount(dst, unix.MNT_DETACH)
		return "", fmt.Errorf("restrict %s in the share: %w", src, err)
	}
	return filepath.Join(GuestShareDir, rel), nil
}

// Remove unbinds and removes everything of a container.
func (s *Share) Remove(containerID string) error {
	if err := specs.ValidateID(containerID); err != nil {
		return err
	}
	return removeTree(filepath.Join(s.dir, containerID))
}

// removeTree detaches every mount under dir (deepest first), then removes it.
func removeTree(dir string) error {
	var mounts []string
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 {
			mp := unescapeMountinfo(f[4])
			if mp == dir || strings.HasPrefix(mp, dir+"/") {
				mounts = append(mounts, mp)
			}
		}
	}
	for i := len(mounts) - 1; i >= 0; i-- {
		if err := unix.Unmount(mounts[i], unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("unmount %s: %w", mounts[i], err)
		}
	}
	return removeOneFS(dir)
}

// removeOneFS removes dir's tree, refusing to enter another file system:
// a bind mount left in the share must never make the removal reach into
// a container's rootfs on the host.
func removeOneFS(dir string) error {
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return err
	}
	var walk func(p string) error
	walk = func(p string) error {
		var s unix.Stat_t
		if err := unix.Lstat(p, &s); err != nil {
			return err
		}
		if s.Dev != st.Dev {
			return fmt.Errorf("remove %s: still a mount point", p)
		}
		if s.Mode&unix.S_IFMT == unix.S_IFDIR {
			ents, err := os.ReadDir(p)
			if err != nil {
				return err
			}
			for _, e := range ents {
				if err := walk(filepath.Join(p, e.Name())); err != nil {
					return err
				}
			}
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}
	return walk(dir)
}

// unescapeMountinfo undoes mountinfo's octal escapes (\040 for a space).
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			v := 0
			ok := true
			for _, c := range s[i+1 : i+4] {
				if c < '0' || c > '7' {
					ok = false
					break
				}
				v = v*8 + int(c-'0')
			}
			if ok {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// close removes the share and every mount in it.
func (s *Share) close() error {
	return removeTree(s.dir)
}

// RemoveDir removes a directory that may hold mounts a VM left behind
// (its owner was killed): every mount under it is detached first, and
// the removal never crosses into another file system.
func RemoveDir(dir string) error {
	return removeTree(dir)
}
