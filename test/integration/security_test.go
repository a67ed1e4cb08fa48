package integration

import (
	"crypto/sha256"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// Each test here attacks husk the way a known runc CVE did, and fails if
// the attack gets anywhere.

func fileSum(t *testing.T, path string) [32]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(data)
}

// hostMounts lists the host's mount points where an escaped mount could
// land: "/" itself and anything under dir but outside the rootfs at
// allowed (other processes' mounts elsewhere are none of the test's
// business).
func hostMounts(t *testing.T, dir, allowed string) string {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) <= 4 {
			continue
		}
		mp := f[4]
		if mp == "/" || (strings.HasPrefix(mp, dir+"/") && !strings.HasPrefix(mp, allowed+"/")) {
			out = append(out, mp)
		}
	}
	return strings.Join(out, "\n")
}

// CVE-2019-5736: a process in the container watches for processes joining
// it (husk exec) and writes to whatever their /proc/<pid>/exe points at.
// husk-init runs from a sealed memfd and is not dumpable (its exe link is
// denied), so the attacker must see it join and still fail to write
// anything, and the husk binary must be untouched.
func TestCVE2019_5736ExeOverwrite(t *testing.T) {
	hh := newH(t)
	before := fileSum(t, *huskBin)
	outDir := filepath.Join(hh.dir, "out")
	os.MkdirAll(outDir, 0o777)
	b := hh.bundle(func(s *rspec.Spec) {
		s.Mounts = append(s.Mounts, rspec.Mount{Destination: "/out", Type: "bind", Source: outDir, Options: []string{"bind"}})
	}, "/exewatch", "-seconds", "60", "-ready", "/out/ready", "-stop", "/out/stop")
	installTestProgram(t, "exewatch", filepath.Join(b, "rootfs", "exewatch"))
	name := id(t)
	out := filepath.Join(hh.dir, "attacker.out")
	f, _ := os.Create(out)
	cmd := hh.cmd("run", "--bundle", b, name)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := filepath.Join(outDir, "ready")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(ready); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the attacker never started")
		}
	}
	for i := 0; i < 30; i++ {
		hh.husk("exec", name, "sleep", "0.01")
	}
	// The attacker watches until every exec is over: an exec racing the
	// container's exit is not what this test is about (and its orphan
	// would be ours to reap, which the harness leaves for the end).
	if err := os.WriteFile(filepath.Join(outDir, "stop"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	f.Close()
	report, _ := os.ReadFile(out)
	if !strings.Contains(string(report), "writes 0") {
		t.Errorf("the attacker wrote to a runtime binary:\n%s", report)
	}
	if !strings.Contains(string(report), "husk-init") {
		t.Errorf("the attacker never saw husk-init join the container, so the test proved nothing:\n%s", report)
	}
	if strings.Contains(string(report), *huskBin) {
		t.Errorf("the husk binary itself was reachable from the container:\n%s", report)
	}
	if fileSum(t, *huskBin) != before {
		t.Fatal("the husk binary changed")
	}
}

// CVE-2021-30465: a second container swaps a directory of a shared volume
// for a symlink to "/" while husk mounts onto it. Resolution happens once,
// inside the root, and the mount is made on that descriptor: the mount can
// only ever land inside the victim's rootfs.
func TestCVE2021_30465SymlinkRace(t *testing.T) {
	hh := newH(t)
	shared := filepath.Join(hh.dir, "shared")
	os.MkdirAll(filepath.Join(shared, "mnt"), 0o755)
	attacker := hh.bundle(func(s *rspec.Spec) {
		s.Mounts = append(s.Mounts, rspec.Mount{Destination: "/shared", Type: "bind", Source: shared, Options: []string{"bind"}})
	}, "sh", "-c", `end=$(($(date +%s)+6)); while [ $(date +%s) -lt $end ]; do
		mv /shared/mnt /shared/mnt.real 2>/dev/null; ln -s / /shared/mnt 2>/dev/null
		rm -f /shared/mnt; mv /shared/mnt.real /shared/mnt 2>/dev/null; done`)
	an := id(t)
	hh.must("run", "-d", "--bundle", attacker, an)
	defer hh.husk("delete", "-f", an)

	victim := hh.bundle(func(s *rspec.Spec) {
		s.Mounts = append(s.Mounts,
			rspec.Mount{Destination: "/data", Type: "bind", Source: shared, Options: []string{"bind"}},
			rspec.Mount{Destination: "/data/mnt", Type: "tmpfs", Source: "tmpfs", Options: []string{"size=1k"}})
	}, "sh", "-c", "grep -c ' /data/mnt ' /proc/self/mountinfo")
	victimRootfs := filepath.Join(victim, "rootfs")
	hostBefore := hostMounts(t, hh.dir, victimRootfs)
	landed := 0
	for i := 0; i < 40; i++ {
		r := hh.husk("run", "--bundle", victim, id(t))
		if r.code == 0 && strings.TrimSpace(r.stdout) == "1" {
			landed++
		}
		if after := hostMounts(t, hh.dir, victimRootfs); after != hostBefore {
			t.Fatalf("run %d changed the host's mounts:\n%s", i, after)
		}
	}
	// Runs that hit the symlink may mount on "/data" inside the root or
	// fail; none may mount outside. Most runs must still work normally.
	if landed == 0 {
		t.Errorf("no run mounted /data/mnt at all")
	}
	entries, _ := os.ReadDir("/")
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "mnt.real") {
			t.Errorf("the attack reached the host's /: %s", e.Name())
		}
	}
}

