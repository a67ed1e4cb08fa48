// Package reaper collects the shim daemon's children and tells who waits
// for them of their exit.
package reaper

import (
	"bytes"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/libruntime"
)

// Exit is one reaped child.
type Exit struct {
	Pid    int
	Status int // shell style: 128+n for death by signal n
	At     time.Time
}

// How long, and how many, exits nobody waited for are kept for a Wait
// that comes late (libruntime waits for husk-init after it may be gone).
const (
	recentExitTTL = 30 * time.Second
	recentExitMax = 1024
)

// Reaper collects children in one of two ways:
//
//   - every child (New(true), then Run): the daemon of the container
//     class is a child subreaper, so container processes in a pid
//     namespace (and orphans of containers without one) are re-parented
//     to it and reaped here too. Nothing else in the process may wait for
//     a child: libruntime is given the Reaper (Wait), and OnExit receives
//     every exit;
//   - only the children it is told of (New(false), Track): the VM class's
//     daemon runs no container process on the host, and its qemu is
//     waited for by os/exec, which a wait for any child would rob.
type Reaper struct {
	all bool
	// OnExit, set before Run, is called with every exit.
	OnExit func(Exit)

	mu      sync.Mutex
	waiters map[int][]chan Exit
	recent  map[int]Exit
}

// New returns a Reaper; all: it reaps every child (see Reaper).
func New(all bool) *Reaper {
	return &Reaper{all: all, waiters: map[int][]chan Exit{}, recent: map[int]Exit{}}
}

// Run reaps on every SIGCHLD; it never returns.
func (r *Reaper) Run() {
	sigs := make(chan os.Signal, 32)
	signal.Notify(sigs, unix.SIGCHLD)
	// Children that exited before Notify sent no signal we can see.
	r.reap()
	for range sigs {
		r.reap()
	}
}

// Track reaps pid, a child the caller started, when the Reaper does not
// reap every child.
func (r *Reaper) Track(pid int) {
	if r.all {
		return
	}
	go func() {
		var ws unix.WaitStatus
		for {
			_, err := unix.Wait4(pid, &ws, 0, nil)
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				return
			}
			r.deliver(Exit{Pid: pid, Status: libruntime.ExitCode(ws), At: time.Now()})
			return
		}
	}()
}

func (r *Reaper) reap() {
	libruntime.ReapExited(func(pid, code int) {
		r.deliver(Exit{Pid: pid, Status: code, At: time.Now()})
	})
}

func (r *Reaper) deliver(e Exit) {
	r.mu.Lock()
	if chs := r.waiters[e.Pid]; len(chs) > 0 {
		delete(r.waiters, e.Pid)
		for _, ch := range chs {
			ch <- e
		}
	} else {
		r.remember(e)
	}
	r.mu.Unlock()
	if r.OnExit != nil {
		r.OnExit(e)
	}
}

// remember keeps an exit nobody waits for yet; r.mu is held.
func (r *Reaper) remember(e Exit) {
	if len(r.recent) >= recentExitMax {
		for pid, old := range r.recent {
			if e.At.Sub(old.At) > recentExitTTL || len(r.recent) >= recentExitMax {
				delete(r.recent, pid)
			}
		}
	}
	r.recent[e.Pid] = e
}

// Wait implements libruntime.Reaper: it returns the exit code of pid,
// which may have been reaped already.
func (r *Reaper) Wait(pid int) (int, error) {
	e, _ := r.WaitTimeout(pid, -1)
	return e.Status, nil
}

// WaitTimeout waits for pid at most timeout (forever if negative).
func (r *Reaper) WaitTimeout(pid int, timeout time.Duration) (Exit, bool) {
	r.mu.Lock()
	if e, ok := r.recent[pid]; ok {
		delete(r.recent, pid)
		// The record is stale if pid has been reused by a child of ours
		// that has not exited yet.
		if !isOurChild(pid) {
			r.mu.Unlock()
			return e, true
		}
	}
	ch := make(chan Exit, 1)
	r.waiters[pid] = append(r.waiters[pid], ch)
	r.mu.Unlock()
	if timeout < 0 {
		return <-ch, true
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case e := <-ch:
		return e, true
	case <-t.C:
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	chs := r.waiters[pid]
	for i, c := range chs {
		if c == ch {
			r.waiters[pid] = append(chs[:i], chs[i+1:]...)
			break
		}
	}
	if len(r.waiters[pid]) == 0 {
		delete(r.waiters, pid)
	}
	select {
	case e := <-ch:
		return e, true
	default:
		return Exit{}, false
	}
}

// isOurChild reports whether pid is a live (or unreaped) child of ours.
func isOurChild(pid int) bool {
	f := statFields(pid)
	if len(f) < 2 {
		return false
	}
	ppid, err := strconv.Atoi(string(f[1]))
	return err == nil && ppid == os.Getpid()
}

// statFields are the fields of /proc/pid/stat after the command.
func statFields(pid int) [][]byte {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return nil
	}
	return bytes.Fields(data[i+1:])
}

// StartTime is the start time of pid (clock ticks after boot, 0 if gone):
// with the pid it names one process, never a later one given that pid.
func StartTime(pid int) uint64 {
	f := statFields(pid)
	if len(f) < 20 {
		return 0
	}
	v, _ := strconv.ParseUint(string(f[19]), 10, 64)
	return v
}

// Signal signals pid through a pidfd, once sure it is still the process
// that started at start. A process whose start time could not be read
// (start 0) was gone before it was recorded: it is never signalled.
func Signal(pid int, start uint64, sig unix.Signal) error {
	if start == 0 {
		return unix.ESRCH
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if StartTime(pid) != start {
		return unix.ESRCH
	}
	return unix.PidfdSendSignal(fd, sig, nil, 0)
}

// Alive reports whether the process pid that started at start still
// runs (a zombie does not).
func Alive(pid int, start uint64) bool {
	f := statFields(pid)
	if len(f) < 20 || string(f[0]) == "Z" || string(f[0]) == "X" {
		return false
	}
	v, _ := strconv.ParseUint(string(f[19]), 10, 64)
	return v == start
}
