package main

// The command-line layer: runc's command line (global flags, a command,
// its flags, positional arguments) on the standard flag package.
//
// husk used urfave/cli/v2 here first. Measured on this project's test VM,
// it cost every invocation ~2 ms of CPU (a regexp compiled at package
// init, text/template and net/url linked in, 1.7 MB of binary and ~70
// more page faults), and containerd runs husk four or five times per
// container. The flag package parses the same syntax (-x, --x, --x=v).

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

type flagKind int

const (
	boolFlag flagKind = iota
	stringFlag
	intFlag
	durationFlag
	stringsFlag // repeatable
	int64sFlag  // repeatable
)

type flagDef struct {
	name    string
	aliases []string
	kind    flagKind
	value   string // default
	env     string // environment variable giving the default
	usage   string
	hidden  bool // accepted, not listed in the help (as runc hides some)
}

type command struct {
	name, usage, args string
	flags             []flagDef
	action            func(c *ctx) error
}

// ctx is what a command's action sees: its flags, the global flags and
// its positional arguments.
type ctx struct {
	cmd    *command
	values map[string]*flagValue
	global map[string]*flagValue
	args   []string
	out    io.Writer
}

type flagValue struct {
	def  *flagDef
	s    string
	list []string
	set  bool // given on the command line
}

func (v *flagValue) String() string { return v.s }

func (v *flagValue) Set(s string) error {
	switch v.def.kind {
	case intFlag:
		if _, err := strconv.Atoi(s); err != nil {
			return fmt.Errorf("%q is not a number", s)
		}
	case durationFlag:
		if _, err := time.ParseDuration(s); err != nil {
			return fmt.Errorf("%q is not a duration", s)
		}
	case int64sFlag:
		if _, err := strconv.ParseInt(s, 10, 64); err != nil {
			return fmt.Errorf("%q is not a number", s)
		}
	case boolFlag:
		if _, err := strconv.ParseBool(s); err != nil {
			return fmt.Errorf("%q is not true or false", s)
		}
	}
	v.s = s
	v.list = append(v.list, s)
	v.set = true
	return nil
}

// IsBoolFlag lets -x stand for -x=true.
func (v *flagValue) IsBoolFlag() bool { return v.def.kind == boolFlag }

// parseFlags parses args against defs, returning the values by name and
// the arguments after the flags.
func parseFlags(name string, defs []flagDef, args []string) (map[string]*flagValue, []string, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	values := make(map[string]*flagValue, len(defs))
	for i := range defs {
		d := &defs[i]
		v := &flagValue{def: d, s: d.value}
		if d.env != "" {
			if e := os.Getenv(d.env); e != "" {
				v.s = e
			}
		}
		values[d.name] = v
		fs.Var(v, d.name, d.usage)
		for _, a := range d.aliases {
			fs.Var(v, a, d.usage)
		}
	}
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	if err := oneForm(fs, defs); err != nil {
		return nil, nil, err
	}
	return values, fs.Args(), nil
}

// errTwoForms: a flag was given under two of its names (--env and -e);
// runc (urfave/cli) refuses that as a usage error.
var errTwoForms = errors.New("cannot use two forms of the same flag")

func oneForm(fs *flag.FlagSet, defs []flagDef) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for _, d := range defs {
		first := ""
		for _, n := range append([]string{d.name}, d.aliases...) {
			if !set[n] {
				continue
			}
			if first != "" {
				return fmt.Errorf("%w: %s %s", errTwoForms, first, n)
			}
			first = n
		}
	}
	return nil
}

func (c *ctx) value(name string) *flagValue {
	if v, ok := c.values[name]; ok {
		return v
	}
	if v, ok := c.global[name]; ok {
		return v
	}
	panic("husk: undefined flag " + name) // a programming error, caught by the tests
}

func (c *ctx) String(name string) string { return c.value(name).s }

func (c *ctx) Bool(name string) bool {
	b, _ := strconv.ParseBool(c.value(name).s)
	return b
}

func (c *ctx) Int(name string) int {
	n, _ := strconv.Atoi(c.value(name).s)
	return n
}

func (c *ctx) Duration(name string) time.Duration {
	d, _ := time.ParseDuration(c.value(name).s)
	return d
}

func (c *ctx) StringSlice(name string) []string { return c.value(name).list }

func (c *ctx) Int64Slice(name string) []int64 {
	var out []int64
	for _, s := range c.value(name).list {
		n, _ := strconv.ParseInt(s, 10, 64)
		out = append(out, n)
	}
	return out
}

// NArg, Arg and Tail give the positional arguments.
func (c *ctx) NArg() int { return len(c.args) }

func (c *ctx) Arg(i int) string {
	if i < len(c.args) {
		return c.args[i]
	}
	return ""
}

func (c *ctx) Tail() []string {
	if len(c.args) < 2 {
		return nil
	}
	return c.args[1:]
}

// argCounts are the positional arguments each command takes, min and max
// (-1: no maximum), as runc checks them.
var argCounts = map[string][2]int{
	"create": {1, 1}, "start": {1, 1}, "run": {1, 1}, "exec": {1, -1}, "state": {1, 1}, "list": {0, 0},
	"ps": {1, -1}, "kill": {1, 2}, "pause": {1, 1}, "resume": {1, 1}, "update": {1, 1}, "events": {1, 1},
	"delete": {1, 1}, "spec": {0, 0}, "features": {0, 0},
}

