package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/specs"
	"github.com/husk-runtime/husk/vm"
	"github.com/husk-runtime/husk/vm/sandbox"
)

// createOpts are the flags of create and run.
type createOpts struct {
	bundle, pidFile, consoleSocket string
	noPivot, noNewKeyring, vm      bool
	preserveFDs                    int
	detach, keep, start            bool
}

func createFlags(name string, o *createOpts) flags {
	f := newFlags(name)
	f.str(&o.bundle, ".", "bundle", "b")
	f.str(&o.pidFile, "", "pid-file")
	f.str(&o.consoleSocket, "", "console-socket")
	f.boolean(&o.noPivot, "no-pivot")
	f.boolean(&o.noNewKeyring, "no-new-keyring")
	f.boolean(&o.vm, "vm")
	f.IntVar(&o.preserveFDs, "preserve-fds", 0, "")
	return f
}

// check refuses what cannot cross into a VM.
func (o *createOpts) check() error {
	if o.preserveFDs != 0 {
		return errors.New("--preserve-fds: a VM container cannot inherit host file descriptors")
	}
	return nil
}

// checkTerminal: a detached container with a terminal has it through
// --console-socket, and only such a container takes one (as runc).
func (o *createOpts) checkTerminal(detached bool) error {
	spec, err := specs.Load(o.bundle)
	if err != nil {
		return err
	}
	terminal := spec.Process != nil && spec.Process.Terminal
	switch {
	case terminal && detached && o.consoleSocket == "":
		return errors.New("process.terminal: a detached container with a terminal needs --console-socket")
	case !terminal && o.consoleSocket != "":
		return errors.New("--console-socket: process.terminal is false, there is no terminal to send")
	case !detached && o.consoleSocket != "":
		return errors.New("--console-socket: only for a detached container (create, run -d)")
	}
	return nil
}

func cmdRun(g *global, args []string, out io.Writer) error {
	var o createOpts
	f := createFlags("run", &o)
	f.boolean(&o.detach, "detach", "d")
	f.boolean(&o.keep, "keep")
	if err := f.parse(args); err != nil {
		return err
	}
	id, err := f.id()
	if err != nil {
		return err
	}
	if err := o.check(); err != nil {
		return err
	}
	if err := o.checkTerminal(o.detach); err != nil {
		return err
	}
	if o.detach {
		o.start = true
		return spawnSupervisor(g, id, o)
	}
	tr, err := openTracer(g.trace, "run")
	if err != nil {
		return fmt.Errorf("--trace: %w", err)
	}
	defer tr.end()
	ctx := context.Background()
	so := superviseOpts{root: g.root, id: id, bundle: o.bundle, stdio: stdio(), tr: tr}
	if spec, err := specs.Load(o.bundle); err == nil && spec.Process != nil && spec.Process.Terminal {
		so.tty = newTTY()
		defer so.tty.stop()
		so.stdio = ttyIO()
	}
	s, err := startSupervisor(ctx, so)
	if err != nil {
		return err
	}
	if o.pidFile != "" {
		if err := writePidFile(o.pidFile, os.Getpid()); err != nil {
			s.finish(-1, err)
			vm.RemoveDir(s.dir)
			return err
		}
	}
	if err := s.sb.StartContainer(ctx, id); err != nil {
		s.finish(-1, err)
		vm.RemoveDir(s.dir)
		return err
	}
	tr.phase("process-started")
	code, werr := s.wait(ctx)
	tr.phase("wait")
	s.finish(code, werr)
	tr.phase("shutdown")
	if !o.keep {
		if err := vm.RemoveDir(s.dir); err != nil && werr == nil {
			werr = err
		}
	}
	so.tty.stop()
	if werr != nil {
		return werr
	}
	if code != 0 {
		return exitError{code}
	}
	return nil
}

func cmdCreate(g *global, args []string, out io.Writer) error {
	var o createOpts
	f := createFlags("create", &o)
	if err := f.parse(args); err != nil {
		return err
	}
	id, err := f.id()
	if err != nil {
		return err
	}
	if err := o.check(); err != nil {
		return err
	}
	if err := o.checkTerminal(true); err != nil {
		return err
	}
	return spawnSupervisor(g, id, o)
}

// reportFD is where a detached supervisor says whether it got the
// container going: "ok", or the error.
const reportFD = 3

