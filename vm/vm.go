package vm

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/ttrpc"
	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/vm/api"
)

// BootTimes are the moments of a VM's start, on the host's clock.
type BootTimes struct {
	Exec      time.Time // qemu (and virtiofsd) about to be executed
	Started   time.Time // qemu running
	Connected time.Time // qemu has its end of the agent's channel
	Ready     time.Time // the agent answered Hello
}

// VM is a running microVM and its agent.
type VM struct {
	cfg  Config
	qemu *exec.Cmd
	fsd  *exec.Cmd
	// fsdExited receives virtiofsd's end.
	fsdExited chan error
	share     *Share
	conn      net.Conn
	// client speaks ttrpc to the agent.
	client *ttrpc.Client
	agent  api.AgentService

	hello *api.HelloResponse
	times BootTimes

	console tail
	stderr  tail
	exited  chan struct{}
	exitErr error

	closeOnce sync.Once
	closeErr  error
}

// Agent is the agent's API.
func (v *VM) Agent() api.AgentService { return v.agent }

// Hello is what the agent reported when it came up.
func (v *VM) Hello() *api.HelloResponse { return v.hello }

// Times are the moments of the VM's start.
func (v *VM) Times() BootTimes { return v.times }

// Pid is qemu's pid.
func (v *VM) Pid() int { return v.qemu.Process.Pid }

// Share is the VM's shared directory.
func (v *VM) Share() *Share { return v.share }

// Done is closed when qemu has exited.
func (v *VM) Done() <-chan struct{} { return v.exited }

// ExitError says why qemu ended (after Done).
func (v *VM) ExitError() error { return v.exitErr }

// Launch starts a VM and waits until its agent answers. On error nothing
// is left: no qemu, no mount, no socket, no directory.
func Launch(ctx context.Context, c Config) (_ *VM, err error) {
	h := DetectHost()
	c, err = c.withDefaults(h)
	if err != nil {
		return nil, err
	}
	for what, f := range map[string]string{"guest kernel": c.Kernel, "guest initramfs": c.Initrd} {
		if st, err := os.Stat(f); err != nil || !st.Mode().IsRegular() {
			return nil, fmt.Errorf("vm: %s %s: missing (build the guest assets with `make vm-assets`)", what, f)
		}
	}
	qemuBin := c.QEMU
	if qemuBin == "" {
		qemuBin = "qemu-system-x86_64"
	}
	if qemuBin, err = exec.LookPath(qemuBin); err != nil {
		return nil, fmt.Errorf("vm: qemu: %w (install qemu-system-x86)", err)
	}
	if c.Share == ShareVirtioFS {
		if _, err := os.Stat(c.VirtioFSD); err != nil {
			return nil, fmt.Errorf("vm: virtiofsd: %w", err)
		}
	}
	if err := os.Mkdir(c.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("vm: state directory: %w", err)
	}
	v := &VM{cfg: c, exited: make(chan struct{})}
	defer func() {
		if err != nil {
			v.Kill()
			v.Close()
		}
	}()
	if v.share, err = newShare(filepath.Join(c.Dir, "share")); err != nil {
		return nil, fmt.Errorf("vm: shared directory: %w", err)
	}
	ends := qemuEnds{shareDir: v.share.Dir(), agentSocket: filepath.Join(c.Dir, "agent.sock"),
		fsSocket: filepath.Join(c.Dir, "virtiofs.sock")}
	var ln *net.UnixListener
	if c.Transport == TransportSerial {
		// qemu connects to us: no polling for a socket qemu would make.
		if ln, err = net.ListenUnix("unix", &net.UnixAddr{Name: ends.agentSocket, Net: "unix"}); err != nil {
			return nil, fmt.Errorf("vm: agent socket: %w", err)
		}
		defer ln.Close()
	} else {
		ends.vsockCID = vsockCID(c.Dir)
	}
	v.times.Exec = time.Now()
	if c.Share == ShareVirtioFS {
		if err := v.startVirtioFSD(ends); err != nil {
			return nil, err
		}
	}
	if err := v.startQemu(qemuBin, qemuArgs(c, h, ends)); err != nil {
		return nil, err
	}
	v.times.Started = time.Now()
	deadline := v.times.Exec.Add(c.BootTimeout)
	bootCtx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	if c.Transport == TransportSerial {
		v.conn, err = v.accept(bootCtx, ln)
	} else {
		v.conn, err = v.dialVsock(bootCtx, ends.vsockCID)
	}
	if err != nil {
		return nil, err
	}
	v.times.Connected = time.Now()
	v.client = ttrpc.NewClient(v.conn)
	v.agent = api.NewAgentClient(v.client)
	if v.hello, err = v.agent.Hello(bootCtx, &api.HelloRequest{}); err != nil {
		return nil, v.bootError("agent ready", bootCtx, err)
	}
	v.times.Ready = time.Now()
	// Best effort: only memory is at stake.
	_ = v.releaseBootImages()
	return v, nil
}

