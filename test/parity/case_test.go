package parity

import (
	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// Case is one behaviour checked side by side: a config, files, and the
// commands a user would run, each recording what the user would see.
type Case struct {
	Name string // "family/detail", unique
	// Script, if set, is the container's process: sh -c Script.
	Script string
	// Spec edits the base config (after Script is set).
	Spec func(s *rspec.Spec)
	// Files prepares files in the runtime's directory or rootfs before
	// the first command.
	Files func(b *Bundle) error
	// Steps are the commands; none means `run` of the bundle, recording
	// the container's output.
	Steps []Step
	// Needs lists what the machine must have; a case whose need is not
	// met is skipped for both runtimes with the reason printed.
	Needs []Need
	// Serial runs the case alone, not beside the others: for a case
	// whose runtime works at idle priority, which the others' load can
	// starve (minutes under emulation).
	Serial bool
}

// Need is a machine feature: it returns "" when present, or why not.
type Need func() string

// runStep is the default command: run the bundle in the foreground,
// recording the exit status, log levels and the container's output.
func runStep() Step {
	return Cmd{Key: "run", Args: []string{"run", "--bundle", "{bundle}", "{id}"}, Out: OutProbe}
}

// steps are the case's commands, the default run if it has none.
func (c *Case) steps() []Step {
	if len(c.Steps) == 0 {
		return []Step{runStep()}
	}
	return c.Steps
}
