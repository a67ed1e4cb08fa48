package seccomp

import (
	"fmt"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// action is a filter verdict: SECCOMP_RET_* with its data.
type action uint32

const (
	// maxErrno is the largest errno the kernel returns as such
	// (MAX_ERRNO); it caps larger SECCOMP_RET_ERRNO data silently.
	maxErrno = 4095
	// actKillThread is libseccomp's SCMP_ACT_KILL. It is also the
	// verdict for syscalls of architectures the filter does not list:
	// libseccomp's default bad-architecture action, which runc keeps.
	actKillThread = action(unix.SECCOMP_RET_KILL_THREAD)
	actENOSYS     = action(unix.SECCOMP_RET_ERRNO | unix.ENOSYS)
)

// parseAction turns an OCI action and its errnoRet into the verdict. A
// missing errnoRet means EPERM for both SCMP_ACT_ERRNO and SCMP_ACT_TRACE,
// as the runtime spec says and runc does; defaultErrnoRet applies to the
// default action only.
func parseAction(field string, a rspec.LinuxSeccompAction, errnoField string, errnoRet *uint) (action, error) {
	var act action
	switch a {
	case rspec.ActKill, rspec.ActKillThread:
		act = unix.SECCOMP_RET_KILL_THREAD
	case rspec.ActKillProcess:
		act = unix.SECCOMP_RET_KILL_PROCESS
	case rspec.ActTrap:
		act = unix.SECCOMP_RET_TRAP
	case rspec.ActAllow:
		act = unix.SECCOMP_RET_ALLOW
	case rspec.ActLog:
		act = unix.SECCOMP_RET_LOG
	case rspec.ActNotify:
		act = unix.SECCOMP_RET_USER_NOTIF
	case rspec.ActErrno, rspec.ActTrace:
		data := uint(unix.EPERM)
		if errnoRet != nil {
			data = *errnoRet
		}
		act = unix.SECCOMP_RET_TRACE
		limit := uint(unix.SECCOMP_RET_DATA)
		if a == rspec.ActErrno {
			act = unix.SECCOMP_RET_ERRNO
			limit = maxErrno
		}
		if data > limit {
			return 0, fmt.Errorf("%s: %d is out of range [0, %d] for %s", errnoField, data, limit, a)
		}
		return act | action(data), nil
	case "":
		return 0, fmt.Errorf("%s: required", field)
	default:
		return 0, fmt.Errorf("%s: unknown action %q", field, a)
	}
	// An errnoRet for an action that returns no errno is ignored, as runc
	// (libseccomp) ignores it.
	return act, nil
}

// permissive reports whether act lets syscalls through, so that answering
// ENOSYS for syscalls newer than the profile would be a restriction rather
// than a courtesy. SECCOMP_RET_TRACE counts, as in runc: a tracer is
// expected to handle new syscalls itself.
func (act action) permissive() bool {
	switch act & unix.SECCOMP_RET_ACTION_FULL {
	case unix.SECCOMP_RET_ALLOW, unix.SECCOMP_RET_LOG, unix.SECCOMP_RET_TRACE:
		return true
	}
	return false
}
