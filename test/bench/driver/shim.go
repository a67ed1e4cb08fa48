package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// huskRuntime is the containerd runtime name of husk's shim; containerd
// runs containerd-shim-husk-v2 from its PATH for it.
const huskRuntime = "io.containerd.husk.v2"

// shimContenders are the three ways a container gets to containerd here:
// husk's shim (libruntime in-process), and containerd's runc shim calling
// the runc or crun binary. They carry the runtimes' names so the report's
// husk/runc and husk/crun ratios compare husk's shim with the runc shim
// plus that runtime.
func (b *bench) shimContenders() []contender {
	var cs []contender
	for _, rt := range b.rts {
		cs = append(cs, contender{Name: rt.Name, rt: rt})
	}
	return cs
}

// ctrRunArgs selects the shim: husk's own for husk, the runc shim with
// --runc-binary for the others.
func ctrRunArgs(c contender) []string {
	if c.Name == "husk" {
		return []string{"--runtime", huskRuntime}
	}
	return []string{"--runtime", "io.containerd.runc.v2", "--runc-binary", c.rt.Path}
}

// workloadShim is `ctr run --rm true` through husk's shim against the runc
// shim with runc and with crun.
func (b *bench) workloadShim(ctx context.Context, ctr func(...string) []string) *workload {
	w := newWorkload("shim", "ctr run --rm, husk's shim vs runc shim + RT", "ms per container",
		"`ctr run --rm --runtime io.containerd.husk.v2 IMAGE ID true` (husk: containerd-shim-husk-v2, which runs "+
			"containers with libruntime in its own process) against `ctr run --rm --runtime io.containerd.runc.v2 "+
			"--runc-binary RT IMAGE ID true` (runc, crun: containerd's runc shim executing that runtime for create, "+
			"start and delete), same private containerd 1.6. Wall time of the ctr command.")
	b.rounds(ctx, w, b.o.nDaemon, 1, b.shimContenders(), func(c contender) sample {
		argv := append(ctr("run", "--rm"), ctrRunArgs(c)...)
		return sampleOf(b.run(ctx, cmdTimeout, append(argv, imageRef, b.id(), "true")))
	})
	return w
}

// shimMemRow is the shim memory table's line for one shim.
type shimMemRow struct {
	Shim string `json:"shim"`
	// VmRSS of the shim process with one sleeping container, and with
	// podSize containers of one pod (one shim serves them all).
	OneKiB []int64 `json:"one_container_rss_kib"`
	PodKiB []int64 `json:"pod_rss_kib"`
	// RssAnon with one container: the private part of VmRSS (the rest is
	// the binary's pages, shared through the page cache).
	OneAnonKiB []int64 `json:"one_container_rss_anon_kib"`
	// PodSize containers of one pod were served by one shim process.
	PodSize int    `json:"pod_size"`
	Grouped bool   `json:"grouped"`
	Err     string `json:"error,omitempty"`
}

const podSize = 5

// shimMemory measures each shim's resident memory with one sleeping
// container, then with podSize containers carrying the same
// io.kubernetes.cri.sandbox-id annotation: the key both shims group a
// pod's containers by.
func (b *bench) shimMemory(ctx context.Context, ctr func(...string) []string, repeats int) []*shimMemRow {
	var rows []*shimMemRow
	for _, c := range b.shimContenders()[:2] { // husk's shim, the runc shim (with runc)
		name := "containerd-shim-runc-v2 (runc)"
		if c.Name == "husk" {
			name = "containerd-shim-husk-v2"
		}
		row := &shimMemRow{Shim: name, PodSize: podSize, Grouped: true}
		rows = append(rows, row)
		for r := 0; r < repeats && ctx.Err() == nil; r++ {
			one, anon, pod, grouped, err := b.shimPod(ctx, ctr, c)
			if err != nil {
				row.Err = err.Error()
				break
			}
			row.OneKiB = append(row.OneKiB, one)
			row.OneAnonKiB = append(row.OneAnonKiB, anon)
			row.PodKiB = append(row.PodKiB, pod)
			row.Grouped = row.Grouped && grouped
		}
	}
	return rows
}

// shimPod starts a pod's containers one by one, reading the shim's VmRSS
// (and RssAnon) after the first and VmRSS after the last, then removes
// them.
func (b *bench) shimPod(ctx context.Context, ctr func(...string) []string, c contender) (one, anon, pod int64, grouped bool, err error) {
	group := b.id()
	var ids []string
	defer func() {
		for _, id := range ids {
			b.run(context.Background(), 30*time.Second, ctr("task", "kill", "-s", "SIGKILL", id))
		}
		for _, id := range ids {
			for i := 0; i < 50; i++ {
				if b.run(context.Background(), 30*time.Second, ctr("task", "delete", id)).Err == nil {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			b.run(context.Background(), 30*time.Second, ctr("containers", "delete", id))
		}
	}()
	shim := 0
	grouped = true
	for i := 0; i < podSize; i++ {
		id := fmt.Sprintf("%s-%d", group, i)
		argv := append(ctr("run", "-d", "--annotation", "io.kubernetes.cri.sandbox-id="+group), ctrRunArgs(c)...)
		if r := b.run(ctx, cmdTimeout, append(argv, imageRef, id, "sleep", "3600")); r.Err != nil {
			return 0, 0, 0, false, r.Err
		}
		ids = append(ids, id)
		pid, err := b.shimPid(ctx, ctr, id)
		if err != nil {
			return 0, 0, 0, false, err
		}
		if shim == 0 {
			shim = pid
		} else if pid != shim {
			grouped = false
		}
		if i == 0 || i == podSize-1 {
			// Let the shim finish what the start set going (goroutines,
			// its GC) before reading its memory.
			time.Sleep(time.Second)
			st := procStatus(shim)
			rss := st["VmRSS"]
			if rss <= 0 {
				return 0, 0, 0, false, fmt.Errorf("no VmRSS for shim %d", shim)
			}
			if i == 0 {
				one, anon = rss, st["RssAnon"]
			} else {
				pod = rss
			}
		}
	}
	return one, anon, pod, grouped, nil
}

// shimPid is the parent of the task's init: the shim, a subreaper that
// inherits the init when the runtime that started it exits (runc, crun),
// or that started it itself (husk's shim).
func (b *bench) shimPid(ctx context.Context, ctr func(...string) []string, id string) (int, error) {
	out, err := runOutput(ctx, ctr("task", "ls"))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == id {
			pid, err := strconv.Atoi(f[1])
			if err != nil {
				return 0, fmt.Errorf("ctr task ls: %q", line)
			}
			return ppid(pid)
		}
	}
	return 0, fmt.Errorf("task %s not listed by ctr task ls", id)
}

func ppid(pid int) (int, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The fields after the command name, which is in parentheses and may
	// hold spaces: state ppid ...
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 2 {
		return 0, fmt.Errorf("/proc/%d/stat: %q", pid, s)
	}
	return strconv.Atoi(f[1])
}

// runOutput runs argv and returns its standard output.
func runOutput(ctx context.Context, argv []string) (string, error) {
	cctx, cancel := context.WithTimeout(ctx, cmdTimeout)
	defer cancel()
	out, err := exec.CommandContext(cctx, argv[0], argv[1:]...).Output()
	if err != nil {
		return "", fmt.Errorf("%s: %w", strings.Join(argv, " "), err)
	}
	return string(out), nil
}