func (v *VM) startQemu(bin string, args []string) error {
	cmd := exec.Command(bin, args...)
	cmd.Stdin = nil
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = &v.stderr
	for _, n := range v.cfg.NICs {
		cmd.ExtraFiles = append(cmd.ExtraFiles, n.Tap)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// qemu dies with its owner.
		Pdeathsig: syscall.SIGKILL,
		Setpgid:   true,
		// qemu runs as nobody with only the capabilities it needs: no
		// root-owned file outside what DAC_OVERRIDE opens, no CAP_MKNOD
		// (a device node the guest made in the share would reach the
		// host's device), no CAP_SYS_ADMIN, no setuid.
		Credential:  &syscall.Credential{Uid: qemuUID, Gid: qemuUID},
		AmbientCaps: qemuCaps(v.cfg.Share),
	}
	log, _ := os.OpenFile(filepath.Join(v.cfg.Dir, "console.log"), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err := cmd.Start(); err != nil {
		if log != nil {
			log.Close()
		}
		return fmt.Errorf("vm: start qemu: %w", err)
	}
	v.qemu = cmd
	go func() {
		copyConsole(stdout, log, &v.console)
		if log != nil {
			log.Close()
		}
		v.exitErr = cmd.Wait()
		if v.exitErr == nil {
			v.exitErr = errors.New("qemu exited")
		} else {
			v.exitErr = fmt.Errorf("qemu: %w", v.exitErr)
		}
		close(v.exited)
	}()
	return nil
}

// accept waits for qemu to connect to the agent's socket.
func (v *VM) accept(ctx context.Context, ln *net.UnixListener) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		ch <- result{c, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, fmt.Errorf("vm: accept qemu's connection: %w", r.err)
		}
		return r.c, nil
	case <-v.exited:
		ln.Close()
		return nil, v.bootError("qemu start", ctx, nil)
	case <-ctx.Done():
		ln.Close()
		return nil, v.bootError("qemu start", ctx, nil)
	}
}

// bootError explains a failed boot step with what qemu and the guest said.
func (v *VM) bootError(step string, ctx context.Context, err error) error {
	if ctx.Err() == nil {
		// A lost connection is qemu ending: let its exit be seen.
		select {
		case <-v.exited:
		case <-time.After(2 * time.Second):
		}
	}
	var why string
	select {
	case <-v.exited:
		why = fmt.Sprintf("the VM exited (%v)", v.exitErr)
	default:
		if ctx.Err() != nil {
			why = fmt.Sprintf("no answer within %v", v.cfg.BootTimeout)
		} else {
			why = err.Error()
		}
	}
	msg := fmt.Sprintf("vm: boot failed at %s: %s", step, why)
	if s := v.stderr.String(); s != "" {
		msg += "; qemu: " + lastLines(s, 5)
	}
	if s := v.console.String(); s != "" {
		msg += "; console: " + lastLines(s, 10)
	}
	return errors.New(msg)
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// Shutdown asks the agent to stop every container and power off, and
// waits for qemu to exit; past the context's end, qemu is killed.
func (v *VM) Shutdown(ctx context.Context) error {
	select {
	case <-v.exited:
		return nil
	default:
	}
	if v.agent != nil {
		v.agent.Shutdown(ctx, &api.Empty{})
	}
	select {
	case <-v.exited:
		return nil
	case <-ctx.Done():
		v.Kill()
		<-v.exited
		return fmt.Errorf("vm: the VM did not power off: %w", ctx.Err())
	}
}

// Kill ends qemu at once.
func (v *VM) Kill() {
	if v.qemu != nil && v.qemu.Process != nil {
		v.qemu.Process.Signal(unix.SIGKILL)
	}
}

// Close releases everything the VM holds on the host once qemu has
// ended: its connection, virtiofsd, the shared directory and its mounts,
// the VM's directory. It kills qemu if it still runs.
func (v *VM) Close() error {
	v.closeOnce.Do(func() {
		if v.client != nil {
			v.client.Close()
		} else if v.conn != nil {
			v.conn.Close()
		}
		if v.qemu != nil {
			v.Kill()
			<-v.exited
		}
		if v.fsd != nil {
			v.fsd.Process.Kill()
			<-v.fsdExited
		}
		var errs []error
		if v.share != nil {
			errs = append(errs, v.share.close())
		}
		errs = append(errs, removeOneFS(v.cfg.Dir))
		v.closeErr = errors.Join(errs...)
	})
	return v.closeErr
}

// qemuUID is the user qemu runs as (nobody).
const qemuUID = 65534

// qemuCaps are qemu's capabilities: opening what husk made for it (the
// VM's directory is root's, 0700) and, with 9p, serving the share's files
// with their owners and modes as the guest sets them.
func qemuCaps(share ShareKind) []uintptr {
	caps := []uintptr{unix.CAP_DAC_OVERRIDE}
	if share == Share9P {
		caps = append(caps, unix.CAP_DAC_READ_SEARCH, unix.CAP_FOWNER, unix.CAP_CHOWN, unix.CAP_FSETID)
	}
	return caps
}
