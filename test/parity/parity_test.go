package parity

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// allCases is every family's table, in a stable order.
func allCases() []*Case {
	var out []*Case
	for _, family := range caseFamilies {
		out = append(out, family()...)
	}
	return out
}

// caseFamilies are the tables; each file cases_*_test.go adds its own.
var caseFamilies []func() []*Case

// outcome is how one case ended.
type outcome struct {
	name      string
	skipped   string          // why, if skipped
	tolerated map[*Entry]bool // entries that allowed one of its differences
	unlisted  []FieldDiff     // differences no entry allows: failures
	all       []FieldDiff     // every difference, listed or not
	err       error           // a harness failure
}

type tally struct {
	mu       sync.Mutex
	outcomes []*outcome
}

func (t *tally) add(o *outcome) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.outcomes = append(t.outcomes, o)
}

func TestCaseNamesUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range allCases() {
		if seen[c.Name] {
			t.Errorf("case %q defined twice", c.Name)
		}
		if !strings.Contains(c.Name, "/") {
			t.Errorf("case %q: name must be family/detail", c.Name)
		}
		seen[c.Name] = true
	}
}

func TestDifferencesFileParses(t *testing.T) {
	if _, err := loadDifferences(); err != nil {
		t.Fatal(err)
	}
}

func loadDifferences() (*Differences, error) {
	f, err := os.Open("differences.tsv")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseDifferences(f)
}

// TestParity runs every case under runc and husk and compares them.
func TestParity(t *testing.T) {
	e := setup(t)
	diffs, err := loadDifferences()
	if err != nil {
		t.Fatal(err)
	}
	host := hostCgroup()
	diffs = diffs.OnHost(host)
	t.Logf("host: %s; differences.tsv entries for it: %d", host, len(diffs.Entries))
	selected, err := selection()
	if err != nil {
		t.Fatal(err)
	}
	runc := runtimeUnderTest{name: "runc", tag: "r", bin: *runcBin}
	husk := runtimeUnderTest{name: "husk", tag: "h", bin: *huskBin}
	all := &tally{}
	start := time.Now()
	t.Run("case", func(t *testing.T) {
		for i, c := range allCases() {
			if selected != nil && !selected(c) {
				continue
			}
			t.Run(c.Name, func(t *testing.T) {
				if !c.Serial {
					t.Parallel()
				}
				o := &outcome{name: c.Name, tolerated: map[*Entry]bool{}}
				defer all.add(o)
				if !*keep {
					defer removeCaseDir(e, i)
				}
				for _, need := range c.Needs {
					if why := need(); why != "" {
						o.skipped = why
						t.Skipf("skipped for both runtimes: %s", why)
					}
				}
				ref, err := runCase(e, c, i, runc)
				if err == nil {
					var got *Observation
					got, err = runCase(e, c, i, husk)
					if err == nil {
						judge(t, c, ref, got, diffs, o)
						return
					}
				}
				o.err = err
				t.Fatalf("harness: %v", err)
			})
		}
	})
	stale := staleEntries(diffs, all.outcomes, allCases())
	for _, e := range stale {
		t.Errorf("stale difference (no case differs there any more; remove or narrow it): %s", e)
	}
	report(t, all.outcomes, diffs, stale, time.Since(start))
}

// judge compares the two observations and fails on every difference the
// differences file does not list.
func judge(t *testing.T, c *Case, ref, got *Observation, diffs *Differences, o *outcome) {
	if *show {
		t.Logf("runc saw:\n%s", ref)
	}
	o.all = Compare(ref, got)
	for _, d := range o.all {
		if e := diffs.Find(c.Name, d); e != nil {
			o.tolerated[e] = true
			t.Logf("listed (%s: %s):\n%s", e.Class, e.Reason, d)
			continue
		}
		o.unlisted = append(o.unlisted, d)
	}
	if len(o.unlisted) > 0 {
		var b strings.Builder
		for _, d := range o.unlisted {
			b.WriteString(d.String())
		}
		t.Errorf("husk differs from runc (- runc, + husk):\n%s", b.String())
		t.Logf("runc saw:\n%s\nhusk saw:\n%s", ref, got)
	}
}

// staleEntries are entries that concern cases which ran but allowed no
// difference: the behaviour they describe is gone. An entry concerning a
// case this run left out (-select, -test.run) cannot be judged.
func staleEntries(d *Differences, outcomes []*outcome, cases []*Case) []*Entry {
	ranCase := map[string]bool{}
	for _, o := range outcomes {
		ranCase[o.name] = true
	}
	var stale []*Entry
	for _, e := range d.Entries {
		if slices.ContainsFunc(cases, func(c *Case) bool { return e.MatchesCase(c.Name) && !ranCase[c.Name] }) {
			continue
		}
		ran, used := false, false
		for _, o := range outcomes {
			if o.skipped != "" || o.err != nil || !e.MatchesCase(o.name) {
				continue
			}
			ran = true
			used = used || o.tolerated[e]
		}
		if ran && !used {
			stale = append(stale, e)
		}
	}
	return stale
}

