package hostbackend

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// oomWatch reports the OOM events of one container's memory cgroup: on
// cgroup v1 through an eventfd registered for memory.oom_control, on
// cgroup v2 through inotify on memory.events, whose oom_kill count is
// compared with the last one seen. One goroutine blocked in the poller
// per container, no polling.
type oomWatch struct {
	f *os.File
	// v1: memory.oom_control, open while registered.
	ctl *os.File
}

// watchOOM starts watching the memory cgroup dir; oomKills reads the
// current count (v2), onOOM is called for each event.
func watchOOM(dir string, v2 bool, oomKills func() (uint64, error), onOOM func()) (*oomWatch, error) {
	if v2 {
		return watchOOMv2(dir, oomKills, onOOM)
	}
	return watchOOMv1(dir, onOOM)
}

func watchOOMv1(dir string, onOOM func()) (*oomWatch, error) {
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("oom eventfd: %w", err)
	}
	ef := os.NewFile(uintptr(efd), "oom-eventfd")
	ctl, err := os.Open(filepath.Join(dir, "memory.oom_control"))
	if err != nil {
		ef.Close()
		return nil, fmt.Errorf("oom watch: %w", err)
	}
	reg := strconv.Itoa(efd) + " " + strconv.Itoa(int(ctl.Fd()))
	if err := os.WriteFile(filepath.Join(dir, "cgroup.event_control"), []byte(reg), 0); err != nil {
		ef.Close()
		ctl.Close()
		return nil, fmt.Errorf("oom watch: %w", err)
	}
	w := &oomWatch{f: ef, ctl: ctl}
	go func() {
		var b [8]byte
		for {
			if _, err := ef.Read(b[:]); err != nil {
				return
			}
			// The eventfd also fires when the cgroup is removed.
			if _, err := os.Stat(dir); err != nil {
				return
			}
			onOOM()
		}
	}()
	return w, nil
}

func watchOOMv2(dir string, oomKills func() (uint64, error), onOOM func()) (*oomWatch, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("oom inotify: %w", err)
	}
	f := os.NewFile(uintptr(fd), "oom-inotify")
	if _, err := unix.InotifyAddWatch(fd, filepath.Join(dir, "memory.events"), unix.IN_MODIFY); err != nil {
		f.Close()
		return nil, fmt.Errorf("oom watch: %w", err)
	}
	last, _ := oomKills()
	go func() {
		b := make([]byte, 512)
		for {
			if _, err := f.Read(b); err != nil {
				return
			}
			n, err := oomKills()
			if err != nil {
				return
			}
			if n > last {
				last = n
				onOOM()
			}
		}
	}()
	return &oomWatch{f: f}, nil
}

func (w *oomWatch) close() {
	if w == nil {
		return
	}
	w.f.Close()
	if w.ctl != nil {
		w.ctl.Close()
	}
}
