package vmbackend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/shim/backend"
	"github.com/husk-runtime/husk/vm/api"
	"github.com/husk-runtime/husk/vm/sandbox"
)

// container is a container in the pod's VM.
type container struct {
	p    *pod
	id   string
	init *proc

	mu    sync.Mutex
	execs map[string]*proc
}

// proc is a process in the guest and the host's side of its stdio.
type proc struct {
	sp    *sandbox.Process
	agent api.AgentService
	cid   string
	eid   string
	// stdin is the shim's copy of the process's stdin pipe (closed when
	// the process is deleted, which ends its copier).
	stdin *os.File
	// ioDone is closed once the process's output has been copied.
	ioDone chan struct{}
	// exited is closed once the process has exited.
	exited chan struct{}
}

func (c *container) Pid() int { return c.p.pid }

func (c *container) Start(ctx context.Context) error {
	return c.p.sb.StartContainer(ctx, c.id)
}

func (c *container) Exec(ctx context.Context, eid string, spec *rspec.Process, st backend.Stdio) (int, error) {
	stdio := sandbox.Stdio{Terminal: st.Terminal, Stdin: st.Stdin != nil, Stdout: st.Stdout != nil, Stderr: st.Stderr != nil}
	if st.Terminal {
		stdio.Stdin, stdio.Stdout, stdio.Stderr = false, false, false
	}
	sp, pid, err := sandbox.Exec(ctx, c.p.sb.Agent(), c.id, eid, spec, stdio)
	if err != nil {
		return 0, err
	}
	pr, err := c.p.attach(sp, eid, st)
	if err != nil {
		sp.Signal(ctx, unix.SIGKILL)
		return 0, err
	}
	c.mu.Lock()
	c.execs[eid] = pr
	c.mu.Unlock()
	go c.wait(pr)
	return pid, nil
}

// wait reports the process's exit. A guest that stops answering (qemu
// died) has killed the process: 128+SIGKILL.
func (c *container) wait(pr *proc) {
	code, err := pr.sp.Wait(c.p.ctx)
	if err != nil {
		c.p.b.log.Warnf("%s: %v", pr.sp, err)
		code = 128 + int(unix.SIGKILL)
	}
	close(pr.exited)
	c.p.b.events.Exited(c.id, pr.eid, code, time.Now())
}

func (c *container) Kill(ctx context.Context, sig unix.Signal, all bool) error {
	return c.agentErr(sandbox.Kill(ctx, c.p.sb.Agent(), c.id, sig, all))
}

func (c *container) Signal(ctx context.Context, eid string, sig unix.Signal) error {
	c.mu.Lock()
	pr := c.execs[eid]
	c.mu.Unlock()
	if pr == nil {
		return backend.Mark(backend.ErrNotFound, fmt.Errorf("process %s not started", eid))
	}
	select {
	case <-pr.exited:
		return backend.Mark(backend.ErrNotFound, errors.New("process already finished"))
	default:
	}
	return c.agentErr(pr.sp.Signal(ctx, sig))
}

func (c *container) DeleteExec(ctx context.Context, eid string) error {
	c.mu.Lock()
	pr := c.execs[eid]
	delete(c.execs, eid)
	c.mu.Unlock()
	if pr == nil {
		return nil
	}
	pr.release()
	_, err := c.p.sb.Agent().DeleteProcess(ctx, &api.ProcessRequest{ContainerId: c.id, ExecId: eid})
	return c.agentErr(err)
}

func (c *container) Pause(ctx context.Context) error {
	_, err := c.p.sb.Agent().PauseContainer(ctx, &api.ContainerRequest{ContainerId: c.id})
	return c.agentErr(err)
}

func (c *container) Resume(ctx context.Context) error {
	_, err := c.p.sb.Agent().ResumeContainer(ctx, &api.ContainerRequest{ContainerId: c.id})
	return c.agentErr(err)
}

// Update applies the resources in the guest, to the container's cgroup
// there.
func (c *container) Update(ctx context.Context, r *rspec.LinuxResources) error {
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = c.p.sb.Agent().UpdateContainer(ctx, &api.UpdateRequest{ContainerId: c.id, Resources: data})
	return c.agentErr(err)
}

