// Command boot is /init of the initramfs that boots the systemd guest of
// `make systemd-test`: it loads the modules the root disk needs (listed in
// /modules/order, dependencies first), finds the disks by their ext4
// label (husk-sd-root, the cached Debian image; husk-sd-test, this run's
// binaries, mounted at /opt/husk-test), switches to the root and executes
// systemd as PID 1, as an initramfs of a distribution would.
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

const (
	newRoot     = "/newroot"
	rootLabel   = "husk-sd-root"
	testLabel   = "husk-sd-test"
	testMount   = "/opt/husk-test"
	diskTimeout = 20 * time.Second
)

func main() {
	console()
	if err := boot(); err != nil {
		fmt.Printf("husk-systemd: boot error: %v\n", err)
		fmt.Println("husk-systemd: done FAIL")
	}
	// Only reached on failure: PID 1 must not exit (the kernel would panic).
	unix.Sync()
	unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
}

// console makes the serial console stdin, stdout and stderr (the
// initramfs has no /dev/console for the kernel to open).
func console() {
	os.MkdirAll("/dev", 0o755)
	unix.Mount("devtmpfs", "/dev", "devtmpfs", 0, "")
	if fd, err := unix.Open("/dev/console", unix.O_RDWR, 0); err == nil {
		for i := 0; i < 3; i++ {
			unix.Dup2(fd, i)
		}
		if fd > 2 {
			unix.Close(fd)
		}
	}
}

func boot() error {
	for _, m := range []struct{ src, dst, typ string }{{"proc", "/proc", "proc"}, {"sysfs", "/sys", "sysfs"}} {
		os.MkdirAll(m.dst, 0o755)
		if err := unix.Mount(m.src, m.dst, m.typ, 0, ""); err != nil {
			return fmt.Errorf("mount %s: %w", m.dst, err)
		}
	}
	if err := loadModules("/modules"); err != nil {
		return err
	}
	disks, err := findDisks(rootLabel, testLabel)
	if err != nil {
		return err
	}
	os.MkdirAll(newRoot, 0o755)
	if err := unix.Mount(disks[rootLabel], newRoot, "ext4", 0, ""); err != nil {
		return fmt.Errorf("mount the root %s: %w", disks[rootLabel], err)
	}
	if dev, ok := disks[testLabel]; ok {
		if err := unix.Mount(dev, newRoot+testMount, "ext4", 0, ""); err != nil {
			return fmt.Errorf("mount the tests %s: %w", dev, err)
		}
	}
	for _, d := range []string{"/dev", "/proc", "/sys"} {
		if err := unix.Mount(d, newRoot+d, "", unix.MS_MOVE, ""); err != nil {
			return fmt.Errorf("move %s: %w", d, err)
		}
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
	return unix.Exec("/sbin/init", os.Args, os.Environ())
}

// loadModules loads dir/<name>.ko for each name in dir/order.
func loadModules(dir string) error {
	f, err := os.Open(filepath.Join(dir, "order"))
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name := strings.TrimSpace(sc.Text())
		if name == "" {
			continue
		}
		fd, err := unix.Open(filepath.Join(dir, name+".ko"), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("module %s: %w", name, err)
		}
		err = unix.FinitModule(fd, "", 0)
		unix.Close(fd)
		if err != nil && err != unix.EEXIST {
			return fmt.Errorf("load module %s: %w", name, err)
		}
	}
	return sc.Err()
}

// findDisks waits for the virtio disks and maps ext4 labels to devices;
// the root's label must appear.
func findDisks(root string, others ...string) (map[string]string, error) {
	deadline := time.Now().Add(diskTimeout)
	for {
		found := map[string]string{}
		devs, _ := filepath.Glob("/dev/vd[a-z]")
		for _, d := range devs {
			if l := ext4Label(d); l != "" {
				found[l] = d
			}
		}
		complete := found[root] != ""
		for _, o := range others {
			complete = complete && found[o] != ""
		}
		if complete || (found[root] != "" && time.Now().After(deadline)) {
			return found, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("no disk labelled %s among %v", root, devs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ext4Label reads the volume name of an ext2/3/4 superblock (at byte 1024;
// magic 0xEF53 at offset 56, the 16-byte name at offset 120).
func ext4Label(dev string) string {
	f, err := os.Open(dev)
	if err != nil {
		return ""
	}
	defer f.Close()
	sb := make([]byte, 136)
	if _, err := f.ReadAt(sb, 1024); err != nil || sb[56] != 0x53 || sb[57] != 0xEF {
		return ""
	}
	name, _, _ := bytes.Cut(sb[120:136], []byte{0})
	return string(name)
}
