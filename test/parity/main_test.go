package parity

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/husk-runtime/husk/internal/testbundle"
)

var (
	huskBin = flag.String("husk", "", "path of the husk binary under test")
	runcBin = flag.String("runc", "", "path of the reference runc (1.5.3)")
	keep    = flag.Bool("keep", false, "keep the work directory (bundles, logs) for inspection")
	results = flag.String("results", "", "directory for summary.txt and report.md (default: none)")
)

// env is what every case shares: the work directory and the probe binary.
type env struct {
	work  string // holds one directory per case
	probe string // the static probe, copied into each rootfs as /bin/probe
	err   error
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
	e.probe = filepath.Join(work, "probe")
	build := exec.Command("go", "build", "-trimpath", "-o", e.probe, "./testdata/probe")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("building the probe: %v\n%s", err, out)
	}
	return nil
}
