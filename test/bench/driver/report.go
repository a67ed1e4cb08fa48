package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"
)

// sample is one measurement: one container (or one batch).
type sample struct {
	Round    int                `json:"round"`
	Ms       float64            `json:"ms"`
	CPUMs    float64            `json:"cpu_ms,omitempty"`
	OK       bool               `json:"ok"`
	Err      string             `json:"err,omitempty"`
	Phases   map[string]float64 `json:"phases_ms,omitempty"`
	Failures int                `json:"failures,omitempty"`
}

type series struct {
	Runtime string   `json:"runtime"`
	Samples []sample `json:"samples"`
}

type workload struct {
	Key    string    `json:"key"`
	Title  string    `json:"title"`
	Unit   string    `json:"unit"`
	Desc   string    `json:"description"`
	Batch  int       `json:"batch,omitempty"` // containers per sample (concurrent workload)
	Series []*series `json:"series"`
}

var rank = map[string]int{"husk": 0, "runc": 1, "crun": 2, "floor": 3}

func rankOf(name string) int {
	if r, ok := rank[name]; ok {
		return r
	}
	return 10
}

func newWorkload(key, title, unit, desc string) *workload {
	return &workload{Key: key, Title: title, Unit: unit, Desc: desc}
}

func (w *workload) add(name string, s sample) {
	se := w.get(name)
	if se == nil {
		se = &series{Runtime: name}
		w.Series = append(w.Series, se)
		sort.SliceStable(w.Series, func(i, j int) bool { return rankOf(w.Series[i].Runtime) < rankOf(w.Series[j].Runtime) })
	}
	se.Samples = append(se.Samples, s)
}

func (w *workload) get(name string) *series {
	if w == nil {
		return nil
	}
	for _, s := range w.Series {
		if s.Runtime == name {
			return s
		}
	}
	return nil
}

type summary struct {
	N, Failed, Failures int
	Med, Min, Max, CPU  float64
	FirstErr            string
}

func (s *series) summary() summary {
	var sm summary
	if s == nil {
		return sm
	}
	var xs, cpu []float64
	for _, x := range s.Samples {
		sm.Failures += x.Failures
		if x.Err != "" && sm.FirstErr == "" {
			sm.FirstErr = x.Err
		}
		if !x.OK {
			sm.Failed++
			continue
		}
		xs = append(xs, x.Ms)
		if x.CPUMs > 0 {
			cpu = append(cpu, x.CPUMs)
		}
	}
	sm.N = len(xs)
	sm.Med, sm.Min, sm.Max = stats(xs)
	sm.CPU, _, _ = stats(cpu)
	return sm
}

// phaseMedians gives the median of each phase over the successful samples.
func (s *series) phaseMedians() map[string]float64 {
	vals := map[string][]float64{}
	for _, x := range s.Samples {
		if x.OK {
			for k, v := range x.Phases {
				vals[k] = append(vals[k], v)
			}
		}
	}
	m := map[string]float64{}
	for k, v := range vals {
		m[k], _, _ = stats(v)
	}
	return m
}

