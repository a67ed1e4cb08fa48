package integration

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func modeP(m os.FileMode) *os.FileMode { return &m }
func u32p(v uint32) *uint32            { return &v }

// hostMount mounts on the host for the test and undoes it at cleanup.
func hostMount(t *testing.T, src, dst, fstype string, flags uintptr, data string) {
	t.Helper()
	if err := unix.Mount(src, dst, fstype, flags, data); err != nil {
		t.Fatalf("mount %s on %s: %v", src, dst, err)
	}
	t.Cleanup(func() { unix.Unmount(dst, unix.MNT_DETACH) })
}

func TestRootReadonly(t *testing.T) {
	hh := newH(t)
	out := hh.sh(func(s *rspec.Spec) {
		s.Root.Readonly = true
		s.Mounts = append(s.Mounts, rspec.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs"})
	}, `touch /newfile 2>&1 && echo root-writable; echo hi > /tmp/f && cat /tmp/f`)
	if !strings.Contains(out, "Read-only file system") || strings.Contains(out, "root-writable") {
		t.Errorf("writing to a read-only root: %q", out)
	}
	if !strings.Contains(out, "hi\n") {
		t.Errorf("the /tmp tmpfs on a read-only root is not writable: %q", out)
	}

	// And a writable root really is the bundle's rootfs.
	b := hh.bundle(func(s *rspec.Spec) { s.Root.Readonly = false }, "sh", "-c", "echo data > /newfile")
	if r := hh.husk("run", "--bundle", b, id(t)); r.code != 0 {
		t.Fatalf("writable root: %s", r)
	}
	if data, err := os.ReadFile(filepath.Join(b, "rootfs", "newfile")); err != nil || string(data) != "data\n" {
		t.Errorf("file written in a writable root: %q %v", data, err)
	}
}

func TestBindMounts(t *testing.T) {
	hh := newH(t)
	ro := filepath.Join(hh.dir, "ro")
	rw := filepath.Join(hh.dir, "rw")
	file := filepath.Join(hh.dir, "hostfile")
	writeRaw(t, filepath.Join(ro, "existing"), "ro-content\n")
	writeRaw(t, filepath.Join(rw, "existing"), "rw-content\n")
	writeRaw(t, file, "file-content\n")
	out := hh.sh(func(s *rspec.Spec) {
		s.Mounts = append(s.Mounts,
			rspec.Mount{Destination: "/data/ro", Source: ro, Options: []string{"bind", "ro"}},
			rspec.Mount{Destination: "/data/rw", Source: rw, Options: []string{"bind", "nosuid", "nodev", "noexec"}},
			rspec.Mount{Destination: "/etc/from-host", Source: file, Type: "bind", Options: []string{"rbind", "ro"}},
		)
	}, `cat /data/ro/existing; touch /data/ro/new 2>&1; echo --;
		cat /data/rw/existing; echo written > /data/rw/new; echo --;
		cat /etc/from-host; [ -f /etc/from-host ] && echo is-file; echo --;
		cat /proc/self/mountinfo`)
	parts := strings.Split(out, "--\n")
	if len(parts) != 4 {
		t.Fatalf("output %q", out)
	}
	if !strings.HasPrefix(parts[0], "ro-content\n") || !strings.Contains(parts[0], "Read-only file system") {
		t.Errorf("read-only bind mount: %q", parts[0])
	}
	if _, err := os.Stat(filepath.Join(ro, "new")); err == nil {
		t.Error("a file was created through the read-only bind mount")
	}
	if parts[1] != "rw-content\n" {
		t.Errorf("read-write bind mount: %q", parts[1])
	}
	if data, _ := os.ReadFile(filepath.Join(rw, "new")); string(data) != "written\n" {
		t.Errorf("file written through the bind mount, on the host: %q", data)
	}
	if parts[2] != "file-content\nis-file\n" {
		t.Errorf("bind-mounted file: %q", parts[2])
	}
	mi := parts[3]
	if l := mountinfoLine(mi, "/data/ro"); !hasMountOpts(l, "ro") {
		t.Errorf("mountinfo of /data/ro: %q", l)
	}
	if l := mountinfoLine(mi, "/data/rw"); !hasMountOpts(l, "rw", "nosuid", "nodev", "noexec") {
		t.Errorf("mountinfo of /data/rw lacks rw,nosuid,nodev,noexec: %q", l)
	}
	if l := mountinfoLine(mi, "/etc/from-host"); !hasMountOpts(l, "ro") {
		t.Errorf("mountinfo of /etc/from-host: %q", l)
	}
}

// hasMountOpts tells whether a mountinfo line's per-mount options
// (field 6) include all of opts.
func hasMountOpts(line string, opts ...string) bool {
	f := strings.Fields(line)
	if len(f) < 6 {
		return false
	}
	have := map[string]bool{}
	for _, o := range strings.Split(f[5], ",") {
		have[o] = true
	}
	for _, o := range opts {
		if !have[o] {
			return false
		}
	}
	return true
}

// superOpts returns the super options (the last field) of a mountinfo line.
func superOpts(line string) map[string]bool {
	_, post, _ := strings.Cut(line, " - ")
	f := strings.Fields(post)
	out := map[string]bool{}
	if len(f) >= 3 {
		for _, o := range strings.Split(f[2], ",") {
			out[o] = true
		}
	}
	return out
}

// rbind takes the mounts below the source along; bind does not.
func TestRecursiveBind(t *testing.T) {
	hh := newH(t)
	src := filepath.Join(hh.dir, "tree")
	sub := filepath.Join(src, "sub")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	hostMount(t, "tmpfs", sub, "tmpfs", 0, "size=1m")
	writeRaw(t, filepath.Join(sub, "inner"), "inner\n")
	out := hh.sh(func(s *rspec.Spec) {
		s.Mounts = append(s.Mounts,
			rspec.Mount{Destination: "/rb", Source: src, Options: []string{"rbind"}},
			rspec.Mount{Destination: "/nb", Source: src, Options: []string{"bind"}},
		)
	}, `cat /rb/sub/inner; echo --; ls -A /nb/sub; echo --`)
	parts := strings.Split(out, "--\n")
	if len(parts) != 3 || parts[0] != "inner\n" {
		t.Errorf("rbind: the submount is not visible: %q", out)
	}
	if len(parts) == 3 && parts[1] != "" {
		t.Errorf("bind (not rbind) shows the submount: %q", parts[1])
	}
}

func TestTmpfsOptions(t *testing.T) {
	hh := newH(t)
	out := hh.sh(func(s *rspec.Spec) {
		s.Mounts = append(s.Mounts, rspec.Mount{
			Destination: "/scratch", Type: "tmpfs", Source: "tmpfs",
			Options: []string{"nosuid", "nodev", "noexec", "size=1m", "mode=1770"},
		})
	}, `stat -c %a /scratch; cp /bin/busybox /scratch/bb; /scratch/bb true 2>&1 && echo executed; echo --; cat /proc/self/mountinfo`)
	head, mi, _ := strings.Cut(out, "--\n")
	if !strings.HasPrefix(head, "1770\n") {
		t.Errorf("mode of the tmpfs: %q, want 1770", head)
	}
	if strings.Contains(head, "executed") || !strings.Contains(head, "Permission denied") {
		t.Errorf("executing from a noexec tmpfs: %q", head)
	}
	l := mountinfoLine(mi, "/scratch")
	if !hasMountOpts(l, "rw", "nosuid", "nodev", "noexec") {
		t.Errorf("mountinfo of /scratch lacks nosuid,nodev,noexec: %q", l)
	}
	if so := superOpts(l); !so["size=1024k"] || !so["mode=1770"] || !strings.Contains(l, " - tmpfs ") {
		t.Errorf("mountinfo of /scratch lacks size=1024k,mode=1770: %q", l)
	}
}

// rootfsPropagation, with the rootfs inside a shared mount on the host
// (as on systemd hosts, where / is shared, and for containerd bundles
// under /run): create must work, / inside carries the tag of the mode,
// and a mount made on the host after create reaches the container when
// / is a slave of the host's mount, and not when it is private. For the non-recursive
// "slave", runc privatizes the shared parent of the rootfs (so / ends up
// private); a slave of the host would do as well.
func TestRootfsPropagation(t *testing.T) {
	for _, tc := range []struct {
		prop string
		tags []string // acceptable tags of / inside: "shared:", "master:", "unbindable", "" (private)
	}{
		{"rslave", []string{"master:"}},
		{"slave", []string{"master:", ""}},
		{"rprivate", []string{""}},
		{"private", []string{""}},
		{"shared", []string{"shared:"}},
		{"rshared", []string{"shared:"}},
		{"unbindable", []string{"unbindable"}},
		{"runbindable", []string{"unbindable"}},
	} {
		t.Run(tc.prop, func(t *testing.T) {
			hh := newH(t)
			b := hh.bundle(func(s *rspec.Spec) { s.Linux.RootfsPropagation = tc.prop },
				"sh", "-c", `cat /mnt/flag 2>/dev/null || echo no-flag; cat /proc/self/mountinfo`)
			// The bundle becomes a shared mount of its own on the host.
			hostMount(t, b, b, "", unix.MS_BIND, "")
			if err := unix.Mount("", b, "", unix.MS_SHARED, ""); err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Join(b, "rootfs", "mnt"), 0o755); err != nil {
				t.Fatal(err)
			}
			name := id(t)
			out, errOut := filepath.Join(hh.dir, "stdout"), filepath.Join(hh.dir, "stderr")
			if r := hh.createTo(out, errOut, "--bundle", b, name); r.code != 0 {
				t.Fatalf("create with rootfsPropagation %q and a shared bundle mount: %s", tc.prop, r)
			}
			mnt := filepath.Join(b, "rootfs", "mnt")
			if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, "size=64k"); err != nil {
				t.Fatal(err)
			}
			writeRaw(t, filepath.Join(mnt, "flag"), "flag-from-host\n")
			hh.must("start", name)
			hh.waitStatus(name, "stopped")
			hh.must("delete", name)
			unix.Unmount(mnt, unix.MNT_DETACH)
			data, _ := os.ReadFile(out)
			flag, mi, _ := strings.Cut(string(data), "\n")
			root := mountinfoLine(mi, "/")
			if root == "" {
				t.Fatalf("no / in the container's mountinfo: %q", data)
			}
			tag := ""
			for _, tg := range []string{"shared:", "master:", "unbindable"} {
				if strings.Contains(root, " "+tg) {
					tag = tg
				}
			}
			if !slices.Contains(tc.tags, tag) {
				t.Errorf("/ inside with rootfsPropagation %q: %q (want one of the tags %q)", tc.prop, root, tc.tags)
			}
			// A slave receives the host's new mount, a private root does
			// not (a shared one may, if it is a peer of the host's).
			got := flag == "flag-from-host"
			if (tag == "master:" && !got) || ((tag == "" || tag == "unbindable") && got) {
				t.Errorf("rootfsPropagation %q: host mount reached the container: %v, but / is %q (%q)", tc.prop, got, tag, flag)
			}
		})
	}
}

