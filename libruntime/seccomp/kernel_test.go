package seccomp

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The kernel tests load compiled filters for real. That cannot be undone,
// so the test binary runs itself as a child (childEnv switches it in
// TestMain), which sets no_new_privs (so no privilege is needed), loads
// the filter the way husk's init does, from Filter.Bytes, makes the
// syscalls it is asked to, and prints what they returned.

const childEnv = "HUSK_SECCOMP_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(child())
	}
	os.Exit(m.Run())
}

// probe is a raw syscall for the child to make.
type probe struct {
	Name string
	Nr   uintptr
	Args [6]uintptr
}

type childRequest struct {
	Profile *rspec.LinuxSeccomp
	Probes  []probe
	// NotifyErrno is what the child's listener answers every
	// SCMP_ACT_NOTIFY syscall with.
	NotifyErrno unix.Errno
}

type probeResult struct {
	Name  string
	R1    uintptr
	Errno unix.Errno
}

// threadsProbe is the name of the result that counts the child's threads
// the filter does not cover, which TSYNC should leave at none.
const threadsProbe = "threads without the filter"

func child() int {
	fail := func(format string, args ...any) int {
		fmt.Fprintf(os.Stderr, format+"\n", args...)
		return 2
	}
	var req childRequest
	if err := json.NewDecoder(os.Stdin).Decode(&req); err != nil {
		return fail("decode request: %v", err)
	}
	f, err := Compile(req.Profile)
	if err != nil {
		return fail("compile: %v", err)
	}
	// A SIGSYS kill would dump core otherwise.
	if err := unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{}); err != nil {
		return fail("setrlimit: %v", err)
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fail("no_new_privs: %v", err)
	}
	// TSYNC puts the filter on every thread of the Go runtime, not just
	// this one; husk's init is single-threaded and does not need it.
	flags := f.Flags | unix.SECCOMP_FILTER_FLAG_TSYNC
	if f.Notify {
		flags |= unix.SECCOMP_FILTER_FLAG_NEW_LISTENER | unix.SECCOMP_FILTER_FLAG_TSYNC_ESRCH
	}
	b := f.Bytes()
	prog := unix.SockFprog{Len: uint16(len(b) / 8), Filter: (*unix.SockFilter)(unsafe.Pointer(&b[0]))}
	fd, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, uintptr(flags), uintptr(unsafe.Pointer(&prog)))
	runtime.KeepAlive(b)
	if errno != 0 {
		return fail("seccomp(SECCOMP_SET_MODE_FILTER, %#x): %v", flags, errno)
	}
	if f.Notify {
		go answer(int(fd), req.NotifyErrno)
	}

	exerciseRuntime()
	out := json.NewEncoder(os.Stdout)
	unfiltered, err := unfilteredThreads()
	if err != nil {
		return fail("%v", err)
	}
	if err := out.Encode(probeResult{Name: threadsProbe, R1: uintptr(unfiltered)}); err != nil {
		return fail("%v", err)
	}
	for _, p := range req.Probes {
		r1, _, errno := unix.RawSyscall6(p.Nr, p.Args[0], p.Args[1], p.Args[2], p.Args[3], p.Args[4], p.Args[5])
		if err := out.Encode(probeResult{Name: p.Name, R1: r1, Errno: errno}); err != nil {
			return fail("%v", err)
		}
	}
	return 0
}

// exerciseRuntime makes the Go runtime start threads, collect garbage and
// sleep under the filter.
func exerciseRuntime() {
	var wg sync.WaitGroup
	sums := make([]int, 8)
	for i := range sums {
		wg.Go(func() {
			b := make([]byte, 1<<20)
			for j := range b {
				b[j] = byte(j)
			}
			sums[i] = len(b)
			time.Sleep(time.Millisecond)
		})
	}
	wg.Wait()
	runtime.GC()
}

func unfilteredThreads() (int, error) {
	tasks, err := filepath.Glob("/proc/self/task/*/status")
	if err != nil {
		return 0, err
	}
	n := 0
	for _, path := range tasks {
		b, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			continue // the thread is gone
		}
		if err != nil {
			return 0, err
		}
		if !bytes.Contains(b, []byte("\nSeccomp:\t2\n")) {
			n++
		}
	}
	return n, nil
}

// answer fails every notification on the listener fd with errno.
func answer(fd int, errno unix.Errno) {
	for {
		var req [80]byte // struct seccomp_notif, zeroed as the kernel wants
		if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SECCOMP_IOCTL_NOTIF_RECV, uintptr(unsafe.Pointer(&req))); e != 0 {
			if e == unix.EINTR {
				continue
			}
			return
		}
		var resp [24]byte // struct seccomp_notif_resp: id, val, error, flags
		copy(resp[:8], req[:8])
		binary.NativeEndian.PutUint32(resp[16:], uint32(-int32(errno)))
		unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SECCOMP_IOCTL_NOTIF_SEND, uintptr(unsafe.Pointer(&resp)))
	}
}

