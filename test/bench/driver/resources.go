package main

import (
	"bufio"
	"context"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// resourceRow is the resource table's line for one runtime.
type resourceRow struct {
	Runtime string `json:"runtime"`
	// `/usr/bin/time -f %M` of each `create` command (KiB): ru_maxrss from
	// wait4, the peak RSS of the runtime process and of every descendant it
	// reaped (the maximum over them, not a sum). Not measured from this Go
	// process: a child forked from it inherits its RSS high-water mark
	// through exec.
	CreateMaxRSSKiB []int64 `json:"create_maxrss_kib"`
	// The container's init while the container is "created": the runtime's
	// helper that waits for `start` (runc: runc init; crun: a fork of crun;
	// husk: husk-init). VmHWM = its peak RSS, VmRSS = now.
	InitHWMKiB []int64 `json:"init_vmhwm_kib"`
	InitRSSKiB []int64 `json:"init_vmrss_kib"`
	InitComm   string  `json:"init_comm"`
	Errors     []string
	BinaryPath string   `json:"binary"`
	Bytes      int64    `json:"binary_bytes"`
	Linking    string   `json:"linking"`
	Libs       []string `json:"shared_libs,omitempty"`
}

func (b *bench) resources(ctx context.Context) []*resourceRow {
	rows := map[string]*resourceRow{}
	var out []*resourceRow
	for _, rt := range b.rts {
		row := &resourceRow{Runtime: rt.Name, BinaryPath: rt.Path}
		if fi, err := os.Stat(rt.Path); err == nil {
			row.Bytes = fi.Size()
		}
		row.Linking, row.Libs = linking(rt.Path)
		rows[rt.Name] = row
		out = append(out, row)
	}
	cs := b.contenders(false)
	for r := 0; r < b.o.memRepeats && ctx.Err() == nil; r++ {
		for i := range cs {
			c := cs[(i+r)%len(cs)]
			row := rows[c.Name]
			id := b.id()
			pidFile := filepath.Join(b.o.state, "pids", id+".pid")
			tf := filepath.Join(b.o.state, "tmp", "time-"+id)
			res := b.run(ctx, cmdTimeout, append([]string{"/usr/bin/time", "-f", "%M", "-o", tf},
				c.rt.argv("create", "--bundle", b.bundle, "--pid-file", pidFile, id)...))
			kb := readKiB(tf)
			os.Remove(tf)
			if res.Err != nil || kb <= 0 {
				row.Errors = append(row.Errors, fmt.Sprint(res.Err, " (max RSS ", kb, " KiB)"))
				b.forceDelete(c.rt, id)
				continue
			}
			row.CreateMaxRSSKiB = append(row.CreateMaxRSSKiB, kb)
			if pid, err := readPid(pidFile); err == nil {
				st := procStatus(pid)
				row.InitHWMKiB = append(row.InitHWMKiB, st["VmHWM"])
				row.InitRSSKiB = append(row.InitRSSKiB, st["VmRSS"])
				if comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); err == nil {
					row.InitComm = strings.TrimSpace(string(comm))
				}
				b.forceDelete(c.rt, id)
				waitExit(ctx, pid, 10*time.Second)
			} else {
				b.forceDelete(c.rt, id)
			}
			os.Remove(pidFile)
		}
	}
	return out
}

func readKiB(path string) int64 {
	data, err := os.ReadFile(path)
	if err != nil {
		return -1
	}
	f := strings.Fields(string(data))
	if len(f) == 0 {
		return -1
	}
	n, err := strconv.ParseInt(f[len(f)-1], 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// timeFloor is what /usr/bin/time -f %M reports for /bin/true: the
// smallest number this method can give.
func (b *bench) timeFloor(ctx context.Context) int64 {
	tf := filepath.Join(b.o.state, "tmp", "time-floor")
	defer os.Remove(tf)
	if r := b.run(ctx, cmdTimeout, []string{"/usr/bin/time", "-f", "%M", "-o", tf, "/bin/true"}); r.Err != nil {
		return -1
	}
	return readKiB(tf)
}

// procStatus returns the kB fields of /proc/PID/status.
func procStatus(pid int) map[string]int64 {
	m := map[string]int64{}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return m
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fs := strings.Fields(v)
		if len(fs) == 2 && fs[1] == "kB" {
			n, _ := strconv.ParseInt(fs[0], 10, 64)
			m[k] = n
		}
	}
	return m
}

func linking(path string) (string, []string) {
	f, err := elf.Open(path)
	if err != nil {
		return "?", nil
	}
	defer f.Close()
	libs, _ := f.ImportedLibraries()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return "dynamic", libs
		}
	}
	return "static", nil
}

