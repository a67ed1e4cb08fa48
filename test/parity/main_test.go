package parity

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/husk-runtime/husk/internal/testbundle"
)

var (
	huskBin   = flag.String("husk", "", "path of the husk binary under test")
	runcBin   = flag.String("runc", "", "path of the reference runc (1.5.3)")
	keep      = flag.Bool("keep", false, "keep the work directory (bundles, logs) for inspection")
	results   = flag.String("results", "", "directory for summary.txt and report.md (default: none)")
	timeScale = flag.Float64("time-scale", 1, "multiplies the harness's time limits (30s per command, 20s before a case "+
		"counts as slow) and its short waits: for an emulated machine (TCG), where everything takes longer")
	show    = flag.Bool("show", false, "log what each case showed under runc, also where husk showed the same")
	probeIn = flag.String("probe", "", "a built testdata/probe (default: build it with go, which a machine without a Go toolchain cannot)")
)

// env is what every case shares: the work directory and the probe binary.
type env struct {
	work string // holds one directory per case
	// workInFS is work as mountinfo shows the root of a bind from it: its
	// path below the root of its filesystem (/parity-1 when /tmp is a
	// tmpfs of its own, as in the cgroup v2 VM; work itself otherwise).
	workInFS string
	probe    string // the static probe, copied into each rootfs as /bin/probe
	err      error
}

var (
	theEnv  env
	envOnce sync.Once
)

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if theEnv.work != "" && !*keep {
		os.RemoveAll(theEnv.work)
	}
	os.Exit(code)
}

// setup checks the machine and builds the probe once; the unit tests of
// this package never call it, so they run without root.
func setup(t *testing.T) *env {
	t.Helper()
	if *huskBin == "" || *runcBin == "" {
		t.Skip("parity cases need -husk and -runc (make parity passes them)")
	}
	envOnce.Do(func() { theEnv.err = prepare(&theEnv) })
	if theEnv.err != nil {
		t.Fatal(theEnv.err)
	}
	return &theEnv
}

func prepare(e *env) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("the parity cases create real containers and must run as root")
	}
	for _, b := range []*string{huskBin, runcBin} {
		abs, err := filepath.Abs(*b)
		if err != nil {
			return fmt.Errorf("runtime %s: %w", *b, err)
		}
		if _, err := os.Stat(abs); err != nil {
			return fmt.Errorf("runtime binary: %w", err)
		}
		*b = abs
	}
	if _, err := testbundle.Busybox(); err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "parity-")
	if err != nil {
		return fmt.Errorf("work directory: %w", err)
	}
	// Containers with user namespaces must reach their rootfs.
	if err := os.Chmod(work, 0o755); err != nil {
		return fmt.Errorf("work directory: %w", err)
	}
	e.work = work
	e.workInFS = pathInFS(work)
	e.probe = filepath.Join(work, "probe")
	if *probeIn != "" {
		data, err := os.ReadFile(*probeIn)
		if err != nil {
			return fmt.Errorf("probe: %w", err)
		}
		return os.WriteFile(e.probe, data, 0o755)
	}
	build := exec.Command("go", "build", "-trimpath", "-o", e.probe, "./testdata/probe")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("building the probe: %v\n%s", err, out)
	}
	return nil
}

// pathInFS is dir's path below the root of the filesystem holding it, as
// the root field of mountinfo shows a bind of it: dir less the mount point
// of the mount holding it, under that mount's own root.
func pathInFS(dir string) string {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return dir
	}
	best, root := "", ""
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) < 5 {
			continue
		}
		mnt := f[4]
		if (dir == mnt || strings.HasPrefix(dir, strings.TrimSuffix(mnt, "/")+"/")) && len(mnt) >= len(best) {
			best, root = mnt, f[3]
		}
	}
	if best == "" {
		return dir
	}
	rel, err := filepath.Rel(best, dir)
	if err != nil {
		return dir
	}
	return filepath.Join(root, rel)
}

// scaled is d times -time-scale.
func scaled(d time.Duration) time.Duration { return time.Duration(float64(d) * *timeScale) }
