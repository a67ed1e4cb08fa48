package libruntime

import (
	"slices"

	"github.com/husk-runtime/husk/internal/mountfd"
)

// A container without a mount namespace shares the host's: the mounts
// its config asks for are made there. husk records which mounts it made
// (by mount ID: those below the rootfs that were not there before) and
// delete removes exactly those, never a mount of the user's. The
// container can rename and replace anything in its rootfs by then, so
// they are unmounted by ID, through descriptors (package mountfd).

// findHostMounts sets State.HostMounts to the mounts made since create
// began.
func (c *Container) findHostMounts() error {
	now, err := mountfd.Under(c.state.Rootfs)
	if err != nil {
		return err
	}
	c.state.HostMounts = nil
	for id := range now {
		if !c.hostMountsBefore[id] {
			c.state.HostMounts = append(c.state.HostMounts, id)
		}
	}
	slices.Sort(c.state.HostMounts)
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
		c.hostMountsBefore = make(map[int]bool, len(c.state.HostMountsBefore))
		for _, id := range c.state.HostMountsBefore {
			c.hostMountsBefore[id] = true
		}
		if err := c.findHostMounts(); err != nil {
			return err
		}
	}
	return c.unmountHostMounts()
}

// unmountHostMounts removes the recorded mounts (see mountfd).
func (c *Container) unmountHostMounts() error {
	if len(c.state.HostMounts) == 0 {
		return nil
	}
	want := make(map[int]bool, len(c.state.HostMounts))
	for _, id := range c.state.HostMounts {
		want[id] = true
	}
	return mountfd.UnmountUnder(c.state.Rootfs, func(id int) bool { return want[id] })
}
