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
	"github.com/urfave/cli/v2"

	"github.com/husk-runtime/husk/libruntime"
)

var pauseCommand = &cli.Command{
	Name: "pause", Usage: "freeze every process of a container", ArgsUsage: "<container-id>",
	Action: func(c *cli.Context) error {
		ct, err := load(c)
		if err != nil {
			return err
		}
		return ct.Pause()
	},
}

var resumeCommand = &cli.Command{
	Name: "resume", Usage: "thaw a paused container", ArgsUsage: "<container-id>",
	Action: func(c *cli.Context) error {
		ct, err := load(c)
		if err != nil {
			return err
		}
		return ct.Resume()
	},
}

var psCommand = &cli.Command{
	Name:      "ps",
	Usage:     "list the processes of a container",
	ArgsUsage: "<container-id> [ps options]",
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "table (ps output) or json (host pids)"},
	},
	Action: func(c *cli.Context) error {
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
			return json.NewEncoder(c.App.Writer).Encode(pids)
		case "table":
			return psTable(c.App.Writer, pids, c.Args().Tail())
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

var updateCommand = &cli.Command{
	Name:      "update",
	Usage:     "change the resources of a container",
	ArgsUsage: "<container-id>",
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "resources", Aliases: []string{"r"}, Usage: "linux.resources JSON from this file (- for stdin)"},
		&cli.StringFlag{Name: "memory", Usage: "memory limit in bytes (k, m, g suffixes)"},
		&cli.StringFlag{Name: "memory-reservation", Usage: "memory soft limit"},
		&cli.StringFlag{Name: "memory-swap", Usage: "memory+swap limit (-1: unlimited)"},
		&cli.StringFlag{Name: "kernel-memory", Usage: "accepted and ignored (kernel memory limits are gone from Linux)"},
		&cli.StringFlag{Name: "kernel-memory-tcp", Usage: "kernel TCP buffer limit"},
		&cli.StringFlag{Name: "cpu-shares", Usage: "CPU shares (relative weight)"},
		&cli.StringFlag{Name: "cpu-period", Usage: "CFS period in microseconds"},
		&cli.StringFlag{Name: "cpu-quota", Usage: "CFS quota in microseconds (-1: none)"},
		&cli.StringFlag{Name: "cpu-rt-period", Usage: "realtime period in microseconds"},
		&cli.StringFlag{Name: "cpu-rt-runtime", Usage: "realtime runtime in microseconds"},
		&cli.StringFlag{Name: "cpuset-cpus", Usage: "CPUs to run on (0-3,5)"},
		&cli.StringFlag{Name: "cpuset-mems", Usage: "memory nodes to use"},
		&cli.StringFlag{Name: "pids-limit", Usage: "maximum number of processes (-1: unlimited)"},
		&cli.StringFlag{Name: "blkio-weight", Usage: "block I/O weight (10-1000)"},
		&cli.StringFlag{Name: "l3-cache-schema", Usage: "Intel RDT: not supported"},
		&cli.StringFlag{Name: "mem-bw-schema", Usage: "Intel RDT: not supported"},
	},
	Action: func(c *cli.Context) error {
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

// updateResources reads --resources, then applies the flags over it.
func updateResources(c *cli.Context) (*rspec.LinuxResources, error) {
	var r rspec.LinuxResources
	if path := c.String("resources"); path != "" {
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
		{"cpu-shares", func(v uint64) { cpu().Shares = &v }},
		{"cpu-period", func(v uint64) { cpu().Period = &v }},
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

var eventsCommand = &cli.Command{
	Name:      "events",
	Usage:     "print statistics and OOM events of a container as JSON lines",
	ArgsUsage: "<container-id>",
	Flags: []cli.Flag{
		&cli.BoolFlag{Name: "stats", Usage: "print statistics once and exit"},
		&cli.DurationFlag{Name: "interval", Value: 5 * time.Second, Usage: "time between statistics"},
	},
	Action: func(c *cli.Context) error {
		ct, err := load(c)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(c.App.Writer)
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

var featuresCommand = &cli.Command{
	Name:  "features",
	Usage: "print the OCI features document of this husk",
	Action: func(c *cli.Context) error {
		data, err := json.MarshalIndent(libruntime.Features(), "", "    ")
		if err != nil {
			return err
		}
		fmt.Fprintln(c.App.Writer, string(data))
		return nil
	},
}
