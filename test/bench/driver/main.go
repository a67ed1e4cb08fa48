// Command driver measures husk, runc and crun side by side (and a bare
// unshare+chroot floor) and writes results.md, results.json and the data
// for chart.png. test/bench/run.sh installs what is needed, builds husk and
// this driver, and runs it; see test/bench/README.md for what is measured.
//
// Every workload interleaves the contenders round by round, rotating their
// order each round, so machine noise hits all alike. Nothing is asserted:
// this is measurement only.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// opts are the command-line options (run.sh fills them from the environment).
type opts struct {
	repo, out, work, state string
	husk, runc, crun       string
	huskOrigin             string // where the husk binary was copied from
	huskShim               string // containerd-shim-husk-v2
	gvisor                 string // directory with gVisor's runsc and containerd-shim-runsc-v1
	containerd24           string // directory with containerd 2.4's containerd, ctr and runc-shim/ (pods)
	n, nDaemon, warm       int
	conc, concRounds       int
	memRepeats, traceRuns  int
	hyperfineRuns          int
	nVM                    int
	nPod                   int
	calibrate              string // write a calibration JSON here and exit
	calibration            string // read a calibration JSON from here
	holder                 int    // pid of a process in the masked mount namespace
	mask                   string // description of the cgroup view (from run.sh)
	command                string
	skip                   string // comma-separated workload keys to skip
}

