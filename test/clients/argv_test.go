package clients

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// argvLog is the logging wrapper a suite puts in front of husk: clients
// are given the wrapper's path (named husk, so their messages read as
// usual) and every call is appended to the log with its cwd, its argv,
// husk's exit code and, when it failed, husk's error text.
type argvLog struct {
	suite   *testing.T // the client's test: -update needs it to have passed
	client  string
	wrapper string // path to give the client
	log     string
	// subst maps private paths and names of this suite to placeholders,
	// so the recorded shapes do not change from run to run; bundles
	// collapses the bundle dirs of the run into <BUNDLE>.
	subst   [][2]string
	bundles *regexp.Regexp
	holdDir string // see holdKillAll
}

// The wrapper does not exec husk: it waits for it to record the exit code.
// create/run/exec keep their stdio untouched (the container's process
// inherits it); their error text is taken from the --log file. Other
// commands' stderr is captured and passed on when husk exits.
const wrapperScript = `#!/bin/bash
# test/clients: logs every call of husk (argv compatibility check).
log=%[1]s
real=%[2]s
tmp=%[3]s
hold=%[4]s
line=$(printf 'call\x1f%%s\x1f%%s' "$$" "$PWD"; printf '\x1f%%s' "$@")
printf '%%s\n' "$line" >>"$log"
cmd= logf= skip=
for a in "$@"; do
	if [ -n "$skip" ]; then [ "$skip" = --log ] && logf=$a; skip=; continue; fi
	case $a in
	--root|--log|--log-format|--criu|--rootless|--trace) skip=$a ;;
	--log=*) logf=${a#--log=} ;;
	-*) ;;
	*) cmd=$a; break ;;
	esac
done
# A file <hold>/<ID> holds "kill --all <ID>" until it is removed (60 s at
# most); <hold>/<ID>.held says a call is being held. containerd's runc
# shim runs that kill when the init of a container without a pid
# namespace of its own has exited, before it reports the exit: holding it
# keeps the client unaware of an exit husk already sees (holdKillAll).
if [ "$cmd" = kill ] && [ $# -ge 2 ]; then
	id=${*: -2:1}
	case " $* " in
	*" --all "*|*" -a "*)
		if [ -e "$hold/$id" ]; then
			: >"$hold/$id.held"
			n=0
			while [ -e "$hold/$id" ] && [ $n -lt 1200 ]; do sleep 0.05; n=$((n + 1)); done
		fi
		;;
	esac
fi
err=
case $cmd in
create|run|exec)
	size=0
	[ -n "$logf" ] && [ -f "$logf" ] && size=$(stat -c %%s "$logf")
	"$real" "$@"
	rc=$?
	if [ $rc != 0 ] && [ -n "$logf" ] && [ -f "$logf" ]; then
		err=$(tail -c +$((size + 1)) "$logf" | head -c 3000)
	fi
	;;
*)
	errf=$(mktemp "$tmp/err.XXXXXX")
	"$real" "$@" 2>"$errf"
	rc=$?
	err=$(head -c 3000 "$errf")
	cat "$errf" >&2
	rm -f "$errf"
	;;
esac
line=$(printf 'done\x1f%%s\x1f%%s\x1f%%s' "$$" "$rc" "$(printf '%%s' "$err" | tr '\n\037' '  ')")
printf '%%s\n' "$line" >>"$log"
exit $rc
`

