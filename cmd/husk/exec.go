package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/husk-runtime/husk/libruntime"
)

var execCommand = &command{
	name:  "exec",
	usage: "run another process in a running container",
	args:  "<container-id> [command [args...]]",
	flags: []flagDef{
		{kind: stringFlag, name: "process", aliases: []string{"p"}, usage: "process.json with the whole process (other process flags are ignored)"},
		{kind: stringFlag, name: "console-socket", usage: "unix socket that receives the pty master"},
		{kind: stringFlag, name: "pidfd-socket", usage: "unix socket that receives a pidfd of the process"},
		{kind: stringFlag, name: "cwd", usage: "working directory in the container"},
		{kind: stringsFlag, name: "env", aliases: []string{"e"}, usage: "add an environment variable (NAME=value)"},
		{kind: boolFlag, name: "tty", aliases: []string{"t"}, usage: "allocate a pseudo-terminal"},
		{kind: stringFlag, name: "user", aliases: []string{"u"}, usage: "uid[:gid] (numbers)"},
		{kind: int64sFlag, name: "additional-gids", aliases: []string{"g"}, usage: "supplementary group"},
		{kind: boolFlag, name: "detach", aliases: []string{"d"}, usage: "do not wait for the process"},
		{kind: stringFlag, name: "pid-file", usage: "write the process's host pid to this file"},
		{kind: stringFlag, name: "process-label", usage: "SELinux label of the process"},
		{kind: stringFlag, name: "apparmor", usage: "AppArmor profile of the process"},
		{kind: boolFlag, name: "no-new-privs", usage: "set no_new_privs"},
		{kind: stringsFlag, name: "cap", aliases: []string{"c"}, usage: "add a capability"},
		{kind: intFlag, name: "preserve-fds", usage: "pass this many extra fds (from 3) to the process"},
		{kind: stringsFlag, name: "cgroup", usage: "run the process in an existing sub-cgroup of the container's: PATH, or CONTROLLER[,CONTROLLER...]:PATH (cgroup v1; repeatable)"},
		{kind: boolFlag, name: "ignore-paused", usage: "exec in a paused container too (the process is frozen with it)"},
	},
	action: func(c *ctx) error {
		if _, err := needID(c); err != nil {
			return err
		}
		// As runc: exec exits 255 when the process could not be started,
		// whatever the reason (no such container, a bad process, ...).
		if err := execAction(c); err != nil {
			var ee exitError
			if errors.As(err, &ee) {
				return err
			}
			return codeError{err: err, code: 255}
		}
		return nil
	},
}

func execAction(c *ctx) error {
	ct, err := load(c)
	if err != nil {
		return err
	}
	proc, file, err := execProcess(c, ct)
	if err != nil {
		return err
	}
	if n := c.Int("preserve-fds"); n < 0 {
		return fmt.Errorf("--preserve-fds: %d is negative", n)
	}
	subs, err := subCgroupPaths(c.StringSlice("cgroup"))
	if err != nil {
		return err
	}
	o := libruntime.ExecOpts{
		Process:       proc,
		ProcessFile:   file,
		ConsoleSocket: c.String("console-socket"),
		PidfdSocket:   c.String("pidfd-socket"),
		PidFile:       c.String("pid-file"),
		Detach:        c.Bool("detach"),
		PreserveFDs:   c.Int("preserve-fds"),
		Stdin:         os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		Pipes:        true,
		SubCgroups:   subs,
		IgnorePaused: c.Bool("ignore-paused"),
	}
	if o.ConsoleSocket == "" && !o.Detach && proc.Terminal {
		tty, err := newTTYAttach()
		if err != nil {
			return err
		}
		defer tty.stop()
		o.Console = tty.console
	}
	code, err := ct.Exec(bgContext(), o)
	if err != nil {
		return err
	}
	if code != 0 {
		return exitError{code}
	}
	return nil
}