// memAttempt is one run under a memory limit.
type memAttempt struct {
	Bytes int64  `json:"bytes"`
	OK    bool   `json:"ok"`
	Err   string `json:"err,omitempty"`
}

// memLimitResult is the bisection of the smallest linux.resources.memory.limit
// under which `RT run` of /bin/true still succeeds.
type memLimitResult struct {
	Runtime string `json:"runtime"`
	// A limit "works" if 3 starts in a row work. MinOK is the smallest limit that worked; LowFail the largest that
	// failed (the answer lies in (LowFail, MinOK]). MinOK = 0: even the
	// search's upper bound failed; LowFail = 0: even the lower bound worked.
	MinOK      int64        `json:"min_ok_bytes"`
	LowFail    int64        `json:"max_fail_bytes"`
	FailErr    string       `json:"fail_err,omitempty"`
	Attempts   []memAttempt `json:"attempts"`
	ConfirmOK  string       `json:"confirm_min_ok"`    // "k/3 started" at MinOK
	ConfirmLow string       `json:"confirm_max_fail"`  // "k/3 started" at LowFail
	LimitFile  string       `json:"cgroup_limit_file"` // where the limit ends up on this host
}

const (
	memLo   = 128 << 10
	memHi   = 64 << 20
	memStep = 4 << 10 // page granularity
)

func (b *bench) memLimits(ctx context.Context) []*memLimitResult {
	var out []*memLimitResult
	for _, rt := range b.rts {
		if ctx.Err() != nil {
			break
		}
		res := &memLimitResult{Runtime: rt.Name, LimitFile: "memory.limit_in_bytes (cgroup v1 memory hierarchy)"}
		dir := filepath.Join(b.o.work, "bundle-mem-"+rt.Name)
		once := func(limit int64) bool {
			if err := b.writeBundle(dir, &limit); err != nil {
				res.Attempts = append(res.Attempts, memAttempt{Bytes: limit, Err: err.Error()})
				return false
			}
			id := b.id()
			r := b.run(ctx, 30*time.Second, rt.argv("run", "--bundle", dir, id))
			a := memAttempt{Bytes: limit, OK: r.Err == nil}
			if r.Err != nil {
				a.Err = r.Err.Error()
				b.forceDelete(rt, id)
			}
			res.Attempts = append(res.Attempts, a)
			return a.OK
		}
		// Near the threshold a start may work once and fail the next time:
		// a limit counts as working only if 3 starts in a row work.
		try := func(limit int64) bool {
			for i := 0; i < 3; i++ {
				if !once(limit) {
					return false
				}
			}
			return true
		}
		switch {
		case !try(memHi):
			res.LowFail = memHi
		case try(memLo):
			res.MinOK = memLo
		default:
			lo, hi := int64(memLo), int64(memHi) // lo fails, hi works
			for hi-lo > memStep && ctx.Err() == nil {
				mid := (lo + hi) / 2 / memStep * memStep
				if mid <= lo || mid >= hi {
					break
				}
				if try(mid) {
					hi = mid
				} else {
					lo = mid
				}
			}
			res.MinOK, res.LowFail = hi, lo
		}
		confirm := func(limit int64) string {
			n := 0
			for i := 0; i < 3; i++ {
				if once(limit) {
					n++
				}
			}
			return fmt.Sprintf("%d/3", n)
		}
		if res.MinOK > 0 {
			res.ConfirmOK = confirm(res.MinOK)
		}
		if res.LowFail > 0 {
			res.ConfirmLow = confirm(res.LowFail)
		}
		for i := len(res.Attempts) - 1; i >= 0; i-- {
			if a := res.Attempts[i]; !a.OK && a.Bytes == res.LowFail {
				res.FailErr = a.Err
				break
			}
		}
		logf("   %s: smallest memory limit that starts: %s (largest failing: %s)", rt.Name, kib(res.MinOK), kib(res.LowFail))
		out = append(out, res)
	}
	return out
}

