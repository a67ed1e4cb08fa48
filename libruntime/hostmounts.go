package libruntime

import (
	"errors"
	"fmt"
	"sort"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// A container without a mount namespace shares the host's: the mounts
// its config asks for are made there. husk records which mounts it made
// (those below the rootfs that were not there before) and delete removes
// exactly those, never a mount of the user's.

func mountsUnder(rootfs string) (map[string]bool, error) {
	mounts, err := mountinfo.GetMounts(mountinfo.PrefixFilter(rootfs))
	if err != nil {
		return nil, fmt.Errorf("list mounts under %s: %w", rootfs, err)
	}
	out := make(map[string]bool, len(mounts))
	for _, m := range mounts {
		out[m.Mountpoint] = true
	}
	return out, nil
}

// findHostMounts sets State.HostMounts to the mounts made since create
// began, deepest first.
func (c *Container) findHostMounts() error {
	now, err := mountsUnder(c.state.Rootfs)
	if err != nil {
		return err
	}
	c.state.HostMounts = nil
	for m := range now {
		if !c.hostMountsBefore[m] {
			c.state.HostMounts = append(c.state.HostMounts, m)
		}
	}
	sort.Slice(c.state.HostMounts, func(i, j int) bool {
		return len(c.state.HostMounts[i]) > len(c.state.HostMounts[j])
	})
	return nil
}

// recordHostMounts stores the mounts create made in the state.
func (c *Container) recordHostMounts() error {
	if err := c.findHostMounts(); err != nil {
		return err
	}
	c.state.HostMountsBefore = nil
	return writeState(c.dir, c.state)
}

// removeHostMounts unmounts what the container made in the host's mount
// namespace; for a create that was killed before it recorded them, they
// are found by comparing with the mounts recorded before it began.
func (c *Container) removeHostMounts() error {
	if c.state.HostMounts == nil && c.state.HostMountsBefore != nil {
		c.hostMountsBefore = make(map[string]bool, len(c.state.HostMountsBefore))
		for _, m := range c.state.HostMountsBefore {
			c.hostMountsBefore[m] = true
		}
		if err := c.findHostMounts(); err != nil {
			return err
		}
	}
	return c.unmountHostMounts()
}

// unmountHostMounts removes the recorded mounts, deepest first.
func (c *Container) unmountHostMounts() error {
	for _, m := range c.state.HostMounts {
		// Stacked mounts on one mount point: unmount until none is left.
		for {
			err := unix.Unmount(m, unix.MNT_DETACH)
			if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
				break
			}
			if err != nil {
				return fmt.Errorf("unmount %s: %w", m, err)
			}
		}
	}
	return nil
}