// exitUsage is runc's exit status for an unknown command or help topic.
const exitUsage = 3

// globalFlagError is a bad global flag: reported on stderr, not in --log.
type globalFlagError struct{ err error }

func (e globalFlagError) Error() string { return e.err.Error() }

// runCLI runs the command line args (without the program name).
func runCLI(args []string, out io.Writer) error {
	global, rest, err := parseFlags("husk", globalFlagDefs, args)
	if errors.Is(err, flag.ErrHelp) {
		usage(out)
		return nil
	}
	if err != nil {
		// As runc: the usage, and the error on stderr only (the global
		// flags that would say where the log goes are in doubt).
		fmt.Fprintf(out, "Incorrect Usage. %v\n\n", err)
		usage(out)
		return globalFlagError{err}
	}
	if b, _ := strconv.ParseBool(global["version"].s); b {
		printVersion(out)
		return nil
	}
	// No command: the help, as runc prints it.
	if len(rest) == 0 {
		usage(out)
		return nil
	}
	if rest[0] == "help" || rest[0] == "h" {
		return help(out, rest[1:])
	}
	if rest[0] == "vm" {
		return execVM()
	}
	cmd := findCommand(rest[0])
	if cmd == nil {
		return codeError{err: fmt.Errorf("unknown command %q (see husk --help)", rest[0]), code: exitUsage}
	}
	if err := checkGlobal(global); err != nil {
		return err
	}
	values, pos, err := parseFlags(cmd.name, cmd.flags, rest[1:])
	if errors.Is(err, flag.ErrHelp) {
		commandUsage(out, cmd)
		return nil
	}
	if err != nil {
		// A bad flag (or one given in two forms, --env and -e): the
		// usage, as runc prints it.
		fmt.Fprintf(out, "Incorrect Usage: %v\n\n", err)
		commandUsage(out, cmd)
		return fmt.Errorf("%s: %w", cmd.name, err)
	}
	if err := checkArgs(cmd, len(pos)); err != nil {
		fmt.Fprint(out, "Incorrect Usage.\n\n")
		commandUsage(out, cmd)
		return err
	}
	if wantsVM(cmd, global, values, pos) {
		return execVM()
	}
	return cmd.action(&ctx{cmd: cmd, values: values, global: global, args: pos, out: out})
}

// help is `husk help [command]`: a command's help, or the global one.
func help(out io.Writer, topics []string) error {
	if len(topics) == 0 {
		usage(out)
		return nil
	}
	cmd := findCommand(topics[0])
	if cmd == nil {
		return codeError{err: fmt.Errorf("no help topic for %q", topics[0]), code: exitUsage}
	}
	commandUsage(out, cmd)
	return nil
}

// checkArgs checks the number of positional arguments of cmd.
func checkArgs(cmd *command, n int) error {
	c, ok := argCounts[cmd.name]
	switch {
	case !ok:
		return nil
	case c[0] == c[1] && n != c[0]:
		return fmt.Errorf("%s: takes exactly %d argument(s), got %d", cmd.name, c[0], n)
	case n < c[0]:
		return fmt.Errorf("%s: takes at least %d argument(s), got %d", cmd.name, c[0], n)
	case c[1] >= 0 && n > c[1]:
		return fmt.Errorf("%s: takes at most %d argument(s), got %d", cmd.name, c[1], n)
	}
	return nil
}

func findCommand(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

func usage(w io.Writer) {
	fmt.Fprint(w, "husk - run OCI containers (a drop-in for runc)\n\nusage: husk [global flags] command [flags] [arguments]\n\ncommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.usage)
	}
	fmt.Fprintf(w, "  %-9s %s\n", "help, h", "list the commands, or print the help of one")
	fmt.Fprint(w, "\nglobal flags:\n")
	printFlags(w, append(globalFlagDefs[:len(globalFlagDefs):len(globalFlagDefs)],
		flagDef{kind: boolFlag, name: "help", aliases: []string{"h"}, usage: "print this help"}))
}

func commandUsage(w io.Writer, c *command) {
	fmt.Fprintf(w, "usage: husk %s [flags] %s\n\n%s\n", c.name, c.args, c.usage)
	if d := commandHelp[c.name]; d != "" {
		fmt.Fprintf(w, "\n%s\n", d)
	}
	if len(c.flags) > 0 {
		fmt.Fprint(w, "\nflags:\n")
		printFlags(w, c.flags)
	}
}

func printFlags(w io.Writer, defs []flagDef) {
	sorted := append([]flagDef(nil), defs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].name < sorted[j].name })
	for _, d := range sorted {
		if d.hidden {
			continue
		}
		names := "--" + d.name
		for _, a := range d.aliases {
			names += ", -" + a
		}
		extra := ""
		if d.value != "" && d.kind != boolFlag {
			extra = fmt.Sprintf(" (default %q)", d.value)
		}
		fmt.Fprintf(w, "  %-26s %s%s\n", names, d.usage, extra)
	}
}

// boolean reports whether a raw flag value means true.
func boolean(s string) bool {
	b, _ := strconv.ParseBool(strings.TrimSpace(s))
	return b
}
