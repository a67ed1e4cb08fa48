package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/containerd/ttrpc"
	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/specs"
	"github.com/husk-runtime/husk/vm"
	"github.com/husk-runtime/husk/vm/api"
	"github.com/husk-runtime/husk/vm/assets"
	"github.com/husk-runtime/husk/vm/sandbox"
)

// Annotations of config.json that concern the VM.
const (
	// AnnotationVM set to "true" runs the container in a VM without --vm.
	AnnotationVM = "io.husk.vm"
	// AnnotationMemory sizes the VM, in MiB.
	AnnotationMemory = "io.husk.vm.memory"
	// AnnotationCPUs gives the VM more vCPUs.
	AnnotationCPUs = "io.husk.vm.cpus"
	// AnnotationBootTimeout bounds the VM's start, in seconds.
	AnnotationBootTimeout = "io.husk.vm.boot-timeout"
	// AnnotationShare chooses how the rootfs reaches the guest: 9p
	// (default) or virtiofs.
	AnnotationShare = "io.husk.vm.share"
)

// vmOverhead is what the guest needs besides the container's memory limit.
const vmOverhead = 128

// vmConfig sizes the VM for a container's config.
func vmConfig(spec *rspec.Spec, id, dir string, a *assets.Assets) (vm.Config, error) {
	c := vm.Config{Name: "husk-vm-" + id, Dir: dir, Kernel: a.Kernel, Initrd: a.Initrd}
	if v, ok := spec.Annotations[AnnotationMemory]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return c, fmt.Errorf("annotation %s: %q is not a number of MiB", AnnotationMemory, v)
		}
		c.MemoryMiB = n
	} else if l := spec.Linux; l != nil && l.Resources != nil && l.Resources.Memory != nil && l.Resources.Memory.Limit != nil {
		if need := int(*l.Resources.Memory.Limit>>20) + vmOverhead; need > vm.DefaultMemoryMiB {
			c.MemoryMiB = need
		}
	}
	if v, ok := spec.Annotations[AnnotationCPUs]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || n > 64 {
			return c, fmt.Errorf("annotation %s: %q is not a number of vCPUs", AnnotationCPUs, v)
		}
		c.CPUs = n
	}
	if v, ok := spec.Annotations[AnnotationBootTimeout]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return c, fmt.Errorf("annotation %s: %q is not a number of seconds", AnnotationBootTimeout, v)
		}
		c.BootTimeout = time.Duration(n) * time.Second
	}
	if v, ok := spec.Annotations[AnnotationShare]; ok {
		c.Share = vm.ShareKind(v)
	}
	return c, nil
}

// supervisor owns a VM container's VM: qemu, the agent's connection, the
// container's stdio, and a socket in the state directory through which
// later husk commands reach the agent. It runs in `husk run`'s own
// process, or detached for `husk create` and `husk run -d`.
type supervisor struct {
	id, dir string
	st      *state
	sb      *sandbox.Sandbox
	init    *sandbox.Process
	srv     *ttrpc.Server
	conns   connCount // the clients on srv's socket
	ioDone  chan struct{}
	// shutdown is closed when a command asks for the VM's end (delete).
	shutdown     chan struct{}
	shutdownOnce sync.Once
	tr           *tracer
}

type superviseOpts struct {
	root, id, bundle string
	stdio            sandbox.IO
	// tty: the container's terminal is this process's.
	tty *ttyAttach
	tr  *tracer
}

// startSupervisor makes the container's state directory, the VM and the
// container. On error nothing is left.
func startSupervisor(ctx context.Context, o superviseOpts) (_ *supervisor, err error) {
	if err := specs.ValidateID(o.id); err != nil {
		return nil, err
	}
	bundle, err := filepath.Abs(o.bundle)
	if err != nil {
		return nil, err
	}
	spec, err := specs.Load(bundle)
	if err != nil {
		return nil, err
	}
	if spec.Process.Terminal && o.tty == nil {
		return nil, errors.New("process.terminal: a detached container with a terminal needs --console-socket")
	}
	a, err := assets.Lookup(assets.Dir())
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.root, 0o711); err != nil {
		return nil, fmt.Errorf("state root %s: %w", o.root, err)
	}
	dir := filepath.Join(o.root, o.id)
	if err := os.Mkdir(dir, 0o700); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("container %s already exists", o.id)
		}
		return nil, err
	}
	s := &supervisor{id: o.id, dir: dir, ioDone: make(chan struct{}), shutdown: make(chan struct{}), tr: o.tr}
	defer func() {
		if err != nil {
			s.close()
			vm.RemoveDir(dir)
		}
	}()
	s.st = &state{ID: o.id, Bundle: bundle, Rootfs: specs.RootfsPath(spec, bundle), Created: time.Now().UTC(),
		Annotations: spec.Annotations, Pid: os.Getpid(), PidStart: startTime(os.Getpid())}
	if err := writeState(dir, s.st); err != nil {
		return nil, err
	}
	cfg, err := vmConfig(spec, o.id, filepath.Join(dir, vmDir), a)
	if err != nil {
		return nil, err
	}
	o.tr.phase("load-config")
	if s.sb, err = sandbox.Start(ctx, cfg); err != nil {
		return nil, err
	}
	o.tr.boot(s.sb.VM())
	stdio := sandbox.Stdio{Stdin: o.stdio.Stdin != nil, Stdout: o.stdio.Stdout != nil, Stderr: o.stdio.Stderr != nil}
	if spec.Process.Terminal {
		stdio = sandbox.Stdio{Terminal: true}
		stdio.Rows, stdio.Cols = o.tty.size()
	}
	created, err := s.sb.CreateContainer(ctx, o.id, bundle, sandbox.CreateOpts{Stdio: stdio, Trace: o.tr != nil})
	if err != nil {
		return nil, err
	}
	o.tr.guest(created.Trace)
	o.tr.phase("container-created")
	s.init = created.Init
	go func() {
		defer close(s.ioDone)
		if o.tty != nil {
			o.tty.follow(ctx, s.init)
		}
		s.init.Copy(context.WithoutCancel(ctx), o.stdio)
	}()
	if err := s.serve(); err != nil {
		return nil, err
	}
	return s, nil
}

