package rtnl

import (
	"bytes"
	"testing"

	"golang.org/x/sys/unix"
)

// Against the kernel (read only): the loopback device and its addresses.
func TestLoopback(t *testing.T) {
	c, err := Open()
	if err != nil {
		t.Skipf("no netlink: %v", err)
	}
	defer c.Close()
	lo, err := c.LinkByName("lo")
	if err != nil || lo.Index <= 0 || lo.Name != "lo" {
		t.Fatalf("LinkByName(lo) = %+v, %v", lo, err)
	}
	if _, err := c.LinkByName("husk-no-such0"); err != unix.ENODEV {
		t.Errorf("missing device: err = %v, want ENODEV", err)
	}
	addrs, err := c.Addrs(lo.Index)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, a := range addrs {
		if a.Family == unix.AF_INET && bytes.Equal(a.Local, []byte{127, 0, 0, 1}) && a.PrefixLen == 8 && a.Scope == unix.RT_SCOPE_HOST {
			found = true
		}
		if a.Index != lo.Index {
			t.Errorf("address of another link: %+v", a)
		}
	}
	if !found {
		t.Errorf("127.0.0.1/8 not among lo's addresses %+v", addrs)
	}
}