// Stats are the container's cgroup v2 statistics in the guest.
func (c *container) Stats(ctx context.Context) (*backend.Stats, error) {
	st, kills, err := sandbox.Stats(ctx, c.p.sb.Agent(), c.id)
	if err != nil {
		return nil, c.agentErr(err)
	}
	return &backend.Stats{Cgroup: st, V2: true, OOMKills: kills}, nil
}

func (c *container) Pids(ctx context.Context) ([]int, error) {
	pids, err := sandbox.Pids(ctx, c.p.sb.Agent(), c.id)
	return pids, c.agentErr(err)
}

// Delete deletes the container in the guest (killing what is left of
// it), unbinds its rootfs from the VM's share; the pod's last container
// stops the VM.
func (c *container) Delete(ctx context.Context) error {
	c.init.release()
	c.mu.Lock()
	for _, pr := range c.execs {
		pr.release()
	}
	c.mu.Unlock()
	err := c.p.sb.DeleteContainer(ctx, c.id, true)
	if err != nil && !c.p.alive() {
		// The VM is gone, and the container with it: what is left is on
		// the host.
		err = c.p.sb.VM().Share().Remove(c.id)
	}
	if err != nil {
		return err
	}
	os.RemoveAll(filepath.Join(c.p.b.root, c.id))
	c.p.remove(c.id)
	return nil
}

// agentErr marks what the agent refused because the process or
// container is gone.
func (c *container) agentErr(err error) error {
	if err != nil && !c.p.alive() {
		return backend.Mark(backend.ErrNotFound, fmt.Errorf("the pod's VM has ended: %w", err))
	}
	return err
}

// outputDrain is how long the deletion of a process that has exited
// waits for the rest of its output, as containerd's shims wait.
const outputDrain = 2 * time.Second

// release lets the process's output drain (if it has exited) and closes
// the shim's copy of its stdin.
func (pr *proc) release() {
	select {
	case <-pr.exited:
		select {
		case <-pr.ioDone:
		case <-time.After(outputDrain):
		}
	default:
	}
	if pr.stdin != nil {
		pr.stdin.Close()
	}
}

// copyIO copies between the guest process's stdio and the pipes the
// service made (duplicated: the service closes its own once Create or
// Exec returns).
func (pr *proc) copyIO(ctx context.Context, st backend.Stdio) error {
	var files []*os.File
	dup := func(f *os.File) (*os.File, error) {
		if f == nil {
			return nil, nil
		}
		fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("stdio: %w", err)
		}
		// Non-blocking (as os.Pipe made it): Close ends a blocked read.
		unix.SetNonblock(fd, true)
		d := os.NewFile(uintptr(fd), f.Name())
		files = append(files, d)
		return d, nil
	}
	in, err := dup(st.Stdin)
	if err == nil {
		var out, errf *os.File
		if out, err = dup(st.Stdout); err == nil {
			if errf, err = dup(st.Stderr); err == nil {
				pr.stdin = in
				go pr.copyOut(ctx, out, errf)
				if in != nil {
					go pr.copyIn(ctx, in)
				}
				return nil
			}
		}
	}
	for _, f := range files {
		f.Close()
	}
	return err
}

func (pr *proc) copyOut(ctx context.Context, out, errf *os.File) {
	defer close(pr.ioDone)
	hio := sandbox.IO{}
	if out != nil {
		hio.Stdout = out
	}
	if errf != nil {
		hio.Stderr = errf
	}
	pr.sp.Copy(ctx, hio)
	// The service's copier sees EOF: the output is complete.
	for _, f := range []*os.File{out, errf} {
		if f != nil {
			f.Close()
		}
	}
}

// copyIn copies stdin to the guest until it ends (the client closed it:
// CloseIO), then closes the process's stdin.
func (pr *proc) copyIn(ctx context.Context, in *os.File) {
	agent, cid := pr.agent, pr.cid
	buf := make([]byte, 32<<10)
	for {
		n, err := in.Read(buf)
		if n > 0 {
			if _, werr := agent.WriteStdin(ctx, &api.WriteRequest{ContainerId: cid, ExecId: pr.eid, Data: buf[:n]}); werr != nil {
				return
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				agent.CloseStdin(ctx, &api.ProcessRequest{ContainerId: cid, ExecId: pr.eid})
			}
			return
		}
	}
}