// report writes the summary (and, with -results, summary.txt and
// report.md): cases by family, how many match, which listed differences
// they showed.
func report(t *testing.T, outcomes []*outcome, d *Differences, stale []*Entry, took time.Duration) {
	type count struct{ cases, match, intended, bug, fail, skip int }
	fams := map[string]*count{}
	total := &count{}
	for _, o := range outcomes {
		fam, _, _ := strings.Cut(o.name, "/")
		c := fams[fam]
		if c == nil {
			c = &count{}
			fams[fam] = c
		}
		for _, k := range []*count{c, total} {
			k.cases++
			switch {
			case o.skipped != "":
				k.skip++
			case o.err != nil || len(o.unlisted) > 0:
				k.fail++
			case hasClass(o, Bug):
				k.bug++
			case hasClass(o, Intended):
				k.intended++
			default:
				k.match++
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "parity: %d passed, %d failed, %d skipped: %d of %d cases (-select %s) on a %s host in %s; passed: %d match, %d differ only as intended, %d show a listed bug\n",
		total.match+total.intended+total.bug, total.fail, total.skip, total.cases, len(allCases()), *selectCases, hostCgroup(),
		took.Round(time.Second), total.match, total.intended, total.bug)
	fmt.Fprintf(&b, "%-14s %6s %6s %9s %5s %5s %5s\n", "family", "cases", "match", "intended", "bug", "fail", "skip")
	names := make([]string, 0, len(fams))
	for f := range fams {
		names = append(names, f)
	}
	sort.Strings(names)
	for _, f := range names {
		c := fams[f]
		fmt.Fprintf(&b, "%-14s %6d %6d %9d %5d %5d %5d\n", f, c.cases, c.match, c.intended, c.bug, c.fail, c.skip)
	}
	for _, o := range outcomes {
		if o.skipped != "" {
			fmt.Fprintf(&b, "skipped %s: %s\n", o.name, o.skipped)
		}
	}
	if len(stale) > 0 {
		fmt.Fprintf(&b, "%d stale entries in differences.tsv\n", len(stale))
	}
	t.Log("\n" + b.String())
	if *results == "" {
		return
	}
	if err := os.MkdirAll(*results, 0o755); err != nil {
		t.Errorf("results: %v", err)
		return
	}
	if err := os.WriteFile(filepath.Join(*results, "summary.txt"), []byte(b.String()), 0o644); err != nil {
		t.Errorf("results: %v", err)
	}
	if err := os.WriteFile(filepath.Join(*results, "report.md"), []byte(entryReport(outcomes, d)), 0o644); err != nil {
		t.Errorf("results: %v", err)
	}
	if err := os.WriteFile(filepath.Join(*results, "diffs.tsv"), []byte(diffTable(outcomes, d)), 0o644); err != nil {
		t.Errorf("results: %v", err)
	}
}

func hasClass(o *outcome, c Class) bool {
	for e := range o.tolerated {
		if e.Class == c {
			return true
		}
	}
	return false
}

// entryReport lists each entry of the differences file with the cases
// that showed it in this run.
func entryReport(outcomes []*outcome, d *Differences) string {
	var b strings.Builder
	b.WriteString("# Parity with runc: listed differences seen in this run\n\n")
	for _, e := range d.Entries {
		var cases []string
		for _, o := range outcomes {
			if o.tolerated[e] {
				cases = append(cases, o.name)
			}
		}
		sort.Strings(cases)
		fields, class := e.Fields, string(e.Class)
		if e.Lines != "" {
			fields += " [" + e.Lines + "]"
		}
		if e.Host != "" {
			class += " (" + e.Host + ")"
		}
		fmt.Fprintf(&b, "- **%s** `%s` `%s`: %s (%d cases)\n", class, e.Cases, fields, e.Reason, len(cases))
		for _, c := range cases {
			fmt.Fprintf(&b, "  - %s\n", c)
		}
	}
	return b.String()
}

// diffTable lists every difference of the run, one per line: case, field,
// runc's and husk's values (for multi-line values, the lines only one of
// them has), and the entry that allows it ("-" for none).
func diffTable(outcomes []*outcome, d *Differences) string {
	var lines []string
	flat := func(v string) string { return strings.ReplaceAll(v, "\t", " ") }
	for _, o := range outcomes {
		for _, f := range o.all {
			ref, husk := flat(f.Ref), flat(f.Husk)
			if strings.Contains(f.Ref, "\n") || strings.Contains(f.Husk, "\n") {
				var only [2][]string
				for _, l := range LineDiff(splitLines(f.Ref), splitLines(f.Husk)) {
					switch l[0] {
					case '-':
						only[0] = append(only[0], flat(l[2:]))
					case '+':
						only[1] = append(only[1], flat(l[2:]))
					}
				}
				ref, husk = strings.Join(only[0], " | "), strings.Join(only[1], " | ")
			}
			entry := "-"
			if e := d.Find(o.name, f); e != nil {
				entry = fmt.Sprintf("line %d", e.Line)
			}
			lines = append(lines, strings.Join([]string{o.name, f.Key, ref, husk, entry}, "\t"))
		}
	}
	sort.Strings(lines)
	return "case\tfield\trunc only\thusk only\tentry\n" + strings.Join(lines, "\n") + "\n"
}
