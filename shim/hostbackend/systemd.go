package hostbackend

import (
	"context"
	"sync"

	"github.com/husk-runtime/husk/cgroups/systemd"
	"github.com/husk-runtime/husk/cgroups/systemd/sdbus"
)

// systemdConn is the shim's one connection to systemd, for the containers
// created with SystemdCgroup: made at the first use, shared by every
// container of the shim, and made again if systemd went away (a restart
// or daemon-reexec closes it).
type systemdConn struct {
	mu  sync.Mutex
	bus *sdbus.Bus
}

func (s *systemdConn) connect() (systemd.Bus, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bus != nil && !s.bus.Connected() {
		s.bus.Close()
		s.bus = nil
	}
	if s.bus == nil {
		b, err := sdbus.Connect(context.Background())
		if err != nil {
			return nil, err
		}
		s.bus = b
	}
	return sharedBus{s.bus}, nil
}

// sharedBus is the shared connection as one operation sees it: closing it
// ends the operation, not the connection.
type sharedBus struct{ *sdbus.Bus }

func (sharedBus) Close() error { return nil }