// stats returns median, min and max (zeros for no values).
func stats(xs []float64) (med, lo, hi float64) {
	if len(xs) == 0 {
		return 0, 0, 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		med = s[n/2]
	} else {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return med, s[0], s[n-1]
}

func statsInt(xs []int64) (med, lo, hi float64) {
	f := make([]float64, len(xs))
	for i, x := range xs {
		f[i] = float64(x)
	}
	return stats(f)
}

type fact struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type report struct {
	Started     time.Time         `json:"started"`
	Finished    time.Time         `json:"finished"`
	DurationS   float64           `json:"duration_s"`
	Command     string            `json:"command"`
	Mask        string            `json:"cgroup_view"`
	HuskOrigin  string            `json:"husk_binary"`
	Machine     []fact            `json:"machine"`
	Workloads   []*workload       `json:"workloads"`
	Resources   []*resourceRow    `json:"resources"`
	RSSFloorKiB int64             `json:"time_maxrss_of_bin_true_kib"`
	MemLimits   []*memLimitResult `json:"memory_limits"`
	ShimMemory  []*shimMemRow     `json:"shim_memory"`
	VMMemory    []*vmMemRow       `json:"vm_memory"`
	Pods        *podResults       `json:"pods,omitempty"`
	Husk        *huskExtras       `json:"husk"`
	Hyperfine   []hyperfineResult `json:"hyperfine"`
	Calibration *workload         `json:"calibration,omitempty"`
	Notes       []string          `json:"notes"`
}

func (r *report) note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

func (r *report) workload(key string) *workload {
	for _, w := range r.Workloads {
		if w.Key == key {
			return w
		}
	}
	return nil
}

func firstLine(argv ...string) string {
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil && len(out) == 0 {
		return "n/a (" + err.Error() + ")"
	}
	return strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
}

func machineFacts(b *bench) []fact {
	var fs []fact
	add := func(n, v string) { fs = append(fs, fact{n, v}) }
	add("kernel", firstLine("uname", "-srvm"))
	cpu := "?"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	add("CPU", fmt.Sprintf("%s, %d logical CPUs", cpu, runtime.NumCPU()))
	if st := procMeminfo(); st != "" {
		add("memory", st)
	}
	if d, err := os.ReadFile("/etc/debian_version"); err == nil {
		add("Debian", strings.TrimSpace(string(d)))
	}
	ctrl, _ := os.ReadFile("/sys/fs/cgroup/unified/cgroup.controllers")
	add("cgroups", fmt.Sprintf("as seen by the runtimes: %s; cgroup2 cgroup.controllers = %q", cgroupLayout(), strings.TrimSpace(string(ctrl))))
	for _, rt := range b.rts {
		v := firstLine(rt.Path, "--version")
		if rt.Name == "husk" {
			out, _ := exec.Command(rt.Path, "--version").Output()
			v = strings.Join(strings.Fields(strings.ReplaceAll(string(out), "\n", "; ")), " ")
		}
		where := rt.Path
		if rt.Name == "husk" && b.o.huskOrigin != "" {
			where = b.o.huskOrigin + " (run from a private copy)"
		}
		add(rt.Name, where+": "+v)
	}
	add("containerd", firstLine("containerd", "--version"))
	add("dockerd", firstLine("dockerd", "--version"))
	add("docker client", dockerCLI()+": "+firstLine(dockerCLI(), "--version"))
	add("hyperfine", firstLine("hyperfine", "--version"))
	add("unshare", firstLine("unshare", "--version"))
	add("go", runtime.Version())
	return fs
}

func procMeminfo() string {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "MemTotal:") {
			return strings.Join(strings.Fields(l)[1:], " ") + " total"
		}
	}
	return ""
}

// cgroupMountPoints lists the cgroup hierarchies: v1 mount points and the
// cgroup2 one ("" when there is none).
func cgroupMountPoints() (v1 []string, v2 string) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, ""
	}
	for _, l := range strings.Split(string(data), "\n") {
		_, post, ok := strings.Cut(l, " - ")
		if !ok {
			continue
		}
		pf := strings.Fields(post)
		f := strings.Fields(l)
		if len(pf) < 1 || len(f) < 5 {
			continue
		}
		switch pf[0] {
		case "cgroup":
			v1 = append(v1, f[4])
		case "cgroup2":
			v2 = f[4]
		}
	}
	return v1, v2
}

func cgroupLayout() string {
	mounts, v2 := cgroupMountPoints()
	if mounts == nil && v2 == "" {
		return "?"
	}
	var v1 []string
	for _, m := range mounts {
		v1 = append(v1, filepath.Base(m))
	}
	switch {
	case len(v1) > 0 && v2 != "":
		return fmt.Sprintf("hybrid (v1: %s; cgroup2 at %s)", strings.Join(v1, ","), v2)
	case v2 != "":
		return "unified (cgroup2 at " + v2 + ")"
	default:
		return "legacy v1 (" + strings.Join(v1, ",") + ")"
	}
}

// ---------------------------------------------------------------- output --

func f1(x float64) string {
	switch {
	case x == 0:
		return "-"
	case x >= 100:
		return fmt.Sprintf("%.0f", x)
	case x >= 10:
		return fmt.Sprintf("%.1f", x)
	default:
		return fmt.Sprintf("%.2f", x)
	}
}

func ratio(a, b float64) string {
	if a == 0 || b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", a/b)
}

var headlineOrder = []string{"run", "cycle", "ctr", "shim", "docker", "conc"}

