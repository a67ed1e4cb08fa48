package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/internal/testbundle"
)

// runtimeInfo is one OCI runtime under test with its private --root.
type runtimeInfo struct {
	Name string
	Path string
	Root string
}

func (r *runtimeInfo) argv(args ...string) []string {
	return append([]string{r.Path, "--root", r.Root}, args...)
}

// contender is a runtime, or the floor (rt == nil).
type contender struct {
	Name string
	rt   *runtimeInfo
}

type bench struct {
	o       *opts
	rts     []*runtimeInfo // husk, runc, crun
	rootfs  string
	bundle  string // /bin/true, ociVersion 1.0.2, read-only rootfs
	devnull *os.File
	seq     atomic.Int64

	mu      sync.Mutex
	notes   []string
	daemons []*daemon
}

const cmdTimeout = 60 * time.Second

func newBench(o *opts) (*bench, error) {
	o.work, o.state, o.out, o.repo = abs(o.work), abs(o.state), abs(o.out), abs(o.repo)
	b := &bench{o: o}
	for _, d := range []string{o.work, o.state, filepath.Join(o.state, "pids"), filepath.Join(o.state, "tmp")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	var err error
	if b.devnull, err = os.OpenFile(os.DevNull, os.O_RDWR, 0); err != nil {
		return nil, err
	}
	for _, r := range [][2]string{{"husk", o.husk}, {"runc", o.runc}, {"crun", o.crun}} {
		p, err := exec.LookPath(r[1])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r[0], err)
		}
		b.rts = append(b.rts, &runtimeInfo{Name: r[0], Path: abs(p), Root: filepath.Join(o.state, "root-"+r[0])})
	}
	b.rootfs = filepath.Join(o.work, "rootfs")
	if _, err := os.Stat(filepath.Join(b.rootfs, "bin", "busybox")); err != nil {
		os.RemoveAll(b.rootfs)
		if err := testbundle.Rootfs(b.rootfs); err != nil {
			return nil, fmt.Errorf("rootfs: %w", err)
		}
	}
	b.bundle = filepath.Join(o.work, "bundle-true")
	if err := b.writeBundle(b.bundle, nil); err != nil {
		return nil, err
	}
	return b, nil
}

// writeBundle writes dir/config.json running /bin/true on the shared
// read-only rootfs, with an optional memory limit (bytes).
func (b *bench) writeBundle(dir string, memLimit *int64) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	s := testbundle.Config("true")
	// crun 1.8.1 rejects ociVersion newer than 1.0.x; all runtimes get 1.0.2.
	s.Version = "1.0.2"
	s.Root.Path = b.rootfs
	s.Root.Readonly = true
	if memLimit != nil {
		if s.Linux.Resources == nil {
			s.Linux.Resources = new(rspec.LinuxResources)
		}
		s.Linux.Resources.Memory = &rspec.LinuxMemory{Limit: memLimit}
	}
	return testbundle.WriteConfig(dir, s)
}

func (b *bench) id() string {
	return fmt.Sprintf("hb%d-%d", os.Getpid(), b.seq.Add(1))
}

func (b *bench) note(format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := fmt.Sprintf(format, args...)
	for _, x := range b.notes {
		if x == n {
			return
		}
	}
	b.notes = append(b.notes, n)
}

// result of one command.
type result struct {
	Dur    time.Duration
	CPU    time.Duration // user+sys of the process and the descendants it reaped
	MaxRSS int64         // KiB: ru_maxrss from wait4, what /usr/bin/time -f %M prints
	Err    error
}

// run executes argv with stdin and stdout on /dev/null and stderr in a file
// (not a pipe: a container's init inherits it and would hold a pipe open).
// The clock runs from just before fork to just after wait.
func (b *bench) run(ctx context.Context, timeout time.Duration, argv []string) result {
	errf, err := os.CreateTemp(filepath.Join(b.o.state, "tmp"), "stderr-")
	if err != nil {
		return result{Err: err}
	}
	defer os.Remove(errf.Name())
	defer errf.Close()
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(cctx, argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = b.devnull, b.devnull, errf
	t := time.Now()
	err = cmd.Run()
	r := result{Dur: time.Since(t)}
	if ps := cmd.ProcessState; ps != nil {
		r.CPU = ps.UserTime() + ps.SystemTime()
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
			r.MaxRSS = ru.Maxrss
		}
	}
	if err != nil {
		msg, _ := os.ReadFile(errf.Name())
		text := strings.TrimSpace(string(msg))
		if len(text) > 400 {
			text = "..." + text[len(text)-400:]
		}
		if cctx.Err() == context.DeadlineExceeded {
			err = fmt.Errorf("timed out after %s", timeout)
		}
		if text != "" {
			err = fmt.Errorf("%s: %v: %s", filepath.Base(argv[0]), err, text)
		} else {
			err = fmt.Errorf("%s: %v", filepath.Base(argv[0]), err)
		}
		r.Err = err
	}
	return r
}

