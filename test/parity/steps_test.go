package parity

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Exec is one runtime running one case.
type Exec struct {
	Bin  string
	B    *Bundle
	Norm *Normaliser
	Obs  *Observation
}

// Step is one thing a user does; it records what the user would see.
type Step interface {
	Do(x *Exec)
}

// cmdTimeout bounds every runtime command (times -time-scale); a hung one
// is itself a result.
const cmdTimeout = 30 * time.Second

// Cmd runs the runtime with the case's state root and a JSON log, as
// containerd's shim does, and records under Key: the exit status
// (.exit), the log levels (.log), the last error's text (.error, whose
// wording is the runtime's own), and stdout normalised by Out (.out).
type Cmd struct {
	Key    string
	Args   []string // after the global flags; placeholders filled
	Global []string // extra global flags
	Out    OutKind
	Stdin  string
	// NoLog runs without --log/--log-format: what a person at a terminal
	// sees; stderr's first line is then recorded as .stderr.
	NoLog bool
	// Stderr records stderr's first line (normalised) as .stderr.
	Stderr bool
	// Env is added to the runtime's environment.
	Env []string
	// Wrap runs the runtime under this command line (taskset -c 0).
	Wrap []string
}

// Do runs the command.
func (c Cmd) Do(x *Exec) {
	key := c.Key
	if key == "" {
		key = c.Args[0]
	}
	res := x.runtime(c, key)
	x.Obs.Add(key+".exit", res.exit)
	if !c.NoLog {
		levels, lastErr := LogLevels(res.log)
		x.Obs.Add(key+".log", levels)
		if lastErr != "" {
			x.Obs.Add(key+".error", x.Norm.Replace(lastErr))
		}
	}
	switch {
	case c.Out == OutNone:
	case c.Out != OutHelp && res.exit != "0" && isUsage(res.stdout):
		// A usage error prints the command's help: its wording is the
		// runtime's own; that it was a usage error is what a user sees.
		x.Obs.Add(key+".out", "<usage text>")
	default:
		x.Obs.Add(key+".out", x.Norm.Output(c.Out, res.stdout))
	}
	if c.Stderr || c.NoLog {
		x.Obs.Add(key+".stderr", x.Norm.Replace(FirstLine(res.stderr)))
	}
}

type cmdResult struct {
	exit           string
	stdout, stderr string
	log            []byte
}

// runtime runs one command. Its stdout and stderr go to files kept in
// the runtime's directory (key.stdout, key.stderr): a created container
// keeps writing to them after the command has returned.
func (x *Exec) runtime(c Cmd, key string) cmdResult {
	logPath := filepath.Join(x.B.Dir, key+".log.json")
	args := []string{"--root", x.B.Root}
	if !c.NoLog {
		args = append(args, "--log", logPath, "--log-format", "json")
	}
	args = append(args, x.B.FillAll(c.Global)...)
	args = append(args, x.B.FillAll(c.Args)...)
	ctx, cancel := context.WithTimeout(context.Background(), scaled(cmdTimeout))
	defer cancel()
	argv := append(append(append([]string(nil), c.Wrap...), x.Bin), args...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = x.B.Dir
	cmd.Env = append(runtimeEnv(), x.B.FillAll(c.Env)...)
	outPath, errPath := filepath.Join(x.B.Dir, key+".stdout"), filepath.Join(x.B.Dir, key+".stderr")
	out, err1 := os.Create(outPath)
	errf, err2 := os.Create(errPath)
	if err := errors.Join(err1, err2); err != nil {
		return cmdResult{exit: "harness: " + err.Error()}
	}
	defer out.Close()
	defer errf.Close()
	cmd.Stdout, cmd.Stderr = out, errf
	if c.Stdin != "" {
		cmd.Stdin = strings.NewReader(x.B.Fill(c.Stdin))
	}
	err := cmd.Run()
	res := cmdResult{exit: "0"}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		res.exit = "timeout"
	case errors.As(err, &ee):
		res.exit = ExitClass(ee.ExitCode())
		if ee.ExitCode() < 0 {
			res.exit = ee.String()
		}
	case err != nil:
		res.exit = "harness: " + err.Error()
	}
	stdout, _ := os.ReadFile(outPath)
	stderr, _ := os.ReadFile(errPath)
	res.stdout, res.stderr = string(stdout), string(stderr)
	res.log, _ = os.ReadFile(logPath)
	return res
}

