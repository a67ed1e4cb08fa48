package shim

import (
	"sync"

	"github.com/husk-runtime/husk/libruntime"
)

// container is one task: its libruntime container, its init and its
// exec'd processes.
type container struct {
	id     string
	bundle string
	// rootfs is where the shim mounted the snapshot ("" if containerd
	// gave no mounts).
	rootfs string
	init   *process
	// pidns: the container has a pid namespace of its own, so the kernel
	// kills its other processes with the init; otherwise the shim does.
	pidns bool

	// lmu serialises the calls into libruntime: a Container handle is
	// not safe for concurrent use.
	lmu sync.Mutex
	lc  *libruntime.Container

	mu    sync.Mutex
	execs map[string]*process
	// runningExecs counts started execs not reaped yet; an init exit
	// waits in initExit until they are, as containerd wants it last.
	runningExecs int
	initExit     *exit
	oom          *oomWatch
}

// status is the init's status as containerd names it.
func (c *container) status() libruntime.Status {
	if c.init.hasExited() {
		return libruntime.Stopped
	}
	c.lmu.Lock()
	defer c.lmu.Unlock()
	return c.lc.Status()
}

func (c *container) exec(id string) *process {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.execs[id]
}

func (c *container) execByPid(pid int) *process {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.execs {
		if ppid, _, _, _ := p.state(); ppid == pid {
			return p
		}
	}
	return nil
}