// runChild runs a child and returns its results, checking that the
// filter covered every thread.
func runChild(t *testing.T, req childRequest) ([]probeResult, *os.ProcessState) {
	t.Helper()
	if b, err := os.ReadFile("/proc/self/status"); err != nil || !bytes.Contains(b, []byte("\nSeccomp:")) {
		t.Skip("the kernel has no seccomp")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	in, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	cmd.Stdin = bytes.NewReader(in)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatal(err)
	}
	if cmd.ProcessState.ExitCode() == 2 {
		t.Fatalf("child: %s", stderr.String())
	}
	var results []probeResult
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		var r probeResult
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("child output %q: %v", sc.Text(), err)
		}
		results = append(results, r)
	}
	if len(results) == 0 || results[0].Name != threadsProbe {
		t.Fatalf("child printed %q; stderr: %s", stdout.String(), stderr.String())
	}
	if results[0].R1 != 0 {
		t.Errorf("%d threads of the child run without the filter", results[0].R1)
	}
	return results[1:], cmd.ProcessState
}

// expectProbes checks results against the errno each probe should end
// with (0 for success), in order.
func expectProbes(t *testing.T, results []probeResult, want ...unix.Errno) {
	t.Helper()
	if len(results) != len(want) {
		t.Fatalf("%d results, want %d: %+v", len(results), len(want), results)
	}
	for i, r := range results {
		if r.Errno != want[i] {
			t.Errorf("%s: errno %d (%v), want %d (%v)", r.Name, r.Errno, r.Errno, want[i], want[i])
		}
	}
}

func TestKernelRules(t *testing.T) {
	results, _ := runChild(t, childRequest{
		Profile: &rspec.LinuxSeccomp{
			DefaultAction: rspec.ActAllow,
			Syscalls: []rspec.LinuxSyscall{
				{Names: []string{"mkdirat"}, Action: rspec.ActErrno, ErrnoRet: ptr(uint(unix.EXDEV))},
				// madvise's start is 64 bits wide, and a zero length makes
				// any start a harmless no-op: the high word counts.
				{Names: []string{"madvise"}, Action: rspec.ActErrno, ErrnoRet: ptr(uint(unix.EDOM)),
					Args: []rspec.LinuxSeccompArg{{Index: 0, Value: 1 << 32, Op: rspec.OpEqualTo}}},
				{Names: []string{"madvise"}, Action: rspec.ActErrno, ErrnoRet: ptr(uint(unix.ERANGE)),
					Args: []rspec.LinuxSeccompArg{{Index: 0, Value: 0xff << 40, ValueTwo: 0x12 << 40, Op: rspec.OpMaskedEqual}}},
			},
		},
		Probes: []probe{
			{Name: "getpid", Nr: unix.SYS_GETPID},
			{Name: "mkdirat(0, NULL, 0)", Nr: unix.SYS_MKDIRAT},
			{Name: "madvise(0)", Nr: unix.SYS_MADVISE},
			{Name: "madvise(1<<32)", Nr: unix.SYS_MADVISE, Args: [6]uintptr{1 << 32}},
			{Name: "madvise(2<<32)", Nr: unix.SYS_MADVISE, Args: [6]uintptr{2 << 32}},
			{Name: "madvise(0x12<<40)", Nr: unix.SYS_MADVISE, Args: [6]uintptr{0x12 << 40}},
			{Name: "madvise(0x13<<40)", Nr: unix.SYS_MADVISE, Args: [6]uintptr{0x13 << 40}},
		},
	})
	expectProbes(t, results, 0, unix.EXDEV, 0, unix.EDOM, 0, unix.ERANGE, 0)
}

