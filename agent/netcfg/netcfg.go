// Package netcfg configures the guest's network as the host asks
// (vm/api NetworkConfig): the pod's interfaces, found by their hardware
// addresses, with the names, MTUs and addresses they have in the pod's
// network namespace on the host, its routes, and resolv.conf.
package netcfg

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/vm/api"
)

// Interface is one network interface of the guest.
type Interface struct {
	MAC   net.HardwareAddr
	Name  string
	MTU   int
	Addrs []*net.IPNet
}

// Route is one route of the guest's main table.
type Route struct {
	Dst   *net.IPNet // nil: the default route of Family
	Gw    net.IP
	Dev   string
	Src   net.IP
	Scope netlink.Scope
	// Family is unix.AF_INET or unix.AF_INET6.
	Family int
}

// Config is a checked NetworkConfig.
type Config struct {
	Interfaces []Interface
	Routes     []Route
	ResolvConf []byte
	// Sysctls are net.* keys (dotted) and values.
	Sysctls map[string]string
}

// Bounds of what Parse accepts.
const (
	maxInterfaces = 16
	maxAddrs      = 64
	maxRoutes     = 512
	maxResolvConf = 64 << 10
	maxSysctls    = 128
	maxSysctlLen  = 4096
)

// Parse checks a NetworkConfig: every address parses, every route names
// one of the interfaces, names are interface names, sizes are bounded.
func Parse(r *api.NetworkConfig) (*Config, error) {
	if len(r.Interfaces) > maxInterfaces || len(r.Routes) > maxRoutes || len(r.ResolvConf) > maxResolvConf {
		return nil, errors.New("network config: too large")
	}
	if len(r.Sysctls) > maxSysctls {
		return nil, errors.New("network config: too many sysctls")
	}
	c := &Config{ResolvConf: r.ResolvConf, Sysctls: map[string]string{}}
	for k, v := range r.Sysctls {
		if !validSysctl(k) || len(v) > maxSysctlLen {
			return nil, fmt.Errorf("sysctl %q: not a net.* sysctl", k)
		}
		c.Sysctls[k] = v
	}
	names := map[string]bool{}
	for i, in := range r.Interfaces {
		mac, err := net.ParseMAC(in.Mac)
		if err != nil {
			return nil, fmt.Errorf("interface %d: %w", i, err)
		}
		if !validName(in.Name) || names[in.Name] {
			return nil, fmt.Errorf("interface %d: bad or repeated name %q", i, in.Name)
		}
		names[in.Name] = true
		if in.Mtu > 65535 || len(in.Addresses) > maxAddrs {
			return nil, fmt.Errorf("interface %s: MTU %d, %d addresses", in.Name, in.Mtu, len(in.Addresses))
		}
		ifc := Interface{MAC: mac, Name: in.Name, MTU: int(in.Mtu)}
		for _, a := range in.Addresses {
			ip, n, err := net.ParseCIDR(a)
			if err != nil {
				return nil, fmt.Errorf("interface %s: %w", in.Name, err)
			}
			n.IP = ip
			ifc.Addrs = append(ifc.Addrs, n)
		}
		c.Interfaces = append(c.Interfaces, ifc)
	}
	for i, rt := range r.Routes {
		if !names[rt.Device] {
			return nil, fmt.Errorf("route %d: device %q is not one of the interfaces", i, rt.Device)
		}
		out := Route{Dev: rt.Device, Scope: netlink.Scope(rt.Scope)}
		switch rt.Family {
		case 4:
			out.Family = unix.AF_INET
		case 6:
			out.Family = unix.AF_INET6
		default:
			return nil, fmt.Errorf("route %d: family %d", i, rt.Family)
		}
		if rt.Scope > 255 {
			return nil, fmt.Errorf("route %d: scope %d", i, rt.Scope)
		}
		if rt.Destination != "" {
			_, n, err := net.ParseCIDR(rt.Destination)
			if err != nil {
				return nil, fmt.Errorf("route %d: %w", i, err)
			}
			out.Dst = n
		}
		for _, f := range []struct {
			s   string
			dst *net.IP
		}{{rt.Gateway, &out.Gw}, {rt.Source, &out.Src}} {
			if f.s == "" {
				continue
			}
			if *f.dst = net.ParseIP(f.s); *f.dst == nil {
				return nil, fmt.Errorf("route %d: bad address %q", i, f.s)
			}
		}
		c.Routes = append(c.Routes, out)
	}
	return c, nil
}

