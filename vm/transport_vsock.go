package vm

import (
	"context"
	"fmt"
	"hash/fnv"
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// vsockCID picks the guest's context ID from the VM's directory: unique
// per VM on this host as long as the directories are, and stable, so a
// collision shows up as qemu failing to start rather than as a guest
// reached by the wrong VM. CIDs 0-2 are reserved.
func vsockCID(dir string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(dir))
	return 3 + h.Sum32()%(1<<31)
}

// dialVsock connects to the agent once it listens.
func (v *VM) dialVsock(ctx context.Context, cid uint32) (net.Conn, error) {
	for {
		c, err := dialVsockOnce(cid, VsockPort)
		if err == nil {
			return c, nil
		}
		select {
		case <-v.exited:
			return nil, v.bootError("agent connection (vsock)", ctx, err)
		case <-ctx.Done():
			return nil, v.bootError("agent connection (vsock)", ctx, err)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func dialVsockOnce(cid, port uint32) (net.Conn, error) {
	fd, err := unix.Socket(unix.AF_VSOCK, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	if err := unix.Connect(fd, &unix.SockaddrVM{CID: cid, Port: port}); err != nil {
		unix.Close(fd)
		return nil, err
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, err
	}
	f := os.NewFile(uintptr(fd), fmt.Sprintf("vsock:%d:%d", cid, port))
	return &fileConn{f}, nil
}

// fileConn is a connected vsock socket as a net.Conn (net.FileConn knows
// no AF_VSOCK).
type fileConn struct{ f *os.File }

func (c *fileConn) Read(b []byte) (int, error)         { return c.f.Read(b) }
func (c *fileConn) Write(b []byte) (int, error)        { return c.f.Write(b) }
func (c *fileConn) Close() error                       { return c.f.Close() }
func (c *fileConn) LocalAddr() net.Addr                { return vsockAddr{} }
func (c *fileConn) RemoteAddr() net.Addr               { return vsockAddr{} }
func (c *fileConn) SetDeadline(t time.Time) error      { return c.f.SetDeadline(t) }
func (c *fileConn) SetReadDeadline(t time.Time) error  { return c.f.SetReadDeadline(t) }
func (c *fileConn) SetWriteDeadline(t time.Time) error { return c.f.SetWriteDeadline(t) }

type vsockAddr struct{}

func (vsockAddr) Network() string { return "vsock" }
func (vsockAddr) String() string  { return "vsock" }
