// Package vm runs husk's microVMs on the host: the qemu process (KVM
// where /dev/kvm is usable, TCG otherwise), the channel to the guest agent
// (virtio-serial, or vsock where /dev/vhost-vsock exists), the directory
// shared with the guest (virtio-9p or virtio-fs), and the VM's end.
package vm

import (
	"errors"
	"fmt"
	"net"
	"os"
	"time"
)

// ShareKind is how the shared directory reaches the guest.
type ShareKind string

const (
	Share9P       ShareKind = "9p"
	ShareVirtioFS ShareKind = "virtiofs"
)

// Transport kinds of the agent's channel.
const (
	TransportSerial = "serial"
	TransportVsock  = "vsock"
)

// Config describes one VM.
type Config struct {
	// Name identifies the VM in errors and process listings.
	Name string
	// Dir is the VM's private directory on the host: the agent's socket,
	// the console log and the shared directory. It is made by Launch
	// and removed by Close.
	Dir string
	// Kernel (an ELF vmlinux) and Initrd (husk-agent's initramfs).
	Kernel, Initrd string
	// QEMU is the qemu-system-x86_64 binary (default: found in PATH).
	QEMU string
	// MemoryMiB is the guest's RAM (default 256); untouched pages cost
	// the host nothing.
	MemoryMiB int
	// CPUs is the number of vCPUs (default 1).
	CPUs int
	// Machine: "microvm" (default) or "q35".
	Machine string
	// Accel: "kvm", "tcg" or "" for KVM when usable.
	Accel string
	// TBSizeMiB is TCG's translation cache (default 32). qemu's own
	// default is 1 GiB; what is translated stays resident, so the cache
	// is sized to what a boot and a container need: 16 and 64 MiB boot in
	// the same CPU time here, 64 costs 32 MiB more memory.
	TBSizeMiB int
	// Transport: "serial", "vsock" or "" for vsock when usable.
	Transport string
	// Share: 9p (default) or virtiofs.
	Share ShareKind
	// VirtioFSD is the virtio-fs daemon (default /usr/lib/qemu/virtiofsd).
	VirtioFSD string
	// BootTimeout bounds qemu start to agent ready (default 60 s under
	// TCG, 10 s with KVM).
	BootTimeout time.Duration
	// FreePageReporting gives the guest a balloon that returns the pages
	// it frees to the host. Off by default: the guest frees little in
	// blocks of 2 MiB (measured: 0.5 to 2 MiB back) and the module costs
	// boot time.
	FreePageReporting bool
	// NICs are the guest's network interfaces, in order: each a
	// virtio-net device on a tap device the caller made (a pod's network,
	// see package vm/podnet).
	NICs []NIC
}

// NIC is a network interface of the guest, backed by a tap device of the
// host.
type NIC struct {
	// Tap is the open tap device: qemu gets the descriptor, so it needs
	// no privilege to attach to it. It must have been opened with
	// IFF_VNET_HDR.
	Tap *os.File
	// MAC is the guest interface's hardware address.
	MAC string
	// MTU is given to the guest (virtio-net's host_mtu); 0 for the default.
	MTU int
}

// Defaults.
const (
	DefaultMemoryMiB = 256
	DefaultTBSizeMiB = 32
	DefaultVirtioFSD = "/usr/lib/qemu/virtiofsd"
)

// withDefaults fills what c leaves unset, given the host's facts.
func (c Config) withDefaults(h HostFacts) (Config, error) {
	if c.Dir == "" || c.Kernel == "" || c.Initrd == "" {
		return c, errors.New("vm: Dir, Kernel and Initrd are required")
	}
	if c.Name == "" {
		c.Name = "husk-vm"
	}
	if c.MemoryMiB == 0 {
		c.MemoryMiB = DefaultMemoryMiB
	}
	if c.MemoryMiB < 64 {
		return c, fmt.Errorf("vm: memory %d MiB: at least 64 MiB", c.MemoryMiB)
	}
	if c.CPUs == 0 {
		c.CPUs = 1
	}
	if c.Machine == "" {
		c.Machine = "microvm"
	}
	if c.Machine != "microvm" && c.Machine != "q35" {
		return c, fmt.Errorf("vm: machine %q: not microvm or q35", c.Machine)
	}
	switch c.Accel {
	case "":
		c.Accel = "tcg"
		if h.KVM {
			c.Accel = "kvm"
		}
	case "kvm":
		if !h.KVM {
			return c, errors.New("vm: accel kvm: /dev/kvm is not usable here")
		}
	case "tcg":
	default:
		return c, fmt.Errorf("vm: accel %q: not kvm or tcg", c.Accel)
	}
	if c.TBSizeMiB == 0 {
		c.TBSizeMiB = DefaultTBSizeMiB
	}
	switch c.Transport {
	case "":
		c.Transport = TransportSerial
		if h.VhostVsock {
			c.Transport = TransportVsock
		}
	case TransportSerial:
	case TransportVsock:
		if !h.VhostVsock {
			return c, errors.New("vm: transport vsock: /dev/vhost-vsock is not usable here")
		}
	default:
		return c, fmt.Errorf("vm: transport %q: not serial or vsock", c.Transport)
	}
	switch c.Share {
	case "":
		c.Share = Share9P
	case Share9P, ShareVirtioFS:
	default:
		return c, fmt.Errorf("vm: share %q: not 9p or virtiofs", c.Share)
	}
	if c.VirtioFSD == "" {
		c.VirtioFSD = DefaultVirtioFSD
	}
	for i, n := range c.NICs {
		if n.Tap == nil {
			return c, fmt.Errorf("vm: NIC %d: no tap device", i)
		}
		if _, err := net.ParseMAC(n.MAC); err != nil {
			return c, fmt.Errorf("vm: NIC %d: %w", i, err)
		}
		if n.MTU < 0 || n.MTU > 65535 {
			return c, fmt.Errorf("vm: NIC %d: MTU %d", i, n.MTU)
		}
	}
	if c.BootTimeout == 0 {
		c.BootTimeout = 60 * time.Second
		if c.Accel == "kvm" {
			c.BootTimeout = 10 * time.Second
		}
	}
	return c, nil
}
