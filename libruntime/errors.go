package libruntime

import (
	"errors"
	"fmt"
	"os"
)

// Errors callers may test for with errors.Is.
//
// ErrNotExist and ErrNotRunning carry runc's own words (its
// libcontainer/error.go): clients of an OCI runtime binary decide what a
// failed command means by looking for them in its error output.
// containerd's runc shim, for one, turns a failed kill that says
// "container not running" or "does not exist" into "already gone", and
// anything else into an error the kubelet retries. Reword them and those
// clients break; test/clients/runc-words.md lists who matches what.
var (
	ErrNotExist   = errors.New("container does not exist")
	ErrExist      = errors.New("container already exists")
	ErrNotRunning = errors.New("container not running")
	ErrRunning    = errors.New("container is still running")
	ErrNotCreated = errors.New("container is not in the created state")
)

// errInitGone is a signal that found the container's init gone although
// it was alive a moment before. runc 1.5 says "os: process already
// finished" there (Go's os.ErrProcessDone), which containerd's runc shim
// matches and CRI-O does not; both match "container not running", so the
// error says both.
var errInitGone = fmt.Errorf("%w: %w", ErrNotRunning, os.ErrProcessDone)
