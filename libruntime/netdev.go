package libruntime

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/libruntime/internal/rtnl"
)

// moveNetDevices moves linux.netDevices from husk's network namespace into
// the one of process pid, as runc 1.5 does: each device goes down, moves
// (renamed to its name field, if given) in one request, gets back its
// permanent global addresses (the kernel drops addresses on a move), and
// comes up. Nothing is moved back at delete: when the container's network
// namespace goes, the kernel returns physical devices to the host's and
// destroys virtual ones, which is what the runtime spec asks for.
func moveNetDevices(pid int, devs map[string]rspec.LinuxNetDevice) error {
	if len(devs) == 0 {
		return nil
	}
	nsPath := fmt.Sprintf("/proc/%d/ns/net", pid)
	ns, err := os.Open(nsPath)
	if err != nil {
		return fmt.Errorf("linux.netDevices: %w", err)
	}
	defer ns.Close()
	host, err := rtnl.Open()
	if err != nil {
		return fmt.Errorf("linux.netDevices: %w", err)
	}
	defer host.Close()
	ctr, err := rtnl.OpenIn(nsPath)
	if err != nil {
		return fmt.Errorf("linux.netDevices: %w", err)
	}
	defer ctr.Close()
	for _, name := range slices.Sorted(maps.Keys(devs)) {
		newName := devs[name].Name
		if newName == "" {
			newName = name
		}
		if err := moveNetDevice(host, ctr, int(ns.Fd()), name, newName); err != nil {
			return fmt.Errorf("linux.netDevices[%q]: %w", name, err)
		}
	}
	return nil
}

func moveNetDevice(host, ctr *rtnl.Conn, nsFD int, name, newName string) error {
	link, err := host.LinkByName(name)
	if errors.Is(err, unix.ENODEV) {
		return errors.New("no such network device in husk's network namespace")
	}
	if err != nil {
		return fmt.Errorf("look up the device: %w", err)
	}
	if err := host.SetUp(link.Index, false); err != nil {
		return fmt.Errorf("set the device down: %w", err)
	}
	addrs, err := host.Addrs(link.Index)
	if err != nil {
		return fmt.Errorf("list its addresses: %w", err)
	}
	if err := host.MoveTo(link.Index, newName, nsFD); err != nil {
		return fmt.Errorf("move it into the container's network namespace as %q: %w", newName, err)
	}
	moved, err := ctr.LinkByName(newName)
	if err != nil {
		return fmt.Errorf("find %q in the container's network namespace: %w", newName, err)
	}
	for _, a := range keptAddrs(addrs) {
		if err := ctr.AddAddr(moved.Index, a); err != nil {
			return fmt.Errorf("add address %s/%d to %q: %w", ipString(a), a.PrefixLen, newName, err)
		}
	}
	if err := ctr.SetUp(moved.Index, true); err != nil {
		return fmt.Errorf("set %q up: %w", newName, err)
	}
	return nil
}

// keptAddrs are the addresses a device keeps across the move, as with
// runc: permanent ones (configured, not from autoconfiguration or DHCP,
// whose lifetimes belong to the host's network) of global scope.
func keptAddrs(addrs []rtnl.Addr) []rtnl.Addr {
	var out []rtnl.Addr
	for _, a := range addrs {
		if a.Flags&unix.IFA_F_PERMANENT != 0 && a.Scope == unix.RT_SCOPE_UNIVERSE {
			out = append(out, a)
		}
	}
	return out
}

func ipString(a rtnl.Addr) string {
	ip := a.Local
	if len(ip) == 0 {
		ip = a.Address
	}
	switch len(ip) {
	case 4:
		return fmt.Sprintf("%d.%d.%d.%d", ip[0], ip[1], ip[2], ip[3])
	case 16:
		s := ""
		for i := 0; i < 16; i += 2 {
			if i > 0 {
				s += ":"
			}
			s += fmt.Sprintf("%x", uint16(ip[i])<<8|uint16(ip[i+1]))
		}
		return s
	}
	return fmt.Sprintf("%x", ip)
}
