package libruntime

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

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