// headline is the table printed at the end: median per workload per runtime.
func (r *report) headline() string {
	var sb strings.Builder
	sb.WriteString("| workload (median) | husk | runc | crun | floor | husk/runc | husk/crun |\n")
	sb.WriteString("|---|---:|---:|---:|---:|---:|---:|\n")
	for _, k := range headlineOrder {
		w := r.workload(k)
		if w == nil {
			continue
		}
		h, rc, cr, fl := w.get("husk").summary(), w.get("runc").summary(), w.get("crun").summary(), w.get("floor").summary()
		unit := "ms"
		if k == "conc" {
			unit = "ms/batch"
		}
		cell := func(s summary) string {
			if s.N == 0 && s.Failed > 0 {
				return fmt.Sprintf("all %d failed", s.Failed)
			}
			if s.N == 0 {
				return "-"
			}
			c := f1(s.Med)
			if s.Failed > 0 || s.Failures > 0 {
				c += fmt.Sprintf(" (%d failed)", s.Failed+s.Failures)
			}
			return c
		}
		fmt.Fprintf(&sb, "| %s [%s] | %s | %s | %s | %s | %s | %s |\n", w.Title, unit, cell(h), cell(rc), cell(cr), cell(fl),
			ratio(h.Med, rc.Med), ratio(h.Med, cr.Med))
	}
	return sb.String()
}

func (r *report) write(out string) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	data, err := json.MarshalIndent(r, "", " ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "results.json"), data, 0o644); err != nil {
		return err
	}
	if err := r.chart(filepath.Join(out, "chart.png")); err != nil {
		r.note("chart: %v", err)
	}
	if err := os.WriteFile(filepath.Join(out, "results.md"), []byte(r.markdown()), 0o644); err != nil {
		return err
	}
	fmt.Println(r.headline())
	return nil
}

