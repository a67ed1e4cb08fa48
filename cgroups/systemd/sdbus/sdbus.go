// Package sdbus is the systemd.Bus of husk's systemd cgroup driver on
// systemd's real D-Bus API, through go-systemd and godbus. It is linked
// into husk-systemd (the husk CLI's helper) and the shim daemon, never
// into the husk binary itself.
package sdbus

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	sd "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"

	"github.com/husk-runtime/husk/cgroups/systemd"
)

// privateSocket is systemd's own bus socket, which needs no dbus-daemon
// (root only); systemctl talks to it too.
const privateSocket = "/run/systemd/private"

// jobTimeout bounds the wait for systemd's start and stop jobs, as runc.
const jobTimeout = 30 * time.Second

// Bus is a connection to systemd.
type Bus struct {
	conn    *sd.Conn
	version int
}

// Connect reaches systemd on its private socket, else on the system bus,
// and reads its version. The error names both ways tried.
func Connect(ctx context.Context) (*Bus, error) {
	conn, perr := sd.NewSystemdConnectionContext(ctx)
	if perr != nil {
		var serr error
		if conn, serr = sd.NewSystemConnectionContext(ctx); serr != nil {
			return nil, fmt.Errorf("no systemd answers on D-Bus: tried systemd's socket unix:path=%s (%v) and the system bus %s (%v); is systemd the init system (/run/systemd/system)?",
				privateSocket, perr, systemBusAddress(), serr)
		}
	}
	b := &Bus{conn: conn}
	v, err := conn.GetManagerProperty("Version")
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("systemd's version: %w", err)
	}
	if b.version, err = parseVersion(v); err != nil {
		conn.Close()
		return nil, err
	}
	return b, nil
}

func systemBusAddress() string {
	if a := os.Getenv("DBUS_SYSTEM_BUS_ADDRESS"); a != "" {
		return a
	}
	return "unix:path=/var/run/dbus/system_bus_socket"
}

// parseVersion reads the number from the Version property, a GVariant
// string such as "\"252.38-1~deb12u1\"" or "\"v245.4-1.fc32\"".
func parseVersion(s string) (int, error) {
	t := strings.TrimLeft(s, "\"v")
	end := strings.IndexFunc(t, func(r rune) bool { return r < '0' || r > '9' })
	if end >= 0 {
		t = t[:end]
	}
	v, err := strconv.Atoi(t)
	if err != nil {
		return 0, fmt.Errorf("systemd's version %q: not a number", s)
	}
	return v, nil
}

// Version is systemd's version number.
func (b *Bus) Version() int { return b.version }

// StartTransientUnit starts the unit and waits for its job.
func (b *Bus) StartTransientUnit(name string, props []systemd.Property) error {
	dp, err := toDBus(props)
	if err != nil {
		return err
	}
	ch := make(chan string, 1)
	ctx, cancel := context.WithTimeout(context.Background(), jobTimeout)
	defer cancel()
	if _, err := b.conn.StartTransientUnitContext(ctx, name, "replace", dp, ch); err != nil {
		if isDBusError(err, "org.freedesktop.systemd1.UnitExists") {
			return fmt.Errorf("%w: %v", systemd.ErrUnitExists, err)
		}
		return err
	}
	return waitJob(ctx, ch, "start")
}

// SetUnitProperties changes the properties of a running unit until it
// stops (runtime=true: nothing is written under /etc).
func (b *Bus) SetUnitProperties(name string, props []systemd.Property) error {
	dp, err := toDBus(props)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), jobTimeout)
	defer cancel()
	return b.conn.SetUnitPropertiesContext(ctx, name, true, dp...)
}

// StopUnit stops the unit and waits for its job.
func (b *Bus) StopUnit(name string) error {
	ch := make(chan string, 1)
	ctx, cancel := context.WithTimeout(context.Background(), jobTimeout)
	defer cancel()
	if _, err := b.conn.StopUnitContext(ctx, name, "replace", ch); err != nil {
		if isDBusError(err, "org.freedesktop.systemd1.NoSuchUnit") {
			return nil
		}
		return err
	}
	return waitJob(ctx, ch, "stop")
}

// ResetFailedUnit lets systemd forget a failed unit.
func (b *Bus) ResetFailedUnit(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), jobTimeout)
	defer cancel()
	err := b.conn.ResetFailedUnitContext(ctx, name)
	if isDBusError(err, "org.freedesktop.systemd1.NoSuchUnit") {
		return nil
	}
	return err
}

// Connected reports whether the connection still stands.
func (b *Bus) Connected() bool { return b.conn.Connected() }

// Close closes the connection.
func (b *Bus) Close() error {
	b.conn.Close()
	return nil
}

// waitJob waits for the result go-systemd delivers when systemd removes
// the job: "done", or "canceled", "timeout", "failed", "dependency",
// "skipped".
func waitJob(ctx context.Context, ch <-chan string, what string) error {
	select {
	case res := <-ch:
		if res != "done" {
			return fmt.Errorf("systemd's %s job ended %q", what, res)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("systemd's %s job did not finish within %v", what, jobTimeout)
	}
}

func isDBusError(err error, name string) bool {
	var de dbus.Error
	return errors.As(err, &de) && de.Name == name
}

func toDBus(props []systemd.Property) ([]sd.Property, error) {
	out := make([]sd.Property, 0, len(props))
	for _, p := range props {
		if _, err := p.Signature(); err != nil {
			return nil, err
		}
		out = append(out, sd.Property{Name: p.Name, Value: dbus.MakeVariant(p.Value)})
	}
	return out, nil
}
