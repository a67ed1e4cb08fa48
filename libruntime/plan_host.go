package libruntime

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/moby/sys/mountinfo"
	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/nsutil"
	"github.com/husk-runtime/husk/specs"
)

// host is everything the planner asks of the machine. Planning is a pure
// function of (config, host): unit tests give it a fake (plan_test.go).
type host interface {
	// euid is husk's effective uid (0: root; otherwise rootless).
	euid() int
	// lastCap is the highest capability the kernel knows.
	lastCap() int
	// exists tells whether a path of the host's exists (/proc/kcore,
	// LSM attribute files).
	exists(path string) bool
	apparmorEnabled() bool
	selinuxEnabled() bool
	// mountPointOf is the mount point of the filesystem holding path.
	mountPointOf(path string) (string, error)
	// isDir stats a bind mount's source.
	isDir(path string) (bool, error)
	// openNamespace opens a namespace to join, checking its type.
	openNamespace(path string, t rspec.LinuxNamespaceType) (*os.File, error)
	// isOwnNamespace tells whether ns (of type t) is husk's own.
	isOwnNamespace(ns *os.File, t rspec.LinuxNamespaceType) (bool, error)
	// mappedUserns returns a new user namespace with these id maps (for
	// id-mapped mounts).
	mappedUserns(uids, gids []rspec.LinuxIDMapping) (*os.File, error)
	// idmappedTree clones a bind source into a detached mount, id-mapped
	// through a user namespace, with the mount attributes set.
	idmappedTree(r idmapRequest) (*os.File, error)
	// userNSMappings reads the uid and gid maps of user namespace ns.
	userNSMappings(ns *os.File) (uid, gid []rspec.LinuxIDMapping, err error)
}

// idmapRequest is an id-mapped bind to prepare: the source (a host path),
// whether the bind is recursive (rbind) and so the id mapping (ridmap),
// the user namespace holding the mapping, and the attributes of the top
// mount and of the whole tree.
type idmapRequest struct {
	source                    string
	recursive, idmapRecursive bool
	userns                    *os.File
	set, clr, recSet, recClr  uint64
}

// theHost is the machine husk runs on.
type theHost struct{}

func (theHost) euid() int { return os.Geteuid() }

var lastCapOnce = sync.OnceValue(func() int {
	data, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil {
			return n
		}
	}
	return len(specs.Capabilities) - 1
})

func (theHost) lastCap() int { return lastCapOnce() }

func (theHost) exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func (theHost) apparmorEnabled() bool {
	data, err := os.ReadFile("/sys/module/apparmor/parameters/enabled")
	return err == nil && strings.HasPrefix(string(data), "Y")
}

func (h theHost) selinuxEnabled() bool { return h.exists("/sys/fs/selinux/enforce") }

func (theHost) mountPointOf(path string) (string, error) {
	mounts, err := mountinfo.GetMounts(mountinfo.ParentsFilter(path))
	if err != nil {
		return "", err
	}
	best := ""
	for _, m := range mounts {
		if len(m.Mountpoint) > len(best) {
			best = m.Mountpoint
		}
	}
	if best == "" {
		return "", fmt.Errorf("no mount point found for %s", path)
	}
	return best, nil
}

func (theHost) isDir(path string) (bool, error) {
	st, err := os.Stat(path)
	if err != nil {
		return false, err
	}
	return st.IsDir(), nil
}

func (theHost) openNamespace(path string, t rspec.LinuxNamespaceType) (*os.File, error) {
	return nsutil.Open(path, t)
}

func (theHost) isOwnNamespace(ns *os.File, t rspec.LinuxNamespaceType) (bool, error) {
	var joined, own unix.Stat_t
	if err := unix.Fstat(int(ns.Fd()), &joined); err != nil {
		return false, err
	}
	if err := unix.Stat("/proc/self/ns/"+nsutil.ProcName(t), &own); err != nil {
		return false, err
	}
	return joined.Dev == own.Dev && joined.Ino == own.Ino, nil
}

