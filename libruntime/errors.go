package libruntime

import "errors"

// Errors callers may test for with errors.Is.
var (
	ErrNotExist   = errors.New("container does not exist")
	ErrExist      = errors.New("container already exists")
	ErrNotRunning = errors.New("container is not running")
	ErrRunning    = errors.New("container is still running")
	ErrNotCreated = errors.New("container is not in the created state")
)
