package libruntime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/cgroups"
	"github.com/husk-runtime/husk/internal/mountfd"
	"github.com/husk-runtime/husk/libruntime/initproc"
	"github.com/husk-runtime/husk/nsutil"
	"github.com/husk-runtime/husk/specs"
)

// CreateOpts are the options of `husk create`.
type CreateOpts struct {
	Bundle        string
	PidFile       string
	ConsoleSocket string
	// PidfdSocket: a unix socket that receives a pidfd of the init.
	PidfdSocket  string
	NoPivot      bool
	NoNewKeyring bool
	// PreserveFDs: fds 3 .. 3+PreserveFDs-1 of this process stay open in
	// the container.
	PreserveFDs int
	// The container's stdio when process.terminal is false (default: ours).
	Stdin, Stdout, Stderr *os.File
	// SystemdCgroup places the container in a systemd unit (the systemd
	// cgroup driver, linux.cgroupsPath "slice:prefix:name") instead of
	// writing its cgroups directly. The Runtime needs WithSystemdBus.
	SystemdCgroup bool
	// Console receives (and then owns) the pty master when
	// process.terminal is set and no ConsoleSocket is given (`husk run`
	// attaching its own terminal).
	Console func(master *os.File) error

	// pipes: Stdin, Stdout and Stderr are the ends of RunOpts.Pipes,
	// given to the container's root.
	pipes *stdioPipes
}

// Create creates a container from the bundle: when it returns, the
// container's init exists in all its namespaces and cgroups, the rootfs is
// ready, and the init waits for Start to exec the user's process. On any
// error nothing is left behind.
func (r *Runtime) Create(ctx context.Context, id string, o CreateOpts) (*Container, error) {
	c, _, err := r.create(ctx, id, o)
	return c, err
}