// forceDelete removes a container, ignoring errors (cleanup after failures).
func (b *bench) forceDelete(rt *runtimeInfo, id string) {
	b.run(context.Background(), 30*time.Second, rt.argv("delete", "--force", id))
}

// sweep deletes every container left in a runtime's private root.
func (b *bench) sweep(rt *runtimeInfo) int {
	ents, err := os.ReadDir(rt.Root)
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range ents {
		if e.IsDir() {
			b.forceDelete(rt, e.Name())
			n++
		}
	}
	return n
}

// reapOrphans reaps every zombie child. Only call it when no exec.Cmd of
// ours is running, or it could take their exit status.
func (b *bench) reapOrphans() {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}

func (b *bench) cleanup() {
	b.stopDaemons()
	for _, rt := range b.rts {
		if n := b.sweep(rt); n > 0 {
			logf("cleanup: deleted %d leftover %s containers", n, rt.Name)
		}
	}
	b.reapOrphans()
	umountUnder(b.o.work)
	umountUnder(b.o.state)
	os.RemoveAll(b.o.state)
	if os.Getenv("BENCH_KEEP_WORK") == "" {
		os.RemoveAll(b.o.work)
	}
}

// umountUnder lazily unmounts everything at or below dir, deepest first.
func umountUnder(dir string) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return
	}
	defer f.Close()
	var mnts []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) > 4 && (fs[4] == dir || strings.HasPrefix(fs[4], dir+"/")) {
			mnts = append(mnts, fs[4])
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(mnts)))
	for _, m := range mnts {
		unix.Unmount(m, unix.MNT_DETACH)
	}
}

// waitExit waits for process pid to exit, as containerd's shim does: a
// pidfd becomes readable when the process terminates (no polling
// interval). Then it reaps the process (it is our child: we are a
// subreaper and the `create` that forked it has exited).
func waitExit(ctx context.Context, pid int, timeout time.Duration) error {
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return nil // already gone
	}
	if err != nil {
		return fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	defer unix.Close(fd)
	deadline := time.Now().Add(timeout)
	for {
		left := time.Until(deadline)
		if left <= 0 || ctx.Err() != nil {
			return fmt.Errorf("container init %d still running after %s", pid, timeout)
		}
		ms := min(int(left/time.Millisecond)+1, 200)
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, ms)
		if err != nil && !errors.Is(err, unix.EINTR) {
			return fmt.Errorf("poll pidfd: %w", err)
		}
		if n > 0 {
			break
		}
	}
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PIDFD, fd, &info, unix.WEXITED, nil)
		if !errors.Is(err, unix.EINTR) {
			return nil // ECHILD: not ours to reap, it exited all the same
		}
	}
}

func readPid(path string) (int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("pid file %s: %q", path, data)
	}
	return pid, nil
}

// contenders lists the runtimes, plus the floor if asked.
func (b *bench) contenders(floor bool) []contender {
	var cs []contender
	for _, rt := range b.rts {
		cs = append(cs, contender{Name: rt.Name, rt: rt})
	}
	if floor {
		cs = append(cs, contender{Name: "floor"})
	}
	return cs
}

// floorArgv is the same work without a runtime: new namespaces, /proc,
// chroot, exec /bin/true.
func (b *bench) floorArgv() []string {
	return []string{"unshare", "--fork", "--pid", "--mount", "--uts", "--ipc", "--net", "--mount-proc",
		"chroot", b.rootfs, "/bin/true"}
}

