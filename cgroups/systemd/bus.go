// Package systemd is husk's systemd cgroup driver: a container goes into a
// transient unit (a scope with Delegate=yes, its init as the scope's
// process) that husk asks systemd for over D-Bus, with the resources
// systemd has properties for; the rest is written through the cgroupfs by
// package cgroups, which also serves everything else (pause, stats, ps,
// kill --all, OOM counts) from the unit's directories.
//
// The package itself does not talk D-Bus: it sees systemd through Bus.
// The D-Bus libraries are linked only where they are used (package
// sdbus, in husk-systemd and the shim daemon), so the husk binary's
// cgroupfs path does not pay for their initialisation.
package systemd

import "errors"

// Bus is the part of systemd's manager API the driver uses. Methods that
// start or stop a unit wait for systemd's job to finish.
type Bus interface {
	// Version is systemd's version number (252 for "252.38-1~deb12u1").
	Version() int
	// StartTransientUnit creates and starts a unit; an existing unit of
	// that name is ErrUnitExists.
	StartTransientUnit(name string, props []Property) error
	// SetUnitProperties changes a running unit (runtime only).
	SetUnitProperties(name string, props []Property) error
	// StopUnit stops a unit; a unit systemd does not know is no error.
	StopUnit(name string) error
	// ResetFailedUnit lets systemd forget a failed unit; a unit it does
	// not know is no error.
	ResetFailedUnit(name string) error
	// Close ends this use of the bus.
	Close() error
}

// Connector opens the bus; it fails with an error that says what was
// tried when no systemd answers.
type Connector func() (Bus, error)

// ErrUnitExists is StartTransientUnit's error for a unit that exists.
var ErrUnitExists = errors.New("unit already exists")
