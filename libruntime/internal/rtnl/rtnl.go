// Package rtnl is the little of rtnetlink husk needs to move network
// devices into a container's network namespace (linux.netDevices): links
// by name, their addresses, and the link changes ip(8) would make. It
// uses only x/sys/unix (no net package: husk's commands start cold).
package rtnl

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Conn is a NETLINK_ROUTE socket; it acts in the network namespace it was
// opened in.
type Conn struct {
	fd  int
	seq atomic.Uint32
}

// Open opens a connection in the caller's network namespace.
func Open() (*Conn, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, os.NewSyscallError("socket(AF_NETLINK)", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("bind(AF_NETLINK)", err)
	}
	return &Conn{fd: fd}, nil
}

// OpenIn opens a connection in the network namespace nsPath names
// (/proc/<pid>/ns/net). A thread enters it for the socket call and comes
// back; a thread that cannot come back is never used again.
func OpenIn(nsPath string) (*Conn, error) {
	type result struct {
		c   *Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		c, back, err := openIn(nsPath)
		ch <- result{c, err}
		if back {
			runtime.UnlockOSThread()
		}
		// Otherwise the goroutine ends locked to the thread: Go ends it.
	}()
	r := <-ch
	return r.c, r.err
}

func openIn(nsPath string) (c *Conn, back bool, err error) {
	own, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, true, fmt.Errorf("open own network namespace: %w", err)
	}
	defer unix.Close(own)
	ns, err := unix.Open(nsPath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, true, &os.PathError{Op: "open", Path: nsPath, Err: err}
	}
	defer unix.Close(ns)
	if err := unix.Setns(ns, unix.CLONE_NEWNET); err != nil {
		return nil, true, fmt.Errorf("enter network namespace %s: %w", nsPath, err)
	}
	c, err = Open()
	if berr := unix.Setns(own, unix.CLONE_NEWNET); berr != nil {
		if c != nil {
			c.Close()
		}
		return nil, false, fmt.Errorf("return from network namespace %s: %w", nsPath, berr)
	}
	return c, true, err
}

// Close closes the socket.
func (c *Conn) Close() error { return unix.Close(c.fd) }

// Link is a network device.
type Link struct {
	Index int32
	Flags uint32
	Name  string
}

// Addr is an address of a link, as RTM_NEWADDR carries it.
type Addr struct {
	Family    uint8
	PrefixLen uint8
	Scope     uint8
	Flags     uint32 // IFA_F_*
	Index     int32
	Local     []byte // IFA_LOCAL
	Address   []byte // IFA_ADDRESS (the peer's on a point-to-point link)
	Broadcast []byte // IFA_BROADCAST
}

// LinkByName looks a link up by name; a missing one is unix.ENODEV.
func (c *Conn) LinkByName(name string) (Link, error) {
	msg := newMessage(unix.RTM_GETLINK, 0)
	msg.ifinfo(unix.IfInfomsg{Family: unix.AF_UNSPEC})
	msg.attr(unix.IFLA_IFNAME, cstring(name))
	replies, err := c.do(msg)
	if err != nil {
		return Link{}, err
	}
	for _, r := range replies {
		if r.Header.Type == unix.RTM_NEWLINK {
			return parseLink(r)
		}
	}
	return Link{}, unix.ENODEV
}

// SetUp brings link index up or down.
func (c *Conn) SetUp(index int32, up bool) error {
	msg := newMessage(unix.RTM_NEWLINK, 0)
	var flags uint32
	if up {
		flags = unix.IFF_UP
	}
	msg.ifinfo(unix.IfInfomsg{Family: unix.AF_UNSPEC, Index: index, Flags: flags, Change: unix.IFF_UP})
	_, err := c.do(msg)
	return err
}

// MoveTo moves link index into the network namespace open as nsFD, named
// name there, in one request (the name may be taken in one namespace and
// free in the other).
func (c *Conn) MoveTo(index int32, name string, nsFD int) error {
	msg := newMessage(unix.RTM_NEWLINK, 0)
	msg.ifinfo(unix.IfInfomsg{Family: unix.AF_UNSPEC, Index: index})
	msg.attr(unix.IFLA_IFNAME, cstring(name))
	msg.attr(unix.IFLA_NET_NS_FD, u32(uint32(nsFD)))
	_, err := c.do(msg)
	return err
}

// Addrs lists the addresses of link index (every family).
func (c *Conn) Addrs(index int32) ([]Addr, error) {
	msg := newMessage(unix.RTM_GETADDR, unix.NLM_F_DUMP)
	msg.ifaddr(unix.IfAddrmsg{Family: unix.AF_UNSPEC})
	replies, err := c.do(msg)
	if err != nil {
		return nil, err
	}
	var out []Addr
	for _, r := range replies {
		if r.Header.Type != unix.RTM_NEWADDR {
			continue
		}
		a, err := parseAddr(r)
		if err != nil {
			return nil, err
		}
		if a.Index == index {
			out = append(out, a)
		}
	}
	return out, nil
}

