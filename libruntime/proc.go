package libruntime

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// procStat is what husk reads from /proc/<pid>/stat.
type procStat struct {
	state     byte
	startTime uint64 // clock ticks after boot
}

// parseStat parses /proc/<pid>/stat. The command name is in parentheses
// and may itself contain spaces and parentheses: fields start after the
// last ')'.
func parseStat(data []byte) (procStat, error) {
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return procStat{}, errors.New("malformed stat")
	}
	fields := strings.Fields(string(data[i+1:]))
	// fields[0] is field 3 (state); starttime is field 22.
	if len(fields) < 20 {
		return procStat{}, errors.New("malformed stat")
	}
	start, err := strconv.ParseUint(fields[19], 10, 64)
	if err != nil {
		return procStat{}, fmt.Errorf("malformed stat: %w", err)
	}
	return procStat{state: fields[0][0], startTime: start}, nil
}

func readStat(pid int) (procStat, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	return parseStat(data)
}

// startTime returns the start time of pid, 0 if it is gone.
func startTime(pid int) uint64 {
	st, err := readStat(pid)
	if err != nil {
		return 0
	}
	return st.startTime
}

// alive tells whether pid is still the process that started at start and
// has not exited. A zombie has exited: its parent just has not reaped it.
func alive(pid int, start uint64) bool {
	if pid <= 0 {
		return false
	}
	st, err := readStat(pid)
	if err != nil {
		return false
	}
	return st.startTime == start && st.state != 'Z' && st.state != 'X'
}

// pidfdOf opens a pidfd for pid and checks it is still the process that
// started at start; signals through it can never reach a recycled pid.
func pidfdOf(pid int, start uint64) (int, error) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return -1, ErrNotRunning
		}
		return -1, fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	// Checked after opening: from here on the pidfd pins this process.
	if !alive(pid, start) {
		unix.Close(fd)
		return -1, ErrNotRunning
	}
	return fd, nil
}

// waitExit waits until the process behind pidfd has exited.
func waitExit(pidfd int, timeoutMs int) bool {
	fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, timeoutMs)
		if err == unix.EINTR {
			continue
		}
		return err == nil && n > 0
	}
}

// writeProcFile writes value to /proc/<pid>/<name> of a process husk
// started and has not reaped. A pidfd taken first and checked after the
// open proves the file belongs to that process and not to a later one
// given its pid. what names the config field in errors.
func writeProcFile(pid int, name, value, what string) error {
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return fmt.Errorf("%s: container init (pid %d): %w", what, pid, err)
	}
	defer unix.Close(pidfd)
	path := "/proc/" + strconv.Itoa(pid) + "/" + name
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer f.Close()
	if waitExit(pidfd, 0) {
		return fmt.Errorf("%s: container init (pid %d) exited", what, pid)
	}
	if _, err := f.WriteString(value); err != nil {
		return fmt.Errorf("%s: write %s: %w", what, path, err)
	}
	return nil
}

// nsPid returns pid as its own (innermost) pid namespace numbers it: the
// last field of NSpid in /proc/<pid>/status.
func nsPid(pid int) (int, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "NSpid:"); ok {
			f := strings.Fields(rest)
			if len(f) == 0 {
				break
			}
			return strconv.Atoi(f[len(f)-1])
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no NSpid", pid)
}
