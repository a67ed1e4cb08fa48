package podnet

import (
	"errors"
	"fmt"
	"os"
	"runtime"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Read returns the facts of the network namespace at nsPath.
func Read(nsPath string) (Facts, error) {
	var f Facts
	h, closeNS, err := handleAt(nsPath)
	if err != nil {
		return f, err
	}
	defer closeNS()
	links, err := h.LinkList()
	if err != nil {
		return f, fmt.Errorf("podnet: links of %s: %w", nsPath, err)
	}
	for _, l := range links {
		a := l.Attrs()
		f.Links = append(f.Links, Link{Index: a.Index, Name: a.Name, MAC: a.HardwareAddr.String(), MTU: a.MTU,
			Up: a.Flags&(1<<0) != 0, Loopback: a.Flags&(1<<2) != 0})
	}
	addrs, err := h.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return f, fmt.Errorf("podnet: addresses of %s: %w", nsPath, err)
	}
	for _, a := range addrs {
		fam := unix.AF_INET6
		if a.IP.To4() != nil {
			fam = unix.AF_INET
		}
		f.Addrs = append(f.Addrs, Addr{LinkIndex: a.LinkIndex, CIDR: a.IPNet.String(), Family: fam, Scope: a.Scope})
	}
	routes, err := h.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return f, fmt.Errorf("podnet: routes of %s: %w", nsPath, err)
	}
	for _, r := range routes {
		out := Route{LinkIndex: r.LinkIndex, Scope: int(r.Scope), Family: r.Family, Table: r.Table, Type: r.Type, Protocol: int(r.Protocol)}
		if r.Dst != nil && !isDefault(r.Dst.String()) {
			out.Dst = r.Dst.String()
		}
		if r.Gw != nil {
			out.Gw = r.Gw.String()
		}
		if r.Src != nil {
			out.Src = r.Src.String()
		}
		f.Routes = append(f.Routes, out)
	}
	return f, nil
}

func isDefault(cidr string) bool { return cidr == "0.0.0.0/0" || cidr == "::/0" }

// Attach makes the plan's taps and redirects in the namespace at nsPath
// and returns the taps, open (qemu's devices; the caller closes them once
// qemu has them: a tap lives as long as a descriptor of it is open). On
// error nothing it made is left.
func Attach(nsPath string, p *Plan) (_ []*os.File, err error) {
	h, closeNS, err := handleAt(nsPath)
	if err != nil {
		return nil, err
	}
	defer closeNS()
	var taps []*os.File
	defer func() {
		if err != nil {
			for _, t := range taps {
				t.Close()
			}
			detach(h, p.NICs)
		}
	}()
	for _, n := range p.NICs {
		tap, err := openTap(nsPath, n.Tap)
		if err != nil {
			return nil, err
		}
		taps = append(taps, tap)
		if err := connect(h, n); err != nil {
			return nil, fmt.Errorf("podnet: connect %s to %s: %w", n.Link, n.Tap, err)
		}
	}
	return taps, nil
}

// connect redirects every packet arriving on the pod's interface to the
// tap, and every packet from the tap (the guest) out of the interface.
func connect(h *netlink.Handle, n NIC) error {
	link, err := h.LinkByName(n.Link)
	if err != nil {
		return err
	}
	tap, err := h.LinkByName(n.Tap)
	if err != nil {
		return err
	}
	if n.MTU > 0 {
		if err := h.LinkSetMTU(tap, n.MTU); err != nil {
			return err
		}
	}
	if err := h.LinkSetUp(tap); err != nil {
		return err
	}
	for _, pair := range [][2]netlink.Link{{link, tap}, {tap, link}} {
		from, to := pair[0].Attrs().Index, pair[1].Attrs().Index
		if err := h.QdiscAdd(ingress(from)); err != nil {
			return fmt.Errorf("ingress qdisc: %w", err)
		}
		// u32 with no key matches every packet (this host has no
		// matchall classifier).
		f := &netlink.U32{
			FilterAttrs: netlink.FilterAttrs{LinkIndex: from, Parent: netlink.MakeHandle(0xffff, 0), Priority: 1, Protocol: unix.ETH_P_ALL},
			Actions: []netlink.Action{&netlink.MirredAction{
				ActionAttrs:  netlink.ActionAttrs{Action: netlink.TC_ACT_STOLEN},
				MirredAction: netlink.TCA_EGRESS_REDIR,
				Ifindex:      to,
			}},
		}
		if err := h.FilterAdd(f); err != nil {
			return fmt.Errorf("redirect filter: %w", err)
		}
	}
	return nil
}

