package cgroups

// SharesToWeight converts linux.resources.cpu.shares to the cgroup v2
// cpu.weight this package writes (the systemd driver's CPUWeight).
func SharesToWeight(shares uint64) uint64 { return sharesToWeight(shares) }

// BlkioToIOWeight converts a blkio weight to the cgroup v2 io.weight this
// package writes (the systemd driver's IOWeight).
func BlkioToIOWeight(w uint16) uint64 { return blkioToIOWeight(w) }
