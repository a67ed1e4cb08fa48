package shim

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/containerd/containerd/api/types"
	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/internal/mountfd"
)

// mountFlags are the mount(8) options that are mount flags, as containerd
// parses them (clear: the option removes the flag).
var mountFlags = map[string]struct {
	clear bool
	flag  uintptr
}{
	"async":         {true, unix.MS_SYNCHRONOUS},
	"atime":         {true, unix.MS_NOATIME},
	"bind":          {false, unix.MS_BIND},
	"defaults":      {false, 0},
	"dev":           {true, unix.MS_NODEV},
	"diratime":      {true, unix.MS_NODIRATIME},
	"dirsync":       {false, unix.MS_DIRSYNC},
	"exec":          {true, unix.MS_NOEXEC},
	"mand":          {false, unix.MS_MANDLOCK},
	"noatime":       {false, unix.MS_NOATIME},
	"nodev":         {false, unix.MS_NODEV},
	"nodiratime":    {false, unix.MS_NODIRATIME},
	"noexec":        {false, unix.MS_NOEXEC},
	"nomand":        {true, unix.MS_MANDLOCK},
	"norelatime":    {true, unix.MS_RELATIME},
	"nostrictatime": {true, unix.MS_STRICTATIME},
	"nosuid":        {false, unix.MS_NOSUID},
	"rbind":         {false, unix.MS_BIND | unix.MS_REC},
	"relatime":      {false, unix.MS_RELATIME},
	"remount":       {false, unix.MS_REMOUNT},
	"ro":            {false, unix.MS_RDONLY},
	"rw":            {true, unix.MS_RDONLY},
	"strictatime":   {false, unix.MS_STRICTATIME},
	"suid":          {true, unix.MS_NOSUID},
	"sync":          {false, unix.MS_SYNCHRONOUS},
}

var propagationFlags = map[string]uintptr{
	"private":     unix.MS_PRIVATE,
	"rprivate":    unix.MS_PRIVATE | unix.MS_REC,
	"shared":      unix.MS_SHARED,
	"rshared":     unix.MS_SHARED | unix.MS_REC,
	"slave":       unix.MS_SLAVE,
	"rslave":      unix.MS_SLAVE | unix.MS_REC,
	"unbindable":  unix.MS_UNBINDABLE,
	"runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

// mountRootfs mounts the snapshot containerd passes with CreateTask
// (overlay, bind, ...) at rootfs, in order. On error nothing stays
// mounted.
func mountRootfs(rootfs string, mounts []*types.Mount) (err error) {
	if err := os.Mkdir(rootfs, 0o711); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("create rootfs directory: %w", err)
	}
	defer func() {
		if err != nil {
			unmountAll(rootfs)
		}
	}()
	for i, m := range mounts {
		target := rootfs
		if m.Target != "" {
			t := filepath.Clean("/" + m.Target)
			target = filepath.Join(rootfs, t)
		}
		if err := mountOne(m, target); err != nil {
			return fmt.Errorf("mount rootfs[%d] (%s %s on %s): %w", i, m.Type, m.Source, target, err)
		}
	}
	return nil
}

func mountOne(m *types.Mount, target string) error {
	var flags, prop uintptr
	var data []string
	for _, o := range m.Options {
		if f, ok := mountFlags[o]; ok {
			if f.clear {
				flags &^= f.flag
			} else {
				flags |= f.flag
			}
			continue
		}
		if p, ok := propagationFlags[o]; ok {
			prop = p
			continue
		}
		// containerd's own hints for the mount manager, not for the kernel.
		if strings.HasPrefix(o, "X-containerd.") {
			continue
		}
		data = append(data, o)
	}
	typ := m.Type
	if typ == "bind" {
		flags |= unix.MS_BIND
		typ = ""
	}
	opts := strings.Join(data, ",")
	if typ == "overlay" && len(opts) >= os.Getpagesize() {
		// mount(2) takes one page of options: many layers do not fit.
		if err := mountOverlayFd(m.Source, target, data, flags); err != nil {
			return err
		}
	} else if err := unix.Mount(m.Source, target, typ, flags, opts); err != nil {
		return err
	}
	// A bind mount takes its flags (ro, nosuid, ...) only from a remount.
	if flags&unix.MS_BIND != 0 && flags&^(unix.MS_BIND|unix.MS_REC|unix.MS_REMOUNT) != 0 {
		if err := unix.Mount("", target, "", flags|unix.MS_REMOUNT|unix.MS_BIND, ""); err != nil {
			unix.Unmount(target, unix.MNT_DETACH)
			return fmt.Errorf("remount: %w", err)
		}
	}
	if prop != 0 {
		if err := unix.Mount("", target, "", prop, ""); err != nil {
			unix.Unmount(target, unix.MNT_DETACH)
			return fmt.Errorf("set propagation: %w", err)
		}
	}
	return nil
}

// mountOverlayFd mounts an overlay through the new mount API, giving the
// lower layers one at a time ("lowerdir+", Linux 6.8), so their number is
// not limited by the page mount(2) takes options in.
func mountOverlayFd(source, target string, data []string, flags uintptr) error {
	fsfd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return fmt.Errorf("fsopen overlay: %w", err)
	}
	defer unix.Close(fsfd)
	if err := unix.FsconfigSetString(fsfd, "source", source); err != nil {
		return fmt.Errorf("overlay source: %w", err)
	}
	for _, o := range data {
		k, v, hasValue := strings.Cut(o, "=")
		switch {
		case k == "lowerdir":
			for _, l := range strings.Split(v, ":") {
				if err := unix.FsconfigSetString(fsfd, "lowerdir+", l); err != nil {
					return fmt.Errorf("overlay lowerdir+ %s (needs Linux 6.8): %w", l, err)
				}
			}
		case hasValue:
			if err := unix.FsconfigSetString(fsfd, k, v); err != nil {
				return fmt.Errorf("overlay option %s: %w", k, err)
			}
		default:
			if err := unix.FsconfigSetFlag(fsfd, k); err != nil {
				return fmt.Errorf("overlay option %s: %w", k, err)
			}
		}
	}
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return fmt.Errorf("create overlay: %w", err)
	}
	var attr int
	if flags&unix.MS_RDONLY != 0 {
		attr |= unix.MOUNT_ATTR_RDONLY
	}
	if flags&unix.MS_NOSUID != 0 {
		attr |= unix.MOUNT_ATTR_NOSUID
	}
	if flags&unix.MS_NODEV != 0 {
		attr |= unix.MOUNT_ATTR_NODEV
	}
	if flags&unix.MS_NOEXEC != 0 {
		attr |= unix.MOUNT_ATTR_NOEXEC
	}
	mfd, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, attr)
	if err != nil {
		return fmt.Errorf("fsmount overlay: %w", err)
	}
	defer unix.Close(mfd)
	if err := unix.MoveMount(mfd, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("move overlay mount: %w", err)
	}
	return nil
}

// unmountAll unmounts everything at or under dir, deepest first, through
// descriptors: a container without a mount namespace may have put a
// symlink where one of them was (see package mountfd).
func unmountAll(dir string) error {
	return mountfd.UnmountUnder(dir, func(int) bool { return true })
}
