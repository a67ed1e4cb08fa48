// Package cli is husk's command line for containers in microVMs: `husk
// --vm` and the commands on a VM container, which the husk binary hands
// to husk-vm (kept apart: ttrpc and protobuf cost every husk command
// ~1.8 ms of package initialisation). Flags and exit codes are husk's.
package cli

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Main runs husk-vm's command line (husk's, without the program name)
// and returns the exit code.
func Main(args []string) int {
	var g global
	err := run(&g, args, os.Stdout)
	var ee exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	default:
		fmt.Fprintf(os.Stderr, "husk: %v\n", err)
		logError(&g, err)
		return 1
	}
}

// logError appends the error to --log as husk does: clients such as
// containerd's runc shim read it from there.
func logError(g *global, err error) {
	if g.log == "" {
		return
	}
	f, ferr := os.OpenFile(g.log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if ferr != nil {
		return
	}
	defer f.Close()
	now := time.Now().UTC().Format(time.RFC3339Nano)
	if g.logFormat == "json" {
		data, _ := json.Marshal(map[string]string{"time": now, "level": "error", "msg": err.Error()})
		f.Write(append(data, '\n'))
		return
	}
	fmt.Fprintf(f, "time=%q level=error msg=%q\n", now, err.Error())
}

// exitError carries a container's exit code.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// global holds husk's global flags.
type global struct {
	root, log, logFormat, trace string
	debug                       bool
}

func run(g *global, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("husk", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&g.root, "root", defaultRoot(), "")
	fs.StringVar(&g.log, "log", "", "")
	fs.StringVar(&g.logFormat, "log-format", "text", "")
	fs.StringVar(&g.trace, "trace", os.Getenv("HUSK_TRACE"), "")
	fs.BoolVar(&g.debug, "debug", false, "")
	// Accepted as husk accepts them.
	fs.String("rootless", "auto", "")
	fs.String("criu", "", "")
	fs.Bool("systemd-cgroup", false, "")
	if err := fs.Parse(args); err != nil {
		return err
	}
	rest := fs.Args()
	if len(rest) == 0 {
		return errors.New("no command given")
	}
	name, cargs := rest[0], rest[1:]
	for _, c := range commands {
		if c.name == name {
			return c.run(g, cargs, out)
		}
	}
	return fmt.Errorf("unknown command %q for a VM container", name)
}

type command struct {
	name string
	run  func(g *global, args []string, out io.Writer) error
}

var commands []command

func init() {
	commands = []command{
		{"run", cmdRun}, {"create", cmdCreate}, {"supervise", cmdSupervise}, {"start", cmdStart},
		{"exec", cmdExec}, {"kill", cmdKill}, {"delete", cmdDelete}, {"state", cmdState},
		{"pause", cmdPause}, {"resume", cmdResume}, {"ps", cmdPs}, {"events", cmdEvents},
		{"update", cmdUpdate}, {"vm", cmdVM},
	}
}

func defaultRoot() string {
	if os.Geteuid() != 0 {
		if dir := os.Getenv("XDG_RUNTIME_DIR"); dir != "" {
			return dir + "/husk"
		}
	}
	return "/run/husk"
}

// flags is a command's flag set in husk's syntax.
type flags struct {
	*flag.FlagSet
}

func newFlags(name string) flags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return flags{fs}
}

// str and boolean define a flag with aliases.
func (f flags) str(p *string, value string, names ...string) {
	for _, n := range names {
		f.StringVar(p, n, value, "")
	}
}

func (f flags) boolean(p *bool, names ...string) {
	for _, n := range names {
		f.BoolVar(p, n, false, "")
	}
}

func (f flags) parse(args []string) error {
	if err := f.Parse(args); err != nil {
		return fmt.Errorf("%s: %w", f.Name(), err)
	}
	return nil
}

func (f flags) id() (string, error) {
	if f.NArg() < 1 {
		return "", fmt.Errorf("%s: a container ID is required", f.Name())
	}
	return f.Arg(0), nil
}

// list is a repeatable string flag.
type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(s string) error { *l = append(*l, s); return nil }
