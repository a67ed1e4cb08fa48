// Package boot brings up the guest system husk-agent runs as PID 1 of: the
// pseudo filesystems, the virtio modules, a root that containers can
// pivot_root away from, cgroup2 with every controller, the shared
// directory, and the channel to the host.
package boot

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/vm/api"
)

// Kernel command line keys the host sets (see vm.kernelCmdline).
const (
	keyLoad      = "husk.load"      // module groups to load, comma separated
	keyTransport = "husk.transport" // serial or vsock
	keyShare     = "husk.share"     // 9p or virtiofs (none without)
)

// Paths in the guest.
const (
	ShareDir   = "/run/husk/share"
	StateRoot  = "/run/husk/state"
	BundleRoot = "/run/husk/bundles"
)

// Options is what the kernel command line asks of the agent.
type Options struct {
	Groups    []string
	Transport string
	Share     string
}

// ParseCmdline reads the husk.* keys of a kernel command line.
func ParseCmdline(cmdline string) (Options, error) {
	o := Options{Transport: "serial"}
	for _, f := range strings.Fields(cmdline) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case keyLoad:
			for _, g := range strings.Split(v, ",") {
				if g != "" {
					o.Groups = append(o.Groups, g)
				}
			}
		case keyTransport:
			o.Transport = v
		case keyShare:
			o.Share = v
		}
	}
	switch o.Transport {
	case "serial", "vsock":
	default:
		return o, fmt.Errorf("%s=%q: not serial or vsock", keyTransport, o.Transport)
	}
	switch o.Share {
	case "", "9p", "virtiofs":
	default:
		return o, fmt.Errorf("%s=%q: not 9p or virtiofs", keyShare, o.Share)
	}
	return o, nil
}

// clock records the start-up phases, measured with CLOCK_BOOTTIME (zero
// when the kernel started keeping time).
type clock struct {
	last   time.Duration
	phases []*api.Phase
}

// Boottime is the guest's CLOCK_BOOTTIME.
func Boottime() time.Duration {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts)
	return time.Duration(ts.Nano())
}

func (c *clock) phase(name string) {
	now := Boottime()
	c.phases = append(c.phases, &api.Phase{Name: name, Micros: (now - c.last).Microseconds()})
	c.last = now
}

// System is the guest once booted.
type System struct {
	Options Options
	Phases  []*api.Phase
	Conn    *FileConn
}

// Up brings the system up and opens the host's channel.
func Up() (*System, error) {
	start := Boottime()
	c := &clock{last: start}
	// The kernel's time until the agent runs.
	c.phases = append(c.phases, &api.Phase{Name: "kernel", Micros: start.Microseconds()})
	if err := mountAll(earlyMounts); err != nil {
		return nil, err
	}
	cmdline, err := os.ReadFile("/proc/cmdline")
	if err != nil {
		return nil, err
	}
	o, err := ParseCmdline(string(cmdline))
	if err != nil {
		return nil, err
	}
	c.phase("mounts")
	if err := loadModules(o.Groups, c); err != nil {
		return nil, err
	}
	if err := switchRoot(); err != nil {
		return nil, fmt.Errorf("switch root: %w", err)
	}
	if err := mountAll(systemMounts); err != nil {
		return nil, err
	}
	if err := enableControllers(); err != nil {
		return nil, err
	}
	// The OOM killer must never pick the agent: the VM would be lost.
	os.WriteFile("/proc/self/oom_score_adj", []byte("-1000"), 0)
	c.phase("system")
	if o.Share != "" {
		if err := mountShare(o.Share); err != nil {
			return nil, err
		}
		c.phase("share")
	}
	var conn *FileConn
	switch o.Transport {
	case "vsock":
		conn, err = acceptVsock(VsockPort)
	default:
		conn, err = openPort(PortName, 10*time.Second)
	}
	if err != nil {
		return nil, err
	}
	c.phase("channel")
	return &System{Options: o, Phases: c.phases, Conn: conn}, nil
}

type mount struct {
	src, dst, fstype string
	flags            uintptr
	data             string
}