// validName is an interface name the kernel takes.
func validName(s string) bool {
	if s == "" || len(s) >= unix.IFNAMSIZ || s == "." || s == ".." {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r == '/' || r == ':' || r > '~' {
			return false
		}
	}
	return true
}

// validSysctl is a net.* sysctl name: dotted words, no way out of
// /proc/sys/net.
func validSysctl(k string) bool {
	if !strings.HasPrefix(k, "net.") || len(k) > 256 || strings.Contains(k, "..") || strings.HasSuffix(k, ".") {
		return false
	}
	for _, r := range k {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-') {
			return false
		}
	}
	return true
}

// LoopbackUp brings lo up: a pod's containers share it.
func LoopbackUp() error {
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("loopback: %w", err)
	}
	return netlink.LinkSetUp(lo)
}

// linkWait is how long Apply waits for an interface to appear (its
// driver probes it when its module loads, before the agent serves).
const linkWait = 3 * time.Second

// Apply configures the guest.
func Apply(c *Config) error {
	for _, ifc := range c.Interfaces {
		if err := configure(ifc); err != nil {
			return fmt.Errorf("interface %s (%s): %w", ifc.Name, ifc.MAC, err)
		}
	}
	// Routes through a gateway need the gateway's own route first.
	for _, pass := range []bool{false, true} {
		for _, r := range c.Routes {
			if (r.Gw != nil) != pass {
				continue
			}
			if err := addRoute(r); err != nil {
				return err
			}
		}
	}
	for k, v := range c.Sysctls {
		p := filepath.Join("/proc/sys", strings.ReplaceAll(k, ".", "/"))
		if err := os.WriteFile(p, []byte(v), 0); err != nil {
			return fmt.Errorf("sysctl %s: %w", k, err)
		}
	}
	if len(c.ResolvConf) > 0 {
		if err := os.MkdirAll("/etc", 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join("/etc", "resolv.conf"), c.ResolvConf, 0o644); err != nil {
			return fmt.Errorf("resolv.conf: %w", err)
		}
	}
	return nil
}

func configure(ifc Interface) error {
	l, err := linkByMAC(ifc.MAC)
	if err != nil {
		return err
	}
	if l.Attrs().Name != ifc.Name {
		if err := netlink.LinkSetDown(l); err != nil {
			return err
		}
		if err := netlink.LinkSetName(l, ifc.Name); err != nil {
			return fmt.Errorf("rename %s: %w", l.Attrs().Name, err)
		}
	}
	if ifc.MTU > 0 && l.Attrs().MTU != ifc.MTU {
		if err := netlink.LinkSetMTU(l, ifc.MTU); err != nil {
			return fmt.Errorf("MTU %d: %w", ifc.MTU, err)
		}
	}
	for _, a := range ifc.Addrs {
		if err := netlink.AddrAdd(l, &netlink.Addr{IPNet: a}); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("address %s: %w", a, err)
		}
	}
	return netlink.LinkSetUp(l)
}

func linkByMAC(mac net.HardwareAddr) (netlink.Link, error) {
	deadline := time.Now().Add(linkWait)
	for {
		links, err := netlink.LinkList()
		if err != nil {
			return nil, err
		}
		for _, l := range links {
			if l.Attrs().HardwareAddr.String() == mac.String() {
				return l, nil
			}
		}
		if time.Now().After(deadline) {
			return nil, errors.New("no such interface")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func addRoute(r Route) error {
	l, err := netlink.LinkByName(r.Dev)
	if err != nil {
		return fmt.Errorf("route via %s: %w", r.Dev, err)
	}
	nr := &netlink.Route{LinkIndex: l.Attrs().Index, Dst: r.Dst, Gw: r.Gw, Src: r.Src, Scope: r.Scope, Family: r.Family}
	if err := netlink.RouteAdd(nr); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("route %s: %w", nr, err)
	}
	return nil
}
