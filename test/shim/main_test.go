// Package shimtest runs containerd-shim-husk-v2 under real clients:
// containerd 1.6 (Debian's) and 2.4 through ctr, dockerd 20.10, and
// containerd's CRI plugin through a CRI client. Every daemon is private to
// the test (its own root, state and sockets under /tmp and /run) and is
// stopped and cleaned up at the end.
package shimtest

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

var (
	shimFlag = flag.String("shim", "", "containerd-shim-husk-v2 binary under test, with containerd-shim-husk-v2-daemon next to it (default: both built from ./cmd)")
	ctrd24   = flag.String("containerd24", "/var/cache/husk-test/containerd-2.4.2", "directory with containerd and ctr 2.4.2 (built with go install when missing)")
)

// Set up by TestMain.
var (
	shimBin   string // the shim under test (its front)
	shimVMBin string // the front under the VM class's name
	daemonBin string // the shim's daemon binary, which the front starts
	shimDir   string // a directory holding shimBin, for containerd's PATH
	imageTar  string // the test image
	workDir   string // everything the run creates in /tmp
)

func TestMain(m *testing.M) {
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Println("SKIP shim tests: they run containerd and containers and must run as root")
		os.Exit(0)
	}
	code, err := setup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "shim tests:", err)
		os.Exit(2)
	}
	if code == 0 {
		code = m.Run()
	}
	os.RemoveAll(workDir)
	os.Exit(code)
}

func setup() (int, error) {
	var err error
	workDir, err = os.MkdirTemp("", "husk-shimtest-")
	if err != nil {
		return 0, err
	}
	os.Chmod(workDir, 0o755)
	shimDir = filepath.Join(workDir, "bin")
	if err := os.MkdirAll(shimDir, 0o755); err != nil {
		return 0, err
	}
	shimBin = filepath.Join(shimDir, "containerd-shim-husk-v2")
	shimVMBin = filepath.Join(shimDir, "containerd-shim-huskvm-v2")
	if *shimFlag != "" {
		src, err := filepath.Abs(*shimFlag)
		if err != nil {
			return 0, err
		}
		// containerd finds the shim by name on its PATH: a directory of
		// its own keeps other binaries next to it out of the way. The
		// front finds its daemon next to the link's target.
		if err := os.Symlink(src, shimBin); err != nil {
			return 0, err
		}
		if err := os.Symlink(src, shimVMBin); err != nil {
			return 0, err
		}
		daemonBin = filepath.Join(filepath.Dir(src), "containerd-shim-husk-v2-daemon")
	} else {
		daemonBin = filepath.Join(shimDir, "containerd-shim-husk-v2-daemon")
		if err := buildShim(shimBin, daemonBin); err != nil {
			return 0, err
		}
		if err := os.Symlink(shimBin, shimVMBin); err != nil {
			return 0, err
		}
	}
	if daemonBin, err = filepath.EvalSymlinks(daemonBin); err != nil {
		return 0, fmt.Errorf("the shim's daemon binary: %w", err)
	}
	imageTar = filepath.Join(workDir, "image.tar")
	if err := buildImage(imageTar); err != nil {
		return 0, fmt.Errorf("build test image: %w", err)
	}
	return 0, nil
}

// repoRoot is the module root (this file is test/shim/main_test.go).
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

func goBinary() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

func buildShim(outs ...string) error {
	if _, err := os.Stat(filepath.Join(repoRoot(), "libruntime", "initproc", "husk-init.bin")); err != nil {
		return fmt.Errorf("libruntime/initproc/husk-init.bin is missing: run make build (or pass -shim)")
	}
	for _, out := range outs {
		cmd := exec.Command(goBinary(), "build", "-trimpath", "-o", out, "./cmd/"+filepath.Base(out))
		cmd.Dir = repoRoot()
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("build %s: %v\n%s", filepath.Base(out), err, b)
		}
	}
	return nil
}

// containerd24Binaries returns containerd and ctr 2.4.2, building them
// once (go install from the module proxy, about three minutes) into the
// cache directory. A lock keeps concurrent runs from building twice.
func containerd24Binaries(t *testing.T) (containerd, ctr string) {
	t.Helper()
	dir := *ctrd24
	containerd, ctr = filepath.Join(dir, "containerd"), filepath.Join(dir, "ctr")
	if fileExists(containerd) && fileExists(ctr) {
		return containerd, ctr
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	if fileExists(containerd) && fileExists(ctr) {
		return containerd, ctr
	}
	t.Logf("building containerd 2.4.2 into %s (once; about 3 minutes)", dir)
	cmd := exec.Command(goBinary(), "install",
		"github.com/containerd/containerd/v2/cmd/containerd@v2.4.2",
		"github.com/containerd/containerd/v2/cmd/ctr@v2.4.2")
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=-buildvcs=false")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("containerd 2.4.2 cannot be built here (needs the Go module proxy): %v\n%s", err, tail(string(out), 20))
	}
	return containerd, ctr
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
