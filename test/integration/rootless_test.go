package integration

import (
	"encoding/json"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/husk-runtime/husk/internal/testbundle"
)

const rootlessUser = "husk-rootless"

// unprivileged returns a real unprivileged user with a subuid range,
// creating it (useradd adds /etc/subuid entries) if needed.
func unprivileged(t *testing.T) (uid, gid int) {
	t.Helper()
	u, err := user.Lookup(rootlessUser)
	if err != nil {
		if out, err := exec.Command("useradd", "--create-home", "--shell", "/bin/sh", rootlessUser).CombinedOutput(); err != nil {
			t.Skipf("cannot create user %s: %v: %s", rootlessUser, err, out)
		}
		if u, err = user.Lookup(rootlessUser); err != nil {
			t.Fatal(err)
		}
	}
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(u.Gid)
	return uid, gid
}

// asUser runs husk as the unprivileged user with its own runtime dir.
func asUser(t *testing.T, uid, gid int, dir string, args ...string) result {
	t.Helper()
	// A copy the user can run wherever the checkout lives.
	bin := filepath.Join(dir, "husk")
	if _, err := os.Stat(bin); err != nil {
		data, err := os.ReadFile(*huskBin)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(bin, data, 0o755)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/bin:/bin:/usr/sbin:/sbin", "XDG_RUNTIME_DIR=" + filepath.Join(dir, "xdg"), "HOME=" + dir}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return r
}

func rootlessBundle(t *testing.T, uid, gid int, edit func(*rspec.Spec), args ...string) string {
	t.Helper()
	dir := t.TempDir()
	// TempDir's parent is 0700: the user must reach the bundle and husk.
	os.Chmod(filepath.Dir(dir), 0o755)
	os.Chmod(dir, 0o755)
	if err := testbundle.Rootfs(filepath.Join(dir, "rootfs")); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, "xdg"), 0o700)
	filepath.Walk(dir, func(p string, _ os.FileInfo, _ error) error { return os.Lchown(p, uid, gid) })
	if r := asUser(t, uid, gid, dir, "spec", "--rootless"); r.code != 0 {
		t.Fatalf("husk spec --rootless as %s: %s", rootlessUser, r)
	}
	s, err := loadConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	s.Process.Terminal = false
	s.Root.Readonly = false // the tests write into the rootfs
	s.Process.Args = args
	if edit != nil {
		edit(s)
	}
	if err := testbundle.WriteConfig(dir, s); err != nil {
		t.Fatal(err)
	}
	os.Lchown(filepath.Join(dir, "config.json"), uid, gid)
	return dir
}

func TestRootless(t *testing.T) {
	uid, gid := unprivileged(t)
	dir := rootlessBundle(t, uid, gid, nil, "sh", "-c", "id -u; cat /proc/self/uid_map; hostname; touch /tmp/ok && echo wrote")
	r := asUser(t, uid, gid, dir, "run", "rl")
	if r.code != 0 {
		t.Fatalf("rootless run: %s", r)
	}
	fields := strings.Fields(r.stdout)
	if len(fields) < 4 || fields[0] != "0" || fields[1] != "0" || fields[2] != strconv.Itoa(uid) || fields[3] != "1" {
		t.Errorf("inside, want root mapped to uid %d: %q", uid, r.stdout)
	}
	if !strings.Contains(r.stdout, "wrote") {
		t.Errorf("root in the container cannot write its own rootfs: %q", r.stdout)
	}
	if !strings.Contains(r.stderr, "without cgroups") {
		t.Errorf("no warning that cgroups are skipped: %q", r.stderr)
	}
	// State lived under $XDG_RUNTIME_DIR/husk and is gone after run.
	if ents, err := os.ReadDir(filepath.Join(dir, "xdg", "husk")); err != nil || len(ents) != 0 {
		t.Errorf("state under $XDG_RUNTIME_DIR/husk: %v %v", ents, err)
	}
	assertNoCgroup(t, "rl")
}

// A subuid range goes through newuidmap/newgidmap (Debian's uidmap).
func TestRootlessSubuid(t *testing.T) {
	uid, gid := unprivileged(t)
	if _, err := exec.LookPath("newuidmap"); err != nil {
		t.Skip("newuidmap is not installed (Debian package uidmap)")
	}
	sub, err := os.ReadFile("/etc/subuid")
	if err != nil || !strings.Contains(string(sub), rootlessUser+":") {
		t.Skipf("%s has no /etc/subuid range", rootlessUser)
	}
	var start string
	for _, l := range strings.Split(string(sub), "\n") {
		if f := strings.Split(l, ":"); len(f) == 3 && f[0] == rootlessUser {
			start = f[1]
		}
	}
	base, _ := strconv.Atoi(start)
	dir := rootlessBundle(t, uid, gid, func(s *rspec.Spec) {
		s.Linux.UIDMappings = []rspec.LinuxIDMapping{{ContainerID: 0, HostID: uint32(uid), Size: 1}, {ContainerID: 1, HostID: uint32(base), Size: 1000}}
		s.Linux.GIDMappings = []rspec.LinuxIDMapping{{ContainerID: 0, HostID: uint32(gid), Size: 1}, {ContainerID: 1, HostID: uint32(base), Size: 1000}}
		s.Process.User = rspec.User{UID: 5, GID: 5}
	}, "sh", "-c", "cat /proc/self/uid_map | wc -l; touch /tmp/f && stat -c %u /tmp/f")
	r := asUser(t, uid, gid, dir, "run", "rl-sub")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "2\n5") {
		t.Errorf("rootless with a subuid range: %s", r)
	}
	st, err := os.Stat(filepath.Join(dir, "rootfs", "tmp", "f"))
	if err == nil && int(st.Sys().(*syscall.Stat_t).Uid) != base+4 {
		t.Errorf("uid 5 in the container is %d on the host, want %d", st.Sys().(*syscall.Stat_t).Uid, base+4)
	}
}

func loadConfig(path string) (*rspec.Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s rspec.Spec
	return &s, json.Unmarshal(data, &s)
}