// create also reports whether the init is a child of this process.
func (r *Runtime) create(ctx context.Context, id string, o CreateOpts) (_ *Container, initIsChild bool, err error) {
	tr := r.tracer.begin("create")
	defer tr.end()
	if err := specs.ValidateID(id); err != nil {
		return nil, false, err
	}
	bundle, err := filepath.Abs(o.Bundle)
	if err != nil {
		return nil, false, fmt.Errorf("bundle %s: %w", o.Bundle, err)
	}
	configPath := filepath.Join(bundle, configFile)
	configData, err := os.ReadFile(configPath)
	if err != nil {
		return nil, false, fmt.Errorf("loading bundle: %w", err)
	}
	spec, err := specs.LoadBytes(bundle, configData)
	if err != nil {
		return nil, false, err
	}
	tr.phase("load-config")
	if o.pipes != nil && spec.Process.Terminal {
		// The container's stdio are its terminal: the pipes stay unused
		// (nothing may read our stdin for them).
		o.pipes.unused = true
	} else if o.pipes != nil {
		uid, gid, err := hostRoot(spec)
		if err == nil {
			err = o.pipes.chown(uid, gid)
		}
		if err != nil {
			return nil, false, err
		}
	}
	if spec.Process.Terminal && o.ConsoleSocket == "" && o.Console == nil {
		return nil, false, errors.New("process.terminal: a container with a terminal needs --console-socket")
	}
	if !spec.Process.Terminal && o.ConsoleSocket != "" {
		return nil, false, errors.New("--console-socket: process.terminal is false, there is no terminal to send")
	}
	var console *unixSock
	if o.ConsoleSocket != "" {
		conn, err := dialUnix(o.ConsoleSocket)
		if err != nil {
			return nil, false, fmt.Errorf("--console-socket: %w", err)
		}
		defer conn.Close()
		console = conn
	}
	var pidfdSock *unixSock
	if o.PidfdSocket != "" {
		conn, err := dialUnix(o.PidfdSocket)
		if err != nil {
			return nil, false, fmt.Errorf("--pidfd-socket: %w", err)
		}
		defer conn.Close()
		pidfdSock = conn
	}

	h, err := r.hierarchy()
	if err != nil {
		return nil, false, fmt.Errorf("cgroups: %w", err)
	}
	cgPath := ""
	if spec.Linux != nil {
		cgPath = spec.Linux.CgroupsPath
	}
	cg, err := r.newCgroup(h, cgPath, id, o.SystemdCgroup)
	if err != nil {
		return nil, false, err
	}
	if err := r.ensureRoot(); err != nil {
		return nil, false, err
	}
	d, err := lockDir(r.dir(id), true)
	if err != nil {
		if errors.Is(err, ErrExist) {
			return nil, false, fmt.Errorf("container %s: %w", id, ErrExist)
		}
		return nil, false, err
	}
	defer d.unlock()

	c := &Container{rt: r, id: id, dir: d.path}
	c.state = &State{
		ID:           id,
		Bundle:       bundle,
		Rootfs:       specs.RootfsPath(spec, bundle),
		Created:      time.Now().UTC(),
		Annotations:  spec.Annotations,
		CreatorPid:   os.Getpid(),
		CreatorStart: startTime(os.Getpid()),
		// Recorded before any cgroup is made: a create killed halfway
		// leaves enough for `delete --force` to remove what it made.
		Cgroup: cg.Intent(),
	}
	var child *initproc.Init
	var s *setup
	var cgPending chan error
	defer func() {
		if err != nil {
			if cgPending != nil {
				<-cgPending
			}
			c.abort(child, cg, s != nil && s.reaped)
			// A container whose init was started is deleted as any other:
			// its poststop hooks run (runc's destroy), their failure a
			// warning next to the error.
			if child != nil {
				if herr := c.runPoststop(context.WithoutCancel(ctx), spec.Hooks); herr != nil {
					r.log.Warnf("%v", herr)
				}
			}
		}
	}()
	if mntns, _ := hasNamespace(spec, rspec.MountNamespace); !mntns {
		before, err := mountfd.Under(c.state.Rootfs)
		if err != nil {
			return nil, false, err
		}
		c.hostMountsBefore = make(map[int]bool, len(before))
		c.state.HostMountsBefore = []int{}
		for id := range before {
			c.hostMountsBefore[id] = true
			c.state.HostMountsBefore = append(c.state.HostMountsBefore, id)
		}
	}
	if err := writeState(c.dir, c.state); err != nil {
		return nil, false, err
	}
	startListener, err := listenStart(d.f)
	if err != nil {
		return nil, false, err
	}
	defer startListener.Close()
	tr.phase("state")

	// Without root, cgroups are used only where someone delegated a
	// writable one; otherwise the container runs without, as with runc.
	rootless := os.Geteuid() != 0
	useCgroups := true
	if rootless {
		res := resourcesWithDevices(spec, nil)
		if err := cg.Create(res); err != nil {
			if !errors.Is(err, os.ErrPermission) && !errors.Is(err, unix.EROFS) {
				return nil, false, err
			}
			r.log.Warnf("cgroups: %v: running %s without cgroups (not root: uid %d); linux.resources are not applied",
				err, id, os.Geteuid())
			useCgroups = false
			cg = nil
			c.state.Cgroup = cgroups.State{}
		}
	}
	cgPaths := map[string]string{}
	if cg != nil {
		cgPaths = cg.State().Paths
	}
	// The cgroup is made and configured while the rest of create goes on
	// (the plan, the spawn): the two run on different CPUs. husk-init
	// waits for its cgroup before it does anything.
	res := resourcesWithDevices(spec, containerDevices(spec))
	if setsKernelMemory(res) {
		r.log.Warnf("%s", kernelMemoryIgnored)
	}
	cgPending = make(chan error, 1)
	if useCgroups {
		go func() {
			if !rootless {
				if err := cg.Create(res); err != nil {
					cgPending <- err
					return
				}
			}
			cgPending <- cg.Apply(res)
		}()
	} else {
		cgPending <- nil
	}
	pl := &planner{
		spec:         spec,
		bundle:       bundle,
		rootfs:       c.state.Rootfs,
		id:           id,
		noPivot:      o.NoPivot,
		noNewKeyring: o.NoNewKeyring,
		preserveFDs:  o.PreserveFDs,
		terminal:     spec.Process.Terminal,
		hier:         h,
		cg:           cgPaths,
		rootless:     rootless,
		host:         theHost{},
	}
	pl.plan.Trace = tr.enabled()
	withHome(spec, c.state.Rootfs)
	err = pl.compileCreate(startListener)
	for _, w := range pl.warnings {
		r.log.Warnf("config.json: %s", w)
	}
	if err != nil {
		return nil, false, err
	}
	tr.phase("plan")

	files := make([]*os.File, 0, o.PreserveFDs+len(pl.files))
	for i := 0; i < o.PreserveFDs; i++ {
		files = append(files, os.NewFile(uintptr(3+i), "preserved-"+strconv.Itoa(3+i)))
	}
	files = append(files, pl.files...)
	spawned := monotonic()
	child, err = initproc.Start(initproc.Config{
		Plan: &pl.plan, Files: files,
		Stdin: o.Stdin, Stdout: o.Stdout, Stderr: o.Stderr,
		Clone: pl.clone,
	})
	pl.closeFiles()
	if err != nil {
		return nil, false, err
	}
	tr.phase("spawn")

	cgErr := <-cgPending
	cgPending = nil
	if cgErr != nil {
		return nil, false, cgErr
	}
	if useCgroups {
		err := cg.AddProc(child.Proc.Pid)
		// After AddProc: a driver may make directories there (systemd).
		c.state.Cgroup = cg.State()
		if err != nil {
			return nil, false, fmt.Errorf("linux.cgroupsPath: %w", err)
		}
	}
	tr.phase("cgroups")

	s = &setup{ctx: ctx, c: c, spec: spec, configData: configData, child: child, pl: pl, console: console,
		consoleFn: o.Console, tr: tr, last: spawned}
	if err := s.run(); err != nil {
		return nil, false, err
	}
	for _, w := range pl.setupWarnings {
		r.log.Warnf("%s", w)
	}
	if c.hostMountsBefore != nil {
		if err := c.recordHostMounts(); err != nil {
			return nil, false, err
		}
	}
	if pidfdSock != nil {
		if err := sendPidfd(pidfdSock, "standard", c.state.InitPid, c.state.InitStart); err != nil {
			return nil, false, err
		}
	}
	if err := child.Send(initproc.MsgDone, s.startContainerState()); err != nil {
		return nil, false, err
	}
	tr.phase("ready")
	// runc runs poststart hooks here, once its init waits for start (the
	// spec would have them after the user's process is executed): a
	// failing one fails create, and the container is removed.
	if h := spec.Hooks; h != nil && len(h.Poststart) > 0 {
		if err := r.runHooks(ctx, "poststart", h.Poststart, c.hookState(Created)); err != nil {
			return nil, false, err
		}
		tr.phase("poststart")
	}
	if o.PidFile != "" {
		if err := writePidFile(o.PidFile, c.state.InitPid); err != nil {
			return nil, false, err
		}
	}
	child.Close()
	// Whoever reaps the init (our caller's reaper, or its subreaper once
	// we are gone) does not need Go's handle on it.
	child.Proc.Release()
	return c, !pl.forks, nil
}

