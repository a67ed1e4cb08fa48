package shim

import (
	"sync"

	"github.com/husk-runtime/husk/shim/backend"
)

// container is one task: its backend container, its init and its exec'd
// processes.
type container struct {
	id     string
	bundle string
	// rootfs is where the shim mounted the snapshot ("" if containerd
	// gave no mounts).
	rootfs string
	init   *process
	// bc is the backend's container, set once Create has made it.
	bc backend.Container

	mu    sync.Mutex
	execs map[string]*process
	// runningExecs counts started execs that have not exited; an init
	// exit waits in initExit until they have, as containerd wants it
	// last.
	runningExecs int
	initExit     *exit
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
		if ppid, _, _ := p.state(); ppid == pid {
			return p
		}
	}
	return nil
}

func (c *container) execList() []*process {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := make([]*process, 0, len(c.execs))
	for _, p := range c.execs {
		l = append(l, p)
	}
	return l
}