// runtimeEnv is the environment every runtime command gets: fixed, as a
// shim's is, so hooks that inherit it show the same on every machine.
func runtimeEnv() []string {
	return []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "PARITY_RUNTIME_ENV=1"}
}

// quiet runs a runtime command without recording anything (cleanup).
func (x *Exec) quiet(args ...string) string {
	ctx, cancel := context.WithTimeout(context.Background(), scaled(cmdTimeout))
	defer cancel()
	cmd := exec.CommandContext(ctx, x.Bin, append([]string{"--root", x.B.Root}, args...)...)
	cmd.Env = runtimeEnv()
	out, _ := cmd.Output()
	return string(out)
}

// status is the container's status from `state`, "" if it has none.
func (x *Exec) status(id string) string {
	out := x.quiet("state", id)
	_, rest, ok := strings.Cut(out, `"status": "`)
	if !ok {
		return ""
	}
	st, _, _ := strings.Cut(rest, `"`)
	return st
}

// WaitStatus waits until the container (ID "{id}" unless given) has a
// status; it records only a timeout.
type WaitStatus struct {
	ID     string
	Status string
}

// Do polls `state`.
func (w WaitStatus) Do(x *Exec) {
	id := x.B.Fill(w.ID)
	if id == "" {
		id = x.B.ID
	}
	// Not scaled: a container reaches a status in well under a second,
	// emulated too; one that has not after 10 s will not (a signal it
	// ignores), and a longer wait only slows the case.
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := x.status(id)
		if st == w.Status {
			return
		}
		if time.Now().After(deadline) {
			x.Obs.Add("wait."+w.Status, "timeout, status "+fmt.Sprintf("%q", st))
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// InitOut waits for the container to stop and records what its process
// wrote to the stdout of the command that created it (From: that
// command's key, "create" by default).
type InitOut struct {
	From string
}

// Do reads the output file.
func (o InitOut) Do(x *Exec) {
	WaitStatus{Status: "stopped"}.Do(x)
	from := o.From
	if from == "" {
		from = "create"
	}
	data, _ := os.ReadFile(filepath.Join(x.B.Dir, from+".stdout"))
	x.Obs.Add(from+".init-out", x.Norm.Probe(string(data)))
}

// HostFile records a file the case wrote outside the container (a hook's
// log, a pid file), normalised by Out; a missing file is "<missing>".
type HostFile struct {
	Key  string
	Path string // placeholders filled
	Out  OutKind
}

// Do reads the file.
func (h HostFile) Do(x *Exec) {
	data, err := os.ReadFile(x.B.Fill(h.Path))
	if err != nil {
		x.Obs.Add(h.Key, "<missing>")
		return
	}
	x.Obs.Add(h.Key, x.Norm.Output(h.Out, string(data)))
}

// HostDo runs a function on the host and records its result under Key
// (nothing if Key is empty): set-ups and checks no runtime command makes.
type HostDo struct {
	Key string
	Fn  func(x *Exec) string
}

// Do runs the function.
func (h HostDo) Do(x *Exec) {
	v := h.Fn(x)
	if h.Key != "" {
		x.Obs.Add(h.Key, x.Norm.Replace(v))
	}
}

// Sleep waits; for the few cases where a process must get somewhere that
// no state shows (a signal handler installed). Kept short.
type Sleep time.Duration

// Do sleeps (times -time-scale).
func (s Sleep) Do(*Exec) { time.Sleep(scaled(time.Duration(s))) }

// isUsage tells a command's help text (printed on a usage error) from
// its output.
func isUsage(stdout string) bool {
	return strings.Contains(stdout, "USAGE:") || strings.HasPrefix(stdout, "usage:") || strings.HasPrefix(stdout, "Incorrect Usage")
}
