package vmbackend

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/husk-runtime/husk/vm/api"
)

// readChunk is what one read of a terminal asks the agent for.
const readChunk = 32 << 10

// console is a guest process's terminal as the service copies it: reads
// are the agent's output reads, writes its input, Resize its ResizeTty.
type console struct {
	ctx      context.Context
	agent    api.AgentService
	cid, eid string

	mu     sync.Mutex
	closed bool
}

func (c *console) Read(b []byte) (int, error) {
	max := min(len(b), readChunk)
	for {
		if c.isClosed() {
			return 0, io.EOF
		}
		r, err := c.agent.ReadStdout(c.ctx, &api.ReadRequest{ContainerId: c.cid, ExecId: c.eid, Max: uint32(max)})
		if err != nil {
			return 0, err
		}
		// The guest is not trusted: no more than asked for.
		if len(r.Data) > max {
			return 0, fmt.Errorf("terminal of %s/%s: the agent sent %d bytes for a read of %d", c.cid, c.eid, len(r.Data), max)
		}
		if len(r.Data) > 0 {
			return copy(b, r.Data), nil
		}
		if r.Eof {
			return 0, io.EOF
		}
	}
}

func (c *console) Write(b []byte) (int, error) {
	n := 0
	for n < len(b) {
		chunk := b[n:min(len(b), n+readChunk)]
		if _, err := c.agent.WriteStdin(c.ctx, &api.WriteRequest{ContainerId: c.cid, ExecId: c.eid, Data: chunk}); err != nil {
			return n, err
		}
		n += len(chunk)
	}
	return n, nil
}

func (c *console) Resize(width, height uint32) error {
	_, err := c.agent.ResizeTty(c.ctx, &api.ResizeRequest{ContainerId: c.cid, ExecId: c.eid, Rows: height, Cols: width})
	return err
}

// Close ends the reads; the terminal itself goes with the process.
func (c *console) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	return nil
}

func (c *console) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}
