package shim

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// logger writes the daemon's log to the bundle's "log" FIFO, which
// containerd reads and copies to its own output, in logrus's text format
// as every shim does. It implements libruntime.Logger. Lines nobody reads
// (containerd gone) are dropped: the daemon never blocks on its log.
type logger struct {
	mu      sync.Mutex
	path    string
	f       *os.File
	debug   bool
	runtime string
}

func openLogger(path string, debug bool, runtime string) *logger {
	l := &logger{path: path, debug: debug, runtime: runtime}
	l.mu.Lock()
	l.reopen()
	l.mu.Unlock()
	return l
}

// reopen opens the FIFO again: a restarted containerd reads a new one.
// l.mu is held.
func (l *logger) reopen() {
	if l.f != nil {
		l.f.Close()
		l.f = nil
	}
	if l.path == "" {
		return
	}
	fd, err := unix.Open(l.path, unix.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	l.f = os.NewFile(uintptr(fd), l.path)
}

func (l *logger) write(level, format string, args []any) {
	line := "time=\"" + time.Now().Format(time.RFC3339Nano) + "\" level=" + level +
		" msg=" + strconv.Quote(fmt.Sprintf(format, args...)) + " runtime=" + l.runtime + "\n"
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		l.reopen()
		if l.f == nil {
			return
		}
	}
	if _, err := l.f.Write([]byte(line)); err != nil {
		l.reopen()
		if l.f != nil {
			l.f.Write([]byte(line))
		}
	}
}

func (l *logger) Infof(format string, args ...any)  { l.write("info", format, args) }
func (l *logger) Warnf(format string, args ...any)  { l.write("warning", format, args) }
func (l *logger) Errorf(format string, args ...any) { l.write("error", format, args) }

func (l *logger) Debugf(format string, args ...any) {
	if l.debug {
		l.write("debug", format, args)
	}
}