// subCgroupPaths parses --cgroup as runc does: "path" (one, for every
// controller) or "controller[,controller...]:path" (each controller
// once).
func subCgroupPaths(args []string) (map[string]string, error) {
	if len(args) == 0 {
		return nil, nil
	}
	paths := make(map[string]string, len(args))
	for _, a := range args {
		ctrls, path, ok := strings.Cut(a, ":")
		if !ok {
			if len(args) != 1 {
				return nil, fmt.Errorf("--cgroup %s: a controller is needed (controller:path) when --cgroup is given more than once", a)
			}
			paths[""] = a
			continue
		}
		for _, ctrl := range strings.Split(ctrls, ",") {
			if ctrl == "" {
				return nil, fmt.Errorf("--cgroup %s: empty controller", a)
			}
			if _, dup := paths[ctrl]; dup {
				return nil, fmt.Errorf("--cgroup %s: controller %s given more than once", a, ctrl)
			}
			paths[ctrl] = path
		}
	}
	return paths, nil
}

// execProcess builds the process to exec: --process as given, or the
// container's own process with the command line and flags applied, as
// runc does.
func execProcess(c *ctx, ct *libruntime.Container) (*rspec.Process, string, error) {
	if path := c.String("process"); path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, "", fmt.Errorf("--process: %w", err)
		}
		var p rspec.Process
		if err := json.Unmarshal(data, &p); err != nil {
			return nil, "", fmt.Errorf("--process %s: %w", path, err)
		}
		return &p, path, nil
	}
	args := c.Tail()
	if len(args) == 0 {
		return nil, "", errors.New("exec: a command to run is required (or --process)")
	}
	cfg, err := ct.Config()
	if err != nil {
		return nil, "", err
	}
	if cfg.Process == nil {
		return nil, "", fmt.Errorf("container %s has no recorded process to start from", ct.ID())
	}
	p := *cfg.Process
	p.Args = args
	p.Terminal = c.Bool("tty")
	p.ConsoleSize = nil
	p.Env = append(append([]string(nil), p.Env...), c.StringSlice("env")...)
	if cwd := c.String("cwd"); cwd != "" {
		p.Cwd = cwd
	}
	if u := c.String("user"); u != "" {
		// Numbers only, as runc: a name would have to be looked up in
		// the container's files.
		uid, gid, hasGID := strings.Cut(u, ":")
		if hasGID {
			n, err := strconv.ParseUint(gid, 10, 32)
			if err != nil {
				return nil, "", fmt.Errorf("--user %s: bad gid %q (uid[:gid] are numbers)", u, gid)
			}
			p.User.GID = uint32(n)
		}
		n, err := strconv.ParseUint(uid, 10, 32)
		if err != nil {
			return nil, "", fmt.Errorf("--user %s: bad uid %q (uid[:gid] are numbers)", u, uid)
		}
		p.User.UID = uint32(n)
	}
	for _, g := range c.Int64Slice("additional-gids") {
		if g < 0 || g > 1<<32-1 {
			return nil, "", fmt.Errorf("--additional-gids: %d is not a gid", g)
		}
		p.User.AdditionalGids = append(p.User.AdditionalGids, uint32(g))
	}
	if l := c.String("process-label"); l != "" {
		p.SelinuxLabel = l
	}
	if a := c.String("apparmor"); a != "" {
		p.ApparmorProfile = a
	}
	if c.Bool("no-new-privs") {
		p.NoNewPrivileges = true
	}
	// --cap adds to the bounding, effective and permitted sets, and to the
	// ambient set only when the config has an inheritable set (which
	// --cap leaves alone: the kernel raises no ambient capability that is
	// not inheritable). Names are taken as given; those the kernel does
	// not know are left out with a warning, as in runc. A process without
	// process.capabilities keeps all it has.
	if caps := c.StringSlice("cap"); len(caps) > 0 && p.Capabilities != nil {
		pc := *p.Capabilities
		pc.Bounding = append(slices.Clip(pc.Bounding), caps...)
		pc.Effective = append(slices.Clip(pc.Effective), caps...)
		pc.Permitted = append(slices.Clip(pc.Permitted), caps...)
		if pc.Inheritable != nil {
			pc.Ambient = append(slices.Clip(pc.Ambient), caps...)
		}
		p.Capabilities = &pc
	}
	return &p, "", nil
}

// subCgroups parses --cgroup as runc does: one PATH (for every hierarchy,
// and the only form cgroup v2 knows), or CONTROLLER[,CONTROLLER...]:PATH
