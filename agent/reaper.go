package agent

import (
	"os"
	"os/signal"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/libruntime"
)

// recentMax bounds the exits kept for a Wait that comes after the reap.
const recentMax = 1024

// Reaper collects every child of the agent. As PID 1 of the guest it
// inherits every orphan too; nothing else in the process may wait for a
// child, so libruntime is given the Reaper (libruntime.WithReaper).
type Reaper struct {
	mu      sync.Mutex
	waiters map[int][]chan int
	recent  map[int]int
	order   []int
}

// NewReaper starts reaping on SIGCHLD.
func NewReaper() *Reaper {
	r := &Reaper{waiters: map[int][]chan int{}, recent: map[int]int{}}
	sigs := make(chan os.Signal, 32)
	signal.Notify(sigs, unix.SIGCHLD)
	go func() {
		r.reap() // children that exited before Notify
		for range sigs {
			r.reap()
		}
	}()
	return r
}

func (r *Reaper) reap() {
	libruntime.ReapExited(r.exited)
}

func (r *Reaper) exited(pid, code int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if chs := r.waiters[pid]; len(chs) > 0 {
		delete(r.waiters, pid)
		for _, ch := range chs {
			ch <- code
		}
		return
	}
	if len(r.order) >= recentMax {
		delete(r.recent, r.order[0])
		r.order = r.order[1:]
	}
	r.recent[pid] = code
	r.order = append(r.order, pid)
}

// Wait implements libruntime.Reaper: it returns pid's exit code (128+n
// for death by signal n), also when pid was reaped before the call.
func (r *Reaper) Wait(pid int) (int, error) {
	r.mu.Lock()
	if code, ok := r.recent[pid]; ok {
		delete(r.recent, pid)
		for i, p := range r.order {
			if p == pid {
				r.order = append(r.order[:i], r.order[i+1:]...)
				break
			}
		}
		r.mu.Unlock()
		return code, nil
	}
	ch := make(chan int, 1)
	r.waiters[pid] = append(r.waiters[pid], ch)
	r.mu.Unlock()
	return <-ch, nil
}