func main() {
	var o opts
	flag.StringVar(&o.repo, "repo", ".", "husk repository")
	flag.StringVar(&o.out, "out", "test/results/bench", "output directory")
	flag.StringVar(&o.work, "work", "/var/tmp/husk-bench", "work directory (bundles, image, daemon data)")
	flag.StringVar(&o.state, "state", "/run/husk-bench", "state directory (runtime roots, sockets)")
	flag.StringVar(&o.husk, "husk", "bin/husk", "husk binary")
	flag.StringVar(&o.huskShim, "husk-shim", "bin/containerd-shim-husk-v2", "husk's containerd shim")
	flag.StringVar(&o.huskOrigin, "husk-origin", "", "where -husk was copied from (for the report)")
	flag.StringVar(&o.runc, "runc", "runc", "runc binary")
	flag.StringVar(&o.crun, "crun", "crun", "crun binary")
	flag.StringVar(&o.containerd24, "containerd24", "/var/cache/husk-test/containerd-2.4.2", "containerd 2.4: containerd, ctr and runc-shim/containerd-shim-runc-v2 (the pod workloads)")
	flag.StringVar(&o.gvisor, "gvisor", "", "directory with gVisor's runsc and containerd-shim-runsc-v1 (else Debian's runsc through containerd's runc shim)")
	flag.IntVar(&o.n, "n", 30, "rounds of the sequential workloads (run, create-start-wait-delete)")
	flag.IntVar(&o.nDaemon, "n-daemon", 10, "rounds of ctr run and docker run")
	flag.IntVar(&o.warm, "warm", 2, "untimed warm-up runs per contender and workload")
	flag.IntVar(&o.conc, "conc", 50, "containers per concurrent batch")
	flag.IntVar(&o.concRounds, "conc-rounds", 5, "rounds of the concurrent batch")
	flag.IntVar(&o.memRepeats, "mem-repeats", 5, "create commands measured for peak RSS")
	flag.IntVar(&o.traceRuns, "trace-runs", 10, "husk --trace runs for the phase breakdown")
	flag.IntVar(&o.nVM, "n-vm", 10, "rounds of husk run --vm (per way of sharing the rootfs)")
	flag.IntVar(&o.nPod, "n-pod", 5, "rounds of the pod workloads (VM class, container class, runc, runsc)")
	flag.IntVar(&o.hyperfineRuns, "hyperfine-runs", 10, "hyperfine cross-check runs (0: skip)")
	flag.StringVar(&o.calibrate, "calibrate", "", "only run the cgroup-view calibration and write it to this file")
	flag.StringVar(&o.calibration, "calibration", "", "calibration JSON written by an earlier -calibrate run")
	flag.IntVar(&o.holder, "holder", 0, "with -calibrate: pid of a process whose mount namespace has the masked cgroup view")
	flag.StringVar(&o.mask, "mask", "", "how the cgroup2 controller list is masked (for the report)")
	flag.StringVar(&o.command, "command", "", "the command line that ran the benchmark (for the report)")
	flag.StringVar(&o.skip, "skip", "", "comma-separated workloads to skip: version,run,cycle,ctr,shim,docker,conc,resources,memlimit,husk,hyperfine,vm,pods")
	flag.Parse()

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer cancel()
	if err := mainErr(ctx, &o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func mainErr(ctx context.Context, o *opts) error {
	// Orphaned container inits (after `create` exits) become our children,
	// as they become the children of containerd's shim: we wait for them
	// with a pidfd and reap them.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("become subreaper: %w", err)
	}
	b, err := newBench(o)
	if err != nil {
		return err
	}
	defer b.cleanup()

	if o.calibrate != "" {
		w := b.calibrate(ctx)
		data, err := json.MarshalIndent(w, "", "  ")
		if err != nil {
			return err
		}
		return os.WriteFile(o.calibrate, data, 0o644)
	}

	rep := &report{Started: time.Now(), Command: o.command, Mask: o.mask, HuskOrigin: o.huskOrigin}
	rep.Machine = machineFacts(b)
	load := startLoad()
	if o.calibration != "" {
		if data, err := os.ReadFile(o.calibration); err == nil {
			var w workload
			if json.Unmarshal(data, &w) == nil {
				rep.Calibration = &w
			}
		}
	}
	skip := map[string]bool{}
	for _, s := range strings.Split(o.skip, ",") {
		skip[strings.TrimSpace(s)] = true
	}
	step := func(key, what string, f func() error) {
		if skip[key] || ctx.Err() != nil {
			return
		}
		t := time.Now()
		logf("== %s", what)
		if err := f(); err != nil {
			rep.note("%s: %v", what, err)
			logf("%s: %v", what, err)
		}
		b.reapOrphans()
		logf("   %s took %.1fs", key, time.Since(t).Seconds())
	}
	step("version", "process start cost: RT --version", func() error {
		rep.Workloads = append(rep.Workloads, b.workloadVersion(ctx))
		return nil
	})
	step("run", "workload 1: RT run /bin/true", func() error {
		rep.Workloads = append(rep.Workloads, b.workloadRun(ctx))
		return nil
	})
	step("cycle", "workload 2: create, start, wait, delete", func() error {
		rep.Workloads = append(rep.Workloads, b.workloadCycle(ctx))
		return nil
	})
	if !skip["ctr"] || !skip["shim"] || !skip["docker"] {
		step("daemons", "workload 3: ctr run --rm (runc shim; husk's shim), docker run --rm", func() error {
			res, err := b.workloadDaemons(ctx, !skip["ctr"], !skip["shim"], !skip["docker"])
			rep.Workloads = append(rep.Workloads, res.workloads...)
			rep.ShimMemory = res.shimMem
			return err
		})
	}
	step("conc", "workload 4: concurrent batch", func() error {
		rep.Workloads = append(rep.Workloads, b.workloadConcurrent(ctx))
		return nil
	})
	step("resources", "resources: peak RSS, binary size", func() error {
		rep.Resources = b.resources(ctx)
		rep.RSSFloorKiB = b.timeFloor(ctx)
		return nil
	})
	step("memlimit", "resources: smallest memory limit", func() error {
		rep.MemLimits = b.memLimits(ctx)
		return nil
	})
	step("husk", "husk: trace phases and the sealed-memfd cost", func() error {
		rep.Husk = b.huskExtras(ctx)
		return nil
	})
	step("vm", "microVM: husk run --vm, 9p and virtio-fs; memory of an idle VM", func() error {
		w, err := b.workloadVM(ctx, o.nVM)
		if w != nil {
			rep.Workloads = append(rep.Workloads, w)
		}
		rep.VMMemory = b.vmMemory(ctx, 5*time.Second)
		return err
	})
	step("pods", "pods: VM class, container class, runc, runsc (CRI, CNI); memory of an idle pod", func() error {
		rep.Pods = b.workloadPods(ctx, o.nPod)
		if rep.Pods.Err != "" {
			return fmt.Errorf("%s", rep.Pods.Err)
		}
		return nil
	})
	step("hyperfine", "hyperfine cross-check of workload 1", func() error {
		h, err := b.hyperfine(ctx)
		rep.Hyperfine = h
		return err
	})
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted")
	}
	rep.Notes = append(rep.Notes, b.notes...)
	facts, pct := load.end()
	rep.Machine = append(rep.Machine, facts...)
	if pct > 10 {
		rep.note("The machine was not idle: other sessions used about %.0f%% of its CPUs while the benchmark itself was idle (see Machine). "+
			"Absolute times are inflated; the round-by-round interleaving spreads that noise over all contenders, so the ratios are the more "+
			"reliable numbers.", pct)
	}
	rep.Finished = time.Now()
	rep.DurationS = rep.Finished.Sub(rep.Started).Seconds()
	return rep.write(o.out)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[bench %s] %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func abs(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return a
}
