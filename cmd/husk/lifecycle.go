package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/libruntime"
)

var createFlags = []cli.Flag{
	&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Value: ".", Usage: "path to the bundle directory"},
	&cli.StringFlag{Name: "pid-file", Usage: "write the container init's host pid to this file"},
	&cli.StringFlag{Name: "console-socket", Usage: "unix socket that receives the pty master (process.terminal)"},
	&cli.BoolFlag{Name: "no-pivot", Usage: "use MS_MOVE and chroot instead of pivot_root"},
	&cli.BoolFlag{Name: "no-new-keyring", Usage: "keep the caller's session keyring"},
	&cli.IntFlag{Name: "preserve-fds", Usage: "pass this many extra fds (from 3) to the container"},
}

func createOpts(c *cli.Context) (libruntime.CreateOpts, error) {
	n := c.Int("preserve-fds")
	if n < 0 {
		return libruntime.CreateOpts{}, fmt.Errorf("--preserve-fds: %d is negative", n)
	}
	return libruntime.CreateOpts{
		Bundle:        c.String("bundle"),
		PidFile:       c.String("pid-file"),
		ConsoleSocket: c.String("console-socket"),
		NoPivot:       c.Bool("no-pivot"),
		NoNewKeyring:  c.Bool("no-new-keyring"),
		PreserveFDs:   n,
		Stdin:         os.Stdin,
		Stdout:        os.Stdout,
		Stderr:        os.Stderr,
	}, nil
}

var createCommand = &cli.Command{
	Name:      "create",
	Usage:     "create a container; its process waits for start",
	ArgsUsage: "<container-id>",
	Flags:     createFlags,
	Action: func(c *cli.Context) error {
		id, err := needID(c)
		if err != nil {
			return err
		}
		o, err := createOpts(c)
		if err != nil {
			return err
		}
		rt, err := runtime(c)
		if err != nil {
			return err
		}
		_, err = rt.Create(ctx(), id, o)
		return err
	},
}

var startCommand = &cli.Command{
	Name:      "start",
	Usage:     "start a created container",
	ArgsUsage: "<container-id>",
	Action: func(c *cli.Context) error {
		ct, err := load(c)
		if err != nil {
			return err
		}
		return ct.Start(ctx())
	},
}

var runCommand = &cli.Command{
	Name:      "run",
	Usage:     "create and start a container, and wait for it",
	ArgsUsage: "<container-id>",
	Flags: append([]cli.Flag{
		&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "do not wait for the container"},
		&cli.BoolFlag{Name: "keep", Usage: "do not delete the container after it exits"},
	}, createFlags...),
	Action: func(c *cli.Context) error {
		id, err := needID(c)
		if err != nil {
			return err
		}
		o, err := createOpts(c)
		if err != nil {
			return err
		}
		rt, err := runtime(c)
		if err != nil {
			return err
		}
		detach := c.Bool("detach")
		if o.ConsoleSocket == "" && !detach {
			// A container with a terminal and no console socket gets ours.
			tty := newTTYAttach()
			defer tty.stop()
			o.Console = tty.console
		}
		code, err := rt.Run(ctx(), id, libruntime.RunOpts{CreateOpts: o, Detach: detach, Keep: c.Bool("keep")})
		if err != nil {
			return err
		}
		if code != 0 {
			return exitError{code}
		}
		return nil
	},
}

var killCommand = &cli.Command{
	Name:      "kill",
	Usage:     "send a signal (default SIGTERM) to a container's init",
	ArgsUsage: "<container-id> [signal]",
	Flags: []cli.Flag{
		&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "signal every process in the container"},
	},
	Action: func(c *cli.Context) error {
		sig := unix.SIGTERM
		if c.NArg() > 1 {
			s, err := parseSignal(c.Args().Get(1))
			if err != nil {
				return err
			}
			sig = s
		}
		ct, err := load(c)
		if err != nil {
			return err
		}
		return ct.Kill(sig, c.Bool("all"))
	},
}

var deleteCommand = &cli.Command{
	Name:      "delete",
	Usage:     "delete a container and everything it holds",
	ArgsUsage: "<container-id>",
	Flags: []cli.Flag{
		&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "kill the container first if it is running"},
	},
	Action: func(c *cli.Context) error {
		ct, err := load(c)
		if err != nil {
			// Clients call `delete --force` after every container, gone or not.
			if c.Bool("force") && errors.Is(err, libruntime.ErrNotExist) {
				return nil
			}
			return err
		}
		err = ct.Delete(ctx(), c.Bool("force"))
		if c.Bool("force") && errors.Is(err, libruntime.ErrNotExist) {
			return nil
		}
		return err
	},
}

func load(c *cli.Context) (*libruntime.Container, error) {
	id, err := needID(c)
	if err != nil {
		return nil, err
	}
	rt, err := runtime(c)
	if err != nil {
		return nil, err
	}
	return rt.Load(id)
}

// parseSignal accepts what runc accepts: a number, or a name with or
// without the SIG prefix, in any case.
func parseSignal(s string) (unix.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, fmt.Errorf("invalid signal number %d", n)
		}
		return unix.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("unknown signal %q", s)
}
