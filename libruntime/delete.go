package libruntime

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// Delete removes a container: its processes (a running one only with
// force), its cgroup and its state; then it runs the poststop hooks.
// A created container is deleted without force, as runc does.
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
	if h := c.state.Hooks; h != nil {
		c.rt.runHooksWarn(ctx, "poststop", h.Poststop, c.hookState(Stopped))
	}
	tr.phase("poststop")
	return nil
}
