package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/specs"
	"github.com/husk-runtime/husk/vm/api"
	"github.com/husk-runtime/husk/vm/sandbox"
)

func cmdState(g *global, args []string, out io.Writer) error {
	f := newFlags("state")
	if err := f.parse(args); err != nil {
		return err
	}
	id, err := f.id()
	if err != nil {
		return err
	}
	if err := specs.ValidateID(id); err != nil {
		return err
	}
	st, err := readState(filepath.Join(g.root, id))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("container %s does not exist", id)
		}
		return err
	}
	status := "stopped"
	if st.supervisorAlive() {
		if c, err := connect(g, id); err == nil {
			if s, err := c.status(); err == nil {
				status = s
			}
			c.close()
		}
	}
	data, err := json.MarshalIndent(st.oci(status), "", "  ")
	if err != nil {
		return err
	}
	fmt.Fprintln(out, string(data))
	return nil
}

// withConn runs fn on the supervisor of the command's container.
func withConn(g *global, name string, args []string, fn func(f flags, c *conn) error, setup func(f flags)) error {
	f := newFlags(name)
	if setup != nil {
		setup(f)
	}
	if err := f.parse(args); err != nil {
		return err
	}
	id, err := f.id()
	if err != nil {
		return err
	}
	c, err := connect(g, id)
	if err != nil {
		return err
	}
	defer c.close()
	return fn(f, c)
}

func cmdKill(g *global, args []string, out io.Writer) error {
	var all bool
	return withConn(g, "kill", args, func(f flags, c *conn) error {
		sig := unix.SIGTERM
		if f.NArg() > 1 {
			s, err := parseSignal(f.Arg(1))
			if err != nil {
				return err
			}
			sig = s
		}
		return sandbox.Kill(context.Background(), c.agent, c.id, sig, all)
	}, func(f flags) { f.boolean(&all, "all", "a") })
}

func cmdPause(g *global, args []string, out io.Writer) error {
	return withConn(g, "pause", args, func(f flags, c *conn) error {
		_, err := c.agent.PauseContainer(context.Background(), containerReq(c.id))
		return err
	}, nil)
}

func cmdResume(g *global, args []string, out io.Writer) error {
	return withConn(g, "resume", args, func(f flags, c *conn) error {
		_, err := c.agent.ResumeContainer(context.Background(), containerReq(c.id))
		return err
	}, nil)
}

func cmdPs(g *global, args []string, out io.Writer) error {
	var format string
	return withConn(g, "ps", args, func(f flags, c *conn) error {
		r, err := c.agent.ListProcesses(context.Background(), containerReq(c.id))
		if err != nil {
			return err
		}
		switch format {
		case "json":
			pids := r.Pids
			if pids == nil {
				pids = []uint32{}
			}
			return json.NewEncoder(out).Encode(pids)
		case "table":
			// Pids of the guest: no host process stands for them.
			fmt.Fprintln(out, "PID (in the VM)")
			for _, p := range r.Pids {
				fmt.Fprintln(out, p)
			}
			return nil
		}
		return fmt.Errorf("--format: %q is not table or json", format)
	}, func(f flags) { f.str(&format, "table", "format", "f") })
}

// execOpts are exec's flags.
type execOpts struct {
	process, consoleSocket, cwd, user, pidFile string
	env, caps                                  list
	tty, detach, noNewPrivs                    bool
	preserveFDs                                int
}