func (r *report) markdown() string {
	var sb strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&sb, format, args...) }
	p("# husk vs runc vs crun: container start benchmarks\n\n")
	p("Run %s, took %.0f s. Command: `%s`\n\n", r.Started.Format(time.RFC3339), r.DurationS, r.Command)
	p("Measurement only: nothing here is asserted. Times are wall-clock of the client command (fork to wait), nothing subtracted. ")
	p("Each workload interleaves the contenders round by round (round r: husk, runc, crun, floor, rotated by r), after untimed warm-up runs. ")
	p("Ratios are husk's median divided by the other's median (< 1: husk faster).\n\n")
	p("![medians](chart.png)\n\n## Headline\n\n%s\n", r.headline())

	if len(r.VMMemory) > 0 {
		p("## microVM memory\n\nPSS (proportional set size, smaps_rollup) of every host process of an idle one-container VM " +
			"(`husk run --vm -d` of `sleep`, measured 5 s after start): qemu, husk-vm's supervisor and, with virtio-fs, virtiofsd. " +
			"Guest pages count once touched; shared libraries count by share.\n\n| rootfs share | total PSS (MiB) | per process (KiB) |\n|---|---:|---|\n")
		for _, m := range r.VMMemory {
			if m.Err != "" {
				p("| %s | - | %s |\n", m.Share, m.Err)
				continue
			}
			var parts []string
			for name, kib := range m.PssKiB {
				parts = append(parts, fmt.Sprintf("%s %d", name, kib))
			}
			sort.Strings(parts)
			p("| %s | %.1f | %s |\n", m.Share, m.TotalMB, strings.Join(parts, ", "))
		}
		p("\n")
	}
	if r.Pods != nil {
		r.podsMarkdown(p)
	}
	p("## How crun runs here\n\n%s\n\n", r.Mask)
	if c := r.Calibration; c != nil {
		p("Does the masked view change the other runtimes' times? Before the main run, workload 1 for husk and runc, %d rounds, "+
			"interleaved between the host's view and the masked view; every command runs under `nsenter -m` (into the benchmark's own "+
			"mount namespace, or into one holding the mask), so both sides pay the same nsenter cost:\n\n", len(c.get("husk host").Samples))
		p("| runtime | median, host view (ms) | median, masked view (ms) | masked ÷ host |\n|---|---:|---:|---:|\n")
		for _, n := range []string{"husk", "runc"} {
			h, m := c.get(n+" host").summary(), c.get(n+" masked").summary()
			p("| %s | %s | %s | %s |\n", n, f1(h.Med), f1(m.Med), ratio(m.Med, h.Med))
		}
		p("\n")
		for _, n := range []string{"crun", "crun --cgroup-manager=disabled"} {
			if s := c.get(n); s != nil && len(s.Samples) > 0 {
				x := s.Samples[0]
				res := "started"
				if !x.OK {
					res = "failed: `" + oneLine(x.Err) + "`"
				}
				p("- `%s run` with the host's view (no mask), tried in this run: %s\n", n, res)
			}
		}
		p("\n")
	}

	p("## Workloads\n\n")
	for _, w := range r.Workloads {
		p("### %s\n\n%s\n\n", w.Title, w.Desc)
		h := w.get("husk").summary()
		extra := ""
		if w.Key == "conc" {
			extra = " failures |"
		}
		p("| runtime | N | failed | median | min | max | CPU median | husk ÷ this |%s\n", extra)
		p("|---|---:|---:|---:|---:|---:|---:|---:|%s\n", strings.Repeat("---:|", len(extra)/len(" failures |")))
		for _, s := range w.Series {
			sm := s.summary()
			name := s.Runtime
			if name == "floor" {
				name = "floor (no runtime)"
			}
			cpu := f1(sm.CPU)
			if w.Key == "conc" || w.Key == "ctr" || w.Key == "shim" || w.Key == "docker" {
				cpu = "n/a"
			}
			row := fmt.Sprintf("| %s | %d | %d | %s | %s | %s | %s | %s |", name, sm.N, sm.Failed, f1(sm.Med), f1(sm.Min), f1(sm.Max), cpu, ratio(h.Med, sm.Med))
			if w.Key == "conc" {
				row += fmt.Sprintf(" %d of %d |", sm.Failures, len(s.Samples)*w.Batch)
			}
			p("%s\n", row)
		}
		p("\nUnit: %s.", w.Unit)
		for _, s := range w.Series {
			if sm := s.summary(); sm.FirstErr != "" {
				p(" First error of %s: `%s`.", s.Runtime, oneLine(sm.FirstErr))
			}
		}
		p("\n\n")
		if w.Key == "cycle" {
			p("Median per step (ms):\n\n| runtime | create | start | wait (start returned → init exited) | delete |\n|---|---:|---:|---:|---:|\n")
			for _, s := range w.Series {
				m := s.phaseMedians()
				p("| %s | %s | %s | %s | %s |\n", s.Runtime, f1(m["create"]), f1(m["start"]), f1(m["wait"]), f1(m["delete"]))
			}
			p("\n")
		}
	}

	if len(r.Resources) > 0 || len(r.MemLimits) > 0 {
		p("## Resources\n\n")
		p("| runtime | binary | size | `create` peak RSS (ru_maxrss) | init helper while created: VmHWM / VmRSS | smallest memory.limit that starts | largest that fails |\n")
		p("|---|---|---:|---:|---:|---:|---:|\n")
		for _, rt := range []string{"husk", "runc", "crun"} {
			var row *resourceRow
			for _, x := range r.Resources {
				if x.Runtime == rt {
					row = x
				}
			}
			var ml *memLimitResult
			for _, x := range r.MemLimits {
				if x.Runtime == rt {
					ml = x
				}
			}
			if row == nil && ml == nil {
				continue
			}
			bin, size, rss, helper := "-", "-", "-", "-"
			if row != nil {
				bin = fmt.Sprintf("`%s` (%s)", row.BinaryPath, row.Linking)
				if row.Runtime == "husk" && r.HuskOrigin != "" {
					bin = fmt.Sprintf("`%s` (%s)", r.HuskOrigin, row.Linking)
				}
				size = fmt.Sprintf("%.2f MiB", float64(row.Bytes)/(1<<20))
				if m, _, _ := statsInt(row.CreateMaxRSSKiB); m > 0 {
					rss = fmt.Sprintf("%.1f MiB", m/1024)
				}
				if m, _, _ := statsInt(row.InitHWMKiB); m > 0 {
					r2, _, _ := statsInt(row.InitRSSKiB)
					helper = fmt.Sprintf("%.1f / %.1f MiB (`%s`)", m/1024, r2/1024, row.InitComm)
				}
			}
			okS, failS := "-", "-"
			if ml != nil {
				okS, failS = limitCell(ml.MinOK, ml.ConfirmOK, ml.LowFail == 0), limitCell(ml.LowFail, ml.ConfirmLow, false)
				if ml.MinOK == 0 {
					okS = "> 64 MiB"
				}
			}
			p("| %s | %s | %s | %s | %s | %s | %s |\n", rt, bin, size, rss, helper, okS, failS)
		}
		p("\nPeak RSS of `create`: `/usr/bin/time -f %%M RT create ...` (ru_maxrss from wait4), median of %d creates: "+
			"the largest peak of the runtime process and of every descendant it reaped (runc's and crun's intermediate processes), not a sum "+
			"(the same method gives %d KiB for /bin/true: the floor of the method). "+
			"The container's init is not reaped by `create` (it outlives it), so its memory is listed separately: VmHWM (peak) and VmRSS of the init "+
			"while the container waits in `created` (husk: husk-init, the 60 KB static helper, executed from a memfd, hence its name is the fd number; "+
			"runc: `runc init`, a Go process; crun: a fork of crun). Both include shared file pages (libc, the binary). "+
			"The peak of the whole tree is at most about the sum of the two.\n\n", reps(r.Resources), r.RSSFloorKiB)
		p("Memory limit: `linux.resources.memory.limit` in the config of a `RT run` of /bin/true, bisected in 4 KiB steps between 128 KiB and 64 MiB " +
			"(on this hybrid host it is written to the v1 memory hierarchy's memory.limit_in_bytes). Near the threshold a start may work once and " +
			"fail the next time, so a limit counts as working only if 3 starts in a row work; \"k/3\" = starts out of 3 more tries at that limit " +
			"after the bisection.\n\n")
		for _, ml := range r.MemLimits {
			if ml.FailErr != "" {
				p("- %s at %s: `%s`\n", ml.Runtime, kib(ml.LowFail), oneLine(ml.FailErr))
			}
		}
		for _, row := range r.Resources {
			if len(row.Libs) > 0 {
				p("- %s links %s\n", row.Runtime, strings.Join(row.Libs, ", "))
			}
			for _, e := range row.Errors {
				p("- %s create failed: `%s`\n", row.Runtime, oneLine(e))
			}
		}
		p("\n")
	}

	if len(r.ShimMemory) > 0 {
		p("## Shim memory\n\n")
		p("| shim | VmRSS, 1 container | of which private (RssAnon) | VmRSS, %d containers of one pod | per extra container | one shim for the pod |\n|---|---:|---:|---:|---:|---|\n", podSize)
		for _, row := range r.ShimMemory {
			one, _, _ := statsInt(row.OneKiB)
			anon, _, _ := statsInt(row.OneAnonKiB)
			pod, _, _ := statsInt(row.PodKiB)
			if one == 0 {
				p("| %s | failed: `%s` | | | | |\n", row.Shim, oneLine(row.Err))
				continue
			}
			grouped := "yes"
			if !row.Grouped {
				grouped = "no (one shim per container: the pod column is the first shim only)"
			}
			p("| %s | %.1f MiB | %.1f MiB | %.1f MiB | %.0f KiB | %s |\n", row.Shim, one/1024, anon/1024, pod/1024, (pod-one)/float64(row.PodSize-1), grouped)
		}
		p("\nVmRSS of the shim process (the parent of the task's init, from `ctr task ls`), read 1 s after `ctr run -d ... sleep 3600` "+
			"returned, first with one container, then after %d more of the same pod (all with annotation `io.kubernetes.cri.sandbox-id=POD`, "+
			"which both shims group by); median of %d pods. The runc shim's column is the shim alone: runc itself exits after each command. "+
			"RssAnon is the process's own memory; the rest of VmRSS is pages of its binary, shared with every other process running it "+
			"through the page cache (the kernel maps up to 64 KiB around each fault, so that part grows with the binary's size).\n\n",
			podSize-1, len(r.ShimMemory[0].OneKiB))
	}

	if h := r.Husk; h != nil {
		p("## husk's runtime-binary protection\n\n")
		p("husk has no switch to turn it off: every `create` runs the container's init from a sealed memfd copy of husk-init (%d bytes), "+
			"made once per husk process (memfd_create, write, F_ADD_SEALS), so there is no on/off comparison to run. Its isolated cost:\n\n", h.InitBytes)
		if len(h.MemfdUs) > 0 {
			m, lo, hi := stats(h.MemfdUs)
			p("- memfd_create + write %d bytes + seal, in this benchmark process (same syscalls as husk): median %.1f µs (min %.1f, max %.1f, %d runs)", h.InitBytes, m, lo, hi, len(h.MemfdUs))
			if w := r.workload("cycle"); w != nil {
				if c := w.get("husk").phaseMedians()["create"]; c > 0 {
					p(" = %.2f%% of husk's median `create` (%.2f ms)", m/10/c, c)
				}
			}
			p(".\n")
		}
		if len(h.SpawnMemfd) > 0 {
			a, _, _ := stats(h.SpawnMemfd)
			b, _, _ := stats(h.SpawnFile)
			p("- fork+exec+wait of husk-init (it exits at once without arguments): from the sealed memfd median %.0f µs, from a regular file %.0f µs "+
				"(%d interleaved pairs): executing from a memfd costs %+.0f µs.\n", a, b, len(h.SpawnMemfd), a-b)
		}
		if h.MemfdErr != "" {
			p("- error: `%s`\n", h.MemfdErr)
		}
		if len(h.Phases) > 0 {
			p("\n`husk --trace` of %d `husk run` (median ms per phase; init phases are timed by husk-init and summed over same-named ops, e.g. all mounts[*]):\n\n", h.TraceRuns)
			p("| command | process | phase | median ms |\n|---|---|---|---:|\n")
			for _, ph := range h.Phases {
				parts := strings.SplitN(ph.Key, "/", 3)
				if len(parts) == 3 {
					p("| %s | %s | %s | %.3f |\n", parts[0], parts[1], parts[2], ph.Median)
				}
			}
		}
		for _, e := range h.TraceErrors {
			p("- trace run failed: `%s`\n", oneLine(e))
		}
		p("\n")
	}

	if len(r.Hyperfine) > 0 {
		p("## hyperfine cross-check (workload 1, not interleaved)\n\n| command | runs | mean ms | ± σ | median ms | min | max |\n|---|---:|---:|---:|---:|---:|---:|\n")
		for _, x := range r.Hyperfine {
			p("| %s | %d | %.2f | %.2f | %.2f | %.2f | %.2f |\n", x.Command, len(x.Times), x.Mean*1e3, x.Stddev*1e3, x.Median*1e3, x.Min*1e3, x.Max*1e3)
		}
		p("\n")
	}

	p("## Machine\n\n| | |\n|---|---|\n")
	for _, f := range r.Machine {
		p("| %s | %s |\n", f.Name, strings.ReplaceAll(f.Value, "|", "\\|"))
	}
	p("\n")
	if len(r.Notes) > 0 {
		p("## Notes\n\n")
		for _, n := range r.Notes {
			p("- %s\n", oneLine(n))
		}
		p("\n")
	}
	p("Raw samples: `results.json`. Reproduce: `%s`.\n", r.Command)
	return sb.String()
}