func newArgvLog(t *testing.T, client string) *argvLog {
	t.Helper()
	dir := filepath.Join(workDir, client+"-wrap")
	for _, d := range []string{"tmp", "hold"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	a := &argvLog{suite: t, client: client, wrapper: filepath.Join(dir, "husk"), log: filepath.Join(dir, "argv.log"),
		holdDir: filepath.Join(dir, "hold")}
	script := fmt.Sprintf(wrapperScript, shQuote(a.log), shQuote(huskBin), shQuote(filepath.Join(dir, "tmp")), shQuote(a.holdDir))
	if err := os.WriteFile(a.wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	a.addSubst(testDir, "<TESTDIR>")
	return a
}

func shQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// addSubst registers a private path or name and its placeholder.
func (a *argvLog) addSubst(concrete, placeholder string) {
	a.subst = append(a.subst, [2]string{concrete, placeholder})
	sort.SliceStable(a.subst, func(i, j int) bool { return len(a.subst[i][0]) > len(a.subst[j][0]) })
}

// call is one invocation of husk.
type call struct {
	pid  string
	cwd  string
	argv []string
	done bool
	rc   int
	err  string
}

func (a *argvLog) calls(t *testing.T) []*call {
	t.Helper()
	data, err := os.ReadFile(a.log)
	if os.IsNotExist(err) {
		return nil
	} else if err != nil {
		t.Fatal(err)
	}
	var out []*call
	open := map[string]*call{}
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Split(l, "\x1f")
		switch {
		case f[0] == "call" && len(f) >= 3:
			c := &call{pid: f[1], cwd: f[2], argv: f[3:]}
			out = append(out, c)
			open[c.pid] = c
		case f[0] == "done" && len(f) == 4:
			if c := open[f[1]]; c != nil {
				c.done = true
				c.rc, _ = strconv.Atoi(f[2])
				c.err = f[3]
				delete(open, f[1])
			}
		}
	}
	return out
}

// containerIDs returns the 64-hex container ids husk was called with
// (docker's and podman's; the last argument of most commands).
func (a *argvLog) containerIDs(t *testing.T) []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range a.calls(t) {
		for _, s := range c.argv {
			if hexIDRe.MatchString(s) && !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	return out
}

var hexIDRe = regexp.MustCompile(`^[0-9a-f]{64}$`)

var normRes = []struct {
	re   *regexp.Regexp
	repl string
}{
	{regexp.MustCompile(`[0-9a-f]{64}`), "<ID>"},
	{regexp.MustCompile(`hkt[0-9]+-[0-9]+`), "<ID>"},
	{regexp.MustCompile(`/tmp/pty[0-9]+/`), "/tmp/pty<N>/"},
	{regexp.MustCompile(`runc-process[0-9]+`), "runc-process<N>"},
	{regexp.MustCompile(`exec-process-[0-9]+`), "exec-process-<N>"},
	{regexp.MustCompile(`/tmp/conmon-term\.[A-Za-z0-9]+`), "/tmp/conmon-term.<X>"},
}

// normalize replaces the private paths, ids and temporary names of one
// run by placeholders.
func (a *argvLog) normalize(s string) string {
	if a.bundles != nil {
		s = a.bundles.ReplaceAllString(s, "<BUNDLE>")
	}
	for _, p := range a.subst {
		s = strings.ReplaceAll(s, p[0], p[1])
	}
	for _, r := range normRes {
		s = r.re.ReplaceAllString(s, r.repl)
	}
	return s
}

// shape is the normalised form of a call: "cwd: argv".
func (a *argvLog) shape(c *call) string {
	args := make([]string, len(c.argv))
	for i, s := range c.argv {
		args[i] = a.normalize(s)
	}
	return a.normalize(c.cwd) + ": " + strings.Join(args, " ")
}

// flagErrorRe matches what the flag package (husk), urfave/cli (runc) and cobra say
// about a command line they do not accept.
var flagErrorRe = regexp.MustCompile(`flag provided but not defined|flag needs an argument|Incorrect Usage|No help topic for|unknown flag|unknown command|unknown shorthand flag`)

// check is the compatibility check, run at the end of a suite:
//   - no call husk received failed because of its command line;
//   - the distinct shapes match testdata/argv-<client>.txt (-update
//     rewrites it), so a change in what a client sends shows up;
//   - replayed against husk and runc (fresh state dir, a container that
//     does not exist), husk rejects no command line that runc accepts.
func (a *argvLog) check(t *testing.T) {
	calls := a.calls(t)
	if len(calls) == 0 {
		t.Fatalf("%s never called husk (wrapper log %s is empty)", a.client, a.log)
	}
	shapes := map[string]*call{}
	failed := 0
	for _, c := range calls {
		s := a.shape(c)
		if _, ok := shapes[s]; !ok {
			shapes[s] = c
		}
		if !c.done {
			t.Logf("call without an exit (killed, or still running): %s", s)
			continue
		}
		if c.rc != 0 {
			failed++
			t.Logf("husk exit %d: %s: %s", c.rc, s, a.normalize(c.err))
			if flagErrorRe.MatchString(c.err) {
				t.Errorf("husk rejected the command line %s sent it: %s\n  %s", a.client, s, c.err)
			}
		}
	}
	t.Logf("%d calls from %s, %d distinct, %d failed (expected: the invalid-config checks, deletes of gone containers)", len(calls), a.client, len(shapes), failed)

	var lines []string
	for s := range shapes {
		lines = append(lines, s)
	}
	sort.Strings(lines)
	a.compareGolden(t, lines)

	for _, s := range lines {
		a.replay(t, s, shapes[s])
	}
}

func (a *argvLog) compareGolden(t *testing.T, lines []string) {
	t.Helper()
	golden := filepath.Join(testDir, "testdata", "argv-"+a.client+".txt")
	header := fmt.Sprintf("# Distinct command lines %s passes to husk in test/clients (cwd: argv),\n"+
		"# normalised: <ID> container/exec ids, <...> private paths of the run.\n"+
		"# Regenerate: go test ./test/clients/ -husk=$PWD/bin/husk -update\n", a.client)
	if *updateFlag {
		if a.suite.Failed() {
			t.Errorf("not rewriting %s: checks of this suite failed", golden)
			return
		}
		if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(header+strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%d lines)", golden, len(lines))
		return
	}
	data, err := os.ReadFile(golden)
	if err != nil {
		t.Errorf("%v (run with -update to create it); this run saw:\n%s", err, strings.Join(lines, "\n"))
		return
	}
	want := map[string]bool{}
	for _, l := range strings.Split(string(data), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			want[l] = true
		}
	}
	got := map[string]bool{}
	var added, missing []string
	for _, l := range lines {
		got[l] = true
		if !want[l] {
			added = append(added, "+ "+l)
		}
	}
	for l := range want {
		if !got[l] {
			missing = append(missing, "- "+l)
		}
	}
	sort.Strings(missing)
	if len(added)+len(missing) > 0 {
		t.Errorf("what %s passes to husk changed (compared with %s; -update rewrites it if the change is expected):\n%s",
			a.client, golden, strings.Join(append(added, missing...), "\n"))
	}
}

var placeholderRe = regexp.MustCompile(`<[A-Z_]+>`)

// replay runs one recorded command line against husk and against runc
// with everything that names state replaced: a fresh --root, --log in a
// scratch dir, a container id that does not exist, paths that do not
// exist. Both then fail (no such container/bundle) or succeed (delete
// --force), but neither may fail on the command line itself where the
// other accepts it.
func (a *argvLog) replay(t *testing.T, shape string, c *call) {
	t.Helper()
	dir, err := os.MkdirTemp(workDir, "replay")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	values := map[string]string{"<ID>": "husk-replay-nonexistent", "<N>": "0", "<X>": "x"}
	var args []string
	for i := 0; i < len(c.argv); i++ {
		s := a.normalize(c.argv[i])
		if (s == "--root" || s == "--log") && i+1 < len(c.argv) {
			args = append(args, s, filepath.Join(dir, strings.TrimPrefix(s, "--")))
			i++
			continue
		}
		s = placeholderRe.ReplaceAllStringFunc(s, func(p string) string {
			if v, ok := values[p]; ok {
				return v
			}
			return strings.ToLower(strings.Trim(p, "<>"))
		})
		if strings.HasPrefix(s, "/") {
			s = filepath.Join(dir, "nonexistent", s)
		}
		args = append(args, s)
	}
	h := run(t, cmdSpec{name: huskBin, args: args, dir: dir, stdin: []byte{}})
	r := run(t, cmdSpec{name: runcBin, args: args, dir: dir, stdin: []byte{}})
	hBad, rBad := flagErrorRe.MatchString(h.out()), flagErrorRe.MatchString(r.out())
	switch {
	case hBad && !rBad:
		t.Errorf("husk rejects a command line runc accepts (from %s: %s):\n  husk: %s\n  runc: %s", a.client, shape, h, r)
	case hBad && rBad:
		t.Logf("neither husk nor runc accepts %s (replayed as %q)", shape, args)
	case h.timedOut:
		t.Errorf("husk hangs on %s", shape)
	}
}
