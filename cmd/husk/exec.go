package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
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
		{kind: stringFlag, name: "cwd", usage: "working directory in the container"},
		{kind: stringsFlag, name: "env", aliases: []string{"e"}, usage: "add an environment variable (NAME=value)"},
		{kind: boolFlag, name: "tty", aliases: []string{"t"}, usage: "allocate a pseudo-terminal"},
		{kind: stringFlag, name: "user", aliases: []string{"u"}, usage: "uid[:gid] (numbers, or names from the container's /etc/passwd and /etc/group)"},
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
		sub, err := subCgroups(c.StringSlice("cgroup"))
		if err != nil {
			return err
		}
		o := libruntime.ExecOpts{
			Process:       proc,
			ProcessFile:   file,
			ConsoleSocket: c.String("console-socket"),
			PidFile:       c.String("pid-file"),
			Detach:        c.Bool("detach"),
			PreserveFDs:   c.Int("preserve-fds"),
			Stdin:         os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
			SubCgroups:   sub,
			IgnorePaused: c.Bool("ignore-paused"),
		}
		if o.ConsoleSocket == "" && !o.Detach && proc.Terminal {
			tty := newTTYAttach()
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
	},
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
		uid, gid, err := ct.LookupUser(u)
		if err != nil {
			return nil, "", fmt.Errorf("--user %s: %w", u, err)
		}
		p.User.UID, p.User.GID = uid, gid
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
	if caps := c.StringSlice("cap"); len(caps) > 0 {
		var pc rspec.LinuxCapabilities
		if p.Capabilities != nil {
			pc = *p.Capabilities
		}
		for _, name := range caps {
			name = strings.ToUpper(name)
			if !strings.HasPrefix(name, "CAP_") {
				name = "CAP_" + name
			}
			pc.Bounding = append(pc.Bounding, name)
			pc.Effective = append(pc.Effective, name)
			pc.Permitted = append(pc.Permitted, name)
			pc.Inheritable = append(pc.Inheritable, name)
			pc.Ambient = append(pc.Ambient, name)
		}
		p.Capabilities = &pc
	}
	return &p, "", nil
}

// subCgroups parses --cgroup as runc does: one PATH (for every hierarchy,
// and the only form cgroup v2 knows), or CONTROLLER[,CONTROLLER...]:PATH
// arguments, each controller given once.
func subCgroups(args []string) (map[string]string, error) {
	if len(args) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(args))
	for _, a := range args {
		ctrls, p, ok := strings.Cut(a, ":")
		if !ok {
			if len(args) != 1 {
				return nil, fmt.Errorf("--cgroup %s: with several --cgroup, each needs a CONTROLLER: prefix", a)
			}
			out[""] = a
			continue
		}
		for ctrl := range strings.SplitSeq(ctrls, ",") {
			if ctrl == "" {
				return nil, fmt.Errorf("--cgroup %s: empty controller name", a)
			}
			if _, dup := out[ctrl]; dup {
				return nil, fmt.Errorf("--cgroup %s: controller %s given twice", a, ctrl)
			}
			out[ctrl] = p
		}
	}
	return out, nil
}