// mappedUserns starts a process in a new user namespace with the maps
// (written by Go's clone, as root of the host may), opens that
// namespace, and kills the process. The process never runs anything of
// its own: traced from the start, it stops at its exec.
func (theHost) mappedUserns(uids, gids []rspec.LinuxIDMapping) (*os.File, error) {
	proc, err := os.StartProcess("/proc/self/exe", []string{"husk-idmap-userns"}, &os.ProcAttr{
		Sys: &syscall.SysProcAttr{
			Cloneflags:  unix.CLONE_NEWUSER,
			UidMappings: nsutil.ProcIDMaps(uids),
			GidMappings: nsutil.ProcIDMaps(gids),
			Ptrace:      true,
			Pdeathsig:   syscall.SIGKILL,
		},
	})
	if err != nil {
		return nil, err
	}
	defer func() {
		proc.Kill()
		proc.Wait()
	}()
	return os.Open(fmt.Sprintf("/proc/%d/ns/user", proc.Pid))
}

// idmappedTree: open_tree(OPEN_TREE_CLONE) of the source, then
// mount_setattr with MOUNT_ATTR_IDMAP (on every mount of the tree for
// ridmap) and the bind's attributes. The result is a detached mount that
// husk-init attaches in the container.
func (theHost) idmappedTree(r idmapRequest) (*os.File, error) {
	flags := uint(unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC)
	if r.recursive {
		flags |= unix.AT_RECURSIVE
	}
	fd, err := unix.OpenTree(unix.AT_FDCWD, r.source, flags)
	if err != nil {
		return nil, fmt.Errorf("bind %s: %w", r.source, err)
	}
	tree := os.NewFile(uintptr(fd), r.source)
	setattr := func(what string, recursive bool, attr *unix.MountAttr) error {
		at := unix.AT_EMPTY_PATH
		if recursive {
			at |= unix.AT_RECURSIVE
		}
		if err := unix.MountSetattr(fd, "", uint(at), attr); err != nil {
			if errors.Is(err, unix.EINVAL) && attr.Attr_set&unix.MOUNT_ATTR_IDMAP != 0 {
				return fmt.Errorf("%s of %s: %w (does its filesystem support id-mapped mounts?)", what, r.source, err)
			}
			return fmt.Errorf("%s of %s: %w", what, r.source, err)
		}
		return nil
	}
	err = setattr("id-map", r.idmapRecursive, &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_IDMAP, Userns_fd: uint64(r.userns.Fd())})
	if err == nil && (r.set != 0 || r.clr != 0) {
		err = setattr("set mount attributes", false, &unix.MountAttr{Attr_set: r.set, Attr_clr: r.clr})
	}
	if err == nil && (r.recSet != 0 || r.recClr != 0) {
		err = setattr("set recursive mount attributes", true, &unix.MountAttr{Attr_set: r.recSet, Attr_clr: r.recClr})
	}
	if err != nil {
		tree.Close()
		return nil, err
	}
	return tree, nil
}

// userNSMappings reads the maps of a user namespace through a process in
// it: a namespace file has no maps of its own.
func (theHost) userNSMappings(ns *os.File) ([]rspec.LinuxIDMapping, []rspec.LinuxIDMapping, error) {
	var want unix.Stat_t
	if err := unix.Fstat(int(ns.Fd()), &want); err != nil {
		return nil, nil, err
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, nil, err
	}
	for _, e := range ents {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		var st unix.Stat_t
		if unix.Stat("/proc/"+e.Name()+"/ns/user", &st) != nil || st.Dev != want.Dev || st.Ino != want.Ino {
			continue
		}
		uid, err1 := nsutil.ReadIDMap("/proc/" + e.Name() + "/uid_map")
		gid, err2 := nsutil.ReadIDMap("/proc/" + e.Name() + "/gid_map")
		if err1 == nil && err2 == nil {
			return uid, gid, nil
		}
	}
	return nil, nil, fmt.Errorf("no process in the user namespace to read its mappings from")
}