var earlyMounts = []mount{
	{"devtmpfs", "/dev", "devtmpfs", unix.MS_NOSUID, "mode=0755"},
	{"proc", "/proc", "proc", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, ""},
	{"sysfs", "/sys", "sysfs", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, ""},
}

var systemMounts = []mount{
	{"cgroup2", "/sys/fs/cgroup", "cgroup2", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, "nsdelegate"},
	{"devpts", "/dev/pts", "devpts", unix.MS_NOSUID | unix.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620"},
	{"tmpfs", "/dev/shm", "tmpfs", unix.MS_NOSUID | unix.MS_NODEV, "mode=1777"},
	{"tmpfs", "/run", "tmpfs", unix.MS_NOSUID | unix.MS_NODEV, "mode=0755"},
	{"tmpfs", "/tmp", "tmpfs", unix.MS_NOSUID | unix.MS_NODEV, "mode=1777"},
}

func mountAll(ms []mount) error {
	for _, m := range ms {
		if err := os.MkdirAll(m.dst, 0o755); err != nil {
			return err
		}
		if err := unix.Mount(m.src, m.dst, m.fstype, m.flags, m.data); err != nil && !errors.Is(err, unix.EBUSY) {
			return fmt.Errorf("mount %s on %s: %w", m.fstype, m.dst, err)
		}
	}
	return nil
}

// switchRoot moves the system onto an empty tmpfs: pivot_root, which
// containers need, refuses a root that is the initial ramfs. Nothing of
// the initramfs is needed any more (the agent runs, the modules are
// loaded), so nothing is copied.
func switchRoot() error {
	const newRoot = "/root"
	if err := os.MkdirAll(newRoot, 0o755); err != nil {
		return err
	}
	if err := unix.Mount("tmpfs", newRoot, "tmpfs", 0, "mode=0755"); err != nil {
		return fmt.Errorf("mount tmpfs: %w", err)
	}
	for _, d := range []string{"/dev", "/proc", "/sys"} {
		if err := os.MkdirAll(newRoot+d, 0o755); err != nil {
			return err
		}
		if err := unix.Mount(d, newRoot+d, "", unix.MS_MOVE, ""); err != nil {
			return fmt.Errorf("move %s: %w", d, err)
		}
	}
	// The initramfs stays in memory under the new root: drop what it holds.
	os.RemoveAll("/lib")
	os.Remove("/init")
	if err := unix.Chdir(newRoot); err != nil {
		return err
	}
	if err := unix.Mount(".", "/", "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("move the new root: %w", err)
	}
	if err := unix.Chroot("."); err != nil {
		return err
	}
	return unix.Chdir("/")
}

// enableControllers makes every controller available to the cgroups below
// the root, as systemd does on a cgroup v2 host.
func enableControllers() error {
	data, err := os.ReadFile("/sys/fs/cgroup/cgroup.controllers")
	if err != nil {
		return err
	}
	var b strings.Builder
	for _, c := range strings.Fields(string(data)) {
		b.WriteString("+" + c + " ")
	}
	if b.Len() == 0 {
		return nil
	}
	if err := os.WriteFile("/sys/fs/cgroup/cgroup.subtree_control", []byte(b.String()), 0); err != nil {
		return fmt.Errorf("enable cgroup controllers %s: %w", strings.TrimSpace(string(data)), err)
	}
	return nil
}

// ShareTag is the mount tag of the host's shared directory.
const ShareTag = "husk.share"

func mountShare(kind string) error {
	if err := os.MkdirAll(ShareDir, 0o755); err != nil {
		return err
	}
	fstype, data := "virtiofs", ""
	if kind == "9p" {
		// msize: 512 KiB messages; cache=loose: the host does not change
		// a container's files behind the guest's back.
		fstype, data = "9p", "trans=virtio,version=9p2000.L,msize=524288,cache=loose"
	}
	if err := unix.Mount(ShareTag, ShareDir, fstype, unix.MS_NODEV, data); err != nil {
		return fmt.Errorf("mount the shared directory (%s): %w", fstype, err)
	}
	return nil
}

// PowerOff ends the VM.
func PowerOff() {
	unix.Sync()
	unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
	for {
		time.Sleep(time.Hour)
	}
}
