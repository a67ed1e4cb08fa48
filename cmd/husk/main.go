// Command husk is an OCI container runtime with runc's command line:
// containerd, dockerd and podman call it exactly as they call runc.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/husk-runtime/husk/cgroups/systemd/helper"
	"github.com/husk-runtime/husk/libruntime"
)

// Set with -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "0.1.0-dev"
	commit  = "unknown"
)

// exitError carries an exit code that is not a failure of husk itself
// (the container's exit code for `run`).
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// codeError is a failure that exits with its own code, runc's for it
// rather than 1: 3 for an unknown command or help topic, 255 for exec
// (the process could not be started).
type codeError struct {
	err  error
	code int
}

func (e codeError) Error() string { return e.err.Error() }
func (e codeError) Unwrap() error { return e.err }

func main() {
	err := runCLI(os.Args[1:], os.Stdout)
	var ee exitError
	var ce codeError
	var ge globalFlagError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		os.Exit(ee.code)
	case errors.As(err, &ge):
		fmt.Fprintf(os.Stderr, "husk: %v\n", err)
		os.Exit(1)
	case errors.As(err, &ce):
		logger().Errorf("%v", ce.err)
		os.Exit(ce.code)
	default:
		logger().Errorf("%v", err)
		os.Exit(1)
	}
}

var globalFlagDefs = []flagDef{
	{kind: stringFlag, name: "root", value: defaultRoot(), usage: "directory for container state"},
	{kind: stringFlag, name: "log", usage: "append log messages to this file (default: stderr)"},
	{kind: stringFlag, name: "log-format", value: "text", usage: "log format: text or json"},
	{kind: boolFlag, name: "debug", usage: "log debug messages"},
	{kind: boolFlag, name: "systemd-cgroup", usage: "place containers in systemd units (linux.cgroupsPath \"slice:prefix:name\"), through husk-systemd"},
	{kind: stringFlag, name: "rootless", value: "auto", usage: "true, false or auto (accepted for runc compatibility)"},
	// husk's own; not listed, so that the help names runc's flags only.
	{kind: stringFlag, name: "trace", env: "HUSK_TRACE", usage: "append a JSON line per phase with its duration to this file", hidden: true},
	{kind: boolFlag, name: "version", aliases: []string{"v"}, usage: "print the version"},
}

// commands, in the order `husk --help` lists them.
var commands = []*command{
	createCommand, startCommand, runCommand, execCommand, stateCommand, listCommand, psCommand,
	killCommand, pauseCommand, resumeCommand, updateCommand, eventsCommand, deleteCommand,
	specCommand, featuresCommand,
}

func checkGlobal(g map[string]*flagValue) error {
	if f := g["log-format"].s; f != "text" && f != "json" {
		return fmt.Errorf("--log-format: %q is not text or json", f)
	}
	return nil
}

func printVersion(w io.Writer) {
	fmt.Fprintf(w, "husk version %s\ncommit: %s\nspec: %s\n", version, commit, rspec.Version)
}

func defaultRoot() string {
	if os.Geteuid() != 0 {
		if dir := os.Getenv("XDG_RUNTIME_DIR"); dir != "" {
			return filepath.Join(dir, "husk")
		}
	}
	return "/run/husk"
}

// runtime builds the libruntime.Runtime the global flags describe.
func runtime(c *ctx) (*libruntime.Runtime, error) {
	// The driver that placed a container is in its state: any command may
	// need systemd, but only one acting on a systemd container starts the
	// helper.
	opts := []libruntime.Option{libruntime.WithLogger(logger()), libruntime.WithSystemdBus(helper.Connect)}
	if path := c.String("trace"); path != "" {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return nil, fmt.Errorf("--trace: %w", err)
		}
		opts = append(opts, libruntime.WithTracer(libruntime.NewTracer(f)))
	}
	if c.Bool("debug") {
		// Each step of the command, and each op of husk-init, as a debug
		// line in the log.
		opts = append(opts, libruntime.WithDebugSteps())
	}
	return libruntime.New(c.String("root"), opts...)
}

// checkRootless checks --rootless as runc does where it uses it (create
// and run): true, false or auto.
func checkRootless(c *ctx) error {
	v := c.String("rootless")
	if v == "" || v == "auto" {
		return nil
	}
	if _, err := strconv.ParseBool(v); err != nil {
		return fmt.Errorf("--rootless: %q is not true, false or auto", v)
	}
	return nil
}

// bgContext is the context of a command: husk's commands are short and are
// stopped by signals to the process, so nothing cancels it.
func bgContext() context.Context { return context.Background() }

// needID returns the single container ID argument.
func needID(c *ctx) (string, error) {
	if c.NArg() < 1 {
		return "", fmt.Errorf("%s: a container ID is required", c.cmd.name)
	}
	return c.Arg(0), nil
}
