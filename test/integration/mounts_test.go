package integration

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ownerOf is a host file's uid:gid.
func ownerOf(t *testing.T, path string) (uint32, uint32) {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Uid, st.Gid
}

// An id-mapped bind without a user namespace: the mount maps ids 0-9 of
// the filesystem to 1000-1009 (uidMappings read as runc reads them: the
// filesystem's id is the containerID, what the container sees is the
// hostID). The host's files keep their owners.
func TestIDMappedMountWithoutUserns(t *testing.T) {
	hh := newH(t)
	src := filepath.Join(hh.dir, "idmap-src")
	writeRaw(t, filepath.Join(src, "root-file"), "r\n")
	writeRaw(t, filepath.Join(src, "five-file"), "5\n")
	writeRaw(t, filepath.Join(src, "other-file"), "o\n")
	for name, id := range map[string]int{"root-file": 0, "five-file": 5, "other-file": 4242} {
		if err := os.Chown(filepath.Join(src, name), id, id); err != nil {
			t.Fatal(err)
		}
	}
	maps := []rspec.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 10}}
	for _, opts := range [][]string{{"bind"}, {"rbind", "ridmap"}, {"bind", "idmap", "ro"}} {
		t.Run(strings.Join(opts, ","), func(t *testing.T) {
			r := hh.run(func(s *rspec.Spec) {
				s.Mounts = append(s.Mounts, rspec.Mount{Destination: "/idm", Source: src, Options: opts,
					UIDMappings: maps, GIDMappings: maps})
			}, "sh", "-c", `cd /idm && stat -c '%n %u:%g' root-file five-file other-file; echo --; touch /idm/new 2>&1; echo --; cat /proc/self/mountinfo`)
			skipWithoutIDMap(t, r)
			if r.code != 0 {
				t.Fatalf("run: %s", r)
			}
			out := r.stdout
			parts := strings.Split(out, "--\n")
			if len(parts) != 3 {
				t.Fatalf("output %q", out)
			}
			want := "root-file 1000:1000\nfive-file 1005:1005\nother-file 65534:65534\n"
			if parts[0] != want {
				t.Errorf("owners inside the id-mapped mount:\n%s\nwant:\n%s", parts[0], want)
			}
			// Root of the container (host uid 0) has no id on the mapped
			// filesystem: it cannot create files there.
			if !strings.Contains(parts[1], "touch") {
				t.Errorf("root created a file through the id-mapped mount: %q", parts[1])
			}
			if l := mountinfoLine(parts[2], "/idm"); !strings.Contains(l, "idmapped") {
				t.Errorf("mountinfo of /idm: %q, want idmapped", l)
			}
			for name, id := range map[string]uint32{"root-file": 0, "five-file": 5, "other-file": 4242} {
				if u, g := ownerOf(t, filepath.Join(src, name)); u != id || g != id {
					t.Errorf("host %s is now owned by %d:%d, want %d:%d", name, u, g, id, id)
				}
			}
		})
	}
}

