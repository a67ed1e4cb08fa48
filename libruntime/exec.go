package libruntime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/libruntime/initproc"
	"github.com/husk-runtime/husk/specs"
)

// ExecOpts are the options of `husk exec`.
type ExecOpts struct {
	// Process is the complete process to run (the CLI builds it from
	// --process or from flags over the container's own process).
	Process               *rspec.Process
	ProcessFile           string // names the source in errors ("exec.json")
	ConsoleSocket         string
	PidfdSocket           string // receives a pidfd of the process
	PidFile               string
	Detach                bool
	PreserveFDs           int
	Stdin, Stdout, Stderr *os.File
	// Console receives (and owns) the pty master when Process.Terminal is
	// set and there is no ConsoleSocket.
	Console func(master *os.File) error
	// Pipes: as RunOpts.Pipes, for a process that is not detached and has
	// no terminal.
	Pipes bool
	// SubCgroups puts the process in sub-cgroups of the container's
	// cgroup (runc's exec --cgroup): key "" for the same one in every
	// hierarchy, else a v1 controller's name (see cgroups.AddProcSub).
	SubCgroups map[string]string
	// IgnorePaused lets the process join a paused container (where it is
	// frozen at once); otherwise exec refuses a paused container.
	IgnorePaused bool
}

// Exec runs another process in the container's namespaces and cgroup, set
// up like the container's own (capabilities, user, seccomp, ...) as the
// given process says. Unless detached it waits, forwarding the signals
// this process receives, and returns the exit code.
func (c *Container) Exec(ctx context.Context, o ExecOpts) (int, error) {
	var sigs chan os.Signal
	if !o.Detach {
		// The exec'd process is our child (husk-init forks it with
		// CLONE_PARENT); as a subreaper we also get its orphans.
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			return -1, fmt.Errorf("become subreaper: %w", err)
		}
		sigs = make(chan os.Signal, 32)
		signal.Notify(sigs, forwardedSignals...)
		defer signal.Stop(sigs)
	}
	var pipes *stdioPipes
	if o.Pipes && !o.Detach && o.Process != nil && !o.Process.Terminal {
		p, err := c.execPipes()
		if err != nil {
			return -1, err
		}
		pipes = p
		defer pipes.close()
		in, out, errOut := o.Stdin, o.Stdout, o.Stderr
		o.Stdin, o.Stdout, o.Stderr = p.child[0], p.child[1], p.child[2]
		pid, err := c.ExecStart(ctx, o)
		if err != nil {
			return -1, err
		}
		pipes.start(in, out, errOut)
		code, err := c.rt.waitForwarding(pid, startTime(pid), sigs)
		pipes.wait()
		return code, err
	}
	pid, err := c.ExecStart(ctx, o)
	if err != nil {
		return -1, err
	}
	if o.Detach {
		return 0, nil
	}
	start := startTime(pid)
	return c.rt.waitForwarding(pid, start, sigs)
}

// execPipes makes the pipes of a foreground exec, owned by the
// container's root.
func (c *Container) execPipes() (*stdioPipes, error) {
	cfg, err := c.Config()
	if err != nil {
		return nil, err
	}
	uid, gid, err := hostRoot(cfg)
	if err != nil {
		return nil, err
	}
	p, err := newStdioPipes()
	if err != nil {
		return nil, err
	}
	if err := p.chown(uid, gid); err != nil {
		p.close()
		return nil, err
	}
	return p, nil
}