func cmdExec(g *global, args []string, out io.Writer) error {
	var o execOpts
	f := newFlags("exec")
	f.str(&o.process, "", "process", "p")
	f.str(&o.consoleSocket, "", "console-socket")
	f.str(&o.cwd, "", "cwd")
	f.str(&o.user, "", "user", "u")
	f.str(&o.pidFile, "", "pid-file")
	f.Var(&o.env, "env", "")
	f.Var(&o.env, "e", "")
	f.Var(&o.caps, "cap", "")
	f.Var(&o.caps, "c", "")
	f.boolean(&o.tty, "tty", "t")
	f.boolean(&o.detach, "detach", "d")
	f.boolean(&o.noNewPrivs, "no-new-privs")
	f.IntVar(&o.preserveFDs, "preserve-fds", 0, "")
	var ignored string
	var ignoredBool bool
	f.str(&ignored, "", "cgroup", "process-label", "apparmor")
	f.boolean(&ignoredBool, "ignore-paused")
	if err := f.parse(args); err != nil {
		return err
	}
	id, err := f.id()
	if err != nil {
		return err
	}
	switch {
	case o.preserveFDs != 0:
		return errors.New("--preserve-fds: a VM container cannot inherit host file descriptors")
	case o.consoleSocket != "":
		return errors.New("--console-socket: not supported for a VM container yet; exec -t in the foreground gives the process husk's terminal")
	case o.pidFile != "":
		return errors.New("--pid-file: a process in a VM has no host pid")
	}
	c, err := connect(g, id)
	if err != nil {
		return err
	}
	defer c.close()
	proc, err := execProcess(c.st, o, f.Args()[1:])
	if err != nil {
		return err
	}
	ctx := context.Background()
	stdio := sandbox.Stdio{Stdin: !o.detach, Stdout: !o.detach, Stderr: !o.detach}
	var tty *ttyAttach
	hio := sandbox.IO{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}
	if proc.Terminal {
		if o.detach {
			return errors.New("--tty with --detach: the terminal would have nobody at its other end")
		}
		tty = newTTY()
		defer tty.stop()
		stdio = sandbox.Stdio{Terminal: true}
		stdio.Rows, stdio.Cols = tty.size()
		hio = ttyIO()
	}
	p, _, err := sandbox.Exec(ctx, c.agent, c.id, newExecID(), proc, stdio)
	if err != nil {
		return err
	}
	if o.detach {
		return nil
	}
	if tty != nil {
		tty.follow(ctx, p)
	}
	ioDone := make(chan struct{})
	go func() {
		p.Copy(ctx, hio)
		close(ioDone)
	}()
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, forwardedSignals...)
	defer signal.Stop(sigs)
	go func() {
		for s := range sigs {
			if us, ok := s.(unix.Signal); ok {
				p.Signal(ctx, us)
			}
		}
	}()
	code, err := p.Wait(ctx)
	if err != nil {
		return err
	}
	select {
	case <-ioDone:
	case <-time.After(time.Second):
	}
	c.agent.DeleteProcess(ctx, &api.ProcessRequest{ContainerId: c.id, ExecId: p.ExecID()})
	tty.stop()
	if code != 0 {
		return exitError{code}
	}
	return nil
}

// execProcess builds the process to exec: -p as given, or the container's
// own process with the command line and flags applied.
func execProcess(st *state, o execOpts, argv []string) (*rspec.Process, error) {
	if o.process != "" {
		data, err := os.ReadFile(o.process)
		if err != nil {
			return nil, fmt.Errorf("--process: %w", err)
		}
		var p rspec.Process
		if err := json.Unmarshal(data, &p); err != nil {
			return nil, fmt.Errorf("--process %s: %w", o.process, err)
		}
		return &p, specs.ValidateProcess(&p, o.process)
	}
	if len(argv) == 0 {
		return nil, errors.New("exec: a command to run is required (or --process)")
	}
	spec, err := specs.Load(st.Bundle)
	if err != nil {
		return nil, err
	}
	p := *spec.Process
	p.Args = argv
	p.Terminal = o.tty
	p.ConsoleSize = nil
	p.Env = append(append([]string(nil), p.Env...), o.env...)
	if o.cwd != "" {
		p.Cwd = o.cwd
	}
	if o.user != "" {
		uid, gid, err := parseUser(o.user)
		if err != nil {
			return nil, err
		}
		p.User.UID, p.User.GID = uid, gid
	}
	if o.noNewPrivs {
		p.NoNewPrivileges = true
	}
	if len(o.caps) > 0 {
		var pc rspec.LinuxCapabilities
		if p.Capabilities != nil {
			pc = *p.Capabilities
		}
		for _, name := range o.caps {
			name = strings.ToUpper(name)
			if !strings.HasPrefix(name, "CAP_") {
				name = "CAP_" + name
			}
			pc.Bounding = append(pc.Bounding, name)
			pc.Effective = append(pc.Effective, name)
			pc.Permitted = append(pc.Permitted, name)
			pc.Ambient = append(pc.Ambient, name)
		}
		p.Capabilities = &pc
	}
	return &p, nil
}

// parseUser reads uid[:gid]. Names would need the container's
// /etc/passwd, which is the guest's to read.
func parseUser(s string) (uint32, uint32, error) {
	u, g, hasGid := strings.Cut(s, ":")
	uid, err := strconv.ParseUint(u, 10, 32)
	if err != nil {
		return 0, 0, fmt.Errorf("--user %s: give numeric ids for a VM container", s)
	}
	gid := uint64(0)
	if hasGid {
		if gid, err = strconv.ParseUint(g, 10, 32); err != nil {
			return 0, 0, fmt.Errorf("--user %s: give numeric ids for a VM container", s)
		}
	}
	return uint32(uid), uint32(gid), nil
}

func newExecID() string {
	var b [8]byte
	rand.Read(b[:])
	return "exec-" + hex.EncodeToString(b[:])
}

// parseSignal accepts a number or a name, with or without SIG.
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
