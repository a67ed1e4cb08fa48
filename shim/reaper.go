package shim

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

// exit is one reaped child.
type exit struct {
	pid    int
	status int // shell style: 128+n for death by signal n
	at     time.Time
}

// How long, and how many, exits nobody waited for are kept for a Wait
// that comes late (libruntime waits for husk-init after it may be gone).
const (
	recentExitTTL = 30 * time.Second
	recentExitMax = 1024
)

// reaper collects every child of the shim. The daemon is a child
// subreaper, so container processes in a pid namespace (and orphans of
// containers without one) are re-parented to it and reaped here too.
// Nothing else in the process may wait for a child: libruntime is given
// the reaper (Wait), and the task service receives every exit (onExit).
type reaper struct {
	onExit func(exit)

	mu      sync.Mutex
	waiters map[int][]chan exit
	recent  map[int]exit
}

func newReaper() *reaper {
	return &reaper{waiters: map[int][]chan exit{}, recent: map[int]exit{}}
}

// run reaps on every SIGCHLD; it never returns.
func (r *reaper) run() {
	sigs := make(chan os.Signal, 32)
	signal.Notify(sigs, unix.SIGCHLD)
	// Children that exited before Notify sent no signal we can see.
	r.reap()
	for range sigs {
		r.reap()
	}
}

func (r *reaper) reap() {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil || pid <= 0 {
			return
		}
		e := exit{pid: pid, status: libruntime.ExitCode(ws), at: time.Now()}
		r.mu.Lock()
		if chs := r.waiters[pid]; len(chs) > 0 {
			delete(r.waiters, pid)
			for _, ch := range chs {
				ch <- e
			}
		} else {
			r.remember(e)
		}
		r.mu.Unlock()
		if r.onExit != nil {
			r.onExit(e)
		}
	}
}

// remember keeps an exit nobody waits for yet; r.mu is held.
func (r *reaper) remember(e exit) {
	if len(r.recent) >= recentExitMax {
		for pid, old := range r.recent {
			if e.at.Sub(old.at) > recentExitTTL || len(r.recent) >= recentExitMax {
				delete(r.recent, pid)
			}
		}
	}
	r.recent[e.pid] = e
}

// Wait implements libruntime.Reaper: it returns the exit code of pid,
// which may have been reaped already.
func (r *reaper) Wait(pid int) (int, error) {
	e, _ := r.wait(pid, -1)
	return e.status, nil
}

// wait waits for pid at most timeout (forever if negative).
func (r *reaper) wait(pid int, timeout time.Duration) (exit, bool) {
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
	ch := make(chan exit, 1)
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
		return exit{}, false
	}
}

// isOurChild reports whether pid is a live (or unreaped) child of ours.
func isOurChild(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return false
	}
	// After the command: " S ppid ..."
	f := bytes.Fields(data[i+1:])
	if len(f) < 2 {
		return false
	}
	ppid, err := strconv.Atoi(string(f[1]))
	return err == nil && ppid == os.Getpid()
}

// startTime is the start time of pid (clock ticks after boot, 0 if gone):
// with the pid it names one process, never a later one given that pid.
func startTime(pid int) uint64 {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0
	}
	f := bytes.Fields(data[i+1:])
	if len(f) < 20 {
		return 0
	}
	v, _ := strconv.ParseUint(string(f[19]), 10, 64)
	return v
}

// signalProcess signals pid through a pidfd, once sure it is still the
// process that started at start. A process whose start time could not be
// read (start 0) was gone before it was recorded: it is never signalled.
func signalProcess(pid int, start uint64, sig unix.Signal) error {
	if start == 0 {
		return unix.ESRCH
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if startTime(pid) != start {
		return unix.ESRCH
	}
	return unix.PidfdSendSignal(fd, sig, nil, 0)
}