func reps(rows []*resourceRow) int {
	for _, r := range rows {
		return len(r.CreateMaxRSSKiB)
	}
	return 0
}

func limitCell(n int64, confirm string, atFloor bool) string {
	if n <= 0 {
		return "-"
	}
	s := kib(n)
	if atFloor {
		s = "≤ " + s
	}
	if confirm != "" {
		s += " (" + confirm + ")"
	}
	return s
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	s = strings.ReplaceAll(s, "`", "'")
	s = strings.ReplaceAll(s, "|", "\\|")
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

// chart draws grouped bars of the medians with gnuplot (log scale).
func (r *report) chart(png string) error {
	if _, err := exec.LookPath("gnuplot"); err != nil {
		return err
	}
	labels := map[string]string{"run": "RT run /bin/true", "cycle": "create/start/wait/delete", "ctr": "ctr run --rm",
		"docker": "docker run --rm", "conc": "concurrent batch"}
	if w := r.workload("conc"); w != nil {
		labels["conc"] = fmt.Sprintf("%d concurrent (per batch)", w.Batch)
	}
	lo, hi := 0.0, 0.0
	var dat bytes.Buffer
	for _, k := range headlineOrder {
		w := r.workload(k)
		if w == nil {
			continue
		}
		fmt.Fprintf(&dat, "%q", labels[k])
		for _, n := range []string{"husk", "runc", "crun", "floor"} {
			if s := w.get(n).summary(); s.N > 0 {
				fmt.Fprintf(&dat, " %.3f", s.Med)
				if lo == 0 || s.Med < lo {
					lo = s.Med
				}
				hi = max(hi, s.Med)
			} else {
				dat.WriteString(" -")
			}
		}
		dat.WriteString("\n")
	}
	dir, err := os.MkdirTemp("", "husk-bench-chart-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	datPath := filepath.Join(dir, "chart.dat")
	if err := os.WriteFile(datPath, dat.Bytes(), 0o644); err != nil {
		return err
	}
	script := fmt.Sprintf(`set terminal pngcairo size 1200,650 font "DejaVu Sans,10"
set output %q
set title "Median wall time per workload (log scale; lower is better)"
set datafile missing "-"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y
set yrange [%[3]g:%[4]g]
set ylabel "ms"
set grid ytics
set key outside top center horizontal
set xtics nomirror
set xrange [-0.6:*]
plot %[2]q using 2:xtic(1) title "husk" lc rgb "#2e7d32", \
     '' using 3 title "runc" lc rgb "#1565c0", \
     '' using 4 title "crun" lc rgb "#ef6c00", \
     '' using 5 title "floor: unshare+chroot, no runtime" lc rgb "#9e9e9e", \
     '' using ($0-0.3):2:(sprintf("%%.1f",$2)) with labels rotate by 90 left offset 0,0.4 font ",8" notitle, \
     '' using ($0-0.1):3:(sprintf("%%.1f",$3)) with labels rotate by 90 left offset 0,0.4 font ",8" notitle, \
     '' using ($0+0.1):4:(sprintf("%%.1f",$4)) with labels rotate by 90 left offset 0,0.4 font ",8" notitle, \
     '' using ($0+0.3):5:(sprintf("%%.1f",$5)) with labels rotate by 90 left offset 0,0.4 font ",8" notitle
`, png, datPath, lo/2, hi*4)
	cmd := exec.Command("gnuplot")
	cmd.Stdin = strings.NewReader(script)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("gnuplot: %v: %s", err, out)
	}
	return nil
}

// loadMeter estimates how much CPU time went to anything but the
// benchmark during the run: busy time from /proc/stat minus the CPU time of
// this process and the descendants it reaped (which includes the runtimes,
// the containers and the daemons). Kernel work on our behalf that is not
// charged to a task (e.g. deferred cgroup cleanup) counts as "other".
type loadMeter struct {
	busy0, own0 float64
	idle0       float64
	load0       string
	t0          time.Time
}

func startLoad() *loadMeter {
	l := &loadMeter{idle0: idleBusy(2 * time.Second), load0: loadavg()}
	l.busy0, l.own0, l.t0 = busySeconds(), ownSeconds(), time.Now()
	return l
}

// idleBusy samples how busy the machine is while the benchmark does
// nothing (percent of all CPUs): other sessions' load.
func idleBusy(d time.Duration) float64 {
	b0 := busySeconds()
	time.Sleep(d)
	return 100 * (busySeconds() - b0) / (d.Seconds() * float64(runtime.NumCPU()))
}

func (l *loadMeter) end() ([]fact, float64) {
	wall := time.Since(l.t0).Seconds()
	busy, own := busySeconds()-l.busy0, ownSeconds()-l.own0
	other := busy - own
	pct := 100 * other / (wall * float64(runtime.NumCPU()))
	idle1 := idleBusy(2 * time.Second)
	return []fact{
		{"machine busy while the benchmark was idle", fmt.Sprintf("%.0f%% of all CPUs in 2 s before the run, %.0f%% in 2 s after it "+
			"(other sessions on this machine)", l.idle0, idle1)},
		{"load average", fmt.Sprintf("at start %s; at end %s", l.load0, loadavg())},
		{"CPU time outside the benchmark", fmt.Sprintf("%.1f CPU-s of %.1f CPU-s busy during %.0f s wall on %d CPUs (%.0f%% of the machine); "+
			"time not charged to the benchmark's processes: other processes, plus kernel threads' work such as the teardown of the "+
			"containers' network namespaces", other, busy, wall, runtime.NumCPU(),
			pct)},
	}, max(l.idle0, idle1)
}

func loadavg() string {
	data, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func busySeconds() float64 {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line := strings.SplitN(string(data), "\n", 2)[0]
	f := strings.Fields(line)
	var busy float64
	for i, v := range f[1:] {
		if i == 3 || i == 4 || i >= 7 { // idle, iowait, steal, guest (already in user), guest_nice
			continue
		}
		var n float64
		fmt.Sscan(v, &n)
		busy += n
	}
	return busy / 100 // USER_HZ
}

func ownSeconds() float64 {
	var self, children syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &children)
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(self.Utime) + tv(self.Stime) + tv(children.Utime) + tv(children.Stime)
}

// podsMarkdown writes the pod workloads: every class against runsc.
func (r *report) podsMarkdown(p func(format string, args ...any)) {
	pr := r.Pods
	p("## Pods: husk's VM class, husk's container class, runc, runsc\n\n")
	p("One private containerd 2.4 with its CRI plugin and CNI's bridge; runtime handlers: ")
	for i, rt := range pr.Runtimes {
		if i > 0 {
			p(", ")
		}
		p("`%s` (`ctr run %s`)", rt.Name, strings.Join(rt.Ctr, " "))
	}
	p(". runsc is %s (no KVM here); husk-vm runs "+
		"qemu under TCG where there is no /dev/kvm, so its times are not KVM times: compare ratios. Ratio: this ÷ runsc "+
		"(< 1: faster than runsc).\n\n", pr.Gvisor)
	if pr.Err != "" {
		p("Error: `%s`\n\n", oneLine(pr.Err))
	}
	for _, w := range []*workload{pr.Start, pr.Ctr} {
		if w == nil {
			continue
		}
		ref := w.get("runsc").summary()
		p("### %s\n\n%s\n\n| runtime | N | failed | median | min | max | ÷ runsc |\n|---|---:|---:|---:|---:|---:|---:|\n", w.Title, w.Desc)
		for _, s := range w.Series {
			sm := s.summary()
			p("| %s | %d | %d | %s | %s | %s | %s |\n", s.Runtime, sm.N, sm.Failed, f1(sm.Med), f1(sm.Min), f1(sm.Max), ratio(sm.Med, ref.Med))
		}
		p("\nUnit: %s.", w.Unit)
		for _, s := range w.Series {
			if sm := s.summary(); sm.FirstErr != "" {
				p(" First error of %s: `%s`.", s.Runtime, oneLine(sm.FirstErr))
			}
		}
		p("\n\n")
		if w.Key == "pod" {
			p("Median per CRI call (ms):\n\n| runtime | RunPodSandbox | CreateContainer | StartContainer |\n|---|---:|---:|---:|\n")
			for _, s := range w.Series {
				m := s.phaseMedians()
				p("| %s | %s | %s | %s |\n", s.Runtime, f1(m["run-pod"]), f1(m["create"]), f1(m["start"]))
			}
			p("\n")
		}
	}
	if len(pr.VMPhases) > 0 {
		p("### The VM class's pod start, phase by phase\n\nMedians (ms) over the pods above, from the shim's log line of each " +
			"VM's boot: the shim's steps (configuration, the pod's cgroup, the taps and redirects in the pod's network namespace, " +
			"qemu until it connects, the guest until its agent answers, the guest's network), and within the guest's boot the " +
			"guest's own clock (kernel until the agent runs, each module, the agent's steps).\n\n| phase | median (ms) |\n|---|---:|\n")
		var keys []string
		for k := range pr.VMPhases {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p("| %s | %s |\n", k, f1(pr.VMPhases[k]))
		}
		p("\n")
	}
	if len(pr.Memory) > 0 {
		p("### Memory of an idle pod\n\nPSS (smaps_rollup) of every host process an idle pod (its sandbox and one `sleep` " +
			"container) added, 8 s after it started: the shim(s) and all their descendants (qemu; runsc's sandbox and gofer; the " +
			"containers' processes where they run on the host).\n\n| runtime | total PSS (MiB) | ÷ runsc | per process (KiB) |\n|---|---:|---:|---|\n")
		ref := 0.0
		for _, m := range pr.Memory {
			if m.Runtime == "runsc" {
				ref = m.TotalMB
			}
		}
		for _, m := range pr.Memory {
			if m.Err != "" {
				p("| %s | - | - | %s |\n", m.Runtime, oneLine(m.Err))
				continue
			}
			var parts []string
			for name, kib := range m.PssKiB {
				parts = append(parts, fmt.Sprintf("%s %d", name, kib))
			}
			sort.Strings(parts)
			p("| %s | %.1f | %s | %s |\n", m.Runtime, m.TotalMB, ratio(m.TotalMB, ref), strings.Join(parts, ", "))
		}
		p("\n")
	}
}
