package libruntime

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// Delete removes a container: its processes (a running one only with
// force), its cgroup and its state; then it runs the poststop hooks, up
// to the first that fails (a *HookError). A created container is deleted
// without force, as runc does.
func (c *Container) Delete(ctx context.Context, force bool) error {
	tr := c.rt.tracer.begin("delete")
	defer tr.end()
	d, err := c.lock()
	if err != nil {
		return err
	}
	defer d.unlock()
	status := c.Status()
	if (status == Running || status == Paused) && !force {
		return fmt.Errorf("cannot delete container %s that is %s (stop it first, or use --force): %w",
			c.id, status, ErrRunning)
	}
	if status == Paused {
		// A frozen process acts on SIGKILL only once thawed (the v1
		// freezer): kill everything while frozen, then thaw, as runc does.
		if err := c.killFrozen(); err != nil {
			return fmt.Errorf("delete %s: %w", c.id, err)
		}
	}
	if status != Stopped {
		if err := c.killInit(unix.SIGKILL, true); err != nil && !errors.Is(err, ErrNotRunning) {
			return fmt.Errorf("delete %s: %w", c.id, err)
		}
	}
	tr.phase("kill")
	if len(c.state.Cgroup.Paths) > 0 {
		cg, err := c.cgroup()
		if err != nil {
			return fmt.Errorf("delete %s: %w", c.id, err)
		}
		// Without a pid namespace of its own, processes of the container
		// can outlive its init; with one, the kernel killed them all.
		if !c.state.PidNS || status == Paused {
			if err := cg.KillAll(); err != nil {
				c.rt.log.Warnf("delete %s: kill remaining processes: %v", c.id, err)
			}
		}
		if err := cg.Destroy(); err != nil {
			return fmt.Errorf("delete %s: %w", c.id, err)
		}
	}
	tr.phase("cgroups")
	if err := c.removeHostMounts(); err != nil {
		return fmt.Errorf("delete %s: %w", c.id, err)
	}
	if err := removeDir(c.dir); err != nil {
		return fmt.Errorf("delete %s: %w", c.id, err)
	}
	err = c.runPoststop(ctx, c.state.Hooks)
	tr.phase("poststop")
	return err
}

// killFrozen sends SIGKILL to every process of a paused container, then
// thaws it so that they die.
func (c *Container) killFrozen() error {
	cg, err := c.cgroup()
	if err != nil {
		return err
	}
	kerr := cg.KillAll()
	if err := cg.Thaw(); err != nil {
		return fmt.Errorf("thaw: %w", err)
	}
	return kerr
}