func TestNoPivot(t *testing.T) {
	hh := newH(t)
	b := hh.bundle(nil, "sh", "-c", `cat /marker; echo pid $$; test -e `+hh.dir+` && echo host-visible; ls /`)
	writeRaw(t, filepath.Join(b, "rootfs", "marker"), "in-rootfs\n")
	r := hh.husk("run", "--no-pivot", "--bundle", b, id(t))
	if r.code != 0 {
		t.Fatalf("run --no-pivot: %s", r)
	}
	if !strings.HasPrefix(r.stdout, "in-rootfs\n") || strings.Contains(r.stdout, "host-visible") ||
		!strings.Contains(r.stdout, "pid 1\n") {
		t.Errorf("run --no-pivot: / is not the rootfs: %q", r.stdout)
	}
	ls := strings.Fields(strings.TrimPrefix(r.stdout, "in-rootfs\npid 1\n"))
	sort.Strings(ls)
	want := []string{"bin", "dev", "etc", "marker", "proc", "root", "sys", "tmp"}
	if len(ls) < len(want) || strings.Join(ls[:len(want)], " ") != strings.Join(want, " ") {
		t.Errorf("ls / with --no-pivot: %v", ls)
	}
}

func TestDevContents(t *testing.T) {
	hh := newH(t)
	out := hh.sh(nil, `for d in null zero full random urandom tty; do stat -c '%n|%F|%t:%T|%a' /dev/$d; done;
		for l in ptmx fd stdin stdout stderr; do echo "$l -> $(readlink /dev/$l)"; done;
		head -c 5 /dev/urandom | wc -c; echo x > /dev/null && echo null-ok; { echo x > /dev/full; } 2>&1 || true`)
	want := []string{
		"/dev/null|character special file|1:3|666",
		"/dev/zero|character special file|1:5|666",
		"/dev/full|character special file|1:7|666",
		"/dev/random|character special file|1:8|666",
		"/dev/urandom|character special file|1:9|666",
		"/dev/tty|character special file|5:0|666",
		"ptmx -> pts/ptmx",
		"fd -> /proc/self/fd",
		"stdin -> /proc/self/fd/0",
		"stdout -> /proc/self/fd/1",
		"stderr -> /proc/self/fd/2",
		"5",
		"null-ok",
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for i, w := range want {
		if i >= len(lines) || strings.TrimSpace(lines[i]) != w {
			t.Errorf("/dev line %d: got %q, want %q", i, strings.Join(lines[i:min(i+1, len(lines))], ""), w)
		}
	}
	if !strings.Contains(out, "No space left on device") {
		t.Errorf("writing /dev/full did not fail with ENOSPC: %q", out)
	}
}

func TestLinuxDevices(t *testing.T) {
	hh := newH(t)
	out := hh.sh(func(s *rspec.Spec) {
		s.Linux.Devices = append(s.Linux.Devices,
			rspec.LinuxDevice{Path: "/dev/mydev", Type: "c", Major: 1, Minor: 7, FileMode: modeP(0o640), UID: u32p(1), GID: u32p(2)},
			rspec.LinuxDevice{Path: "/dev/sub/myfifo", Type: "p", FileMode: modeP(0o620), UID: u32p(3), GID: u32p(4)},
		)
		// The owner of /dev/mydev may read it (mode 0640).
		s.Process.User = rspec.User{UID: 1, GID: 2}
	}, `stat -c '%F|%t:%T|%a|%u|%g' /dev/mydev /dev/sub/myfifo; head -c 3 /dev/mydev | wc -c`)
	want := "character special file|1:7|640|1|2\nfifo|0:0|620|3|4\n3\n"
	if out != want {
		t.Errorf("linux.devices inside:\n%s\nwant:\n%s", out, want)
	}
}

func TestMaskedPaths(t *testing.T) {
	hh := newH(t)
	b := hh.bundle(func(s *rspec.Spec) {
		s.Linux.MaskedPaths = append(s.Linux.MaskedPaths, "/etc/secret", "/etc/secretdir", "/no/such/path")
	}, "sh", "-c", `
		stat -c '%F|%t:%T' /proc/keys; wc -c < /proc/keys; echo --
		stat -f -c %T /proc/acpi; ls -A /proc/acpi | wc -l; touch /proc/acpi/x 2>&1; echo --
		stat -c '%F|%t:%T' /etc/secret; cat /etc/secret; echo --
		ls -A /etc/secretdir; stat -f -c %T /etc/secretdir; echo --`)
	writeRaw(t, filepath.Join(b, "rootfs", "etc", "secret"), "top secret\n")
	writeRaw(t, filepath.Join(b, "rootfs", "etc", "secretdir", "file"), "also secret\n")
	r := hh.husk("run", "--bundle", b, id(t))
	if r.code != 0 {
		t.Fatalf("run: %s", r)
	}
	parts := strings.Split(r.stdout, "--\n")
	if len(parts) != 5 {
		t.Fatalf("output %q", r.stdout)
	}
	if strings.Fields(parts[0])[0] != "character" || !strings.Contains(parts[0], "|1:3\n0\n") {
		t.Errorf("masked /proc/keys: %q, want the null device, empty", parts[0])
	}
	if !strings.HasPrefix(parts[1], "tmpfs\n0\n") || !strings.Contains(parts[1], "Read-only file system") {
		t.Errorf("masked /proc/acpi: %q, want an empty read-only tmpfs", parts[1])
	}
	if parts[2] != "character special file|1:3\n" {
		t.Errorf("masked file /etc/secret: %q", parts[2])
	}
	if parts[3] != "tmpfs\n" {
		t.Errorf("masked directory /etc/secretdir: %q", parts[3])
	}
}

func TestReadonlyPaths(t *testing.T) {
	hh := newH(t)
	b := hh.bundle(func(s *rspec.Spec) {
		s.Root.Readonly = false
		s.Linux.ReadonlyPaths = append(s.Linux.ReadonlyPaths, "/etc/locked")
	}, "sh", "-c", `{ echo x > /proc/sys/kernel/hostname; } 2>&1; echo --;
		touch /etc/locked/new 2>&1; cat /etc/locked/f; touch /etc/free && echo free-ok`)
	writeRaw(t, filepath.Join(b, "rootfs", "etc", "locked", "f"), "locked-content\n")
	r := hh.husk("run", "--bundle", b, id(t))
	if r.code != 0 {
		t.Fatalf("run: %s", r)
	}
	sys, rest, _ := strings.Cut(r.stdout, "--\n")
	if !strings.Contains(sys, "Read-only file system") {
		t.Errorf("writing /proc/sys: %q, want EROFS", sys)
	}
	if !strings.Contains(rest, "Read-only file system") || !strings.Contains(rest, "locked-content\n") ||
		!strings.Contains(rest, "free-ok") {
		t.Errorf("read-only /etc/locked in a writable root: %q", rest)
	}
	if _, err := os.Stat(filepath.Join(b, "rootfs", "etc", "locked", "new")); err == nil {
		t.Error("a file was created under a read-only path")
	}
}

func TestSysctl(t *testing.T) {
	hh := newH(t)
	hostFwd, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	if err != nil {
		t.Skip("no /proc/sys/net/ipv4/ip_forward")
	}
	hostDomain, _ := os.ReadFile("/proc/sys/kernel/domainname")
	want := "1"
	if strings.TrimSpace(string(hostFwd)) == "1" {
		want = "0"
	}
	out := hh.sh(func(s *rspec.Spec) {
		s.Linux.Sysctl = map[string]string{
			"net.ipv4.ip_forward": want,
			"kernel.domainname":   "sysctl.test",
		}
	}, "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/domainname")
	if out != want+"\nsysctl.test\n" {
		t.Errorf("sysctls inside: %q, want %q", out, want+"\nsysctl.test\n")
	}
	if now, _ := os.ReadFile("/proc/sys/net/ipv4/ip_forward"); string(now) != string(hostFwd) {
		t.Errorf("the host's ip_forward changed from %q to %q", hostFwd, now)
	}
	if now, _ := os.ReadFile("/proc/sys/kernel/domainname"); string(now) != string(hostDomain) {
		t.Errorf("the host's domainname changed from %q to %q", hostDomain, now)
	}
}

// Symlinks in the rootfs pointing out of it (absolute, or through "..")
// are resolved inside the rootfs for mount destinations: the mounts land
// in the rootfs, never on the host directory the link names. Both when
// the link's target exists inside the rootfs and when it does not (then
// it is created inside the rootfs, as runc's securejoin does).
func TestMountThroughEscapingSymlinks(t *testing.T) {
	for _, inRootTargetExists := range []bool{true, false} {
		name := "dangling"
		if inRootTargetExists {
			name = "target-in-rootfs"
		}
		t.Run(name, func(t *testing.T) { testEscapingSymlinks(t, inRootTargetExists) })
	}
}

func testEscapingSymlinks(t *testing.T, inRootTargetExists bool) {
	hh := newH(t)
	target, err := os.MkdirTemp("/tmp", "husk-escape-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(target)
	target2, err := os.MkdirTemp("/tmp", "husk-escape2-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(target2)
	for _, d := range []string{target, target2} {
		writeRaw(t, filepath.Join(d, "marker"), "host\n")
	}
	base, base2 := filepath.Base(target), filepath.Base(target2)
	bindSrc := filepath.Join(hh.dir, "bindsrc")
	writeRaw(t, filepath.Join(bindSrc, "from-bind"), "bound\n")
	b := hh.bundle(func(s *rspec.Spec) {
		s.Mounts = append(s.Mounts,
			rspec.Mount{Destination: "/evil/x", Type: "tmpfs", Source: "tmpfs", Options: []string{"size=64k"}},
			rspec.Mount{Destination: "/evil2/y", Type: "tmpfs", Source: "tmpfs", Options: []string{"size=64k"}},
			rspec.Mount{Destination: "/evil2/bound", Source: bindSrc, Options: []string{"bind"}},
		)
		s.Linux.Devices = append(s.Linux.Devices, rspec.LinuxDevice{Path: "/evil/devnode", Type: "c", Major: 1, Minor: 3})
	}, "sh", "-c", `stat -f -c %T /evil/x /evil2/y; echo in > /evil/x/f; echo in > /evil2/y/f;
		cat /evil2/bound/from-bind; stat -c '%F|%t:%T' /evil/devnode;
		echo --; cat /proc/self/mountinfo`)
	rootfs := filepath.Join(b, "rootfs")
	if err := os.Symlink(target, filepath.Join(rootfs, "evil")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../../../../../../.."+target2, filepath.Join(rootfs, "evil2")); err != nil {
		t.Fatal(err)
	}
	if inRootTargetExists {
		for _, d := range []string{base, base2} {
			if err := os.Mkdir(filepath.Join(rootfs, "tmp", d), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	before := mountSet(t)
	name := id(t)
	out, errOut := filepath.Join(hh.dir, "stdout"), filepath.Join(hh.dir, "stderr")
	if r := hh.createTo(out, errOut, "--bundle", b, name); r.code != 0 {
		t.Fatalf("create: %s", r)
	}
	// While the container exists, nothing of it is on the host's targets.
	for m, n := range mountSet(t) {
		if n > before[m] {
			t.Errorf("new host mount while the container exists: %q", m)
		}
	}
	hh.must("start", name)
	hh.waitStatus(name, "stopped")
	hh.must("delete", name)
	for _, d := range []string{target, target2} {
		ents, _ := os.ReadDir(d)
		if len(ents) != 1 || ents[0].Name() != "marker" {
			var names []string
			for _, e := range ents {
				names = append(names, e.Name())
			}
			t.Errorf("host directory %s was written through the rootfs symlink: %v", d, names)
		}
	}
	data, _ := os.ReadFile(out)
	head, mi, _ := strings.Cut(string(data), "--\n")
	if head != "tmpfs\ntmpfs\nbound\ncharacter special file|1:3\n" {
		t.Errorf("the container does not see tmpfs at /evil/x and /evil2/y, the bind at /evil2/bound and the device /evil/devnode: %q (stderr %q)", head, fileText(errOut))
	}
	for _, p := range []string{"/tmp/" + base + "/x", "/tmp/" + base2 + "/y"} {
		if l := mountinfoLine(mi, p); !strings.Contains(l, " - tmpfs ") {
			t.Errorf("no tmpfs at %s inside the container (the symlink resolved in its root): %q", p, l)
		}
	}
	// The mount points and the device node were made inside the rootfs.
	for _, p := range []string{filepath.Join(rootfs, "tmp", base, "x"), filepath.Join(rootfs, "tmp", base2, "y"),
		filepath.Join(rootfs, "tmp", base2, "bound"), filepath.Join(rootfs, "tmp", base, "devnode")} {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s was not created inside the rootfs: %v", p, err)
		}
	}
}

func fileText(path string) string {
	data, _ := os.ReadFile(path)
	return string(data)
}

// A read-only mount with mounts below it: the mount points below are
// made before it becomes read-only, and the mounts below stay writable.
func TestReadonlyMountWithSubmounts(t *testing.T) {
	hh := newH(t)
	out := hh.sh(func(s *rspec.Spec) {
		for i := range s.Mounts {
			if s.Mounts[i].Destination == "/dev" {
				s.Mounts[i].Options = append(s.Mounts[i].Options, "ro")
			}
		}
		s.Mounts = append(s.Mounts,
			rspec.Mount{Destination: "/data", Type: "tmpfs", Source: "tmpfs", Options: []string{"ro"}},
			rspec.Mount{Destination: "/data/sub/deeper", Type: "tmpfs", Source: "tmpfs"},
		)
	}, `touch /data/x 2>&1; touch /data/sub/deeper/x && echo deeper-rw; touch /dev/x 2>&1;
		echo x > /dev/null && echo null-ok; echo x > /dev/shm/x && echo shm-rw`)
	want := []string{"touch: /data/x: Read-only file system", "deeper-rw", "touch: /dev/x: Read-only file system", "null-ok", "shm-rw"}
	if got := strings.Split(strings.TrimSpace(out), "\n"); !slices.Equal(got, want) {
		t.Errorf("read-only mounts with submounts:\n%s\nwant:\n%s", out, strings.Join(want, "\n"))
	}
}