// ExecStart starts the process and returns its host pid once it has been
// set up; it does not wait for it. Its exit is collected by the runtime's
// Reaper (the process is our child).
func (c *Container) ExecStart(ctx context.Context, o ExecOpts) (int, error) {
	tr := c.rt.tracer.begin("exec")
	defer tr.end()
	file := o.ProcessFile
	if file == "" {
		file = "process"
	}
	if err := specs.ValidateProcess(o.Process, file); err != nil {
		return -1, err
	}
	if c.Status() == Paused && !o.IgnorePaused {
		return -1, fmt.Errorf("cannot exec in container %s: it is paused (--ignore-paused to exec anyway)", c.id)
	}
	switch status := c.Status(); status {
	case Created, Running, Paused:
	default:
		return -1, fmt.Errorf("cannot exec in container %s: it is %s", c.id, status)
	}
	if o.Process.Terminal && o.ConsoleSocket == "" && o.Console == nil {
		return -1, errors.New("process.terminal: a terminal needs --console-socket")
	}
	if !o.Process.Terminal && o.ConsoleSocket != "" {
		return -1, errors.New("--console-socket: the process has no terminal (use --tty)")
	}
	var console *unixSock
	if o.ConsoleSocket != "" {
		conn, err := dialUnix(o.ConsoleSocket)
		if err != nil {
			return -1, fmt.Errorf("--console-socket: %w", err)
		}
		defer conn.Close()
		console = conn
	}
	var pidfdSock *unixSock
	if o.PidfdSocket != "" {
		conn, err := dialUnix(o.PidfdSocket)
		if err != nil {
			return -1, fmt.Errorf("--pidfd-socket: %w", err)
		}
		defer conn.Close()
		pidfdSock = conn
	}
	pidfd, err := pidfdOf(c.state.InitPid, c.state.InitStart)
	if err != nil {
		return -1, fmt.Errorf("cannot exec in container %s: %w", c.id, err)
	}
	cfg, err := c.Config()
	if err != nil {
		unix.Close(pidfd)
		return -1, err
	}
	spec := *cfg
	process := *o.Process
	process.Env = append([]string(nil), process.Env...)
	spec.Process = &process
	// As at create (and as runc does for exec): HOME from the container's
	// /etc/passwd when the process leaves it out.
	withHome(&spec, c.state.Rootfs)
	pl := &planner{
		spec:        &spec,
		rootfs:      c.state.Rootfs,
		id:          c.id,
		preserveFDs: o.PreserveFDs,
		terminal:    o.Process.Terminal,
		rootless:    os.Geteuid() != 0,
		host:        theHost{},
	}
	pl.plan.Trace = tr.enabled()
	if err := pl.compileExec(os.NewFile(uintptr(pidfd), "pidfd")); err != nil {
		return -1, err
	}
	for _, w := range pl.warnings {
		c.rt.log.Warnf("%s", w)
	}
	tr.phase("plan")

	files := make([]*os.File, 0, o.PreserveFDs+len(pl.files))
	for i := 0; i < o.PreserveFDs; i++ {
		files = append(files, os.NewFile(uintptr(3+i), "preserved-"+strconv.Itoa(3+i)))
	}
	files = append(files, pl.files...)
	spawned := monotonic()
	child, err := initproc.Start(initproc.Config{
		Plan: &pl.plan, Files: files,
		Stdin: o.Stdin, Stdout: o.Stdout, Stderr: o.Stderr,
	})
	pl.closeFiles()
	if err != nil {
		return -1, err
	}
	defer child.Close()
	tr.phase("spawn")
	// The exec'd process is not the container's init: the conversation is
	// create's, with a throwaway state so the container's is untouched.
	proc := &Container{rt: c.rt, id: c.id, dir: c.dir, state: &State{
		Bundle: c.state.Bundle, Annotations: c.state.Annotations,
	}}
	s := &setup{ctx: ctx, c: proc, spec: &spec, child: child, pl: pl, console: console, consoleFn: o.Console,
		tr: tr, last: spawned, exec: true}
	fail := func(err error) (int, error) {
		child.Proc.Kill()
		if proc.state.InitPid != 0 {
			unix.Kill(proc.state.InitPid, unix.SIGKILL)
		}
		if !s.reaped {
			c.rt.reaper.Wait(child.Proc.Pid)
		} else if proc.state.InitPid != 0 {
			// The forked process is our child (CLONE_PARENT): leaving its zombie
			// to whoever adopts us next would keep the container's init
			// from finishing its death.
			c.rt.reaper.Wait(proc.state.InitPid)
		}
		child.Proc.Release()
		return -1, err
	}
	if len(c.state.Cgroup.Paths) > 0 {
		if err := c.joinCgroup(child.Proc.Pid, o.SubCgroups); err != nil {
			return fail(fmt.Errorf("join the cgroup of %s: %w", c.id, err))
		}
	}
	tr.phase("cgroups")
	if err := s.run(); err != nil {
		return fail(err)
	}
	for _, w := range pl.setupWarnings {
		c.rt.log.Warnf("%s", w)
	}
	if pidfdSock != nil {
		if err := sendPidfd(pidfdSock, "setns", proc.state.InitPid, proc.state.InitStart); err != nil {
			return fail(err)
		}
	}
	if o.PidFile != "" {
		if err := writePidFile(o.PidFile, proc.state.InitPid); err != nil {
			return fail(err)
		}
	}
	if err := child.Send(initproc.MsgDone, nil); err != nil {
		return fail(err)
	}
	// husk-init's end of the socket closes at its execve: return once the
	// pid really is the user's process (a pid file read right after
	// `exec -d` must not show husk-init).
	if _, err := child.Recv(ctx); err != nil && ctx.Err() != nil {
		return fail(err)
	}
	child.Proc.Release()
	tr.phase("ready")
	return proc.state.InitPid, nil
}

func (c *Container) joinCgroup(pid int, sub map[string]string) error {
	cg, err := c.cgroup()
	if err != nil {
		return err
	}
	if len(sub) > 0 {
		return cg.AddProcSub(pid, sub)
	}
	return cg.AddProc(pid)
}
