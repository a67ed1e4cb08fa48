// Package integration runs the husk binary as a user would: it builds
// busybox bundles, creates real containers as root, and checks what is
// visible inside and outside them.
package integration

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/internal/testbundle"
)

var (
	huskBin = flag.String("husk", "", "path of the husk binary under test")
	// Where no Go toolchain is (the cgroup v2 VM), the attackers in
	// testdata come prebuilt: DIR/<name> for testdata/<name>.
	testBins = flag.String("testbins", "", "directory of prebuilt static testdata programs (default: go build them)")
)

func TestMain(m *testing.M) {
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Println("SKIP integration tests: they create real containers and must run as root")
		os.Exit(0)
	}
	if *huskBin == "" {
		fmt.Fprintln(os.Stderr, "integration tests need -husk=/path/to/husk (make integration passes it)")
		os.Exit(2)
	}
	if _, err := testbundle.Busybox(); err != nil {
		fmt.Fprintln(os.Stderr, "integration tests:", err)
		os.Exit(2)
	}
	// Orphaned container inits are re-parented to us, as they are to
	// containerd's shim or conmon, so tests can check that no monitor
	// process stays between the caller and the init. Their zombies are
	// left for the end of the run: reaping them in the background would
	// race exec.Cmd for its own children.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintln(os.Stderr, "subreaper:", err)
		os.Exit(2)
	}
	os.Exit(m.Run())
}

// h is one test's husk: a private state root and helpers to run it.
type h struct {
	t     *testing.T
	root  string
	dir   string
	extra []string // global flags
}

func newH(t *testing.T) *h {
	t.Helper()
	dir := t.TempDir()
	// Containers with user namespaces must reach their rootfs: TempDir
	// makes 0700 directories.
	os.Chmod(dir, 0o755)
	hh := &h{t: t, root: filepath.Join(dir, "state"), dir: dir}
	t.Cleanup(hh.cleanup)
	return hh
}

// cleanup force-deletes whatever a failed test left.
func (hh *h) cleanup() {
	out, _ := exec.Command(*huskBin, "--root", hh.root, "list", "-q").Output()
	for _, id := range strings.Fields(string(out)) {
		exec.Command(*huskBin, "--root", hh.root, "delete", "--force", id).Run()
	}
}

type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
}

// husk runs the binary with the test's state root.
func (hh *h) husk(args ...string) result {
	hh.t.Helper()
	return hh.huskIn(nil, args...)
}

func (hh *h) huskIn(stdin []byte, args ...string) result {
	hh.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	full := append([]string{"--root", hh.root}, hh.extra...)
	cmd := exec.CommandContext(ctx, *huskBin, append(full, args...)...)
	// Files, not pipes: a created container keeps husk's stdout, and a
	// pipe would hold Wait until the container exits.
	outf, errf := hh.tempFile(), hh.tempFile()
	defer outf.Close()
	defer errf.Close()
	cmd.Stdout, cmd.Stderr = outf, errf
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	err := cmd.Run()
	r := result{stdout: readAll(outf), stderr: readAll(errf)}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		hh.t.Fatalf("husk %v: %v", args, err)
	}
	return r
}

func (hh *h) tempFile() *os.File {
	f, err := os.CreateTemp(hh.dir, "out")
	if err != nil {
		hh.t.Fatal(err)
	}
	os.Remove(f.Name())
	return f
}

func readAll(f *os.File) string {
	data, _ := os.ReadFile("/proc/self/fd/" + strconv.Itoa(int(f.Fd())))
	return string(data)
}

// must runs husk and fails the test unless it exits 0.
func (hh *h) must(args ...string) string {
	hh.t.Helper()
	r := hh.husk(args...)
	if r.code != 0 {
		hh.t.Fatalf("husk %s: %s", strings.Join(args, " "), r)
	}
	return r.stdout
}

// bundle writes a bundle running args, after edit changes the config.
func (hh *h) bundle(edit func(*rspec.Spec), args ...string) string {
	hh.t.Helper()
	dir, err := os.MkdirTemp(hh.dir, "bundle")
	if err != nil {
		hh.t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	s := testbundle.Config(args...)
	if edit != nil {
		edit(s)
	}
	if err := testbundle.Write(dir, s); err != nil {
		hh.t.Fatal(err)
	}
	return dir
}

// run runs a container to completion and returns its output and code.
func (hh *h) run(edit func(*rspec.Spec), args ...string) result {
	hh.t.Helper()
	b := hh.bundle(edit, args...)
	return hh.husk("run", "--bundle", b, id(hh.t))
}

// sh runs a shell script in a default container and returns its stdout,
// failing the test if it does not exit 0.
func (hh *h) sh(edit func(*rspec.Spec), script string) string {
	hh.t.Helper()
	r := hh.run(edit, "sh", "-c", script)
	if r.code != 0 {
		hh.t.Fatalf("container script failed: %s", r)
	}
	return r.stdout
}

var idSeq int

// id returns a container ID unique in this test run.
func id(t *testing.T) string {
	idSeq++
	name := strings.NewReplacer("/", "-", " ", "_").Replace(t.Name())
	if len(name) > 40 {
		name = name[:40]
	}
	return fmt.Sprintf("%s-%d-%d", name, os.Getpid(), idSeq)
}
