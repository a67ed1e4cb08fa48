package cli

import (
	"context"
	"net"
	"sync"
	"time"

	"github.com/containerd/ttrpc"
)

// connCount counts the open connections of a ttrpc server, so that the
// supervisor can let its clients finish before it ends.
type connCount struct {
	mu   sync.Mutex
	n    int
	zero chan struct{} // closed while n == 0 after a wait began
}

// handshaker wraps h: the connections it accepts are counted in c.
func (c *connCount) handshaker(h ttrpc.Handshaker) ttrpc.Handshaker {
	return countingHandshaker{h, c}
}

type countingHandshaker struct {
	inner ttrpc.Handshaker
	c     *connCount
}

func (h countingHandshaker) Handshake(ctx context.Context, conn net.Conn) (net.Conn, interface{}, error) {
	conn, auth, err := h.inner.Handshake(ctx, conn)
	if err != nil {
		return nil, nil, err
	}
	h.c.add(1)
	return &countedConn{Conn: conn, c: h.c}, auth, nil
}

// waitGone waits until no connection is open, at most d.
func (c *connCount) waitGone(d time.Duration) {
	c.mu.Lock()
	if c.n == 0 {
		c.mu.Unlock()
		return
	}
	if c.zero == nil {
		c.zero = make(chan struct{})
	}
	zero := c.zero
	c.mu.Unlock()
	select {
	case <-zero:
	case <-time.After(d):
	}
}

func (c *connCount) add(delta int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n += delta
	if c.n == 0 && c.zero != nil {
		close(c.zero)
		c.zero = nil
	}
}

type countedConn struct {
	net.Conn
	c    *connCount
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.c.add(-1) })
	return c.Conn.Close()
}