// rounds runs warm-up calls (discarded), then n rounds; round r runs every
// contender once, in the order rotated by r.
func (b *bench) rounds(ctx context.Context, w *workload, n, warm int, cs []contender, one func(c contender) sample) {
	for i := 0; i < warm && ctx.Err() == nil; i++ {
		for _, c := range cs {
			if s := one(c); !s.OK && i == warm-1 {
				b.note("%s: warm-up of %s failed: %s", w.Key, c.Name, s.Err)
			}
		}
	}
	for r := 0; r < n && ctx.Err() == nil; r++ {
		for i := range cs {
			c := cs[(i+r)%len(cs)]
			s := one(c)
			s.Round = r
			w.add(c.Name, s)
		}
		if n >= 10 && (r+1)%(n/5) == 0 {
			logf("   %s: round %d/%d", w.Key, r+1, n)
		}
	}
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

// workloadVersion measures `RT --version`: what starting the runtime's
// binary costs before it does any work (floor: exec of /bin/true).
func (b *bench) workloadVersion(ctx context.Context) *workload {
	w := newWorkload("version", "RT --version (process start cost)", "ms per command",
		"`RT --version`: loading and starting the runtime binary, no container work -- the per-command cost every "+
			"create/start/delete pays. Floor here: exec of the host's /bin/true.")
	b.rounds(ctx, w, b.o.n, b.o.warm, b.contenders(true), func(c contender) sample {
		if c.rt == nil {
			return sampleOf(b.run(ctx, cmdTimeout, []string{"/bin/true"}))
		}
		return sampleOf(b.run(ctx, cmdTimeout, []string{c.rt.Path, "--version"}))
	})
	return w
}

// workloadRun is workload 1: `RT run` of /bin/true, sequentially.
func (b *bench) workloadRun(ctx context.Context) *workload {
	w := newWorkload("run", "RT run /bin/true", "ms per container",
		"`RT --root PRIVATE run --bundle B ID` (fresh ID each time) of `/bin/true` from a busybox bundle, sequentially; "+
			"wall time of the runtime command; CPU = user+sys of the command and the processes it reaped (incl. the container).")
	b.rounds(ctx, w, b.o.n, b.o.warm, b.contenders(true), func(c contender) sample {
		if c.rt == nil {
			return sampleOf(b.run(ctx, cmdTimeout, b.floorArgv()))
		}
		id := b.id()
		r := b.run(ctx, cmdTimeout, c.rt.argv("run", "--bundle", b.bundle, id))
		if r.Err != nil {
			b.forceDelete(c.rt, id)
		} else if _, err := os.Stat(filepath.Join(c.rt.Root, id)); err == nil {
			b.note("run: %s left container state behind after `run` (deleted by the benchmark)", c.Name)
			b.forceDelete(c.rt, id)
		}
		return sampleOf(r)
	})
	return w
}

func sampleOf(r result) sample {
	s := sample{Ms: ms(r.Dur), CPUMs: ms(r.CPU), OK: r.Err == nil}
	if r.Err != nil {
		s.Err = r.Err.Error()
	}
	return s
}

// cycle is what containerd's shim does: create (with a pid file), start,
// wait for the init to exit, delete. It returns the phase durations.
func (b *bench) cycle(ctx context.Context, rt *runtimeInfo, bundle, id string) (map[string]float64, time.Duration, error) {
	pidFile := filepath.Join(b.o.state, "pids", id+".pid")
	defer os.Remove(pidFile)
	ph := map[string]float64{}
	var cpu time.Duration
	defer func() { ph["cpu"] = ms(cpu) }()
	t0 := time.Now()
	r := b.run(ctx, cmdTimeout, rt.argv("create", "--bundle", bundle, "--pid-file", pidFile, id))
	ph["create"] = ms(r.Dur)
	cpu += r.CPU
	if r.Err != nil {
		b.forceDelete(rt, id)
		return ph, 0, fmt.Errorf("create: %w", r.Err)
	}
	pid, err := readPid(pidFile)
	if err != nil {
		b.forceDelete(rt, id)
		return ph, 0, err
	}
	r = b.run(ctx, cmdTimeout, rt.argv("start", id))
	ph["start"] = ms(r.Dur)
	cpu += r.CPU
	if r.Err != nil {
		b.forceDelete(rt, id)
		waitExit(ctx, pid, time.Second)
		return ph, 0, fmt.Errorf("start: %w", r.Err)
	}
	t := time.Now()
	if err := waitExit(ctx, pid, cmdTimeout); err != nil {
		b.forceDelete(rt, id)
		return ph, 0, err
	}
	ph["wait"] = ms(time.Since(t))
	r = b.run(ctx, cmdTimeout, rt.argv("delete", id))
	ph["delete"] = ms(r.Dur)
	cpu += r.CPU
	if r.Err != nil {
		b.forceDelete(rt, id)
		return ph, 0, fmt.Errorf("delete: %w", r.Err)
	}
	return ph, time.Since(t0), nil
}

// workloadCycle is workload 2: create -> start -> wait -> delete as
// separate commands.
func (b *bench) workloadCycle(ctx context.Context) *workload {
	w := newWorkload("cycle", "create → start → wait → delete", "ms per container",
		"separate commands as containerd's shim issues them: `create --bundle B --pid-file P ID`, `start ID`, "+
			"wait for the init (host pid from the pid file) to exit with a pidfd (poll() wakes on exit; the benchmark is a "+
			"child subreaper like the shim and reaps it), `delete ID`; total = first fork to last wait. CPU = sum over the three runtime commands.")
	b.rounds(ctx, w, b.o.n, b.o.warm, b.contenders(false), func(c contender) sample {
		ph, d, err := b.cycle(ctx, c.rt, b.bundle, b.id())
		s := sample{Ms: ms(d), CPUMs: ph["cpu"], OK: err == nil, Phases: ph}
		delete(ph, "cpu")
		if err != nil {
			s.Err = err.Error()
		}
		return s
	})
	return w
}

// workloadConcurrent is workload 4: a batch of containers created and
// started at once (each goroutine: create, start, wait, delete).
func (b *bench) workloadConcurrent(ctx context.Context) *workload {
	w := newWorkload("conc", fmt.Sprintf("%d concurrent create+start+wait+delete", b.o.conc), "ms per batch",
		fmt.Sprintf("%d goroutines released together, each runs the workload-2 cycle with its own ID; wall time from the release "+
			"to the last delete; failures = containers with any failed step. Floor: %d concurrent unshare+chroot /bin/true.", b.o.conc, b.o.conc))
	w.Batch = b.o.conc
	b.rounds(ctx, w, b.o.concRounds, 1, b.contenders(true), func(c contender) sample {
		var wg sync.WaitGroup
		var failed atomic.Int64
		var firstErr atomic.Value
		start := make(chan struct{})
		for i := 0; i < b.o.conc; i++ {
			id := b.id()
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				var err error
				if c.rt == nil {
					err = b.run(ctx, cmdTimeout, b.floorArgv()).Err
				} else {
					_, _, err = b.cycle(ctx, c.rt, b.bundle, id)
				}
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				}
			}()
		}
		t := time.Now()
		close(start)
		wg.Wait()
		s := sample{Ms: ms(time.Since(t)), OK: true, Failures: int(failed.Load())}
		if e, ok := firstErr.Load().(string); ok {
			s.Err = e
		}
		if c.rt != nil && s.Failures > 0 {
			b.sweep(c.rt)
		}
		return s
	})
	return w
}

