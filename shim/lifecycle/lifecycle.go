// Package lifecycle is the life of a task's process as the shim reports
// it to containerd: one explicit state machine, shared by every backend
// (libruntime on the host, the agent in a VM), so that what a client may
// do to a process, and what it sees, never depends on where the process
// runs.
//
//	created --start--> running --pause--> paused --resume--> running
//	created, running, paused --exit--> stopped --delete--> deleted
//
// A container's init goes through every state; an exec'd process is
// never paused itself (its container is).
package lifecycle

import (
	"errors"
	"fmt"
)

// Status is where a process is.
type Status int

const (
	Created Status = iota
	Running
	Paused
	Stopped
	Deleted
)

func (s Status) String() string {
	switch s {
	case Created:
		return "created"
	case Running:
		return "running"
	case Paused:
		return "paused"
	case Stopped:
		return "stopped"
	case Deleted:
		return "deleted"
	}
	return fmt.Sprintf("status(%d)", int(s))
}

// Event is what moves a process from one status to the next.
type Event int

const (
	Start Event = iota
	Pause
	Resume
	Exit
	Delete
)

func (e Event) String() string {
	switch e {
	case Start:
		return "start"
	case Pause:
		return "pause"
	case Resume:
		return "resume"
	case Exit:
		return "exit"
	case Delete:
		return "delete"
	}
	return fmt.Sprintf("event(%d)", int(e))
}

// Errors of refused transitions, for the service to map to containerd's
// codes: ErrGone for a process that has exited or is deleted (NotFound),
// ErrState for one in the wrong state (FailedPrecondition).
var (
	ErrGone  = errors.New("process already finished")
	ErrState = errors.New("invalid state transition")
)

// Next is the status e leads to from s, or an error wrapping ErrGone or
// ErrState.
func Next(s Status, e Event) (Status, error) {
	switch {
	case s == Created && e == Start, s == Paused && e == Resume:
		return Running, nil
	case s == Running && e == Pause:
		return Paused, nil
	case (s == Created || s == Running || s == Paused) && e == Exit:
		return Stopped, nil
	case s == Stopped && e == Delete:
		return Deleted, nil
	case s == Deleted, s == Stopped && e != Delete:
		return s, fmt.Errorf("cannot %s a %s process: %w", e, s, ErrGone)
	}
	return s, fmt.Errorf("cannot %s a %s process: %w", e, s, ErrState)
}
