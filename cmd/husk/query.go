package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/husk-runtime/husk/cgroups"
	"github.com/husk-runtime/husk/libruntime"
	"github.com/husk-runtime/husk/specs"
)

var stateCommand = &command{
	name:  "state",
	usage: "print a container's state as JSON",
	args:  "<container-id>",
	action: func(c *ctx) error {
		ct, err := load(c)
		if err != nil {
			return err
		}
		data, err := json.MarshalIndent(ct.OCIState(), "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintln(c.out, string(data))
		return nil
	},
}

var listCommand = &command{
	name:  "list",
	usage: "list containers",
	flags: []flagDef{
		{kind: boolFlag, name: "quiet", aliases: []string{"q"}, usage: "print only IDs"},
		{kind: stringFlag, name: "format", aliases: []string{"f"}, value: "table", usage: "table or json"},
	},
	action: func(c *ctx) error {
		format := c.String("format")
		if format != "table" && format != "json" {
			return fmt.Errorf("--format: %q is not table or json", format)
		}
		rt, err := runtime(c)
		if err != nil {
			return err
		}
		// As runc: a state root given with --root must exist; the
		// default one may not yet (no container was created).
		if c.global["root"].set {
			if _, err := os.Stat(rt.Root()); err != nil {
				return fmt.Errorf("list: %w", err)
			}
		}
		cts, err := rt.List()
		if err != nil {
			return err
		}
		w := c.out
		if c.Bool("quiet") {
			for _, ct := range cts {
				fmt.Fprintln(w, ct.ID())
			}
			return nil
		}
		// The owner is the state directory's, by name, as runc lists it.
		// A VM container's state is husk-vm's to tell; one that went
		// away meanwhile is not listed.
		states := make([]libruntime.OCIState, 0, len(cts))
		for _, ct := range cts {
			s := ct.OCIState()
			if isVMContainer(rt.Root(), ct.ID()) {
				if s, err = vmState(rt.Root(), ct.ID()); err != nil {
					if !isVMContainer(rt.Root(), ct.ID()) {
						continue
					}
					return err
				}
			}
			s.Owner = ct.Owner()
			states = append(states, s)
		}
		if format == "json" {
			return json.NewEncoder(w).Encode(states)
		}
		tw := tabwriter.NewWriter(w, 12, 1, 3, ' ', 0)
		fmt.Fprint(tw, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n")
		for _, s := range states {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", s.ID, s.Pid, s.Status, s.Bundle,
				s.Created.Format(time.RFC3339Nano), s.Owner)
		}
		return tw.Flush()
	},
}

var specCommand = &command{
	name:  "spec",
	usage: "write a default config.json into the bundle",
	flags: []flagDef{
		{kind: stringFlag, name: "bundle", aliases: []string{"b"}, value: ".", usage: "bundle directory"},
		{kind: boolFlag, name: "rootless", usage: "a config for a non-root user (user namespace, no cgroups)"},
	},
	action: func(c *ctx) error {
		path := filepath.Join(c.String("bundle"), "config.json")
		if _, err := os.Stat(path); err == nil {
			return fmt.Errorf("%s exists; remove it first", path)
		} else if !errors.Is(err, os.ErrNotExist) {
			return err
		}
		h, err := cgroups.Detect()
		cgroup2 := err == nil && h.Mode() == cgroups.Unified
		data, err := json.MarshalIndent(specs.HostDefault(c.Bool("rootless"), cgroup2), "", "\t")
		if err != nil {
			return err
		}
		return os.WriteFile(path, append(data, '\n'), 0o666)
	},
}
