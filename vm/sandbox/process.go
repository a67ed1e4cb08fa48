package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/vm/api"
)

// readChunk is what one ReadStdout/ReadStderr asks for.
const readChunk = 64 << 10

// Process is a container's init or exec'd process in a VM, reached
// through an Agent API: the VM's own connection, or a supervisor's
// socket that forwards to it.
type Process struct {
	agent api.AgentService
	cid   string
	eid   string
}

// NewProcess names a process of container cid (eid "" for its init).
func NewProcess(agent api.AgentService, cid, eid string) *Process {
	return &Process{agent: agent, cid: cid, eid: eid}
}

// Wait blocks until the process has exited and returns its exit status
// (128+n for death by signal n).
func (p *Process) Wait(ctx context.Context) (int, error) {
	r, err := p.agent.WaitProcess(ctx, &api.ProcessRequest{ContainerId: p.cid, ExecId: p.eid})
	if err != nil {
		return -1, fmt.Errorf("wait for %s: %w", p, err)
	}
	// The guest is not trusted: an exit status is a shell's.
	if r.ExitStatus < 0 || r.ExitStatus > 255 {
		return -1, fmt.Errorf("wait for %s: the agent reported exit status %d", p, r.ExitStatus)
	}
	return int(r.ExitStatus), nil
}

// Signal sends sig to the process.
func (p *Process) Signal(ctx context.Context, sig unix.Signal) error {
	_, err := p.agent.SignalProcess(ctx, &api.SignalRequest{ContainerId: p.cid, ExecId: p.eid, Signal: uint32(sig)})
	return err
}

// Resize sets the size of the process's terminal.
func (p *Process) Resize(ctx context.Context, rows, cols uint16) error {
	_, err := p.agent.ResizeTty(ctx, &api.ResizeRequest{ContainerId: p.cid, ExecId: p.eid, Rows: uint32(rows), Cols: uint32(cols)})
	return err
}

func (p *Process) String() string {
	if p.eid == "" {
		return "container " + p.cid
	}
	return fmt.Sprintf("process %s of container %s", p.eid, p.cid)
}

// IO is where a process's streams go on the host; nil ones are not
// connected.
type IO struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// Copy moves the process's stdio between the guest and the host until
// its output streams end, then returns; stdin is copied until it ends
// (then the process's stdin is closed) or the process's output has ended.
func (p *Process) Copy(ctx context.Context, hio IO) error {
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	out := func(w io.Writer, read func(context.Context, *api.ReadRequest) (*api.ReadResponse, error)) {
		defer wg.Done()
		if w == nil {
			return
		}
		errs <- p.copyOut(ctx, w, read)
	}
	wg.Add(2)
	go out(hio.Stdout, p.agent.ReadStdout)
	go out(hio.Stderr, p.agent.ReadStderr)
	if hio.Stdin != nil {
		go p.copyIn(ctx, hio.Stdin)
	}
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return errors.Join(all...)
}

// copyOut writes one output stream to w until it ends. A host writer that
// fails (a closed pipe) does not stop the reading: the guest process
// would block on a full pipe.
func (p *Process) copyOut(ctx context.Context, w io.Writer, read func(context.Context, *api.ReadRequest) (*api.ReadResponse, error)) error {
	for {
		r, err := read(ctx, &api.ReadRequest{ContainerId: p.cid, ExecId: p.eid, Max: readChunk})
		if err != nil {
			return fmt.Errorf("output of %s: %w", p, err)
		}
		if len(r.Data) > readChunk {
			return fmt.Errorf("output of %s: the agent sent %d bytes for a read of %d", p, len(r.Data), readChunk)
		}
		if len(r.Data) > 0 {
			w.Write(r.Data)
		}
		if r.Eof {
			return nil
		}
	}
}

func (p *Process) copyIn(ctx context.Context, r io.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if _, werr := p.agent.WriteStdin(ctx, &api.WriteRequest{ContainerId: p.cid, ExecId: p.eid, Data: buf[:n]}); werr != nil {
				return
			}
		}
		if err != nil {
			p.agent.CloseStdin(ctx, &api.ProcessRequest{ContainerId: p.cid, ExecId: p.eid})
			return
		}
	}
}

// ContainerID is the id of the process's container.
func (p *Process) ContainerID() string { return p.cid }

// ExecID is the process's exec id ("" for a container's init).
func (p *Process) ExecID() string { return p.eid }