// serve answers later husk commands on the state directory's socket:
// the agent's API, forwarded, except what only the supervisor may do.
func (s *supervisor) serve() error {
	srv, err := ttrpc.NewServer(ttrpc.WithServerHandshaker(s.conns.handshaker(ttrpc.UnixSocketRequireSameUser())))
	if err != nil {
		return err
	}
	path := filepath.Join(s.dir, socketFile)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("supervisor socket: %w", err)
	}
	os.Chmod(path, 0o600)
	api.RegisterAgentService(srv, &proxy{AgentService: s.sb.Agent(), s: s})
	s.srv = srv
	go srv.Serve(context.Background(), ln)
	return nil
}

// proxy is the agent's API as the supervisor's socket serves it.
type proxy struct {
	api.AgentService
	s *supervisor
}

func (p *proxy) CreateContainer(context.Context, *api.CreateContainerRequest) (*api.CreateContainerResponse, error) {
	return nil, errors.New("a VM container's supervisor creates no other container")
}

func (p *proxy) DeleteContainer(context.Context, *api.DeleteContainerRequest) (*api.Empty, error) {
	return nil, errors.New("delete a VM container with Shutdown")
}

// Shutdown ends the container and the VM: the supervisor does it, after
// answering.
func (p *proxy) Shutdown(context.Context, *api.Empty) (*api.Empty, error) {
	p.s.requestShutdown()
	return &api.Empty{}, nil
}

func (s *supervisor) requestShutdown() {
	s.shutdownOnce.Do(func() { close(s.shutdown) })
}

// wait runs until the container's init exits (its exit status), a
// delete ends it (128+SIGKILL), or the VM dies (an error). Signals this
// process receives go to the init meanwhile.
func (s *supervisor) wait(ctx context.Context) (int, error) {
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, forwardedSignals...)
	defer signal.Stop(sigs)
	type result struct {
		code int
		err  error
	}
	exited := make(chan result, 1)
	go func() {
		code, err := s.init.Wait(ctx)
		exited <- result{code, err}
	}()
	for {
		select {
		case r := <-exited:
			if r.err != nil {
				return -1, s.vmError(r.err)
			}
			// The last output, unless a process outside the container's
			// pid namespace keeps the stream open.
			select {
			case <-s.ioDone:
			case <-time.After(time.Second):
			}
			return r.code, nil
		case <-s.shutdown:
			return 128 + int(unix.SIGKILL), nil
		case <-s.sb.VM().Done():
			return -1, s.vmError(nil)
		case sig := <-sigs:
			if us, ok := sig.(unix.Signal); ok {
				s.init.Signal(ctx, us)
			}
		}
	}
}

// vmError explains the end of a VM that ended before its container.
func (s *supervisor) vmError(err error) error {
	select {
	case <-s.sb.VM().Done():
		return fmt.Errorf("container %s: the VM ended unexpectedly (%v)", s.id, s.sb.VM().ExitError())
	case <-time.After(100 * time.Millisecond):
		return fmt.Errorf("container %s: lost the agent: %w", s.id, err)
	}
}

// finish powers the VM off, releases everything on the host but the
// state directory, and records how the container ended.
func (s *supervisor) finish(code int, werr error) {
	s.close()
	s.st.Stopped, s.st.ExitStatus = true, code
	if werr != nil {
		s.st.Error = werr.Error()
	}
	writeState(s.dir, s.st)
}

func (s *supervisor) close() {
	if s.srv != nil {
		// A client whose request ended the container (a kill) gets its
		// answer before the VM goes: ttrpc's Shutdown may take a
		// connection whose request has just arrived for idle, so wait
		// (bounded: `events` stays connected) for the clients to leave.
		s.conns.waitGone(2 * time.Second)
		s.srv.Close()
		os.Remove(filepath.Join(s.dir, socketFile))
		s.srv = nil
	}
	if s.sb != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		s.sb.Shutdown(ctx)
		cancel()
		s.sb = nil
	}
}

// forwardedSignals are those `husk run` passes on, as libruntime's run does.
var forwardedSignals = []os.Signal{
	unix.SIGHUP, unix.SIGINT, unix.SIGQUIT, unix.SIGTERM, unix.SIGUSR1, unix.SIGUSR2,
	unix.SIGALRM, unix.SIGCONT, unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU, unix.SIGPWR,
}

// stdio is this process's stdio as a container's.
func stdio() sandbox.IO {
	return sandbox.IO{Stdin: io.Reader(os.Stdin), Stdout: os.Stdout, Stderr: os.Stderr}
}
