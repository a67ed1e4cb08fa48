package integration

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unsafe"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func withSeccomp(sc *rspec.LinuxSeccomp) func(*rspec.Spec) {
	return func(s *rspec.Spec) { s.Linux.Seccomp = sc }
}

func TestSeccompErrnoAndArgs(t *testing.T) {
	hh := newH(t)
	eacces := uint(unix.EACCES)
	out := hh.sh(withSeccomp(&rspec.LinuxSeccomp{
		DefaultAction: rspec.ActAllow,
		Architectures: []rspec.Arch{rspec.ArchX86_64, rspec.ArchX86, rspec.ArchX32},
		Syscalls: []rspec.LinuxSyscall{
			{Names: []string{"mkdir", "mkdirat"}, Action: rspec.ActErrno, ErrnoRet: &eacces},
			// personality(0xffffffff) queries; anything else is refused.
			{Names: []string{"personality"}, Action: rspec.ActErrno,
				Args: []rspec.LinuxSeccompArg{{Index: 0, Value: 0xffffffff, Op: rspec.OpNotEqual}}},
		},
	}), `mkdir /tmp/d 2>&1; echo mkdir=$?; grep Seccomp: /proc/self/status; setarch linux32 true 2>/dev/null; echo setarch=$?`)
	if !strings.Contains(out, "Permission denied") || !strings.Contains(out, "mkdir=1") {
		t.Errorf("mkdir was not refused with EACCES: %q", out)
	}
	if !strings.Contains(out, "Seccomp:\t2") {
		t.Errorf("no seccomp filter in force: %q", out)
	}
	if strings.Contains(out, "setarch=0") {
		t.Errorf("personality(PER_LINUX32) was allowed: %q", out)
	}
}

// seccomp_notif and seccomp_notif_resp from <linux/seccomp.h>.
type seccompNotif struct {
	ID    uint64
	Pid   uint32
	Flags uint32
	Nr    int32
	Arch  uint32
	IP    uint64
	Args  [6]uint64
}

type seccompNotifResp struct {
	ID    uint64
	Val   int64
	Error int32
	Flags uint32
}

// SCMP_ACT_NOTIFY: the listener at listenerPath receives the notify fd and
// the container state with listenerMetadata, and its answers are what the
// container's syscalls return.
func TestSeccompNotifyListener(t *testing.T) {
	hh := newH(t)
	sock := filepath.Join(hh.dir, "seccomp.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type got struct {
		state rspec.ContainerProcessState
		nr    int32
		err   error
	}
	res := make(chan got, 1)
	go func() {
		var g got
		defer func() { res <- g }()
		conn, err := ln.AcceptUnix()
		if err != nil {
			g.err = err
			return
		}
		defer conn.Close()
		buf, oob := make([]byte, 64<<10), make([]byte, unix.CmsgSpace(4))
		n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
		if err != nil {
			g.err = err
			return
		}
		if g.err = json.Unmarshal(buf[:n], &g.state); g.err != nil {
			return
		}
		msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
		if len(msgs) != 1 {
			return
		}
		fds, _ := unix.ParseUnixRights(&msgs[0])
		if len(fds) != 1 {
			return
		}
		defer unix.Close(fds[0])
		// Answer one notification with EROFS.
		var req seccompNotif
		if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fds[0]), unix.SECCOMP_IOCTL_NOTIF_RECV, uintptr(unsafe.Pointer(&req))); e != 0 {
			g.err = e
			return
		}
		g.nr = req.Nr
		resp := seccompNotifResp{ID: req.ID, Error: -int32(unix.EROFS)}
		if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fds[0]), unix.SECCOMP_IOCTL_NOTIF_SEND, uintptr(unsafe.Pointer(&resp))); e != 0 {
			g.err = e
		}
	}()
	name := id(t)
	r := hh.husk("run", "--bundle", hh.bundle(withSeccomp(&rspec.LinuxSeccomp{
		DefaultAction:    rspec.ActAllow,
		ListenerPath:     sock,
		ListenerMetadata: "from-the-test",
		Syscalls:         []rspec.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: rspec.ActNotify}},
	}), "sh", "-c", "mkdir /tmp/n 2>&1; echo rc=$?"), name)
	var g got
	select {
	case g = <-res:
	case <-time.After(10 * time.Second):
		t.Fatalf("the listener got nothing; run: %s", r)
	}
	if g.err != nil {
		t.Fatalf("listener: %v (run: %s)", g.err, r)
	}
	if g.state.Metadata != "from-the-test" || g.state.State.ID != name || len(g.state.Fds) != 1 || g.state.Pid == 0 {
		t.Errorf("listener got state %+v", g.state)
	}
	if g.nr != unix.SYS_MKDIR && g.nr != unix.SYS_MKDIRAT {
		t.Errorf("notification for syscall %d, want mkdir", g.nr)
	}
	if !strings.Contains(r.stdout, "Read-only file system") || !strings.Contains(r.stdout, "rc=1") {
		t.Errorf("the listener's answer did not reach the container: %s", r)
	}
}

func TestSeccompBadInput(t *testing.T) {
	hh := newH(t)
	r := hh.run(withSeccomp(&rspec.LinuxSeccomp{DefaultAction: "SCMP_ACT_SOMETIMES"}), "true")
	if r.code == 0 || !strings.Contains(r.stderr, "linux.seccomp.defaultAction") {
		t.Errorf("unknown seccomp action: %s", r)
	}
	r = hh.run(withSeccomp(&rspec.LinuxSeccomp{DefaultAction: rspec.ActAllow,
		Syscalls: []rspec.LinuxSyscall{{Names: []string{"mkdir"}, Action: rspec.ActNotify}}}), "true")
	if r.code == 0 || !strings.Contains(r.stderr, "listenerPath") {
		t.Errorf("notify without a listener: %s", r)
	}
	if ents, _ := os.ReadDir(hh.root); len(ents) != 0 {
		t.Errorf("failed runs left state: %v", ents)
	}
}

// A profile under which husk-init cannot finish (every syscall but write
// refused, exit_group included) fails at once, as with runc: the filter
// is in place before the container counts as created, and husk-init
// still exits. Nothing is left.
func TestSeccompAllDeniedFailsFast(t *testing.T) {
	hh := newH(t)
	start := time.Now()
	r := hh.run(withSeccomp(&rspec.LinuxSeccomp{DefaultAction: rspec.ActErrno,
		Syscalls: []rspec.LinuxSyscall{{Names: []string{"write"}, Action: rspec.ActAllow}}}), "true")
	if r.code == 0 {
		t.Errorf("run under an all-denying profile: %s", r)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("run took %v", d)
	}
	if ents, _ := os.ReadDir(hh.root); len(ents) != 0 {
		t.Errorf("the failed run left state: %v", ents)
	}
}

// startContainer hooks run under the container's filter, as in runc: a
// hook making a syscall the profile kills is killed, and so is the
// container's start (its init exits 255).
func TestSeccompCoversStartContainerHooks(t *testing.T) {
	hh := newH(t)
	r := hh.run(func(s *rspec.Spec) {
		withSeccomp(&rspec.LinuxSeccomp{DefaultAction: rspec.ActAllow,
			Syscalls: []rspec.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: rspec.ActKillProcess}}})(s)
		s.Hooks = &rspec.Hooks{StartContainer: []rspec.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "mkdir /tmp/x"}}}}
	}, "echo", "process-ran")
	if r.code != 255 || strings.Contains(r.stdout, "process-ran") {
		t.Errorf("run with a startContainer hook the filter kills: %s, want exit 255 without the process", r)
	}
}
