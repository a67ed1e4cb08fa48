package parity

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// runtimeUnderTest names a binary: the reference or husk.
type runtimeUnderTest struct {
	name string // "runc" or "husk"
	tag  string // in IDs and cgroup names: "r" or "h"
	bin  string
}

// runCase runs c under rt and returns what it showed. An error is a
// failure of the harness (a bundle it could not write), not of a runtime.
func runCase(e *env, c *Case, index int, rt runtimeUnderTest) (*Observation, error) {
	b, err := newBundle(e.work, index, rt.tag)
	if err != nil {
		return nil, err
	}
	if err := b.installProbe(e.probe); err != nil {
		return nil, fmt.Errorf("probe: %w", err)
	}
	s := baseSpec()
	if c.Script != "" {
		s.Process.Args = []string{"sh", "-c", c.Script}
	}
	if c.Spec != nil {
		c.Spec(s)
	}
	if err := b.WriteSpec(s); err != nil {
		return nil, err
	}
	if c.Files != nil {
		if err := c.Files(b); err != nil {
			return nil, fmt.Errorf("files: %w", err)
		}
	}
	x := &Exec{Bin: rt.bin, B: b, Norm: b.normaliser(rt.bin), Obs: &Observation{}}
	start := time.Now()
	for _, st := range c.steps() {
		st.Do(x)
	}
	x.cleanup()
	// Recorded without the duration: two runtimes that both hang are
	// alike, whichever took a second longer to time out.
	if d := time.Since(start); d > scaled(slowCase) {
		x.Obs.Add("harness.slow", "case took over "+scaled(slowCase).String())
	}
	return x.Obs, nil
}

// slowCase is how long a case may take (times -time-scale) before it is
// recorded as slow: a hang each command's timeout ended.
const slowCase = 20 * time.Second

// cleanup force-deletes the case's containers and records cgroups left
// behind after that (which it then removes).
func (x *Exec) cleanup() {
	for _, id := range []string{x.B.ID, x.B.ID2} {
		if x.status(id) != "" {
			x.quiet("delete", "--force", id)
		}
	}
	// A state root a case pointed elsewhere, or containers under IDs of
	// its own, are gone with delete --force of whatever list shows.
	for _, id := range strings.Fields(x.quiet("list", "-q")) {
		x.quiet("delete", "--force", id)
	}
	if left := leftoverCgroups(x.B); left != "" {
		x.Obs.Add("leftover.cgroups", left)
	}
	if left := leftoverMounts(x.B.Dir); left != "" {
		x.Obs.Add("leftover.mounts", left)
	}
}

// leftoverMounts lists (and unmounts) host mounts below the runtime's
// directory: a runtime must not leave any after delete.
func leftoverMounts(dir string) string {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	var left []string
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			rel, _ := filepath.Rel(dir, f[4])
			left = append(left, rel)
		}
	}
	for i := len(left) - 1; i >= 0; i-- {
		exec.Command("umount", "-l", filepath.Join(dir, left[i])).Run()
	}
	return strings.Join(left, " ")
}

// removeCaseDir removes a finished case's directory (bundles, rootfs
// copies, logs), so a run holds one directory per running case rather
// than per case: a VM's tmpfs holds a few, not all 776. A directory with
// a mount still below it is left alone: removing it would reach into
// whatever is mounted there.
func removeCaseDir(e *env, index int) {
	dir := filepath.Join(e.work, fmt.Sprintf("c%d", index))
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			return
		}
	}
	os.RemoveAll(dir)
}