// With a user namespace (container 0-65535 on host 100000-165535), the
// idmap option without mappings takes the container's (as Kubernetes
// user-namespaced pods use it): the host's root-owned files are the
// container root's, and what the container's root creates is owned by
// root on the host, not by 100000.
func TestIDMappedMountUserns(t *testing.T) {
	hh := newH(t)
	if err := os.Chmod(filepath.Dir(hh.dir), 0o755); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(hh.dir, "idmap-src")
	writeRaw(t, filepath.Join(src, "root-file"), "r\n")
	if err := os.Chmod(src, 0o755); err != nil {
		t.Fatal(err)
	}
	userns := []rspec.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	b := hh.bundle(func(s *rspec.Spec) {
		setNS(s, rspec.UserNamespace, "")
		s.Linux.UIDMappings, s.Linux.GIDMappings = userns, userns
		s.Mounts = append(s.Mounts,
			rspec.Mount{Destination: "/idm", Source: src, Options: []string{"bind", "idmap"}},
			rspec.Mount{Destination: "/plain", Source: src, Options: []string{"bind"}},
			// As containerd 2.x gives a user-namespaced pod its volumes.
			rspec.Mount{Destination: "/cri", Source: src, Options: []string{"rbind", "rprivate", "rw"},
				UIDMappings: userns, GIDMappings: userns})
	}, "sh", "-c", `stat -c '%u:%g' /idm/root-file /plain/root-file /cri/root-file; touch /idm/made-inside && echo created`)
	rootfs := filepath.Join(b, "rootfs")
	for _, d := range []string{"idm", "plain", "cri"} {
		if err := os.Mkdir(filepath.Join(rootfs, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	chownTree(t, rootfs, 100000, 100000)
	r := hh.husk("run", "--bundle", b, id(t))
	skipWithoutIDMap(t, r)
	if r.code != 0 {
		t.Fatalf("run: %s", r)
	}
	if r.stdout != "0:0\n65534:65534\n0:0\ncreated\n" {
		t.Errorf("inside: %q, want the file root's through the id-mapped mounts (0:0), nobody's through the plain bind, and a file created", r.stdout)
	}
	if u, g := ownerOf(t, filepath.Join(src, "made-inside")); u != 0 || g != 0 {
		t.Errorf("a file the container's root made through the id-mapped mount is %d:%d on the host, want 0:0", u, g)
	}
}

// skipWithoutIDMap skips a test whose container failed because the
// filesystem of the test's directory cannot be id-mapped on this kernel
// (tmpfs before Linux 6.3, as in the v2host VM).
func skipWithoutIDMap(t *testing.T, r result) {
	t.Helper()
	if r.code != 0 && strings.Contains(r.stderr, "support id-mapped mounts") {
		t.Skipf("no id-mapped mounts of this filesystem here: %s", r.stderr)
	}
}

// idmapWorks tells whether dir can be the source of an id-mapped bind
// here.
func idmapWorks(hh *h, dir string) bool {
	hh.t.Helper()
	maps := []rspec.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 10}}
	r := hh.run(func(s *rspec.Spec) {
		s.Mounts = append(s.Mounts, rspec.Mount{Destination: "/idm", Source: dir, Options: []string{"bind"},
			UIDMappings: maps, GIDMappings: maps})
	}, "true")
	return !strings.Contains(r.stderr, "support id-mapped mounts")
}

// Id mappings are for binds only, need both uid and gid maps (or a user
// namespace to take them from), and a rootless husk cannot map the
// host's filesystems: each refusal names the mount.
func TestIDMappedMountRefusals(t *testing.T) {
	hh := newH(t)
	src := filepath.Join(hh.dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	maps := []rspec.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 10}}
	for name, m := range map[string]rspec.Mount{
		"tmpfs":       {Destination: "/m", Type: "tmpfs", Source: "tmpfs", UIDMappings: maps, GIDMappings: maps},
		"uid only":    {Destination: "/m", Source: src, Options: []string{"bind"}, UIDMappings: maps},
		"no mappings": {Destination: "/m", Source: src, Options: []string{"bind", "idmap"}},
	} {
		r := hh.run(func(s *rspec.Spec) { s.Mounts = append(s.Mounts, m) }, "true")
		if r.code == 0 || !strings.Contains(r.stderr, "mounts[") || !strings.Contains(r.stderr, "id-mapped") {
			t.Errorf("%s: want a refusal naming the mount: %s", name, r)
		}
	}
}