// CVE-2024-21626: no descriptor of the runtime reaches the container, and
// a cwd through a leaked descriptor (/proc/self/fd/N) is refused.
func TestCVE2024_21626FdLeak(t *testing.T) {
	hh := newH(t)
	// ls opens the directory it lists as fd 3: anything else is a leak.
	out := hh.sh(nil, "ls /proc/self/fd")
	if got := strings.Fields(out); strings.Join(got, " ") != "0 1 2 3" {
		t.Errorf("fds open in the container: %v, want 0 1 2 (+3 for ls itself)", got)
	}
	for n := 3; n < 16; n++ {
		cwd := "/proc/self/fd/" + strconv.Itoa(n)
		r := hh.run(func(s *rspec.Spec) { s.Process.Cwd = cwd }, "sh", "-c", "pwd; ls .. | head -3")
		if r.code == 0 {
			t.Errorf("cwd %s was accepted: %s", cwd, r)
		} else if !strings.Contains(r.stderr, "process.cwd") {
			t.Errorf("cwd %s: the error does not name process.cwd: %s", cwd, r)
		}
	}
}

// CVE-2025-31133 and CVE-2025-52565: an image whose /dev/null and
// /dev/console are symlinks into /proc must not redirect the masking of
// paths or the console bind mount. Masks are binds of the container's own
// /dev/null, which must be the null device: a symlink to anything else is
// refused (as runc refuses it), never bound.
func TestCVE2025DevSymlinks(t *testing.T) {
	hh := newH(t)
	// Without a tmpfs on /dev the image's own /dev is used.
	noDevMount := func(s *rspec.Spec) {
		var ms []rspec.Mount
		for _, m := range s.Mounts {
			if m.Destination != "/dev" {
				ms = append(ms, m)
			}
		}
		s.Mounts = ms
	}
	b := hh.bundle(noDevMount, "sh", "-c", "cat /proc/timer_list | wc -c; stat -c %t:%T /proc/timer_list; echo x > /proc/sys/kernel/core_pattern && echo WROTE")
	dev := filepath.Join(b, "rootfs", "dev")
	os.MkdirAll(dev, 0o755)
	os.Symlink("/proc/sys/kernel/core_pattern", filepath.Join(dev, "null"))
	os.Symlink("/proc/sys/kernel/core_pattern", filepath.Join(dev, "console"))
	corePattern, _ := os.ReadFile("/proc/sys/kernel/core_pattern")
	r := hh.husk("run", "--bundle", b, id(t))
	if strings.Contains(r.stdout, "WROTE") {
		t.Errorf("the container wrote core_pattern: %s", r)
	}
	if r.code == 0 || !strings.Contains(r.stderr, "/dev/null is not the null device") {
		t.Errorf("masks with a /dev/null that is a symlink into /proc: want a refusal naming /dev/null: %s", r)
	}
	if now, _ := os.ReadFile("/proc/sys/kernel/core_pattern"); string(now) != string(corePattern) {
		t.Fatalf("the host's core_pattern changed to %q", now)
	}

	// A terminal: /dev/console is a symlink, so husk refuses it.
	b2 := hh.bundle(func(s *rspec.Spec) { noDevMount(s); s.Process.Terminal = true }, "true")
	os.Remove(filepath.Join(b2, "rootfs", "dev", "console"))
	os.Symlink("/proc/sys/kernel/core_pattern", filepath.Join(b2, "rootfs", "dev", "console"))
	sock := consoleSocket(t, hh.dir)
	r = hh.husk("create", "--bundle", b2, "--console-socket", sock.path, id(t))
	if r.code == 0 || !strings.Contains(r.stderr, "/dev/console") {
		t.Errorf("a symlinked /dev/console was used: %s", r)
	}
}

