package clients

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Every client command runs with a deadline: a hung client fails its check
// instead of the whole run.
const (
	cmdTimeout  = 60 * time.Second
	longTimeout = 180 * time.Second
)

// result of one client command.
type result struct {
	cmdline  string
	stdout   string
	stderr   string
	code     int // -1: did not run or timed out
	timedOut bool
}

func (r result) String() string {
	s := fmt.Sprintf("`%s`: exit %d", r.cmdline, r.code)
	if r.timedOut {
		s += " (timed out)"
	}
	return s + fmt.Sprintf(", stdout %q, stderr %q", r.stdout, r.stderr)
}

// out is stdout and stderr together, trimmed.
func (r result) out() string { return strings.TrimSpace(r.stdout + r.stderr) }

// cmdSpec describes a client command to run.
type cmdSpec struct {
	name    string
	args    []string
	env     []string // added to the environment
	dir     string
	stdin   []byte
	timeout time.Duration
}

// run runs a command to completion with a timeout. Output goes to files,
// not pipes, so a process that inherits them and outlives the command
// (a container, a daemon's helper) cannot hold up Wait.
func run(t *testing.T, c cmdSpec) result {
	t.Helper()
	if c.timeout == 0 {
		c.timeout = cmdTimeout
	}
	r := result{cmdline: strings.Join(append([]string{c.name}, c.args...), " "), code: -1}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.name, c.args...)
	cmd.Env = append(os.Environ(), c.env...)
	cmd.Dir = c.dir
	cmd.WaitDelay = 5 * time.Second
	if c.stdin != nil {
		cmd.Stdin = bytes.NewReader(c.stdin)
	}
	outf, errf := scratchFile(t), scratchFile(t)
	defer outf.Close()
	defer errf.Close()
	cmd.Stdout, cmd.Stderr = outf, errf
	start := time.Now()
	err := cmd.Run()
	r.stdout, r.stderr = readFile(outf), readFile(errf)
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		r.timedOut = true
	case err == nil:
		r.code = 0
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		r.stderr += "\n" + err.Error()
	}
	t.Logf("%s -> exit %d (%.2fs)", r.cmdline, r.code, time.Since(start).Seconds())
	return r
}

func scratchFile(t *testing.T) *os.File {
	t.Helper()
	f, err := os.CreateTemp(workDir, "out")
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(f.Name())
	return f
}

func readFile(f *os.File) string {
	data, _ := os.ReadFile("/proc/self/fd/" + strconv.Itoa(int(f.Fd())))
	return string(data)
}

// runPTY runs a command on a new pseudo-terminal of rows x cols (as a
// person at a terminal would run `docker run -t`) and returns everything
// written to it, with carriage returns dropped.
func runPTY(t *testing.T, c cmdSpec, rows, cols uint16) result {
	t.Helper()
	if c.timeout == 0 {
		c.timeout = cmdTimeout
	}
	r := result{cmdline: strings.Join(append([]string{c.name}, c.args...), " ") + " (on a pty)", code: -1}
	mfd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		t.Fatalf("open /dev/ptmx: %v", err)
	}
	master := os.NewFile(uintptr(mfd), "/dev/ptmx")
	defer master.Close()
	if err := unix.IoctlSetPointerInt(mfd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(mfd, unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("ptsname: %v", err)
	}
	slave, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open pts: %v", err)
	}
	if err := unix.IoctlSetWinsize(int(slave.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols}); err != nil {
		t.Fatalf("TIOCSWINSZ: %v", err)
	}

	var buf bytes.Buffer
	var mu sync.Mutex
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		b := make([]byte, 4096)
		for {
			n, err := master.Read(b)
			mu.Lock()
			buf.Write(b[:n])
			mu.Unlock()
			if err != nil {
				return // EIO once every slave fd is closed, or the deadline
			}
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.name, c.args...)
	cmd.Env = append(os.Environ(), c.env...)
	cmd.Dir = c.dir
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	cmd.WaitDelay = 5 * time.Second
	err = cmd.Start()
	slave.Close()
	if err == nil {
		err = cmd.Wait()
	}
	// Whatever the command wrote is in the pty's buffer: read it until EIO
	// (no slave left open), or for a bounded time if a helper the client
	// started still holds the terminal.
	master.SetReadDeadline(time.Now().Add(5 * time.Second))
	<-readDone
	mu.Lock()
	r.stdout = strings.ReplaceAll(buf.String(), "\r", "")
	mu.Unlock()
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		r.timedOut = true
	case err == nil:
		r.code = 0
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		r.stderr = err.Error()
	}
	t.Logf("%s -> exit %d", r.cmdline, r.code)
	return r
}

// ttyScript prints the container's terminal and, once the client has
// sized it (clients resize the pty right after start, racing the
// process), its size. Polls for at most 10 s inside the container.
const ttyScript = `tty; i=0; while [ $i -lt 200 ]; do s=$(stty size 2>/dev/null); case "$s" in ""|"0 0") ;; *) break;; esac; i=$((i+1)); usleep 50000; done; echo "size=$s"`

var ptsRe = regexp.MustCompile(`(?m)^/dev/pts/[0-9]+$`)