// A bind whose source is inside the rootfs is resolved in the container's
// root, after the mounts before it (here a tmpfs): a symlink in the image
// pointing at a host directory leads to the directory of that name in the
// rootfs, never to the host's.
func TestBindSourceInsideRootfs(t *testing.T) {
	hh := newH(t)
	hostDir, err := os.MkdirTemp("/tmp", "husk-outside-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(hostDir)
	writeRaw(t, filepath.Join(hostDir, "marker"), "host\n")
	b := hh.bundle(func(s *rspec.Spec) {
		s.Mounts = append(s.Mounts,
			rspec.Mount{Destination: "/a", Type: "tmpfs", Source: "tmpfs"},
			rspec.Mount{Destination: "/b", Source: "rootfs/a", Options: []string{"bind"}},
			rspec.Mount{Destination: "/c", Source: "rootfs/link", Options: []string{"bind"}})
	}, "sh", "-c", `stat -f -c %T /b; cat /c/marker`)
	rootfs := filepath.Join(b, "rootfs")
	writeRaw(t, filepath.Join(rootfs, hostDir, "marker"), "inside\n")
	if err := os.Symlink(hostDir, filepath.Join(rootfs, "link")); err != nil {
		t.Fatal(err)
	}
	r := hh.husk("run", "--bundle", b, id(t))
	if r.code != 0 {
		t.Fatalf("run: %s", r)
	}
	if r.stdout != "tmpfs\ninside\n" {
		t.Errorf("binds of sources inside the rootfs: %q, want the earlier tmpfs and the rootfs's directory", r.stdout)
	}
}

// tmpcopyup copies what the directory holds into the new tmpfs: owners,
// modes, symlinks as symlinks (never what they point to, which may be a
// file of the host's), FIFOs without opening them; the copy is the
// container's, the image's directory is untouched.
func TestTmpcopyup(t *testing.T) {
	hh := newH(t)
	secret, err := os.MkdirTemp("/tmp", "husk-secret-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(secret)
	writeRaw(t, filepath.Join(secret, "secret"), "host secret\n")
	b := hh.bundle(func(s *rspec.Spec) {
		s.Mounts = append(s.Mounts, rspec.Mount{Destination: "/data", Type: "tmpfs", Source: "tmpfs", Options: []string{"tmpcopyup"}})
	}, "sh", "-c", `cd /data && stat -c '%n %a %u:%g %F' owned sub sub/deep fifo | sort; readlink leak; cat leak 2>&1 | grep -c 'host secret';
		cat sub/deep; echo new > created; stat -f -c %T /data`)
	data := filepath.Join(b, "rootfs", "data")
	writeRaw(t, filepath.Join(data, "owned"), "x\n")
	writeRaw(t, filepath.Join(data, "sub", "deep"), "deep\n")
	if err := os.Chown(filepath.Join(data, "owned"), 1234, 5678); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(data, "owned"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(data, "sub"), 0o711); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(data, "fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(secret, "secret"), filepath.Join(data, "leak")); err != nil {
		t.Fatal(err)
	}
	r := hh.husk("run", "--bundle", b, id(t))
	if r.code != 0 {
		t.Fatalf("run: %s", r)
	}
	want := "fifo 600 0:0 fifo\nowned 640 1234:5678 regular file\nsub 711 0:0 directory\nsub/deep 644 0:0 regular file\n" +
		secret + "/secret\n0\ndeep\ntmpfs\n"
	if r.stdout != want {
		t.Errorf("inside:\n%s\nwant:\n%s", r.stdout, want)
	}
	if _, err := os.Stat(filepath.Join(data, "created")); err == nil {
		t.Error("a file made in the tmpfs landed in the image's directory")
	}
}

// proc and sysfs are never mounted through a symlink in the image.
func TestProcOnSymlinkRefused(t *testing.T) {
	hh := newH(t)
	target, err := os.MkdirTemp("/tmp", "husk-proc-target-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(target)
	b := hh.bundle(nil, "true")
	rootfs := filepath.Join(b, "rootfs")
	os.RemoveAll(filepath.Join(rootfs, "proc"))
	if err := os.Symlink(target, filepath.Join(rootfs, "proc")); err != nil {
		t.Fatal(err)
	}
	r := hh.husk("run", "--bundle", b, id(t))
	if r.code == 0 || !strings.Contains(r.stderr, "ordinary directory") {
		t.Errorf("proc on a symlinked /proc: %s", r)
	}
	if ents, _ := os.ReadDir(target); len(ents) != 0 {
		t.Errorf("the symlink's target was mounted on or written: %d entries", len(ents))
	}
}