// setup is the conversation with husk-init during create.
type setup struct {
	ctx  context.Context
	c    *Container
	spec *rspec.Spec
	// configData is config.json as read, kept in the state directory (an
	// encoding of spec would cost a cold process a millisecond or more).
	configData []byte
	child      *initproc.Init
	pl         *planner
	console    *unixSock
	consoleFn  func(*os.File) error
	tr         *traceRun
	last       time.Duration
	// exec: the process is not the container's init; its state is not
	// persisted.
	exec bool
	// reaped: husk-init's own process has been waited for.
	reaped bool
}

// run answers husk-init until it reports that the container is ready.
func (s *setup) run() error {
	st := s.c.state
	for {
		m, err := s.child.Recv(s.ctx)
		if err != nil {
			return s.initFailed(err)
		}
		if m.File != nil && m.Type != initproc.MsgConsole && m.Type != initproc.MsgSeccomp {
			m.File.Close()
		}
		switch m.Type {
		case initproc.MsgSync:
			err = s.parentStep(int(m.Val))
			if err == nil {
				err = s.child.Send(initproc.MsgAck, nil)
			}
		case initproc.MsgUsermap:
			// The maps of the process we started, whatever pid it names.
			err = nsutil.WriteIDMaps(s.child.Proc.Pid, s.spec.Linux.UIDMappings, s.spec.Linux.GIDMappings)
			if err == nil {
				err = s.child.Send(initproc.MsgAck, nil)
			}
		case initproc.MsgPid:
			// Without a fork of husk-init's own, the init is husk-init, whose
			// pid we know (its report may be 1, in its own pid namespace).
			st.InitPid = int(m.Val)
			if !s.pl.forks {
				st.InitPid = s.child.Proc.Pid
			}
			st.InitStart = startTime(st.InitPid)
			st.PidNS = s.pl.pidns
			// Not persisted until ready: a create killed before then leaves
			// an init that exits at its next word with us, and `delete
			// --force` kills whatever is in the container's cgroup.
			if s.pl.forks {
				// The forking husk-init exits now; reap it.
				s.c.rt.reaper.Wait(s.child.Proc.Pid)
				s.child.Proc.Release()
				s.reaped = true
			}
		case initproc.MsgHooks:
			err = s.hooks()
		case initproc.MsgConsole:
			err = s.sendConsole(m.File)
			if err == nil {
				err = s.child.Send(initproc.MsgAck, nil)
			}
		case initproc.MsgSeccomp:
			err = s.sendSeccomp(m.File)
			if err == nil {
				err = s.child.Send(initproc.MsgAck, nil)
			}
		case initproc.MsgTrace:
			s.tr.child(s.pl.plan.Describe(m.Op), m.Time-s.last)
			s.last = m.Time
		case initproc.MsgError:
			return s.child.Error(m)
		case initproc.MsgReady:
			if s.exec {
				return nil
			}
			if err := writeAtomic(s.c.dir, configFile, s.configData); err != nil {
				return err
			}
			st.Ready, st.Hooks = true, s.spec.Hooks
			st.CreatorPid, st.CreatorStart = 0, 0
			return writeState(s.c.dir, st)
		default:
			err = fmt.Errorf("unexpected message %d from husk-init", m.Type)
		}
		if err != nil {
			return err
		}
	}
}

