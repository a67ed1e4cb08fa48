// Command guest is /init of the VM in which `make test-v2host` runs husk's
// cgroup tests on a pure cgroup v2 host: a Debian kernel under qemu, with
// everything (this program, husk, busybox, the test binaries) in its
// initramfs.
//
// Stage 1 copies the initramfs into a tmpfs and makes that the root:
// pivot_root, which containers need, refuses to leave the initial ramfs.
// Stage 2 mounts what a host has (proc, sysfs, devtmpfs, cgroup2 alone at
// /sys/fs/cgroup with its controllers enabled, as systemd does), runs each
// test binary listed in /tests/run (one per line: path and arguments),
// prints a verdict line per binary and a last line the host looks for,
// then powers the VM off.
package main

import (
	"bufio"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

const stageEnv = "HUSK_V2HOST_STAGE"

func main() {
	console()
	var err error
	if os.Getenv(stageEnv) == "" {
		err = switchRoot()
	} else {
		err = runTests()
	}
	if err != nil {
		fmt.Printf("husk-v2host: guest error: %v\n", err)
		fmt.Println("husk-v2host: done FAIL")
	}
	unix.Sync()
	unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
}

// console makes the serial console stdin, stdout and stderr (the initramfs
// has no /dev/console for the kernel to open).
func console() {
	if _, err := os.Stat("/dev/console"); err != nil {
		os.MkdirAll("/dev", 0o755)
		unix.Mount("devtmpfs", "/dev", "devtmpfs", 0, "")
	}
	if fd, err := unix.Open("/dev/console", unix.O_RDWR|unix.O_CLOEXEC, 0); err == nil {
		for i := 0; i < 3; i++ {
			unix.Dup2(fd, i)
		}
		if fd > 2 {
			unix.Close(fd)
		}
	}
}

func switchRoot() error {
	const newRoot = "/newroot"
	if err := os.MkdirAll(newRoot, 0o755); err != nil {
		return err
	}
	if err := unix.Mount("tmpfs", newRoot, "tmpfs", 0, "mode=0755,size=80%"); err != nil {
		return fmt.Errorf("mount tmpfs: %w", err)
	}
	unix.Unmount("/dev", unix.MNT_DETACH)
	err := filepath.WalkDir("/", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == newRoot || p == "/dev" || p == "/proc" || p == "/sys" {
			os.MkdirAll(newRoot+p, 0o755)
			return filepath.SkipDir
		}
		dst := filepath.Join(newRoot, p)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(dst, info.Mode().Perm())
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(target, dst)
		default:
			return copyFile(p, dst, info.Mode().Perm())
		}
	})
	if err != nil {
		return fmt.Errorf("copy the initramfs: %w", err)
	}
	if err := unix.Chdir(newRoot); err != nil {
		return err
	}
	if err := unix.Mount(".", "/", "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("move the new root: %w", err)
	}
	if err := unix.Chroot("."); err != nil {
		return err
	}
	os.Chdir("/")
	console()
	return unix.Exec("/init", []string{"/init"}, append(os.Environ(), stageEnv+"=2"))
}

func copyFile(src, dst string, mode fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func runTests() error {
	for _, m := range []struct{ src, dst, typ, data string }{
		{"proc", "/proc", "proc", ""},
		{"sysfs", "/sys", "sysfs", ""},
		{"cgroup2", "/sys/fs/cgroup", "cgroup2", ""},
		{"devpts", "/dev/pts", "devpts", "newinstance,ptmxmode=0666"},
		{"tmpfs", "/dev/shm", "tmpfs", ""},
		{"tmpfs", "/tmp", "tmpfs", "mode=1777"},
		{"tmpfs", "/run", "tmpfs", "mode=0755"},
	} {
		os.MkdirAll(m.dst, 0o755)
		if err := unix.Mount(m.src, m.dst, m.typ, 0, m.data); err != nil {
			return fmt.Errorf("mount %s: %w", m.dst, err)
		}
	}
	// What systemd does on a v2 host: every controller available to the
	// cgroups below the root.
	ctrls, err := os.ReadFile("/sys/fs/cgroup/cgroup.controllers")
	if err != nil {
		return err
	}
	var enable []string
	for _, c := range strings.Fields(string(ctrls)) {
		enable = append(enable, "+"+c)
	}
	if err := os.WriteFile("/sys/fs/cgroup/cgroup.subtree_control", []byte(strings.Join(enable, " ")), 0); err != nil {
		return fmt.Errorf("enable controllers %v: %w", enable, err)
	}
	// A kernel lockup (seen once in CI: two husk tasks spinning in the
	// kernel on both CPUs) must end the VM with its stacks on the console,
	// not hang it until the host's timeout: panic on a soft lockup, with
	// every CPU's backtrace, and let warnings (the traces' level) through.
	for _, s := range []struct{ path, value string }{
		{"/proc/sys/kernel/softlockup_panic", "1"},
		{"/proc/sys/kernel/softlockup_all_cpu_backtrace", "1"},
		{"/proc/sys/kernel/printk", "5"},
	} {
		if err := os.WriteFile(s.path, []byte(s.value), 0); err != nil {
			return fmt.Errorf("set %s: %w", s.path, err)
		}
	}
	unix.Sethostname([]byte("husk-v2host"))
	os.Setenv("PATH", "/bin:/sbin:/usr/bin:/usr/sbin")
	os.Setenv("HOME", "/root")
	os.Setenv("TMPDIR", "/tmp")
	var uname unix.Utsname
	unix.Uname(&uname)
	uptime, _ := os.ReadFile("/proc/uptime")
	booted, _, _ := strings.Cut(string(uptime), " ")
	fmt.Printf("husk-v2host: kernel %s, cgroup2 controllers: %s; up %ss\n", unix.ByteSliceToString(uname.Release[:]), strings.TrimSpace(string(ctrls)), booted)

	list, err := os.Open("/tests/run")
	if err != nil {
		return err
	}
	defer list.Close()
	ok := true
	sc := bufio.NewScanner(list)
	for sc.Scan() {
		args := strings.Fields(sc.Text())
		if len(args) == 0 {
			continue
		}
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir = filepath.Dir(args[0])
		cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, os.Stdout, os.Stderr
		start := time.Now()
		err := cmd.Run()
		verdict := "PASS"
		if err != nil {
			verdict, ok = "FAIL ("+err.Error()+")", false
		}
		fmt.Printf("husk-v2host: %s %s in %s\n", filepath.Base(args[0]), verdict, time.Since(start).Round(time.Second))
	}
	if ok {
		fmt.Println("husk-v2host: done PASS")
	} else {
		fmt.Println("husk-v2host: done FAIL")
	}
	return sc.Err()
}
