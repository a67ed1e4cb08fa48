package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/husk-runtime/husk/vm/sandbox"
)

// cmdEvents prints statistics and OOM kills as JSON lines, as husk's
// events does: the statistics are read in the guest's cgroup, the OOM
// kills come as the agent sees them.
func cmdEvents(g *global, args []string, out io.Writer) error {
	var once bool
	var interval time.Duration
	return withConn(g, "events", args, func(f flags, c *conn) error {
		enc := json.NewEncoder(out)
		emit := func(typ string, data any) error {
			return enc.Encode(struct {
				Type string `json:"type"`
				ID   string `json:"id"`
				Data any    `json:"data,omitempty"`
			}{typ, c.id, data})
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		stats := func() error {
			s, _, err := sandbox.Stats(ctx, c.agent, c.id)
			if err != nil {
				return err
			}
			return emit("stats", s)
		}
		if once {
			return stats()
		}
		if interval <= 0 {
			return fmt.Errorf("--interval: must be positive")
		}
		ooms := make(chan error, 1)
		go func() {
			for {
				ev, err := c.agent.GetOOMEvent(ctx, emptyReq())
				if err != nil {
					ooms <- err
					return
				}
				// The guest names the container: only ours is reported.
				if ev.ContainerId == c.id {
					emit("oom", nil)
				}
			}
		}()
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			if err := stats(); err != nil {
				return nil // the container or its VM has ended
			}
			select {
			case <-ooms:
				return nil
			case <-tick.C:
			}
		}
	}, func(f flags) {
		f.boolean(&once, "stats")
		f.DurationVar(&interval, "interval", 5*time.Second, "")
	})
}

// cmdUpdate changes a running container's resources in the guest.
func cmdUpdate(g *global, args []string, out io.Writer) error {
	var resources string
	var memory, pids, quota, period int64
	return withConn(g, "update", args, func(f flags, c *conn) error {
		var r rspec.LinuxResources
		if resources != "" {
			data, err := readFileOrStdin(resources)
			if err != nil {
				return fmt.Errorf("--resources: %w", err)
			}
			if err := json.Unmarshal(data, &r); err != nil {
				return fmt.Errorf("--resources: %w", err)
			}
		}
		if memory != 0 {
			r.Memory = &rspec.LinuxMemory{Limit: &memory}
		}
		if pids != 0 {
			r.Pids = &rspec.LinuxPids{Limit: &pids}
		}
		if quota != 0 || period != 0 {
			r.CPU = &rspec.LinuxCPU{}
			if quota != 0 {
				r.CPU.Quota = &quota
			}
			if period != 0 {
				p := uint64(period)
				r.CPU.Period = &p
			}
		}
		data, err := json.Marshal(&r)
		if err != nil {
			return err
		}
		_, err = c.agent.UpdateContainer(context.Background(), updateReq(c.id, data))
		return err
	}, func(f flags) {
		f.str(&resources, "", "resources", "r")
		f.Int64Var(&memory, "memory", 0, "")
		f.Int64Var(&pids, "pids-limit", 0, "")
		f.Int64Var(&quota, "cpu-quota", 0, "")
		f.Int64Var(&period, "cpu-period", 0, "")
	})
}

func readFileOrStdin(path string) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(io.LimitReader(os.Stdin, 1<<20))
	}
	return os.ReadFile(path)
}
