package cgroups

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// freezeTimeout bounds the wait for a cgroup to reach FROZEN; tasks in
// uninterruptible sleep (e.g. on a dead NFS server) can block it forever.
const freezeTimeout = 5 * time.Second

// freezerDir returns where to freeze: the v1 freezer hierarchy if mounted,
// else cgroup2, whose cgroup.freeze needs no controller.
func (m *Manager) freezerDir() (dir string, isV2 bool, err error) {
	if d, ok := m.paths["freezer"]; ok {
		return d, false, nil
	}
	if d := m.unifiedDir(); d != "" {
		return d, true, nil
	}
	return "", false, errors.New("freezer: no v1 freezer hierarchy and no cgroup2 mounted")
}

// Freeze stops every process of the container and returns once the kernel
// reports the cgroup frozen.
func (m *Manager) Freeze() error {
	dir, isV2, err := m.freezerDir()
	if err != nil {
		return err
	}
	if isV2 {
		return m.setFrozenV2(dir, true)
	}
	return m.freezeV1(dir)
}

// Thaw resumes the container's processes.
func (m *Manager) Thaw() error {
	dir, isV2, err := m.freezerDir()
	if err != nil {
		return err
	}
	if isV2 {
		return m.setFrozenV2(dir, false)
	}
	return m.fs.writeFile(dir, "freezer.state", "THAWED")
}

// Frozen reports whether the container is (completely) frozen.
func (m *Manager) Frozen() (bool, error) {
	dir, isV2, err := m.freezerDir()
	if err != nil {
		return false, err
	}
	if isV2 {
		ev, err := readKeyValues(m.fs, dir, "cgroup.events")
		if err != nil {
			return false, err
		}
		return ev["frozen"] == 1, nil
	}
	s, err := m.fs.readFile(dir, "freezer.state")
	if err != nil {
		return false, err
	}
	return strings.TrimSpace(s) == "FROZEN", nil
}

// freezeV1 writes FROZEN and polls freezer.state until the kernel leaves
// FREEZING. Writing FROZEN again while FREEZING retries tasks that were
// busy (e.g. in vfork) when the first attempt passed them.
func (m *Manager) freezeV1(dir string) error {
	deadline := time.Now().Add(freezeTimeout)
	delay := 100 * time.Microsecond
	for i := 0; ; i++ {
		if i%10 == 0 {
			if err := m.fs.writeFile(dir, "freezer.state", "FROZEN"); err != nil {
				return err
			}
		}
		s, err := m.fs.readFile(dir, "freezer.state")
		if err != nil {
			return err
		}
		if st := strings.TrimSpace(s); st == "FROZEN" {
			return nil
		} else if st != "FREEZING" {
			return fmt.Errorf("freeze: %s/freezer.state is %q", dir, st)
		}
		if time.Now().After(deadline) {
			// Do not leave the container half frozen.
			_ = m.fs.writeFile(dir, "freezer.state", "THAWED")
			return fmt.Errorf("freeze: %s/freezer.state still FREEZING after %v", dir, freezeTimeout)
		}
		time.Sleep(delay)
		delay = min(2*delay, 10*time.Millisecond)
	}
}

// setFrozenV2 writes cgroup.freeze and waits for cgroup.events to report
// the new state ("frozen 1" only once every task has stopped).
func (m *Manager) setFrozenV2(dir string, freeze bool) error {
	if err := m.fs.writeFile(dir, "cgroup.freeze", boolStr(freeze)); err != nil {
		return err
	}
	want := uint64(0)
	if freeze {
		want = 1
	}
	deadline := time.Now().Add(freezeTimeout)
	delay := 100 * time.Microsecond
	for {
		ev, err := readKeyValues(m.fs, dir, "cgroup.events")
		if err != nil {
			return err
		}
		if ev["frozen"] == want {
			return nil
		}
		if time.Now().After(deadline) {
			if freeze {
				_ = m.fs.writeFile(dir, "cgroup.freeze", "0")
			}
			return fmt.Errorf("%s/cgroup.events: frozen did not become %d within %v", dir, want, freezeTimeout)
		}
		time.Sleep(delay)
		delay = min(2*delay, 10*time.Millisecond)
	}
}

// KillAll sends SIGKILL to every process of the container. cgroup.kill
// (cgroup2, kernel 5.14+) does it atomically, also on hybrid hosts where
// the container joined the cgroup2 hierarchy too; otherwise it is Signal.
func (m *Manager) KillAll() error {
	if d := m.unifiedDir(); d != "" {
		err := m.fs.writeFile(d, "cgroup.kill", "1")
		if err == nil {
			return nil
		}
		if !isNotExist(err) {
			return fmt.Errorf("kill all: %w", err)
		}
	}
	if _, err := m.Signal(unix.SIGKILL); err != nil {
		return fmt.Errorf("kill all: %w", err)
	}
	return nil
}

// Signal sends sig to every process of the container and returns how many
// it reached. The cgroup is frozen meanwhile (as runc does), so nothing
// forks between listing and signalling, and no listed process exits and
// leaves its pid to another; it is thawed after, unless it was frozen
// before (a paused container stays paused). Each process is signalled
// through a pidfd opened before a second listing confirms it is still in
// the container: without a freezer too, a recycled pid is never hit.
func (m *Manager) Signal(sig unix.Signal) (int, error) {
	dir, _, noFreezer := m.freezerDir()
	canFreeze := noFreezer == nil
	if canFreeze && !m.fs.exists(dir) {
		return 0, nil // the cgroup was never made (or is gone): nobody to signal
	}
	if canFreeze {
		if was, err := m.Frozen(); err == nil && was {
			canFreeze = false
		} else if err := m.Freeze(); err != nil {
			return 0, err
		}
	}
	n, err := m.signalListed(sig)
	if canFreeze {
		// Thaw even after an error: frozen tasks cannot act on signals.
		if terr := m.Thaw(); terr != nil && err == nil {
			err = terr
		}
	}
	return n, err
}

func (m *Manager) signalListed(sig unix.Signal) (int, error) {
	pids, err := m.Pids()
	if err != nil {
		return 0, err
	}
	fds := make(map[int]int, len(pids))
	defer func() {
		for _, fd := range fds {
			m.fs.closeFd(fd)
		}
	}()
	for _, pid := range pids {
		fd, err := m.fs.pidfd(pid)
		if err != nil {
			if errors.Is(err, unix.ESRCH) {
				continue // gone already
			}
			return 0, fmt.Errorf("pidfd of %d: %w", pid, err)
		}
		fds[pid] = fd
	}
	// A pid still listed now whose pidfd's process is alive (the signal
	// below fails otherwise) was that process all along.
	still, err := m.Pids()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, pid := range still {
		fd, ok := fds[pid]
		if !ok {
			continue
		}
		if err := m.fs.pidfdSignal(fd, sig); err != nil {
			if errors.Is(err, unix.ESRCH) {
				continue
			}
			return n, fmt.Errorf("signal %d: %w", pid, err)
		}
		n++
	}
	return n, nil
}