// CVE-2025-52881: sysctl writes go to the real procfs file, even when the
// config bind-mounts something over it in the container's /proc.
func TestCVE2025_52881ProcRedirect(t *testing.T) {
	hh := newH(t)
	decoy := filepath.Join(hh.dir, "decoy")
	os.WriteFile(decoy, []byte("0\n"), 0o644)
	r := hh.run(func(s *rspec.Spec) {
		s.Mounts = append(s.Mounts, rspec.Mount{Destination: "/proc/sys/net/ipv4/ip_forward", Type: "bind",
			Source: decoy, Options: []string{"bind"}})
		s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
		s.Linux.ReadonlyPaths = nil
	}, "sh", "-c", "cat /proc/sys/net/ipv4/ip_forward")
	if r.code != 0 {
		t.Fatalf("run: %s", r)
	}
	if data, _ := os.ReadFile(decoy); string(data) != "0\n" {
		t.Errorf("the sysctl was written to the bind-mounted decoy: %q", data)
	}
}

// The default configuration is a privilege boundary: no mounting, no
// kernel modules, no view of the host's processes.
func TestDefaultPrivilegeBoundary(t *testing.T) {
	hh := newH(t)
	r := hh.run(nil, "sh", "-c", `
		mount -t tmpfs none /tmp 2>/dev/null && echo MOUNTED
		insmod /bin/busybox 2>/dev/null && echo LOADED
		echo init=$(tr '\0' ' ' < /proc/1/cmdline | cut -c1-5)
		ls /proc | grep -c '^[0-9]' > /tmp/n 2>/dev/null || ls /proc | grep '^[0-9]' | tr '\n' ' '
		echo
		grep CapEff /proc/self/status`)
	if r.code != 0 {
		t.Fatalf("run: %s", r)
	}
	for _, bad := range []string{"MOUNTED", "LOADED"} {
		if strings.Contains(r.stdout, bad) {
			t.Errorf("a default container could do it: %s", r.stdout)
		}
	}
	// pid 1 is the container's own shell, and only a handful of pids (the
	// shell and its pipeline) exist: none of the host's thousands.
	if !strings.Contains(r.stdout, "init=sh -c") {
		t.Errorf("pid 1 is not the container's process: %s", r.stdout)
	}
	for _, f := range strings.Fields(strings.Split(r.stdout, "\n")[1]) {
		if n, _ := strconv.Atoi(f); n > 20 {
			t.Errorf("the container sees pid %s: %s", f, r.stdout)
		}
	}
	if !strings.Contains(r.stdout, "CapEff:\t00000000") {
		t.Errorf("unexpected capabilities: %s", r.stdout)
	}
}