// parentStep does what husk-init waits for at an OpWaitParent: the
// writes to its /proc files that it should not make itself. A process
// that lowered its oom_score_adj (which needs CAP_SYS_RESOURCE) or wrote
// its time offsets would have to be dumpable, or hold a procfs, when the
// container could already reach it.
func (s *setup) parentStep(kind int) error {
	pid := s.child.Proc.Pid
	switch kind {
	case waitCgroup:
		if adj := s.spec.Process.OOMScoreAdj; adj != nil {
			return writeProcFile(pid, "oom_score_adj", strconv.Itoa(*adj), "process.oomScoreAdj")
		}
	case waitTimens:
		return writeProcFile(pid, "timens_offsets", timensOffsets(s.spec.Linux.TimeOffsets), "linux.timeOffsets")
	case waitNetdev:
		// After the fork into a pid namespace the init is husk-init's child.
		if st := s.c.state; st.InitPid != 0 {
			pid = st.InitPid
		}
		return moveNetDevices(pid, s.spec.Linux.NetDevices)
	}
	return nil
}

// initFailed explains a husk-init that went away without a word: it was
// killed, or it crashed.
func (s *setup) initFailed(err error) error {
	if s.ctx.Err() != nil {
		return s.ctx.Err()
	}
	if s.c.state.InitPid == 0 || !s.pl.forks {
		if code, werr := s.c.rt.reaper.Wait(s.child.Proc.Pid); werr == nil {
			s.child.Proc.Release()
			s.reaped = true
			return fmt.Errorf("container init exited during setup (exit code %d)", code)
		}
	}
	return err
}

