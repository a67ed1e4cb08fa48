// Package mountfd unmounts mounts below a directory that a container may
// have rearranged: renamed a parent, or put a symlink in the way to a
// mount of the host's. A path recorded earlier, or read from mountinfo a
// moment ago, may by now lead anywhere; so each mount is found where the
// kernel has it now, opened inside the directory without following a
// symlink out of it (nor a last component that is one), checked to be
// that very mount by its ID, and unmounted through that descriptor.
package mountfd

import (
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// Under returns the mounts at or below dir: mount ID -> where the kernel
// says it is mounted now.
func Under(dir string) (map[int]string, error) {
	mounts, err := mountinfo.GetMounts(mountinfo.PrefixFilter(dir))
	if err != nil {
		return nil, fmt.Errorf("list mounts under %s: %w", dir, err)
	}
	out := make(map[int]string, len(mounts))
	for _, m := range mounts {
		out[m.ID] = m.Mountpoint
	}
	return out, nil
}

// UnmountUnder unmounts the mounts at or below dir for which which(id)
// holds, deepest (and topmost) first. A mount that moved while it was
// looked at is looked for again; one that is never where the kernel says,
// or cannot be unmounted, is reported. dir itself must be a path the
// container cannot change (its bundle's rootfs directory).
func UnmountUnder(dir string, which func(id int) bool) error {
	root, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return fmt.Errorf("open %s: %w", dir, err)
	}
	defer unix.Close(root)
	for stuck := 0; ; {
		now, err := Under(dir)
		if err != nil {
			return err
		}
		var left []int
		for id := range now {
			if which(id) {
				left = append(left, id)
			}
		}
		if len(left) == 0 {
			return nil
		}
		sort.Slice(left, func(i, j int) bool { return len(now[left[i]]) > len(now[left[j]]) })
		progress := false
		for _, id := range left {
			done, err := unmountID(root, dir, now[id], id)
			if err != nil {
				return err
			}
			progress = progress || done
		}
		if progress {
			stuck = 0
			continue
		}
		if stuck++; stuck > 10 {
			paths := make([]string, len(left))
			for i, id := range left {
				paths[i] = now[id]
			}
			return fmt.Errorf("unmount %s: not where the kernel lists them: %w", strings.Join(paths, ", "), unix.EBUSY)
		}
	}
}

// unmountID unmounts mount id, last seen at mountpoint, if resolving
// mountpoint inside root reaches that very mount; it reports whether it
// did.
func unmountID(root int, dir, mountpoint string, id int) (bool, error) {
	rel, err := filepath.Rel(dir, mountpoint)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return false, nil
	}
	fd, err := unix.Openat2(root, rel, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return false, nil // renamed or replaced meanwhile: look again
	}
	defer unix.Close(fd)
	var stx unix.Statx_t
	if err := unix.Statx(fd, "", unix.AT_EMPTY_PATH, unix.STATX_MNT_ID, &stx); err != nil {
		return false, fmt.Errorf("statx %s: %w", mountpoint, err)
	}
	if stx.Mask&unix.STATX_MNT_ID == 0 || int(stx.Mnt_id) != id {
		return false, nil
	}
	// The descriptor's magic link names exactly this mount. The
	// descriptor itself keeps it busy, so it is detached: it goes once
	// the last user (ours included) lets go.
	err = unix.Unmount("/proc/self/fd/"+strconv.Itoa(fd), unix.MNT_DETACH)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, unix.EINVAL):
		return false, nil // no longer a mount point
	default:
		return false, fmt.Errorf("unmount %s: %w", mountpoint, err)
	}
}
