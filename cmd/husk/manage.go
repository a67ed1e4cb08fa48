package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/husk-runtime/husk/libruntime"
)

var pauseCommand = &command{
	name: "pause", usage: "freeze every process of a container", args: "<container-id>",
	action: func(c *ctx) error {
		ct, err := load(c)
		if err != nil {
			return err
		}
		return ct.Pause()
	},
}

var resumeCommand = &command{
	name: "resume", usage: "thaw a paused container", args: "<container-id>",
	action: func(c *ctx) error {
		ct, err := load(c)
		if err != nil {
			return err
		}
		return ct.Resume()
	},
}

var psCommand = &command{
	name:  "ps",
	usage: "list the processes of a container",
	args:  "<container-id> [ps options]",
	flags: []flagDef{
		{kind: stringFlag, name: "format", aliases: []string{"f"}, value: "table", usage: "table (ps output) or json (host pids)"},
	},
	action: func(c *ctx) error {
		ct, err := load(c)
		if err != nil {
			return err
		}
		pids, err := ct.Processes()
		if err != nil {
			return err
		}
		switch c.String("format") {
		case "json":
			if pids == nil {
				pids = []int{}
			}
			return json.NewEncoder(c.out).Encode(pids)
		case "table":
			return psTable(c.out, pids, c.Tail())
		default:
			return fmt.Errorf("--format: %q is not table or json", c.String("format"))
		}
	},
}

// psTable runs ps(1) with the given options (default -ef) and keeps the
// header and the lines of the container's processes, as runc does.
func psTable(w io.Writer, pids []int, args []string) error {
	if len(args) == 0 {
		args = []string{"-ef"}
	}
	out, err := exec.Command("ps", args...).Output()
	if err != nil {
		return fmt.Errorf("ps %s: %w", strings.Join(args, " "), err)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	if !sc.Scan() {
		return nil
	}
	header := sc.Text()
	col := -1
	for i, f := range strings.Fields(header) {
		if f == "PID" {
			col = i
		}
	}
	if col < 0 {
		return fmt.Errorf("ps %s: no PID column", strings.Join(args, " "))
	}
	in := make(map[string]bool, len(pids))
	for _, p := range pids {
		in[strconv.Itoa(p)] = true
	}
	fmt.Fprintln(w, header)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) > col && in[f[col]] {
			fmt.Fprintln(w, sc.Text())
		}
	}
	return nil
}

var updateCommand = &command{
	name:  "update",
	usage: "change the resources of a container",
	args:  "<container-id>",
	flags: []flagDef{
		{kind: stringFlag, name: "resources", aliases: []string{"r"}, usage: "linux.resources JSON from this file (- for stdin)"},
		{kind: stringFlag, name: "memory", usage: "memory limit in bytes (k, m, g suffixes)"},
		{kind: stringFlag, name: "memory-reservation", usage: "memory soft limit"},
		{kind: stringFlag, name: "memory-swap", usage: "memory+swap limit (-1: unlimited)"},
		// Obsolete in runc, hidden as there.
		{kind: stringFlag, name: "kernel-memory", usage: "accepted and ignored (kernel memory limits are gone from Linux)", hidden: true},
		{kind: stringFlag, name: "kernel-memory-tcp", usage: "kernel TCP buffer limit", hidden: true},
		{kind: stringFlag, name: "cpu-share", usage: "CPU shares (relative weight)"},
		{kind: stringFlag, name: "cpu-period", usage: "CFS period in microseconds"},
		{kind: stringFlag, name: "cpu-quota", usage: "CFS quota in microseconds (-1: none)"},
		{kind: stringFlag, name: "cpu-burst", usage: "CFS burst in microseconds"},
		{kind: stringFlag, name: "cpu-idle", usage: "1: the cgroup's tasks are SCHED_IDLE, 0: they are not"},
		{kind: stringFlag, name: "cpu-rt-period", usage: "realtime period in microseconds"},
		{kind: stringFlag, name: "cpu-rt-runtime", usage: "realtime runtime in microseconds"},
		{kind: stringFlag, name: "cpuset-cpus", usage: "CPUs to run on (0-3,5)"},
		{kind: stringFlag, name: "cpuset-mems", usage: "memory nodes to use"},
		{kind: stringFlag, name: "pids-limit", usage: "maximum number of processes (-1: unlimited)"},
		{kind: stringFlag, name: "blkio-weight", usage: "block I/O weight (10-1000)"},
		{kind: stringFlag, name: "l3-cache-schema", usage: "Intel RDT: not supported"},
		{kind: stringFlag, name: "mem-bw-schema", usage: "Intel RDT: not supported"},
	},
	action: func(c *ctx) error {
		ct, err := load(c)
		if err != nil {
			return err
		}
		r, err := updateResources(c)
		if err != nil {
			return err
		}
		return ct.Update(r)
	},
}

