// Package podnet connects a microVM to a pod's network as containerd and
// CNI made it, as kata-containers does: in the pod's network namespace,
// each of the pod's interfaces (CNI's veth) gets a tap device, and tc
// redirects every packet arriving on one to the other; qemu serves the
// tap as a virtio-net device with the interface's MAC address, and the
// guest agent gives that device the interface's name, addresses and
// routes. The namespace keeps its interfaces and addresses; only the
// redirects and the taps are added, and removed again.
package podnet

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/vm/api"
)

// Facts are what a pod's network namespace has.
type Facts struct {
	Links  []Link
	Addrs  []Addr
	Routes []Route
}

// Link is a network interface.
type Link struct {
	Index    int
	Name     string
	MAC      string // "" without one (lo, tun)
	MTU      int
	Up       bool
	Loopback bool
}

// Addr is an address of a link.
type Addr struct {
	LinkIndex int
	CIDR      string // 10.88.0.5/16
	Family    int    // unix.AF_INET or AF_INET6
	// Scope is RT_SCOPE_*; IPv6 link-local addresses are scope link.
	Scope int
}

// Route is a route.
type Route struct {
	LinkIndex int
	Dst       string // CIDR, "" for a default route
	Gw        string
	Src       string
	Scope     int
	Family    int
	Table     int
	Type      int
	Protocol  int
}

// NIC is one of the pod's interfaces connected to the VM.
type NIC struct {
	// Link is the interface in the namespace, and its name in the guest.
	Link string
	// Tap is the tap device made beside it.
	Tap string
	MAC string
	MTU int
}

// Plan is how a VM is connected to a pod's network.
type Plan struct {
	NICs []NIC
	// Guest is what the agent configures.
	Guest *api.NetworkConfig
}

// Bounds: a pod has an interface or two.
const (
	maxNICs = 8
	// TapSuffix ends the names of the taps podnet makes.
	TapSuffix = "_husk"
)

// PlanFor plans the connection of a VM to a namespace with facts f: every
// interface with a hardware address is connected (not lo, not a tap of
// ours), with its addresses (IPv6 link-local ones excepted: the guest
// makes the same from the same MAC) and the main table's unicast routes
// through it that the kernel did not make itself (the guest's kernel
// makes those when the addresses are added).
func PlanFor(f Facts) (*Plan, error) {
	p := &Plan{Guest: &api.NetworkConfig{}}
	names := map[int]string{}
	for _, l := range f.Links {
		if l.Loopback || l.MAC == "" || strings.HasSuffix(l.Name, TapSuffix) {
			continue
		}
		if len(p.NICs) == maxNICs {
			return nil, fmt.Errorf("podnet: more than %d interfaces in the pod's network namespace", maxNICs)
		}
		mac, err := net.ParseMAC(l.MAC)
		if err != nil || len(mac) != 6 {
			return nil, fmt.Errorf("podnet: interface %s: hardware address %q", l.Name, l.MAC)
		}
		n := NIC{Link: l.Name, Tap: "tap" + strconv.Itoa(len(p.NICs)) + TapSuffix, MAC: mac.String(), MTU: l.MTU}
		p.NICs = append(p.NICs, n)
		names[l.Index] = l.Name
		ifc := &api.Interface{Mac: n.MAC, Name: l.Name, Mtu: uint32(max(l.MTU, 0))}
		for _, a := range f.Addrs {
			if a.LinkIndex != l.Index || (a.Family == unix.AF_INET6 && a.Scope == unix.RT_SCOPE_LINK) {
				continue
			}
			if _, _, err := net.ParseCIDR(a.CIDR); err != nil {
				return nil, fmt.Errorf("podnet: interface %s: %w", l.Name, err)
			}
			ifc.Addresses = append(ifc.Addresses, a.CIDR)
		}
		p.Guest.Interfaces = append(p.Guest.Interfaces, ifc)
	}
	for _, r := range f.Routes {
		dev, ok := names[r.LinkIndex]
		if !ok || r.Table != unix.RT_TABLE_MAIN || r.Type != unix.RTN_UNICAST || r.Protocol == unix.RTPROT_KERNEL {
			continue
		}
		if r.Family == unix.AF_INET6 && strings.HasPrefix(r.Dst, "fe80:") {
			continue
		}
		gr := &api.Route{Destination: r.Dst, Gateway: r.Gw, Device: dev, Source: r.Src, Scope: uint32(r.Scope)}
		switch r.Family {
		case unix.AF_INET:
			gr.Family = 4
		case unix.AF_INET6:
			gr.Family = 6
		default:
			continue
		}
		p.Guest.Routes = append(p.Guest.Routes, gr)
	}
	if len(p.NICs) == 0 {
		return nil, errors.New("podnet: the pod's network namespace has no interface to connect")
	}
	return p, nil
}

// ResolvConf bounds what is read of a pod's resolv.conf.
const ResolvConfMax = 64 << 10
