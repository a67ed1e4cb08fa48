package mountfd

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func mounted(t *testing.T, path string) bool {
	t.Helper()
	m, err := Under(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range m {
		if p == path {
			return true
		}
	}
	return false
}

// A container renames the parent of its mount and puts a symlink in its
// place, to a directory of the host's with a mount of the same name: the
// container's mount goes, the host's stays.
func TestUnmountUnderIgnoresSymlinkedPaths(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounts need root")
	}
	dir := t.TempDir()
	root, host := filepath.Join(dir, "rootfs"), filepath.Join(dir, "host")
	for _, d := range []string{filepath.Join(root, "d", "victim"), filepath.Join(host, "victim")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := unix.Mount("host", filepath.Join(host, "victim"), "tmpfs", 0, ""); err != nil {
		t.Fatal(err)
	}
	defer unix.Unmount(filepath.Join(host, "victim"), unix.MNT_DETACH)
	if err := unix.Mount("ctr", filepath.Join(root, "d", "victim"), "tmpfs", 0, ""); err != nil {
		t.Fatal(err)
	}
	defer unix.Unmount(filepath.Join(root, "d2", "victim"), unix.MNT_DETACH)
	ours, err := Under(root)
	if err != nil || len(ours) != 1 {
		t.Fatalf("mounts under the rootfs: %v %v", ours, err)
	}
	if err := os.Rename(filepath.Join(root, "d"), filepath.Join(root, "d2")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(host, filepath.Join(root, "d")); err != nil {
		t.Fatal(err)
	}
	if err := UnmountUnder(root, func(id int) bool { _, ok := ours[id]; return ok }); err != nil {
		t.Fatal(err)
	}
	if !mounted(t, filepath.Join(host, "victim")) {
		t.Error("the host's mount was unmounted through the symlink")
	}
	if mounted(t, filepath.Join(root, "d2", "victim")) {
		t.Error("the container's mount (moved to d2) is still there")
	}
}

// A mount that is not the one recorded (same place, other ID) stays.
func TestUnmountUnderOnlyTheChosen(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounts need root")
	}
	root := t.TempDir()
	a, b := filepath.Join(root, "a"), filepath.Join(root, "b")
	os.Mkdir(a, 0o755)
	os.Mkdir(b, 0o755)
	for _, d := range []string{a, b} {
		if err := unix.Mount("x", d, "tmpfs", 0, ""); err != nil {
			t.Fatal(err)
		}
		defer unix.Unmount(d, unix.MNT_DETACH)
	}
	m, _ := Under(root)
	if err := UnmountUnder(root, func(id int) bool { return m[id] == a }); err != nil {
		t.Fatal(err)
	}
	if mounted(t, a) || !mounted(t, b) {
		t.Errorf("after unmounting a: a mounted %v, b mounted %v", mounted(t, a), mounted(t, b))
	}
}