func kib(n int64) string {
	switch {
	case n <= 0:
		return "-"
	case n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	default:
		return fmt.Sprintf("%d KiB", n>>10)
	}
}

// huskExtras is section 6: what husk's --trace says per phase, and the cost
// of the runtime-binary protection (husk-init from a sealed memfd).
type huskExtras struct {
	TraceRuns   int           `json:"trace_runs"`
	Phases      []phaseMedian `json:"phases"`
	MemfdUs     []float64     `json:"memfd_create_write_seal_us"`
	InitBytes   int           `json:"husk_init_bytes"`
	SpawnMemfd  []float64     `json:"spawn_from_memfd_us"`
	SpawnFile   []float64     `json:"spawn_from_file_us"`
	MemfdErr    string        `json:"memfd_err,omitempty"`
	TraceErrors []string      `json:"trace_errors,omitempty"`
}

type phaseMedian struct {
	Key    string    `json:"key"` // cmd/proc/phase
	Median float64   `json:"median_ms"`
	Values []float64 `json:"ms"`
}

var initIndex = regexp.MustCompile(`\[\d+\].*$`)

func (b *bench) huskExtras(ctx context.Context) *huskExtras {
	h := &huskExtras{TraceRuns: b.o.traceRuns}
	husk := b.rts[0]
	var order []string
	seen := map[string]bool{}
	vals := map[string][]float64{}
	for i := 0; i < b.o.traceRuns && ctx.Err() == nil; i++ {
		tf := filepath.Join(b.o.state, "tmp", fmt.Sprintf("trace-%d.json", i))
		id := b.id()
		r := b.run(ctx, cmdTimeout, []string{husk.Path, "--root", husk.Root, "--trace", tf, "run", "--bundle", b.bundle, id})
		if r.Err != nil {
			h.TraceErrors = append(h.TraceErrors, r.Err.Error())
			b.forceDelete(husk, id)
			continue
		}
		sums := map[string]float64{}
		data, _ := os.ReadFile(tf)
		os.Remove(tf)
		for _, line := range strings.Split(string(data), "\n") {
			var l struct {
				Cmd, Proc, Phase string
				Ms               float64
			}
			if json.Unmarshal([]byte(line), &l) != nil {
				continue
			}
			phase := l.Phase
			if l.Proc == "init" {
				phase = initIndex.ReplaceAllString(phase, "[*]")
				if strings.HasPrefix(phase, "default device ") {
					phase = "default device *"
				}
			}
			k := l.Cmd + "/" + l.Proc + "/" + phase
			if !seen[k] {
				seen[k] = true
				order = append(order, k)
			}
			sums[k] += l.Ms
		}
		for k, v := range sums {
			vals[k] = append(vals[k], v)
		}
	}
	for _, k := range order {
		med, _, _ := stats(vals[k])
		h.Phases = append(h.Phases, phaseMedian{Key: k, Median: med, Values: vals[k]})
	}

	bin, err := os.ReadFile(filepath.Join(b.o.repo, "libruntime", "initproc", "husk-init.bin"))
	if err != nil {
		h.MemfdErr = err.Error()
		return h
	}
	h.InitBytes = len(bin)
	for i := 0; i < 300; i++ {
		t := time.Now()
		fd, err := sealedMemfd(bin)
		d := time.Since(t)
		if err != nil {
			h.MemfdErr = err.Error()
			return h
		}
		unix.Close(fd)
		h.MemfdUs = append(h.MemfdUs, float64(d.Nanoseconds())/1e3)
	}
	// Exec of husk-init (it exits at once: no arguments) from a sealed memfd
	// vs from a regular file, interleaved.
	fd, err := sealedMemfd(bin)
	if err != nil {
		h.MemfdErr = err.Error()
		return h
	}
	memf := os.NewFile(uintptr(fd), "husk-init")
	defer memf.Close()
	plain := filepath.Join(b.o.work, "husk-init")
	if err := os.WriteFile(plain, bin, 0o755); err != nil {
		h.MemfdErr = err.Error()
		return h
	}
	spawn := func(path string, extra *os.File) (float64, error) {
		files := []*os.File{b.devnull, b.devnull, b.devnull}
		if extra != nil {
			files = append(files, extra)
		}
		t := time.Now()
		p, err := os.StartProcess(path, []string{"husk-init"}, &os.ProcAttr{Files: files, Env: []string{}})
		if err != nil {
			return 0, err
		}
		p.Wait()
		return float64(time.Since(t).Nanoseconds()) / 1e3, nil
	}
	for i := 0; i < 200; i++ {
		a, err1 := spawn("/proc/self/fd/3", memf)
		p, err2 := spawn(plain, nil)
		if err := errors.Join(err1, err2); err != nil {
			h.MemfdErr = err.Error()
			break
		}
		h.SpawnMemfd = append(h.SpawnMemfd, a)
		h.SpawnFile = append(h.SpawnFile, p)
	}
	return h
}