// updateResources reads --resources, or else the flags (as runc, which
// ignores the other flags with a resources file).
func updateResources(c *ctx) (*rspec.LinuxResources, error) {
	var r rspec.LinuxResources
	path := c.String("resources")
	if path != "" {
		var data []byte
		var err error
		if path == "-" {
			data, err = io.ReadAll(os.Stdin)
		} else {
			data, err = os.ReadFile(path)
		}
		if err != nil {
			return nil, fmt.Errorf("--resources: %w", err)
		}
		if err := json.Unmarshal(data, &r); err != nil {
			return nil, fmt.Errorf("--resources: invalid JSON: %w", err)
		}
	}
	for _, name := range []string{"l3-cache-schema", "mem-bw-schema"} {
		if c.String(name) != "" {
			return nil, fmt.Errorf("--%s: Intel RDT is not supported", name)
		}
	}
	if path != "" {
		return &r, nil
	}
	mem := func() *rspec.LinuxMemory {
		if r.Memory == nil {
			r.Memory = &rspec.LinuxMemory{}
		}
		return r.Memory
	}
	cpu := func() *rspec.LinuxCPU {
		if r.CPU == nil {
			r.CPU = &rspec.LinuxCPU{}
		}
		return r.CPU
	}
	ints := []struct {
		flag string
		set  func(int64)
	}{
		{"memory", func(v int64) { mem().Limit = &v }},
		{"memory-reservation", func(v int64) { mem().Reservation = &v }},
		{"memory-swap", func(v int64) { mem().Swap = &v }},
		{"kernel-memory", func(v int64) { mem().Kernel = &v }},
		{"kernel-memory-tcp", func(v int64) { mem().KernelTCP = &v }},
		{"cpu-quota", func(v int64) { cpu().Quota = &v }},
		{"cpu-rt-runtime", func(v int64) { cpu().RealtimeRuntime = &v }},
		{"pids-limit", func(v int64) { r.Pids = &rspec.LinuxPids{Limit: &v} }},
	}
	for _, f := range ints {
		if s := c.String(f.flag); s != "" {
			v, err := parseBytes(s)
			if err != nil {
				return nil, fmt.Errorf("--%s: %w", f.flag, err)
			}
			f.set(v)
		}
	}
	uints := []struct {
		flag string
		set  func(uint64)
	}{
		{"cpu-share", func(v uint64) { cpu().Shares = &v }},
		{"cpu-period", func(v uint64) { cpu().Period = &v }},
		{"cpu-burst", func(v uint64) { cpu().Burst = &v }},
		{"cpu-rt-period", func(v uint64) { cpu().RealtimePeriod = &v }},
	}
	for _, f := range uints {
		if s := c.String(f.flag); s != "" {
			v, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("--%s: %q is not a number", f.flag, s)
			}
			f.set(v)
		}
	}
	if s := c.String("cpu-idle"); s != "" {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("--cpu-idle: %q is not a number", s)
		}
		cpu().Idle = &v
	}
	if s := c.String("cpuset-cpus"); s != "" {
		cpu().Cpus = s
	}
	if s := c.String("cpuset-mems"); s != "" {
		cpu().Mems = s
	}
	if s := c.String("blkio-weight"); s != "" {
		v, err := strconv.ParseUint(s, 10, 16)
		if err != nil {
			return nil, fmt.Errorf("--blkio-weight: %q is not a number", s)
		}
		w := uint16(v)
		r.BlockIO = &rspec.LinuxBlockIO{Weight: &w}
	}
	return &r, nil
}

// parseBytes reads a number with an optional k/m/g suffix (powers of 1024).
func parseBytes(s string) (int64, error) {
	mult := int64(1)
	switch strings.ToLower(s[len(s)-1:]) {
	case "k":
		mult = 1 << 10
	case "m":
		mult = 1 << 20
	case "g":
		mult = 1 << 30
	}
	if mult != 1 {
		s = strings.TrimRight(s[:len(s)-1], "bB")
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	return v * mult, nil
}

var eventsCommand = &command{
	name:  "events",
	usage: "print statistics and OOM events of a container as JSON lines",
	args:  "<container-id>",
	flags: []flagDef{
		{kind: boolFlag, name: "stats", usage: "print statistics once and exit"},
		{kind: durationFlag, name: "interval", value: "5s", usage: "time between statistics"},
	},
	action: func(c *ctx) error {
		ct, err := load(c)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(c.out)
		emit := func(typ string, data any) error {
			return enc.Encode(struct {
				Type string `json:"type"`
				ID   string `json:"id"`
				Data any    `json:"data,omitempty"`
			}{typ, ct.ID(), data})
		}
		stats := func() error {
			s, err := ct.Stats()
			if err != nil {
				return err
			}
			return emit("stats", s)
		}
		if c.Bool("stats") {
			return stats()
		}
		interval := c.Duration("interval")
		if interval <= 0 {
			return fmt.Errorf("--interval: must be positive")
		}
		ooms, _ := ct.OOMKills()
		next := time.Now()
		// OOM kills are checked often; statistics every interval.
		for ct.Status() != libruntime.Stopped {
			if n, err := ct.OOMKills(); err == nil && n > ooms {
				ooms = n
				if err := emit("oom", nil); err != nil {
					return err
				}
			}
			if !time.Now().Before(next) {
				if err := stats(); err != nil {
					return err
				}
				next = time.Now().Add(interval)
			}
			time.Sleep(min(interval, 200*time.Millisecond))
		}
		return nil
	},
}

var featuresCommand = &command{
	name:  "features",
	usage: "print the OCI features document of this husk",
	action: func(c *ctx) error {
		data, err := json.MarshalIndent(libruntime.Features(), "", "    ")
		if err != nil {
			return err
		}
		fmt.Fprintln(c.out, string(data))
		return nil
	},
}