// calibrate runs workload 1 for husk and runc with the host's cgroup view
// and with the masked one, interleaved: every command goes through
// `nsenter -m` into either our own mount namespace (host view) or that of
// run.sh's holder process (masked view), so both pay the same nsenter.
func (b *bench) calibrate(ctx context.Context) *workload {
	w := newWorkload("calibration", "RT run /bin/true: host cgroup view vs masked view", "ms per container",
		"`nsenter -t PID -m RT run ...` with PID = the benchmark (host view) or the mask holder (masked view), interleaved")
	var cs []contender
	for _, rt := range b.rts[:2] {
		cs = append(cs, contender{Name: rt.Name + " host", rt: rt}, contender{Name: rt.Name + " masked", rt: rt})
	}
	b.rounds(ctx, w, b.o.n, 1, cs, func(c contender) sample {
		target := fmt.Sprint(os.Getpid())
		if strings.HasSuffix(c.Name, " masked") {
			target = fmt.Sprint(b.o.holder)
		}
		id := b.id()
		r := b.run(ctx, cmdTimeout, append([]string{"nsenter", "-t", target, "-m"}, c.rt.argv("run", "--bundle", b.bundle, id)...))
		if r.Err != nil {
			b.forceDelete(c.rt, id)
		}
		return sampleOf(r)
	})
	// crun with the host's view, as is and with --cgroup-manager=disabled:
	// the report quotes what it says.
	crun := b.rts[2]
	for _, extra := range [][]string{nil, {"--cgroup-manager=disabled"}} {
		id := b.id()
		argv := append([]string{crun.Path, "--root", crun.Root}, extra...)
		r := b.run(ctx, cmdTimeout, append(argv, "run", "--bundle", b.bundle, id))
		if r.Err != nil {
			b.forceDelete(crun, id)
		}
		w.add(strings.Join(append([]string{"crun"}, extra...), " "), sampleOf(r))
	}
	return w
}