// hooks runs prestart and createRuntime hooks, then gives husk-init the
// state for the createContainer hooks it runs inside the container. The
// container is being created for all three (runc's "creating").
func (s *setup) hooks() error {
	h := s.spec.Hooks
	state := s.c.hookState(Creating)
	if err := s.c.rt.runHooks(s.ctx, "prestart", h.Prestart, state); err != nil {
		return err
	}
	if err := s.c.rt.runHooks(s.ctx, "createRuntime", h.CreateRuntime, state); err != nil {
		return err
	}
	data, err := json.Marshal(state)
	if err != nil {
		return err
	}
	return s.child.Send(initproc.MsgAck, data)
}

// startContainerState is the state husk-init gives the startContainer
// hooks it runs in the container: created, with the init's pid as the
// container sees it (runc's init puts its own getpid there). Nil without
// such hooks.
func (s *setup) startContainerState() []byte {
	h := s.spec.Hooks
	if h == nil || len(h.StartContainer) == 0 {
		return nil
	}
	state := s.c.hookState(Created)
	if pid, err := nsPid(state.Pid); err == nil {
		state.Pid = pid
	}
	data, err := json.Marshal(state)
	if err != nil {
		return nil
	}
	return data
}

func (s *setup) sendConsole(master *os.File) error {
	if master == nil {
		return errors.New("process.terminal: husk-init sent no pty")
	}
	if s.console == nil {
		// The callback owns the master from here on.
		return s.consoleFn(master)
	}
	defer master.Close()
	if err := s.console.sendFile([]byte("/dev/ptmx"), master); err != nil {
		return fmt.Errorf("--console-socket: send pty: %w", err)
	}
	return nil
}

// sendSeccomp hands the seccomp notify fd to linux.seccomp.listenerPath
// with the container state, as runc does.
func (s *setup) sendSeccomp(fd *os.File) error {
	if fd == nil {
		return errors.New("linux.seccomp: husk-init sent no notify fd")
	}
	defer fd.Close()
	sc := s.spec.Linux.Seccomp
	conn, err := dialUnix(sc.ListenerPath)
	if err != nil {
		return fmt.Errorf("linux.seccomp.listenerPath: %w", err)
	}
	defer conn.Close()
	state := rspec.ContainerProcessState{
		Version:  rspec.Version,
		Fds:      []string{rspec.SeccompFdName},
		Pid:      s.c.state.InitPid,
		Metadata: sc.ListenerMetadata,
		State:    s.c.hookState(Creating),
	}
	data, err := json.Marshal(state)
	if err != nil {
		return err
	}
	if err := conn.sendFile(data, fd); err != nil {
		return fmt.Errorf("linux.seccomp.listenerPath: send notify fd: %w", err)
	}
	return nil
}

// abort undoes a failed create: kill what was started, remove the cgroup
// and the state directory.
func (c *Container) abort(child *initproc.Init, cg cgroupManager, reaped bool) {
	if child != nil {
		child.Close()
		if !reaped {
			child.Proc.Kill()
		}
	}
	if c.state.InitPid != 0 {
		c.killInit(unix.SIGKILL, true)
	}
	if child != nil && !reaped {
		c.rt.reaper.Wait(child.Proc.Pid)
		child.Proc.Release()
	}
	if cg != nil {
		if err := cg.Destroy(); err != nil {
			c.rt.log.Warnf("remove cgroup of %s: %v", c.id, err)
		}
	}
	if c.hostMountsBefore != nil {
		err := c.findHostMounts()
		if err == nil {
			err = c.unmountHostMounts()
		}
		if err != nil {
			c.rt.log.Warnf("%v", err)
		}
	}
	if err := removeDir(c.dir); err != nil {
		c.rt.log.Warnf("%v", err)
	}
}

func writePidFile(path string, pid int) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("--pid-file: %w", err)
	}
	tmp := filepath.Join(filepath.Dir(abs), "."+filepath.Base(abs)+".tmp")
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(pid)), 0o644); err != nil {
		return fmt.Errorf("--pid-file: %w", err)
	}
	if err := os.Rename(tmp, abs); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("--pid-file: %w", err)
	}
	return nil
}

func monotonic() time.Duration {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return time.Duration(ts.Nano())
}