// checkTTY checks the output of ttyScript on a 30x100 terminal.
func checkTTY(t *testing.T, r result) {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("tty run failed: %s", r)
	}
	if !ptsRe.MatchString(r.stdout) {
		t.Errorf("no /dev/pts/N from `tty` in the container: %s", r)
	}
	if !strings.Contains(r.stdout, "size=30 100") {
		t.Errorf("`stty size` in the container does not show the client's 30x100 terminal: %s", r)
	}
}

// poll calls f until it returns true or the deadline passes.
func poll(timeout time.Duration, f func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if f() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var nameSeq atomic.Int64

// uniqueName returns a container/exec name unique to this test process.
// normalize turns every such name into <ID>.
func uniqueName() string {
	return fmt.Sprintf("hkt%d-%d", os.Getpid(), nameSeq.Add(1))
}

// mountPoints lists the mount points at or below dir, deepest first.
func mountPoints(dir string) []string {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) < 5 {
			continue
		}
		m := unescapeMount(f[4])
		if m == dir || strings.HasPrefix(m, dir+"/") {
			out = append(out, m)
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// unmountUnder lazily unmounts everything at or below dir.
func unmountUnder(dir string) {
	if dir == "" {
		return
	}
	for _, m := range mountPoints(dir) {
		unix.Unmount(m, unix.MNT_DETACH)
	}
}

// removeDirs unmounts and removes private dirs a suite made.
func removeDirs(t *testing.T, dirs ...string) {
	for _, d := range dirs {
		unmountUnder(d)
		if err := os.RemoveAll(d); err != nil {
			t.Logf("cleanup: %v", err)
		}
	}
}

// pidsWithArg returns the pids of processes whose command line has the
// argument arg (e.g. the private socket a shim was started for).
func pidsWithArg(arg string) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		for _, a := range strings.Split(string(data), "\x00") {
			if a == arg {
				out = append(out, pid)
				break
			}
		}
	}
	return out
}

// childrenOf returns the pids whose parent is pid.
func childrenOf(pid int) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces and parens.
		s := string(data)
		if i := strings.LastIndexByte(s, ')'); i >= 0 {
			if f := strings.Fields(s[i+1:]); len(f) > 1 && f[1] == strconv.Itoa(pid) {
				out = append(out, p)
			}
		}
	}
	return out
}

// removeCgroups removes the (empty) cgroup dir name and everything below
// it from every hierarchy: the parent cgroup a suite's containers used.
func removeCgroups(t *testing.T, name string) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	for _, l := range strings.Split(string(data), "\n") {
		pre, post, ok := strings.Cut(l, " - ")
		f, fs := strings.Fields(pre), strings.Fields(post)
		if !ok || len(f) < 5 || len(fs) == 0 || (fs[0] != "cgroup" && fs[0] != "cgroup2") {
			continue
		}
		top := filepath.Join(unescapeMount(f[4]), name)
		var dirs []string
		filepath.WalkDir(top, func(path string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, path)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			if err := os.Remove(dirs[i]); err != nil {
				t.Logf("cleanup: cgroup %v", err)
			}
		}
	}
}

// daemon is a long-running process a suite started.
type daemon struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed when it has exited
	log  string
}

// startDaemon starts a daemon with its output in logPath. It dies with the
// test process (SIGTERM) should the test binary itself be killed.
func startDaemon(t *testing.T, name, logPath, dir string, env []string, args ...string) *daemon {
	t.Helper()
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	d := &daemon{name: name, cmd: cmd, done: make(chan struct{}), log: logPath}
	go func() {
		cmd.Wait()
		close(d.done)
	}()
	t.Logf("%s started, pid %d, log %s", name, cmd.Process.Pid, logPath)
	return d
}

func (d *daemon) alive() bool {
	select {
	case <-d.done:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM, waits, then SIGKILL: only this daemon's pid.
func (d *daemon) stop(t *testing.T, grace time.Duration) {
	if !d.alive() {
		return
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
		return
	case <-time.After(grace):
	}
	t.Logf("%s (pid %d) did not stop on SIGTERM within %v: SIGKILL", d.name, d.cmd.Process.Pid, grace)
	d.cmd.Process.Kill()
	select {
	case <-d.done:
	case <-time.After(10 * time.Second):
		t.Errorf("%s (pid %d) survives SIGKILL", d.name, d.cmd.Process.Pid)
	}
}

// logTail is the end of the daemon's log, for failure messages.
func (d *daemon) logTail() string {
	data, _ := os.ReadFile(d.log)
	if len(data) > 3000 {
		data = data[len(data)-3000:]
	}
	return string(data)
}

// missingDirs returns those of dirs that do not exist yet, to remove them
// (when empty) after a suite: daemons create a few fixed dirs under /run.
func missingDirs(dirs ...string) []string {
	var out []string
	for _, d := range dirs {
		if _, err := os.Stat(d); os.IsNotExist(err) {
			out = append(out, d)
		}
	}
	return out
}

// rmdirEmpty removes dirs that are empty (deepest first as given).
func rmdirEmpty(dirs []string) {
	for _, d := range dirs {
		os.Remove(d)
	}
}

// wantOut fails the test unless the command exited 0 with exactly want
// (trimmed) as its output.
func wantOut(t *testing.T, r result, want string) {
	t.Helper()
	if r.code != 0 || strings.TrimSpace(r.stdout) != want {
		t.Errorf("want exit 0 and output %q; got %s", want, r)
	}
}

// mustOK fails the test now unless the command exited 0.
func mustOK(t *testing.T, r result) result {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("%s", r)
	}
	return r
}
