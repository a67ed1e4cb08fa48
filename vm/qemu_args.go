package vm

import (
	"fmt"
	"strconv"
	"strings"
)

// ShareTag is the mount tag of the shared directory (agent/boot mounts it).
const ShareTag = "husk.share"

// PortName is the agent's virtio-serial port (agent/boot opens it).
const PortName = "husk.agent"

// VsockPort is the agent's vsock port.
const VsockPort = 1024

// qemuEnds are the host ends of the VM's devices.
type qemuEnds struct {
	agentSocket string // serial: the unix socket qemu connects to
	vsockCID    uint32
	shareDir    string
	fsSocket    string // virtio-fs: virtiofsd's socket
}

// qemuArgs is qemu's command line for c (defaults filled) on host h.
func qemuArgs(c Config, h HostFacts, e qemuEnds) []string {
	mmio := c.Machine == "microvm"
	dev := func(name, opts string) string {
		// virtio devices are "-device" on microvm's virtio-mmio bus and
		// "-pci" (modern only: no legacy I/O ports to emulate) on q35.
		if mmio {
			name += "-device"
		} else {
			name += "-pci"
			opts += ",disable-legacy=on"
		}
		return name + opts
	}
	a := []string{
		"-name", c.Name,
		"-nodefaults", "-no-user-config", "-nographic", "-no-reboot",
	}
	if c.Accel == "kvm" {
		a = append(a, "-accel", "kvm", "-cpu", "host")
	} else {
		a = append(a, "-accel", "tcg,tb-size="+strconv.Itoa(c.TBSizeMiB), "-cpu", "max")
	}
	// Firmware: none. microvm boots the ELF kernel through its PVH entry
	// with no option ROMs; q35 still runs its BIOS.
	machine := "microvm,x-option-roms=off"
	if !mmio {
		machine = "q35,smbus=off,sata=off,usb=off"
	}
	if c.Share == ShareVirtioFS {
		// vhost-user shares the guest's memory with virtiofsd.
		machine += ",memory-backend=mem"
		a = append(a, "-object", fmt.Sprintf("memory-backend-memfd,id=mem,size=%dM,share=on", c.MemoryMiB))
	}
	if mmio {
		// Modern virtio-mmio (version 2): vhost-user (virtiofsd) serves
		// no legacy device.
		a = append(a, "-global", "virtio-mmio.force-legacy=false")
	}
	a = append(a, "-M", machine,
		"-m", strconv.Itoa(c.MemoryMiB)+"M", "-smp", strconv.Itoa(c.CPUs),
		"-kernel", c.Kernel, "-initrd", c.Initrd,
		"-append", kernelCmdline(c, h),
		// Boot messages (ttyS0) go to qemu's stdout.
		"-chardev", "stdio,id=con,signal=off", "-serial", "chardev:con",
		// qemu's own seccomp filter: no new processes, no privileges.
		"-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny",
	)
	if c.Transport == TransportVsock {
		a = append(a, "-device", dev("vhost-vsock", ",guest-cid="+strconv.FormatUint(uint64(e.vsockCID), 10)))
	} else {
		a = append(a,
			"-chardev", "socket,id=agent,path="+e.agentSocket+",server=off",
			"-device", dev("virtio-serial", ""),
			"-device", "virtserialport,chardev=agent,name="+PortName)
	}
	switch c.Share {
	case Share9P:
		// security_model=none: files keep the owners they have on the
		// host. multidevs=remap: the share holds bind mounts of other
		// file systems, whose inode numbers may collide.
		a = append(a,
			"-fsdev", "local,id=share,path="+e.shareDir+",security_model=none,multidevs=remap",
			"-device", dev("virtio-9p", ",fsdev=share,mount_tag="+ShareTag))
	case ShareVirtioFS:
		a = append(a,
			"-chardev", "socket,id=fs,path="+e.fsSocket,
			"-device", dev("vhost-user-fs", ",chardev=fs,tag="+ShareTag))
	}
	if c.FreePageReporting {
		a = append(a, "-device", dev("virtio-balloon", ",free-page-reporting=on"))
	}
	for i, n := range c.NICs {
		// The tap's descriptor is qemu's fd firstNICFd+i (ExtraFiles).
		id := "net" + strconv.Itoa(i)
		a = append(a, "-netdev", "tap,id="+id+",fd="+strconv.Itoa(firstNICFd+i)+",vhost=off")
		opts := ",netdev=" + id + ",mac=" + n.MAC
		if n.MTU > 0 {
			opts += ",host_mtu=" + strconv.Itoa(n.MTU)
		}
		a = append(a, "-device", dev("virtio-net", opts))
	}
	return a
}

// firstNICFd is the descriptor of the first tap device in qemu (after
// stdin, stdout, stderr).
const firstNICFd = 3

// kernelCmdline tells the guest kernel and the agent what this VM has.
func kernelCmdline(c Config, h HostFacts) string {
	args := []string{
		"console=ttyS0",
		// A panic ends qemu at once (-no-reboot), so the host sees it.
		"panic=-1",
		"quiet",
		// The crypto self-tests cost ~0.3 s under emulation.
		"cryptomgr.notests",
		// Initcalls a guest has no use for: kprobe trace events (their
		// code patching makes TCG drop translations) and the kdf108
		// self-test. 0.2 s of a 1.9 s bare boot here.
		"initcall_blacklist=init_kprobe_trace,crypto_kdf108_init",
	}
	if c.Machine == "microvm" && h.TSCkHz > 0 {
		// microvm has no HPET or ACPI PM timer to calibrate the TSC
		// against; a failed calibration under TCG hangs the boot. With
		// nothing to check it against either, the clocksource watchdog
		// would leave the guest on jiffies (4 ms steps).
		args = append(args, "tsc_early_khz="+strconv.Itoa(h.TSCkHz), "tsc=reliable")
	}
	groups := []string{"pci"}
	if c.Machine == "microvm" {
		groups = []string{"mmio"}
	}
	if c.Transport == TransportVsock {
		groups = append(groups, "vsock")
	} else {
		groups = append(groups, "serial")
	}
	groups = append(groups, string(c.Share))
	if c.FreePageReporting {
		groups = append(groups, "balloon")
	}
	if len(c.NICs) > 0 {
		groups = append(groups, "net")
	}
	args = append(args,
		"husk.load="+strings.Join(groups, ","),
		"husk.transport="+c.Transport,
		"husk.share="+string(c.Share))
	return strings.Join(args, " ")
}
