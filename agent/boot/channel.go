package boot

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// PortName names the agent's virtio-serial port; VsockPort is its vsock
// port.
const (
	PortName  = "husk.agent"
	VsockPort = 1024
)

// openPort waits for the virtio-serial port called name (the console
// driver adds ports shortly after it loads) and opens it.
func openPort(name string, timeout time.Duration) (*FileConn, error) {
	deadline := time.Now().Add(timeout)
	for {
		ents, _ := os.ReadDir("/sys/class/virtio-ports")
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join("/sys/class/virtio-ports", e.Name(), "name"))
			if err != nil || strings.TrimSpace(string(b)) != name {
				continue
			}
			f, err := os.OpenFile("/dev/"+e.Name(), os.O_RDWR, 0)
			if err == nil {
				return &FileConn{f: f, port: true}, nil
			}
			if !errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("open port %s: %w", e.Name(), err)
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("virtio-serial port %q not found after %v", name, timeout)
		}
		time.Sleep(time.Millisecond)
	}
}

// acceptVsock waits for the host's one connection on a vsock port.
func acceptVsock(port uint32) (*FileConn, error) {
	fd, err := unix.Socket(unix.AF_VSOCK, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("vsock socket: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrVM{CID: unix.VMADDR_CID_ANY, Port: port}); err != nil {
		return nil, fmt.Errorf("vsock bind port %d: %w", port, err)
	}
	if err := unix.Listen(fd, 1); err != nil {
		return nil, fmt.Errorf("vsock listen: %w", err)
	}
	nfd, _, err := unix.Accept4(fd, unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("vsock accept: %w", err)
	}
	return &FileConn{f: os.NewFile(uintptr(nfd), "vsock")}, nil
}

// FileConn is the host's channel as a net.Conn, for ttrpc.
type FileConn struct {
	f *os.File
	// port: a virtio-serial port reads 0 bytes while the host side is not
	// connected, which is no end of stream.
	port bool
}

func (c *FileConn) Read(b []byte) (int, error) {
	for {
		n, err := c.f.Read(b)
		if n > 0 || !c.port || (err != nil && err != io.EOF) {
			return n, err
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (c *FileConn) Write(b []byte) (int, error)        { return c.f.Write(b) }
func (c *FileConn) Close() error                       { return c.f.Close() }
func (c *FileConn) LocalAddr() net.Addr                { return addr{} }
func (c *FileConn) RemoteAddr() net.Addr               { return addr{} }
func (c *FileConn) SetDeadline(t time.Time) error      { return c.f.SetDeadline(t) }
func (c *FileConn) SetReadDeadline(t time.Time) error  { return c.f.SetReadDeadline(t) }
func (c *FileConn) SetWriteDeadline(t time.Time) error { return c.f.SetWriteDeadline(t) }

type addr struct{}

func (addr) Network() string { return "husk-agent" }
func (addr) String() string  { return "host" }

// Listener hands out the one connection, then blocks until closed: ttrpc
// serves a listener, and the host has a single channel.
type Listener struct {
	conn   net.Conn
	once   sync.Once
	closed chan struct{}
}

// NewListener returns a Listener for conn.
func NewListener(conn net.Conn) *Listener {
	return &Listener{conn: conn, closed: make(chan struct{})}
}

func (l *Listener) Accept() (net.Conn, error) {
	var c net.Conn
	l.once.Do(func() { c = l.conn })
	if c != nil {
		return c, nil
	}
	<-l.closed
	return nil, net.ErrClosed
}

func (l *Listener) Close() error {
	select {
	case <-l.closed:
	default:
		close(l.closed)
	}
	return nil
}

func (l *Listener) Addr() net.Addr { return addr{} }
