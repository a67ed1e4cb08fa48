// Command husk is an OCI container runtime with runc's command line:
// containerd, dockerd and podman call it exactly as they call runc.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"

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

func main() {
	app := newApp()
	err := app.Run(os.Args)
	var ee exitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		os.Exit(ee.code)
	default:
		logger(app).Errorf("%v", err)
		os.Exit(1)
	}
}

func newApp() *cli.App {
	cli.VersionPrinter = func(c *cli.Context) {
		fmt.Fprintf(c.App.Writer, "husk version %s\ncommit: %s\nspec: %s\n", version, commit, rspec.Version)
	}
	return &cli.App{
		Name:                 "husk",
		Usage:                "run OCI containers (a drop-in for runc)",
		Version:              version,
		EnableBashCompletion: false,
		HideHelpCommand:      true,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "root", Value: defaultRoot(), Usage: "directory for container state"},
			&cli.StringFlag{Name: "log", Usage: "append log messages to this file (default: stderr)"},
			&cli.StringFlag{Name: "log-format", Value: "text", Usage: "log format: text or json"},
			&cli.BoolFlag{Name: "debug", Usage: "log debug messages"},
			&cli.BoolFlag{Name: "systemd-cgroup", Usage: "use the systemd cgroup driver (not supported yet)"},
			&cli.StringFlag{Name: "rootless", Value: "auto", Usage: "accepted for runc compatibility"},
			&cli.StringFlag{Name: "criu", Usage: "accepted for runc compatibility (checkpoint/restore is not supported)"},
			&cli.StringFlag{Name: "trace", EnvVars: []string{"HUSK_TRACE"}, Usage: "append a JSON line per phase with its duration to this file"},
		},
		Before: func(c *cli.Context) error {
			if f := c.String("log-format"); f != "text" && f != "json" {
				return fmt.Errorf("--log-format: %q is not text or json", f)
			}
			if c.Bool("systemd-cgroup") {
				return errors.New("--systemd-cgroup: the systemd cgroup driver is not supported yet; use the cgroupfs driver")
			}
			return nil
		},
		Commands: []*cli.Command{
			createCommand, startCommand, runCommand, stateCommand, killCommand, deleteCommand,
			listCommand, specCommand, execCommand, psCommand, pauseCommand, resumeCommand, updateCommand,
			eventsCommand, featuresCommand,
		},
		ExitErrHandler: func(*cli.Context, error) {},
	}
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
func runtime(c *cli.Context) (*libruntime.Runtime, error) {
	opts := []libruntime.Option{libruntime.WithLogger(logger(c.App))}
	if path := c.String("trace"); path != "" {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return nil, fmt.Errorf("--trace: %w", err)
		}
		opts = append(opts, libruntime.WithTracer(libruntime.NewTracer(f)))
	}
	return libruntime.New(c.String("root"), opts...)
}

// ctx is the context of a command: husk's commands are short and are
// stopped by signals to the process, so nothing cancels it.
func ctx() context.Context { return context.Background() }

// needID returns the single container ID argument.
func needID(c *cli.Context) (string, error) {
	if c.NArg() < 1 {
		return "", fmt.Errorf("%s: a container ID is required", c.Command.Name)
	}
	return c.Args().First(), nil
}
