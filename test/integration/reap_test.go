package integration

import (
	"os/exec"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Children of ours that exec.Cmd will wait for; the orphan reaper leaves
// them alone.
var owned = struct {
	sync.Mutex
	pids map[int]bool
}{pids: map[int]bool{}}

// startOwned starts cmd and registers its pid until waitOwned.
func startOwned(cmd *exec.Cmd) error {
	owned.Lock()
	defer owned.Unlock()
	if err := cmd.Start(); err != nil {
		return err
	}
	owned.pids[cmd.Process.Pid] = true
	return nil
}

func waitOwned(cmd *exec.Cmd) error {
	err := cmd.Wait()
	owned.Lock()
	delete(owned.pids, cmd.Process.Pid)
	owned.Unlock()
	return err
}

// reapOnce reaps exited children nobody waits for: container inits that
// were re-parented to us after `husk create` exited.
func reapOnce() {
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_ALL, 0, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
		pid := int(siginfoPid(&info))
		if err != nil || pid == 0 {
			return
		}
		owned.Lock()
		mine := owned.pids[pid]
		owned.Unlock()
		if mine {
			return
		}
		var ws unix.WaitStatus
		unix.Wait4(pid, &ws, unix.WNOHANG, nil)
	}
}

// siginfoPid reads si_pid, which x/sys/unix keeps in the opaque part of
// Siginfo: for SIGCHLD it is the first field of the union, after three
// int32s and padding to 8 bytes.
func siginfoPid(info *unix.Siginfo) int32 {
	return *(*int32)(unsafe.Pointer(uintptr(unsafe.Pointer(info)) + 16))
}
