// Command probe prints, inside a container, what busybox cannot show:
// scheduling, I/O priority, personality, memory policy, CPU affinity,
// open descriptors and the result of single system calls. Each argument
// is one probe; each prints a section "=== name" and its lines, so the
// harness normalises every section by its name.
//
// It makes only the system calls it reports on (and the Go runtime's),
// prints errno names rather than messages, and exits 0 unless an argument
// is unknown: the container's exit code stays the runtime's business.
//
// GOMAXPROCS ignores the cgroup's CPU limit: following it, the Go runtime
// keeps the cgroup's cpu.max open (cgroup v2), a descriptor the fds probe
// would show as if the container runtime had left it.

//go:debug containermaxprocs=0
package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

func main() {
	// One OS thread: the scheduler and affinity probes read the calling
	// thread's attributes, which must be those the runtime gave the
	// process, not a thread the Go runtime started later.
	runtime.LockOSThread()
	for _, arg := range os.Args[1:] {
		name, param, _ := strings.Cut(arg, "=")
		p, ok := probes[name]
		if !ok {
			fmt.Fprintf(os.Stderr, "probe: unknown probe %q\n", name)
			os.Exit(2)
		}
		fmt.Printf("=== %s\n", arg)
		p(param)
	}
}

var probes = map[string]func(param string){
	"sched":       sched,
	"ioprio":      ioprio,
	"personality": personality,
	"mempolicy":   mempolicy,
	"affinity":    affinity,
	"fds":         fds,
	"umask":       umaskCall,
	"syscall":     syscallCall,
}

// errName is the errno's symbolic name (EPERM), or "ok".
func errName(err error) string {
	if err == nil {
		return "ok"
	}
	var errno unix.Errno
	if errors.As(err, &errno) {
		if n := unix.ErrnoName(errno); n != "" {
			return n
		}
		return "errno " + strconv.Itoa(int(errno))
	}
	return err.Error()
}

// schedAttr is struct sched_attr of sched_getattr(2), version 1 (56 bytes).
type schedAttr struct {
	Size     uint32
	Policy   uint32
	Flags    uint64
	Nice     int32
	Priority uint32
	Runtime  uint64
	Deadline uint64
	Period   uint64
	UtilMin  uint32
	UtilMax  uint32
}

func sched(string) {
	var a schedAttr
	_, _, e := unix.Syscall6(unix.SYS_SCHED_GETATTR, 0, uintptr(unsafe.Pointer(&a)), unsafe.Sizeof(a), 0, 0, 0)
	if e != 0 {
		fmt.Println("sched_getattr:", errName(e))
		return
	}
	fmt.Printf("policy=%d flags=%#x nice=%d priority=%d runtime=%d deadline=%d period=%d\n",
		a.Policy, a.Flags, a.Nice, a.Priority, a.Runtime, a.Deadline, a.Period)
}

func ioprio(string) {
	const whoProcess = 1
	v, _, e := unix.Syscall(unix.SYS_IOPRIO_GET, whoProcess, 0, 0)
	if e != 0 {
		fmt.Println("ioprio_get:", errName(e))
		return
	}
	fmt.Printf("class=%d level=%d\n", v>>13, v&0x1fff)
}

func personality(string) {
	v, _, e := unix.Syscall(unix.SYS_PERSONALITY, 0xffffffff, 0, 0)
	if e != 0 {
		fmt.Println("personality:", errName(e))
		return
	}
	fmt.Printf("persona=%#x\n", v)
}

func mempolicy(string) {
	var mode int32
	mask := make([]uint64, 16)
	_, _, e := unix.Syscall6(unix.SYS_GET_MEMPOLICY, uintptr(unsafe.Pointer(&mode)),
		uintptr(unsafe.Pointer(&mask[0])), uintptr(len(mask)*64), 0, 0, 0)
	if e != 0 {
		fmt.Println("get_mempolicy:", errName(e))
		return
	}
	const flagMask uint32 = 0xffff << 16
	fmt.Printf("mode=%d flags=%#x nodes=%#x\n", uint32(mode)&^flagMask, uint32(mode)&flagMask, mask[0])
}

func affinity(string) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		fmt.Println("sched_getaffinity:", errName(err))
		return
	}
	var cpus []string
	for i := 0; i < 1024; i++ {
		if set.IsSet(i) {
			cpus = append(cpus, strconv.Itoa(i))
		}
	}
	fmt.Println("cpus=" + strings.Join(cpus, ","))
}

// fds lists the descriptors the process was started with: those open
// before the Go runtime opened any of its own are below the first one
// this call gets.
func fds(string) {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		fmt.Println("readdir:", err)
		return
	}
	var lines []string
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil || n <= 2 {
			continue
		}
		target, err := os.Readlink("/proc/self/fd/" + e.Name())
		if err != nil {
			continue // the directory's own descriptor, closed meanwhile
		}
		if strings.HasPrefix(target, "/proc/") && strings.HasSuffix(target, "/fd") {
			continue
		}
		lines = append(lines, fmt.Sprintf("%d %s", n, target))
	}
	sort.Strings(lines)
	for _, l := range lines {
		fmt.Println(l)
	}
}

// umaskCall calls umask(2) with the given mask: a system call that is
// harmless with any argument, for seccomp rules on arguments.
func umaskCall(param string) {
	v, err := strconv.ParseUint(param, 0, 64)
	if err != nil {
		fmt.Println("bad mask:", param)
		return
	}
	_, _, e := unix.Syscall(unix.SYS_UMASK, uintptr(v), 0, 0)
	fmt.Println(errName(errnoOrNil(e)))
}

// syscallCall makes one argument-less or harmless system call by name.
func syscallCall(param string) {
	var e unix.Errno
	switch param {
	case "getppid":
		_, _, e = unix.RawSyscall(unix.SYS_GETPPID, 0, 0, 0)
	case "sched_yield":
		_, _, e = unix.Syscall(unix.SYS_SCHED_YIELD, 0, 0, 0)
	case "getcwd":
		buf := make([]byte, 4096)
		_, _, e = unix.Syscall(unix.SYS_GETCWD, uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), 0)
	case "uname":
		var u unix.Utsname
		_, _, e = unix.Syscall(unix.SYS_UNAME, uintptr(unsafe.Pointer(&u)), 0, 0)
	case "mkdirat":
		e = errnoOf(unix.Mkdirat(unix.AT_FDCWD, "/tmp/probe-mkdirat", 0o755))
	default:
		fmt.Println("unknown syscall", param)
		return
	}
	fmt.Println(errName(errnoOrNil(e)))
}

func errnoOf(err error) unix.Errno {
	var e unix.Errno
	errors.As(err, &e)
	return e
}

func errnoOrNil(e unix.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}
