package rtnl

import (
	"bytes"
	"encoding/binary"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func TestMessageLayout(t *testing.T) {
	m := newMessage(unix.RTM_NEWLINK, 0)
	m.ifinfo(unix.IfInfomsg{Family: unix.AF_UNSPEC, Index: 7})
	m.attr(unix.IFLA_IFNAME, cstring("eth9"))
	m.attr(unix.IFLA_NET_NS_FD, u32(5))
	b := m.bytes(42)
	msgs, err := syscall.ParseNetlinkMessage(b)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("parse: %v, %d messages", err, len(msgs))
	}
	h := msgs[0].Header
	if h.Len != uint32(len(b)) || h.Seq != 42 || h.Type != unix.RTM_NEWLINK || h.Flags != unix.NLM_F_REQUEST|unix.NLM_F_ACK {
		t.Errorf("header %+v", h)
	}
	// 16 header + 16 ifinfomsg + (4+5 → 12) name + (4+4) fd
	if len(b) != 16+16+12+8 {
		t.Errorf("length %d", len(b))
	}
	l, err := parseLink(msgs[0])
	if err != nil || l.Index != 7 || l.Name != "eth9" {
		t.Errorf("parseLink = %+v, %v", l, err)
	}
	attrs, _ := syscall.ParseNetlinkRouteAttr(&msgs[0])
	if len(attrs) != 2 || attrs[1].Attr.Type != unix.IFLA_NET_NS_FD || binary.NativeEndian.Uint32(attrs[1].Value) != 5 {
		t.Errorf("attrs %+v", attrs)
	}
}

func TestParseAddr(t *testing.T) {
	m := newMessage(unix.RTM_NEWADDR, 0)
	m.ifaddr(unix.IfAddrmsg{Family: unix.AF_INET, Prefixlen: 24, Flags: 0, Scope: unix.RT_SCOPE_UNIVERSE, Index: 3})
	m.attr(unix.IFA_ADDRESS, []byte{10, 0, 0, 1})
	m.attr(unix.IFA_LOCAL, []byte{10, 0, 0, 1})
	m.attr(unix.IFA_BROADCAST, []byte{10, 0, 0, 255})
	m.attr(unix.IFA_FLAGS, u32(unix.IFA_F_PERMANENT|unix.IFA_F_NOPREFIXROUTE))
	msgs, err := syscall.ParseNetlinkMessage(m.bytes(1))
	if err != nil {
		t.Fatal(err)
	}
	a, err := parseAddr(msgs[0])
	if err != nil {
		t.Fatal(err)
	}
	if a.Family != unix.AF_INET || a.PrefixLen != 24 || a.Index != 3 || a.Scope != unix.RT_SCOPE_UNIVERSE ||
		a.Flags != unix.IFA_F_PERMANENT|unix.IFA_F_NOPREFIXROUTE ||
		!bytes.Equal(a.Local, []byte{10, 0, 0, 1}) || !bytes.Equal(a.Broadcast, []byte{10, 0, 0, 255}) {
		t.Errorf("parseAddr = %+v", a)
	}
}
