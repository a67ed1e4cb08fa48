package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/husk-runtime/husk/internal/testbundle"
)

// The microVM class: `husk run --vm` of /bin/true with the rootfs shared
// over virtio-9p and over virtio-fs, interleaved, with the phases of
// --trace; then the memory (PSS) of an idle one-container VM with each.

// vmShares are the ways the rootfs reaches the guest, compared.
var vmShares = []string{"9p", "virtiofs"}

const vmTimeout = 5 * time.Minute

// vmBundle writes a bundle for the VM workloads: a writable busybox
// rootfs, the share chosen by annotation.
func (b *bench) vmBundle(share string, args ...string) (string, error) {
	dir := filepath.Join(b.o.work, "vm-bundle-"+share+"-"+args[0])
	if _, err := os.Stat(dir); err == nil {
		return dir, nil
	}
	s := testbundle.Config(args...)
	s.Root.Readonly = false
	s.Annotations = map[string]string{"io.husk.vm.share": share}
	return dir, testbundle.Write(dir, s)
}

func (b *bench) workloadVM(ctx context.Context, n int) (*workload, error) {
	w := newWorkload("vm", "husk run --vm /bin/true (microVM)", "ms per container",
		"`husk --trace F run --vm --bundle B ID` of `/bin/true`: qemu (TCG where there is no /dev/kvm, microvm machine, 1 vCPU, "+
			"256 MiB), Debian's kernel, husk-agent as PID 1 running the container with libruntime, the VM powered off at the end. "+
			"One series per way the rootfs reaches the guest (virtio-9p in qemu, virtio-fs with Debian's virtiofsd), interleaved. "+
			"Phases are the --trace medians: host clock for qemu and the container, the guest's clock for the kernel and the agent.")
	husk := b.rts[0]
	var cs []contender
	bundles := map[string]string{}
	for _, sh := range vmShares {
		dir, err := b.vmBundle(sh, "/bin/true")
		if err != nil {
			return nil, err
		}
		bundles["husk --vm "+sh] = dir
		cs = append(cs, contender{Name: "husk --vm " + sh, rt: husk})
	}
	b.rounds(ctx, w, n, 1, cs, func(c contender) sample {
		id := b.id()
		trace := filepath.Join(b.o.state, "tmp", "trace-"+id)
		defer os.Remove(trace)
		r := b.run(ctx, vmTimeout, append([]string{husk.Path, "--root", husk.Root, "--trace", trace},
			"run", "--vm", "--bundle", bundles[c.Name], id))
		if r.Err != nil {
			b.forceDelete(husk, id)
		}
		s := sampleOf(r)
		s.Phases = tracePhases(trace)
		return s
	})
	return w, nil
}

// tracePhases sums the trace's lines per phase.
func tracePhases(path string) map[string]float64 {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l struct {
			Proc  string  `json:"proc"`
			Phase string  `json:"phase"`
			Ms    float64 `json:"ms"`
		}
		if json.Unmarshal(sc.Bytes(), &l) != nil || strings.HasPrefix(l.Proc, "guest-") {
			continue
		}
		out[l.Phase] += l.Ms
	}
	return out
}

// vmMemRow is the memory of one idle VM container.
type vmMemRow struct {
	Share   string           `json:"share"`
	PssKiB  map[string]int64 `json:"pss_kib"` // per process: qemu, supervisor, virtiofsd
	TotalMB float64          `json:"total_mib"`
	Err     string           `json:"err,omitempty"`
}

// vmMemory runs `sleep` in a VM per share kind, lets it settle, and sums
// the PSS of every host process the VM container has: qemu, husk-vm's
// supervisor and (virtio-fs) virtiofsd.
func (b *bench) vmMemory(ctx context.Context, settle time.Duration) []*vmMemRow {
	husk := b.rts[0]
	var rows []*vmMemRow
	for _, sh := range vmShares {
		row := &vmMemRow{Share: sh, PssKiB: map[string]int64{}}
		rows = append(rows, row)
		dir, err := b.vmBundle(sh, "sleep", "1000")
		if err != nil {
			row.Err = err.Error()
			continue
		}
		id := b.id()
		r := b.run(ctx, vmTimeout, husk.argv("run", "--vm", "-d", "--bundle", dir, id))
		if r.Err != nil {
			row.Err = r.Err.Error()
			b.forceDelete(husk, id)
			continue
		}
		time.Sleep(settle)
		sup := statePid(filepath.Join(husk.Root, id, "vm.json"))
		procs := map[string]int{"husk-vm (supervisor)": sup}
		for _, pid := range children(sup) {
			comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
			procs[strings.TrimSpace(string(comm))] = pid
		}
		var total int64
		for name, pid := range procs {
			kib := pss(pid)
			row.PssKiB[name] = kib
			total += kib
		}
		row.TotalMB = float64(total) / 1024
		b.forceDelete(husk, id)
	}
	return rows
}

func statePid(path string) int {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	var st struct {
		Pid int `json:"pid"`
	}
	json.Unmarshal(data, &st)
	return st.Pid
}

// children lists pid's children: each thread's (Go forks from any).
func children(pid int) []int {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var out []int
	for _, t := range tasks {
		data, _ := os.ReadFile(t)
		for _, f := range strings.Fields(string(data)) {
			if n, err := strconv.Atoi(f); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

// pss is a process's proportional set size in KiB.
func pss(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "Pss:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}
