package podnet

import (
	"testing"

	"golang.org/x/sys/unix"
)

// What CNI's bridge plugin leaves in a pod's namespace: lo, eth0 (a
// veth) with an IPv4 address from host-local, its kernel route and a
// default route through the bridge; IPv6 link-local on eth0.
func bridgeFacts() Facts {
	return Facts{
		Links: []Link{
			{Index: 1, Name: "lo", MTU: 65536, Up: true, Loopback: true},
			{Index: 3, Name: "eth0", MAC: "0A:58:0A:FA:4D:05", MTU: 1500, Up: true},
		},
		Addrs: []Addr{
			{LinkIndex: 1, CIDR: "127.0.0.1/8", Family: unix.AF_INET, Scope: unix.RT_SCOPE_HOST},
			{LinkIndex: 3, CIDR: "10.250.77.5/24", Family: unix.AF_INET},
			{LinkIndex: 3, CIDR: "fe80::858:aff:fefa:4d05/64", Family: unix.AF_INET6, Scope: unix.RT_SCOPE_LINK},
		},
		Routes: []Route{
			{LinkIndex: 3, Dst: "10.250.77.0/24", Src: "10.250.77.5", Scope: unix.RT_SCOPE_LINK, Family: unix.AF_INET,
				Table: unix.RT_TABLE_MAIN, Type: unix.RTN_UNICAST, Protocol: unix.RTPROT_KERNEL},
			{LinkIndex: 3, Gw: "10.250.77.1", Family: unix.AF_INET, Table: unix.RT_TABLE_MAIN, Type: unix.RTN_UNICAST, Protocol: unix.RTPROT_BOOT},
			{LinkIndex: 3, Dst: "fe80::/64", Family: unix.AF_INET6, Table: unix.RT_TABLE_MAIN, Type: unix.RTN_UNICAST, Protocol: unix.RTPROT_BOOT},
			{LinkIndex: 1, Dst: "127.0.0.0/8", Family: unix.AF_INET, Table: unix.RT_TABLE_LOCAL, Type: unix.RTN_LOCAL},
		},
	}
}

func TestPlanForBridge(t *testing.T) {
	p, err := PlanFor(bridgeFacts())
	if err != nil {
		t.Fatal(err)
	}
	if len(p.NICs) != 1 || p.NICs[0] != (NIC{Link: "eth0", Tap: "tap0_husk", MAC: "0a:58:0a:fa:4d:05", MTU: 1500}) {
		t.Errorf("NICs %+v", p.NICs)
	}
	g := p.Guest
	if len(g.Interfaces) != 1 || g.Interfaces[0].Name != "eth0" || g.Interfaces[0].Mac != "0a:58:0a:fa:4d:05" ||
		len(g.Interfaces[0].Addresses) != 1 || g.Interfaces[0].Addresses[0] != "10.250.77.5/24" || g.Interfaces[0].Mtu != 1500 {
		t.Errorf("guest interfaces %v", g.Interfaces)
	}
	if len(g.Routes) != 1 || g.Routes[0].Gateway != "10.250.77.1" || g.Routes[0].Destination != "" ||
		g.Routes[0].Device != "eth0" || g.Routes[0].Family != 4 {
		t.Errorf("guest routes %v", g.Routes)
	}
}

func TestPlanForRefuses(t *testing.T) {
	f := bridgeFacts()
	f.Links = f.Links[:1]
	if _, err := PlanFor(f); err == nil {
		t.Error("a namespace with only lo: planned")
	}
	f = bridgeFacts()
	f.Links[1].MAC = "00:11:22:33:44:55:66:77"
	if _, err := PlanFor(f); err == nil {
		t.Error("an 8-byte hardware address: planned")
	}
	f = bridgeFacts()
	for i := range maxNICs {
		f.Links = append(f.Links, Link{Index: 10 + i, Name: "x" + string(rune('a'+i)), MAC: "0a:58:00:00:00:01"})
	}
	if _, err := PlanFor(f); err == nil {
		t.Error("too many interfaces: planned")
	}
	// A tap of ours (a plan made again) is not an interface of the pod.
	f = bridgeFacts()
	f.Links = append(f.Links, Link{Index: 9, Name: "tap0" + TapSuffix, MAC: "aa:bb:cc:dd:ee:ff"})
	if p, err := PlanFor(f); err != nil || len(p.NICs) != 1 {
		t.Errorf("with our tap: %v %+v", err, p)
	}
}