// Arguments the kernel truncates (socket's family is an int) are compared
// as the kernel will use them: a rule refusing AF_VSOCK (40) also refuses
// it with high bits set, which the kernel would have created, and a rule
// on families above 45 does not catch AF_UNIX with high bits set.
func TestKernelNarrowArguments(t *testing.T) {
	results, _ := runChild(t, childRequest{
		Profile: &rspec.LinuxSeccomp{
			DefaultAction: rspec.ActAllow,
			Syscalls: []rspec.LinuxSyscall{
				{Names: []string{"socket"}, Action: rspec.ActErrno, ErrnoRet: ptr(uint(unix.EPERM)),
					Args: []rspec.LinuxSeccompArg{{Index: 0, Value: unix.AF_VSOCK, Op: rspec.OpEqualTo}}},
				{Names: []string{"socket"}, Action: rspec.ActErrno, ErrnoRet: ptr(uint(unix.EDOM)),
					Args: []rspec.LinuxSeccompArg{{Index: 0, Value: 45, Op: rspec.OpGreaterThan}}},
			},
		},
		Probes: []probe{
			{Name: "socket(AF_UNIX)", Nr: unix.SYS_SOCKET, Args: [6]uintptr{unix.AF_UNIX, unix.SOCK_STREAM}},
			{Name: "socket(AF_VSOCK)", Nr: unix.SYS_SOCKET, Args: [6]uintptr{unix.AF_VSOCK, unix.SOCK_STREAM}},
			{Name: "socket(AF_VSOCK | 1<<32)", Nr: unix.SYS_SOCKET, Args: [6]uintptr{1<<32 | unix.AF_VSOCK, unix.SOCK_STREAM}},
			{Name: "socket(AF_UNIX | 1<<32)", Nr: unix.SYS_SOCKET, Args: [6]uintptr{1<<32 | unix.AF_UNIX, unix.SOCK_STREAM}},
		},
	})
	expectProbes(t, results, 0, unix.EPERM, unix.EPERM, 0)
}

func TestKernelKillProcess(t *testing.T) {
	results, state := runChild(t, childRequest{
		Profile: &rspec.LinuxSeccomp{
			DefaultAction: rspec.ActAllow,
			Syscalls:      []rspec.LinuxSyscall{{Names: []string{"getppid"}, Action: rspec.ActKillProcess}},
		},
		Probes: []probe{
			{Name: "getpid", Nr: unix.SYS_GETPID},
			{Name: "getppid", Nr: unix.SYS_GETPPID},
			{Name: "getpid after getppid", Nr: unix.SYS_GETPID},
		},
	})
	expectProbes(t, results, 0)
	if ws := state.Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != unix.SIGSYS {
		t.Errorf("child ended with %v, want killed by SIGSYS", state)
	}
}

func TestKernelNotify(t *testing.T) {
	results, _ := runChild(t, childRequest{
		Profile: &rspec.LinuxSeccomp{
			DefaultAction: rspec.ActAllow,
			Flags:         []rspec.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_TSYNC"},
			Syscalls:      []rspec.LinuxSyscall{{Names: []string{"getppid"}, Action: rspec.ActNotify}},
		},
		Probes:      []probe{{Name: "getppid", Nr: unix.SYS_GETPPID}, {Name: "getpid", Nr: unix.SYS_GETPID}},
		NotifyErrno: unix.ENOMEDIUM,
	})
	expectProbes(t, results, unix.ENOMEDIUM, 0)
}

// TestKernelDockerDefault runs the Go runtime under Docker's default
// profile, as dockerd would set it up for this host.
func TestKernelDockerDefault(t *testing.T) {
	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		t.Fatal(err)
	}
	var major, minor int
	if _, err := fmt.Sscanf(unix.ByteSliceToString(uts.Release[:]), "%d.%d", &major, &minor); err != nil {
		t.Fatal(err)
	}
	s := dockerDefault(t, runtime.GOARCH, dockerCaps, major, minor)
	host, err := hostArch()
	if err != nil {
		t.Skip(err)
	}
	// The first number above the profile's syscalls on this host.
	var above uint32
	for _, sc := range s.Syscalls {
		for _, name := range sc.Names {
			if n, ok := host.sysnum(name); ok {
				above = max(above, n+1)
			}
		}
	}
	results, _ := runChild(t, childRequest{
		Profile: s,
		Probes: []probe{
			{Name: "getpid", Nr: unix.SYS_GETPID},
			{Name: "personality(0xffffffff)", Nr: unix.SYS_PERSONALITY, Args: [6]uintptr{0xffffffff}},
			{Name: "keyctl", Nr: unix.SYS_KEYCTL},
			{Name: "unshare(CLONE_NEWUSER)", Nr: unix.SYS_UNSHARE, Args: [6]uintptr{unix.CLONE_NEWUSER}},
			{Name: "umount2(\"\")", Nr: unix.SYS_UMOUNT2},
			{Name: fmt.Sprintf("syscall %d, above the profile", above), Nr: uintptr(above)},
		},
	})
	expectProbes(t, results, 0, 0, unix.EPERM, unix.EPERM, unix.EPERM, unix.ENOSYS)
	if results[0].R1 == 0 {
		t.Error("getpid returned 0")
	}
}
