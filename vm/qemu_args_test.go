package vm

import (
	"os"
	"strings"
	"testing"
	"time"
)

func argsOf(t *testing.T, c Config, h HostFacts) (Config, string) {
	t.Helper()
	c.Dir, c.Kernel, c.Initrd = "/run/x", "/k/vmlinux", "/k/initrd"
	c, err := c.withDefaults(h)
	if err != nil {
		t.Fatal(err)
	}
	return c, strings.Join(qemuArgs(c, h, qemuEnds{agentSocket: "/run/x/agent.sock", shareDir: "/run/x/share",
		fsSocket: "/run/x/fs.sock", vsockCID: 42}), " ")
}

func TestQemuArgsDefaultsTCG(t *testing.T) {
	c, a := argsOf(t, Config{}, HostFacts{TSCkHz: 2096000})
	if c.Accel != "tcg" || c.Transport != TransportSerial || c.Share != Share9P || c.MemoryMiB != 256 || c.CPUs != 1 {
		t.Errorf("defaults: %+v", c)
	}
	if c.BootTimeout != 60*time.Second {
		t.Errorf("boot timeout under TCG: %v", c.BootTimeout)
	}
	for _, want := range []string{
		"-accel tcg,tb-size=32 -cpu max",
		"-M microvm,x-option-roms=off",
		"-m 256M -smp 1",
		"-kernel /k/vmlinux -initrd /k/initrd",
		"-chardev socket,id=agent,path=/run/x/agent.sock,server=off",
		"-device virtio-serial-device -device virtserialport,chardev=agent,name=husk.agent",
		"-fsdev local,id=share,path=/run/x/share,security_model=none,multidevs=remap",
		"-device virtio-9p-device,fsdev=share,mount_tag=husk.share",
		"-sandbox on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny",
		"initcall_blacklist=init_kprobe_trace,crypto_kdf108_init",
		"tsc_early_khz=2096000 tsc=reliable",
		"husk.load=mmio,serial,9p husk.transport=serial husk.share=9p",
	} {
		if !strings.Contains(a, want) {
			t.Errorf("missing %q in %s", want, a)
		}
	}
	if strings.Contains(a, "balloon") || strings.Contains(a, "vsock") {
		t.Errorf("unasked devices: %s", a)
	}
}

func TestQemuArgsKVMVsockVirtioFSQ35(t *testing.T) {
	h := HostFacts{KVM: true, VhostVsock: true}
	c, a := argsOf(t, Config{Machine: "q35", Share: ShareVirtioFS, FreePageReporting: true, MemoryMiB: 512}, h)
	if c.Accel != "kvm" || c.Transport != TransportVsock || c.BootTimeout != 10*time.Second {
		t.Errorf("defaults with KVM and vhost-vsock: %+v", c)
	}
	for _, want := range []string{
		"-accel kvm -cpu host",
		"-object memory-backend-memfd,id=mem,size=512M,share=on",
		"-M q35,smbus=off,sata=off,usb=off,memory-backend=mem",
		"-device vhost-vsock-pci,guest-cid=42,disable-legacy=on",
		"-chardev socket,id=fs,path=/run/x/fs.sock -device vhost-user-fs-pci,chardev=fs,tag=husk.share,disable-legacy=on",
		"-device virtio-balloon-pci,free-page-reporting=on,disable-legacy=on",
		"husk.load=pci,vsock,virtiofs,balloon husk.transport=vsock husk.share=virtiofs",
	} {
		if !strings.Contains(a, want) {
			t.Errorf("missing %q in %s", want, a)
		}
	}
	if strings.Contains(a, "tsc_early_khz") || strings.Contains(a, "virtserialport") {
		t.Errorf("unexpected: %s", a)
	}
}

func TestConfigErrors(t *testing.T) {
	base := Config{Dir: "/d", Kernel: "/k", Initrd: "/i"}
	for name, c := range map[string]Config{
		"no dir":          {Kernel: "/k", Initrd: "/i"},
		"kvm without kvm": withF(base, func(c *Config) { c.Accel = "kvm" }),
		"vsock without":   withF(base, func(c *Config) { c.Transport = TransportVsock }),
		"bad machine":     withF(base, func(c *Config) { c.Machine = "pc" }),
		"bad share":       withF(base, func(c *Config) { c.Share = "nfs" }),
		"tiny memory":     withF(base, func(c *Config) { c.MemoryMiB = 16 }),
	} {
		if _, err := c.withDefaults(HostFacts{}); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func withF(c Config, f func(*Config)) Config {
	f(&c)
	return c
}

func TestCPUKHz(t *testing.T) {
	info := []byte("processor\t: 0\nmodel name\t: x\ncpu MHz\t\t: 2096.004\ncache size\t: 1 KB\n")
	if got := cpuKHz(info); got != 2096004 {
		t.Errorf("cpuKHz = %d", got)
	}
	if got := cpuKHz([]byte("processor: 0\n")); got != 0 {
		t.Errorf("cpuKHz without cpu MHz = %d", got)
	}
}

func TestVsockCID(t *testing.T) {
	a, b := vsockCID("/run/husk/a/vm"), vsockCID("/run/husk/b/vm")
	if a < 3 || b < 3 || a == b || a != vsockCID("/run/husk/a/vm") {
		t.Errorf("cids %d %d", a, b)
	}
}

func TestUnescapeMountinfo(t *testing.T) {
	if got := unescapeMountinfo(`/run/a\040b\134c`); got != `/run/a b\c` {
		t.Errorf("got %q", got)
	}
}

func TestTailBound(t *testing.T) {
	var tl tail
	for i := 0; i < 3*tailMax; i++ {
		tl.Write([]byte{'a' + byte(i%26)})
	}
	tl.Write([]byte("\x1b[0mend\x00\n"))
	s := tl.String()
	if len(s) > tailMax || !strings.HasSuffix(s, "[0mend") {
		t.Errorf("tail of %d bytes ends %q", len(s), s[len(s)-10:])
	}
}

func TestQemuArgsNICs(t *testing.T) {
	tap := os.NewFile(0, "tap")
	_, a := argsOf(t, Config{NICs: []NIC{{Tap: tap, MAC: "0a:58:0a:fa:4d:05", MTU: 1450}, {Tap: tap, MAC: "0a:58:0a:fa:4d:06"}}}, HostFacts{})
	for _, want := range []string{
		"-netdev tap,id=net0,fd=3,vhost=off -device virtio-net-device,netdev=net0,mac=0a:58:0a:fa:4d:05,host_mtu=1450",
		"-netdev tap,id=net1,fd=4,vhost=off -device virtio-net-device,netdev=net1,mac=0a:58:0a:fa:4d:06",
		"husk.load=mmio,serial,9p,net ",
	} {
		if !strings.Contains(a, want) {
			t.Errorf("missing %q in %s", want, a)
		}
	}
	for _, bad := range []NIC{{MAC: "0a:58:0a:fa:4d:05"}, {Tap: tap, MAC: "not a mac"}, {Tap: tap, MAC: "0a:58:0a:fa:4d:05", MTU: 70000}} {
		c := Config{Dir: "/x", Kernel: "/k", Initrd: "/i", NICs: []NIC{bad}}
		if _, err := c.withDefaults(HostFacts{}); err == nil {
			t.Errorf("NIC %+v accepted", bad)
		}
	}
}