// AddAddr adds a to link index.
func (c *Conn) AddAddr(index int32, a Addr) error {
	msg := newMessage(unix.RTM_NEWADDR, unix.NLM_F_CREATE|unix.NLM_F_EXCL)
	msg.ifaddr(unix.IfAddrmsg{Family: a.Family, Prefixlen: a.PrefixLen, Scope: a.Scope, Index: uint32(index)})
	for _, at := range []struct {
		typ uint16
		v   []byte
	}{{unix.IFA_LOCAL, a.Local}, {unix.IFA_ADDRESS, a.Address}, {unix.IFA_BROADCAST, a.Broadcast}} {
		if len(at.v) > 0 {
			msg.attr(at.typ, at.v)
		}
	}
	_, err := c.do(msg)
	return err
}

// message is a request being built: header, fixed part, attributes.
type message struct{ b []byte }

func newMessage(typ uint16, flags uint16) *message {
	m := &message{b: make([]byte, unix.SizeofNlMsghdr, 128)}
	h := (*unix.NlMsghdr)(unsafe.Pointer(&m.b[0]))
	h.Type = typ
	h.Flags = unix.NLM_F_REQUEST | unix.NLM_F_ACK | flags
	return m
}

func (m *message) raw(v unsafe.Pointer, n int) {
	m.b = append(m.b, unsafe.Slice((*byte)(v), n)...)
}

func (m *message) ifinfo(i unix.IfInfomsg) { m.raw(unsafe.Pointer(&i), unix.SizeofIfInfomsg) }
func (m *message) ifaddr(i unix.IfAddrmsg) { m.raw(unsafe.Pointer(&i), unix.SizeofIfAddrmsg) }

func (m *message) attr(typ uint16, v []byte) {
	a := unix.RtAttr{Len: uint16(unix.SizeofRtAttr + len(v)), Type: typ}
	m.raw(unsafe.Pointer(&a), unix.SizeofRtAttr)
	m.b = append(m.b, v...)
	for len(m.b)%unix.NLMSG_ALIGNTO != 0 {
		m.b = append(m.b, 0)
	}
}

func (m *message) bytes(seq uint32) []byte {
	h := (*unix.NlMsghdr)(unsafe.Pointer(&m.b[0]))
	h.Len = uint32(len(m.b))
	h.Seq = seq
	return m.b
}

func cstring(s string) []byte { return append([]byte(s), 0) }

func u32(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }

// do sends msg and reads the replies until the kernel's acknowledgement
// (or, for a dump, its end), returning the data messages.
func (c *Conn) do(msg *message) ([]syscall.NetlinkMessage, error) {
	seq := c.seq.Add(1)
	if err := unix.Sendto(c.fd, msg.bytes(seq), 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, os.NewSyscallError("sendto(AF_NETLINK)", err)
	}
	var out []syscall.NetlinkMessage
	buf := make([]byte, 64<<10)
	for {
		n, _, err := unix.Recvfrom(c.fd, buf, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, os.NewSyscallError("recvfrom(AF_NETLINK)", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return nil, fmt.Errorf("netlink reply: %w", err)
		}
		for _, m := range msgs {
			if m.Header.Seq != seq {
				continue
			}
			switch m.Header.Type {
			case unix.NLMSG_DONE:
				return out, nil
			case unix.NLMSG_ERROR:
				if len(m.Data) < 4 {
					return nil, errors.New("netlink reply: short error message")
				}
				if e := int32(binary.NativeEndian.Uint32(m.Data)); e != 0 {
					return nil, unix.Errno(-e)
				}
				return out, nil
			default:
				// m.Data is in buf, which the next read reuses.
				m.Data = append([]byte(nil), m.Data...)
				out = append(out, m)
			}
		}
	}
}

func parseLink(m syscall.NetlinkMessage) (Link, error) {
	if len(m.Data) < unix.SizeofIfInfomsg {
		return Link{}, errors.New("netlink: short link message")
	}
	info := (*unix.IfInfomsg)(unsafe.Pointer(&m.Data[0]))
	l := Link{Index: info.Index, Flags: info.Flags}
	attrs, err := syscall.ParseNetlinkRouteAttr(&m)
	if err != nil {
		return Link{}, err
	}
	for _, a := range attrs {
		if a.Attr.Type == unix.IFLA_IFNAME {
			l.Name = string(trimNul(a.Value))
		}
	}
	return l, nil
}

func parseAddr(m syscall.NetlinkMessage) (Addr, error) {
	if len(m.Data) < unix.SizeofIfAddrmsg {
		return Addr{}, errors.New("netlink: short address message")
	}
	am := (*unix.IfAddrmsg)(unsafe.Pointer(&m.Data[0]))
	a := Addr{Family: am.Family, PrefixLen: am.Prefixlen, Scope: am.Scope, Flags: uint32(am.Flags), Index: int32(am.Index)}
	attrs, err := syscall.ParseNetlinkRouteAttr(&m)
	if err != nil {
		return Addr{}, err
	}
	for _, at := range attrs {
		v := append([]byte(nil), at.Value...)
		switch at.Attr.Type {
		case unix.IFA_LOCAL:
			a.Local = v
		case unix.IFA_ADDRESS:
			a.Address = v
		case unix.IFA_BROADCAST:
			a.Broadcast = v
		case unix.IFA_FLAGS:
			if len(v) >= 4 {
				a.Flags = binary.NativeEndian.Uint32(v)
			}
		}
	}
	return a, nil
}

func trimNul(b []byte) []byte {
	for i, c := range b {
		if c == 0 {
			return b[:i]
		}
	}
	return b
}
