package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/libruntime"
)

var createFlags = []flagDef{
	{kind: stringFlag, name: "bundle", aliases: []string{"b"}, value: ".", usage: "path to the bundle directory"},
	{kind: stringFlag, name: "pid-file", usage: "write the container init's host pid to this file"},
	{kind: stringFlag, name: "console-socket", usage: "unix socket that receives the pty master (process.terminal)"},
	{kind: stringFlag, name: "pidfd-socket", usage: "unix socket that receives a pidfd of the container's init"},
	{kind: boolFlag, name: "no-pivot", usage: "use MS_MOVE and chroot instead of pivot_root"},
	{kind: boolFlag, name: "no-new-keyring", usage: "keep the caller's session keyring"},
	{kind: intFlag, name: "preserve-fds", usage: "pass this many extra fds (from 3) to the container"},
	{kind: boolFlag, name: "vm", usage: "run the container in its own microVM (husk-vm)"},
}

// createSetup is what create and run read from their command line.
func createSetup(c *ctx) (string, libruntime.CreateOpts, *libruntime.Runtime, error) {
	id, err := needID(c)
	if err != nil {
		return "", libruntime.CreateOpts{}, nil, err
	}
	if err := checkRootless(c); err != nil {
		return "", libruntime.CreateOpts{}, nil, err
	}
	o, err := createOpts(c)
	if err != nil {
		return "", libruntime.CreateOpts{}, nil, err
	}
	rt, err := runtime(c)
	return id, o, rt, err
}

func createOpts(c *ctx) (libruntime.CreateOpts, error) {
	n := c.Int("preserve-fds")
	if n < 0 {
		return libruntime.CreateOpts{}, fmt.Errorf("--preserve-fds: %d is negative", n)
	}
	return libruntime.CreateOpts{
		Bundle:        c.String("bundle"),
		PidFile:       c.String("pid-file"),
		ConsoleSocket: c.String("console-socket"),
		PidfdSocket:   c.String("pidfd-socket"),
		NoPivot:       c.Bool("no-pivot"),
		NoNewKeyring:  c.Bool("no-new-keyring"),
		PreserveFDs:   n,
		SystemdCgroup: c.Bool("systemd-cgroup"),
		Stdin:         os.Stdin,
		Stdout:        os.Stdout,
		Stderr:        os.Stderr,
	}, nil
}

var createCommand = &command{
	name:  "create",
	usage: "create a container; its process waits for start",
	args:  "<container-id>",
	flags: createFlags,
	action: func(c *ctx) error {
		id, o, rt, err := createSetup(c)
		if err != nil {
			return err
		}
		_, err = rt.Create(bgContext(), id, o)
		return err
	},
}

var startCommand = &command{
	name:  "start",
	usage: "start a created container",
	args:  "<container-id>",
	action: func(c *ctx) error {
		ct, err := load(c)
		if err != nil {
			return err
		}
		return ct.Start(bgContext())
	},
}

var runCommand = &command{
	name:  "run",
	usage: "create and start a container, and wait for it",
	args:  "<container-id>",
	flags: append([]flagDef{
		{kind: boolFlag, name: "detach", aliases: []string{"d"}, usage: "do not wait for the container"},
		{kind: boolFlag, name: "keep", usage: "do not delete the container after it exits"},
		{kind: boolFlag, name: "no-subreaper", usage: "do not become a subreaper (orphans of the container go to the system's)"},
	}, createFlags...),
	action: func(c *ctx) error {
		id, o, rt, err := createSetup(c)
		if err != nil {
			return err
		}
		detach := c.Bool("detach")
		if o.ConsoleSocket == "" && !detach {
			// A container with a terminal and no console socket gets
			// ours; without one of ours, its create fails (as runc's).
			tty, err := newTTYAttach()
			if err != nil {
				o.Console = func(master *os.File) error {
					master.Close()
					return err
				}
			} else {
				defer tty.stop()
				o.Console = tty.console
			}
		}
		// In the foreground the container's stdio are pipes of its own
		// (as with runc), copied to and from ours.
		code, err := rt.Run(bgContext(), id, libruntime.RunOpts{CreateOpts: o, Detach: detach, Keep: c.Bool("keep"),
			Pipes: true, NoSubreaper: c.Bool("no-subreaper")})
		if err != nil {
			return err
		}
		if code != 0 {
			return exitError{code}
		}
		return nil
	},
}

var killCommand = &command{
	name:  "kill",
	usage: "send a signal (default SIGTERM) to a container's init",
	args:  "<container-id> [signal]",
	flags: []flagDef{
		// Hidden as in runc, whose --all is obsolete; husk's signals
		// every process of the container's cgroup.
		{kind: boolFlag, name: "all", aliases: []string{"a"}, usage: "signal every process in the container", hidden: true},
	},
	action: func(c *ctx) error {
		sig := unix.SIGTERM
		if c.NArg() > 1 {
			s, err := parseSignal(c.Arg(1))
			if err != nil {
				return err
			}
			sig = s
		}
		ct, err := load(c)
		if err != nil {
			return err
		}
		err = ct.Kill(sig, c.Bool("all"))
		if c.Bool("all") && errors.Is(err, libruntime.ErrNotRunning) {
			// As runc: with --all, no process left to signal is success.
			// podman stops a container without a pid namespace of its own
			// with kill --all and its stop signal, exited or not.
			return nil
		}
		return err
	},
}

var deleteCommand = &command{
	name:  "delete",
	usage: "delete a container and everything it holds",
	args:  "<container-id>",
	flags: []flagDef{
		{kind: boolFlag, name: "force", aliases: []string{"f"}, usage: "kill the container first if it is running"},
	},
	action: func(c *ctx) error {
		ct, err := load(c)
		if err != nil {
			// Clients call `delete --force` after every container, gone or not.
			if c.Bool("force") && errors.Is(err, libruntime.ErrNotExist) {
				return nil
			}
			return err
		}
		err = ct.Delete(bgContext(), c.Bool("force"))
		if c.Bool("force") && errors.Is(err, libruntime.ErrNotExist) {
			return nil
		}
		return err
	},
}

func load(c *ctx) (*libruntime.Container, error) {
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

// parseSignal accepts what runc accepts: a number (0 checks that the
// init exists), or a name with or without the SIG prefix, in any case.
func parseSignal(s string) (unix.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 0 || n > 64 {
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
