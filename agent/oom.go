package agent

import (
	"os"

	"golang.org/x/sys/unix"
)

// oomWatch follows a container's memory.events: the kernel signals a
// change of the file to inotify, and the kill count says whether the
// change was an OOM kill.
type oomWatch struct {
	f *os.File
}

func watchOOM(path string, kills func() (uint64, error), onKill func()) *oomWatch {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil
	}
	if _, err := unix.InotifyAddWatch(fd, path, unix.IN_MODIFY); err != nil {
		unix.Close(fd)
		return nil
	}
	w := &oomWatch{f: os.NewFile(uintptr(fd), "inotify")}
	last, _ := kills()
	go func() {
		buf := make([]byte, 4096)
		for {
			if _, err := w.f.Read(buf); err != nil {
				return // closed: the container is gone
			}
			n, err := kills()
			if err != nil {
				continue
			}
			if n > last {
				last = n
				onKill()
			}
		}
	}()
	return w
}

func (w *oomWatch) close() {
	if w != nil {
		w.f.Close()
	}
}