// spawnSupervisor starts a detached supervisor (a new session, our
// stdio: the container's) and returns once it has created (and with
// o.start started) the container.
func spawnSupervisor(g *global, id string, o createOpts) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	bundle, err := filepath.Abs(o.bundle)
	if err != nil {
		return err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	args := []string{"--root", g.root}
	if g.trace != "" {
		args = append(args, "--trace", g.trace)
	}
	args = append(args, "supervise", "--bundle", bundle)
	if o.start {
		args = append(args, "--start")
	}
	if o.consoleSocket != "" {
		sock, err := filepath.Abs(o.consoleSocket)
		if err != nil {
			return err
		}
		args = append(args, "--console-socket", sock)
	}
	cmd := exec.Command(exe, append(args, id)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	w.Close()
	if err != nil {
		return fmt.Errorf("start the VM's supervisor: %w", err)
	}
	msg, _ := io.ReadAll(io.LimitReader(r, 64<<10))
	if string(msg) != "ok" {
		cmd.Wait()
		if len(msg) == 0 {
			msg = []byte("the VM's supervisor died")
		}
		return errors.New(string(msg))
	}
	pid := cmd.Process.Pid
	cmd.Process.Release()
	if o.pidFile != "" {
		return writePidFile(o.pidFile, pid)
	}
	return nil
}

// cmdSupervise is the detached supervisor of create and run -d.
func cmdSupervise(g *global, args []string, out io.Writer) error {
	var bundle, consoleSocket string
	var start bool
	f := newFlags("supervise")
	f.str(&bundle, "", "bundle")
	f.str(&consoleSocket, "", "console-socket")
	f.boolean(&start, "start")
	if err := f.parse(args); err != nil {
		return err
	}
	id, err := f.id()
	if err != nil {
		return err
	}
	// Inherited without close-on-exec: qemu must not hold it open, or
	// the parent never reads the end of the report.
	unix.CloseOnExec(reportFD)
	report := os.NewFile(reportFD, "report")
	fail := func(err error) error {
		report.WriteString(err.Error())
		report.Close()
		return exitError{1}
	}
	cmd := "create"
	if start {
		cmd = "run"
	}
	tr, err := openTracer(g.trace, cmd)
	if err != nil {
		return fail(fmt.Errorf("--trace: %w", err))
	}
	ctx := context.Background()
	so := superviseOpts{root: g.root, id: id, bundle: bundle, stdio: stdio(), tr: tr}
	if consoleSocket != "" {
		// The container's terminal: a pty of ours, whose master goes to
		// the console socket.
		tty, slave, err := consoleTTY(consoleSocket)
		if err != nil {
			tr.end()
			return fail(err)
		}
		defer slave.Close()
		so.tty, so.stdio = tty, sandbox.IO{Stdin: slave, Stdout: slave}
	}
	s, err := startSupervisor(ctx, so)
	if err != nil {
		tr.end()
		return fail(err)
	}
	if start {
		if err := s.sb.StartContainer(ctx, id); err != nil {
			s.finish(-1, err)
			vm.RemoveDir(s.dir)
			tr.end()
			return fail(err)
		}
		tr.phase("process-started")
	}
	tr.end()
	report.WriteString("ok")
	report.Close()
	code, werr := s.wait(ctx)
	s.finish(code, werr)
	return exitError{code}
}

func cmdStart(g *global, args []string, out io.Writer) error {
	f := newFlags("start")
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
	st, err := c.status()
	if err != nil {
		return err
	}
	if st != "created" {
		return fmt.Errorf("cannot start container %s: it is %s", id, st)
	}
	_, err = c.agent.StartContainer(context.Background(), containerReq(id))
	return err
}

func cmdDelete(g *global, args []string, out io.Writer) error {
	var force bool
	f := newFlags("delete")
	f.boolean(&force, "force", "f")
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
	dir := filepath.Join(g.root, id)
	st, err := readState(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			if force {
				return nil
			}
			return fmt.Errorf("container %s does not exist", id)
		}
		return err
	}
	if st.supervisorAlive() {
		c, err := connect(g, id)
		if err == nil {
			status, serr := c.status()
			if serr == nil && !force && (status == "running" || status == "paused") {
				c.close()
				return fmt.Errorf("cannot delete container %s that is %s (stop it first, or use --force)", id, status)
			}
			c.agent.Shutdown(context.Background(), emptyReq())
			c.close()
		}
		if !waitGone(st.Pid, st.PidStart, 30*time.Second) {
			// A supervisor that does not end: kill it; qemu dies with it.
			syscall.Kill(st.Pid, syscall.SIGKILL)
			waitGone(st.Pid, st.PidStart, 5*time.Second)
		}
	}
	// What a killed supervisor left: mounts, sockets, the VM's directory.
	return vm.RemoveDir(dir)
}

func writePidFile(path string, pid int) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(pid)), 0o644); err != nil {
		return fmt.Errorf("--pid-file: %w", err)
	}
	return os.Rename(tmp, path)
}