// sealedMemfd does what husk does once per process for husk-init
// (libruntime/initproc/spawn.go): memfd_create, write the binary, seal.
func sealedMemfd(data []byte) (int, error) {
	flags := unix.MFD_CLOEXEC | unix.MFD_ALLOW_SEALING | unix.MFD_EXEC
	fd, err := unix.MemfdCreate("husk-init", flags)
	if errors.Is(err, unix.EINVAL) {
		fd, err = unix.MemfdCreate("husk-init", flags&^unix.MFD_EXEC)
	}
	if err != nil {
		return -1, err
	}
	for off := 0; off < len(data); {
		n, err := unix.Write(fd, data[off:])
		if err != nil {
			unix.Close(fd)
			return -1, err
		}
		off += n
	}
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, seals); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// hyperfineResult is hyperfine's JSON export, trimmed.
type hyperfineResult struct {
	Command string    `json:"command"`
	Mean    float64   `json:"mean"`
	Stddev  float64   `json:"stddev"`
	Median  float64   `json:"median"`
	Min     float64   `json:"min"`
	Max     float64   `json:"max"`
	Times   []float64 `json:"times"`
}

// hyperfine cross-checks workload 1 with hyperfine (each command's runs in
// one block, not interleaved; `run` deletes the container, so one ID per
// runtime is reused).
func (b *bench) hyperfine(ctx context.Context) ([]hyperfineResult, error) {
	if b.o.hyperfineRuns <= 0 {
		return nil, nil
	}
	if _, err := exec.LookPath("hyperfine"); err != nil {
		return nil, err
	}
	// One hyperfine per command, so that one failing command does not
	// lose the others' numbers.
	cmds := [][2]string{}
	for _, rt := range b.rts {
		cmds = append(cmds, [2]string{rt.Name, strings.Join(rt.argv("run", "--bundle", b.bundle, fmt.Sprintf("hf%d-%s", os.Getpid(), rt.Name)), " ")})
	}
	cmds = append(cmds, [2]string{"floor", strings.Join(b.floorArgv(), " ")})
	var all []hyperfineResult
	var errs []error
	for _, c := range cmds {
		if ctx.Err() != nil {
			break
		}
		out := filepath.Join(b.o.state, "tmp", "hyperfine-"+c[0]+".json")
		r := b.run(ctx, 10*time.Minute, []string{"hyperfine", "-N", "--style", "basic", "--warmup", "2",
			"--runs", strconv.Itoa(b.o.hyperfineRuns), "--export-json", out, "-n", c[0], c[1]})
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", c[0], r.Err))
			continue
		}
		data, err := os.ReadFile(out)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var res struct {
			Results []hyperfineResult `json:"results"`
		}
		if err := json.Unmarshal(data, &res); err != nil {
			errs = append(errs, err)
			continue
		}
		all = append(all, res.Results...)
	}
	return all, errors.Join(errs...)
}