func ingress(index int) *netlink.Ingress {
	return &netlink.Ingress{QdiscAttrs: netlink.QdiscAttrs{LinkIndex: index, Parent: netlink.HANDLE_INGRESS, Handle: netlink.MakeHandle(0xffff, 0)}}
}

// Detach removes what Attach made in the namespace at nsPath: the
// redirects (with the ingress qdiscs of the pod's interfaces) and the
// taps. A namespace that is gone has nothing left to remove.
func Detach(nsPath string, nics []NIC) error {
	h, closeNS, err := handleAt(nsPath)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer closeNS()
	return detach(h, nics)
}

func detach(h *netlink.Handle, nics []NIC) error {
	var errs []error
	for _, n := range nics {
		if l, err := h.LinkByName(n.Link); err == nil {
			if err := h.QdiscDel(ingress(l.Attrs().Index)); err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.EINVAL) {
				errs = append(errs, fmt.Errorf("podnet: remove the redirect of %s: %w", n.Link, err))
			}
		}
		if t, err := h.LinkByName(n.Tap); err == nil {
			if err := h.LinkDel(t); err != nil && !errors.Is(err, unix.ENODEV) {
				errs = append(errs, fmt.Errorf("podnet: remove %s: %w", n.Tap, err))
			}
		}
	}
	return errors.Join(errs...)
}

// handleAt is a netlink handle in the namespace at nsPath.
func handleAt(nsPath string) (*netlink.Handle, func(), error) {
	ns, err := netns.GetFromPath(nsPath)
	if err != nil {
		return nil, nil, fmt.Errorf("podnet: network namespace %s: %w", nsPath, err)
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		ns.Close()
		return nil, nil, fmt.Errorf("podnet: netlink in %s: %w", nsPath, err)
	}
	return h, func() { h.Close(); ns.Close() }, nil
}

// openTap makes tap device name in the namespace at nsPath and returns
// it open. The kernel puts a tun device in the namespace of the process
// that opened /dev/net/tun, so the open happens on a thread moved into
// the namespace, in a goroutine of its own: should the thread fail to
// move back, it ends with the goroutine instead of serving others.
func openTap(nsPath, name string) (*os.File, error) {
	type result struct {
		fd  int
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		fd, err := openIn(nsPath)
		if err == nil || !errors.Is(err, errThreadLost) {
			runtime.UnlockOSThread()
		}
		ch <- result{fd, err}
	}()
	r := <-ch
	if r.err != nil {
		return nil, r.err
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(r.fd)
		return nil, fmt.Errorf("podnet: tap %s: %w", name, err)
	}
	// No packet information header; virtio-net headers for qemu.
	ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI | unix.IFF_VNET_HDR)
	if err := unix.IoctlIfreq(r.fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(r.fd)
		return nil, fmt.Errorf("podnet: make tap %s: %w", name, err)
	}
	return os.NewFile(uintptr(r.fd), name), nil
}

var errThreadLost = errors.New("podnet: could not return to the shim's network namespace")

// openIn opens /dev/net/tun in the namespace at nsPath; the calling
// thread is locked.
func openIn(nsPath string) (int, error) {
	orig, err := netns.Get()
	if err != nil {
		return -1, err
	}
	defer orig.Close()
	target, err := netns.GetFromPath(nsPath)
	if err != nil {
		return -1, fmt.Errorf("podnet: network namespace %s: %w", nsPath, err)
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		return -1, fmt.Errorf("podnet: enter %s: %w", nsPath, err)
	}
	fd, oerr := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err := netns.Set(orig); err != nil {
		if oerr == nil {
			unix.Close(fd)
		}
		return -1, fmt.Errorf("%w: %w", errThreadLost, err)
	}
	if oerr != nil {
		return -1, fmt.Errorf("podnet: open /dev/net/tun: %w", oerr)
	}
	return fd, nil
}
