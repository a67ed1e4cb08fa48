package parity

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// Class says why a listed difference is allowed.
type Class string

const (
	// Intended: husk differs on purpose (error wording, a feature of its
	// own); the entry stays.
	Intended Class = "intended"
	// Bug: husk should behave as runc; the entry is a work item and goes
	// when it is fixed (the suite then reports it stale).
	Bug Class = "bug"
)

// Entry is one line of the differences file: the cases and fields (globs
// where * matches any text, / included) whose values may differ, and why.
// With Lines, a value may differ only in lines that match it (the lines
// one runtime shows and the other does not); Lines "A => B" is the lines
// only runc shows matching A and those only husk shows matching B. With
// Host, the entry holds
// only on that kind of host ("cgroup v1", a hybrid host included, or
// "cgroup v2"): where a difference comes from the cgroup hierarchy.
type Entry struct {
	Line   int
	Cases  string
	Fields string
	Lines  string
	Class  Class
	Host   string
	Reason string

	cases, fields        *regexp.Regexp
	runcLines, huskLines *regexp.Regexp
}

// Hosts an entry can be limited to.
const (
	HostCgroupV1 = "cgroup v1"
	HostCgroupV2 = "cgroup v2"
)

// Differences is the parsed differences file.
type Differences struct {
	Entries []*Entry
}

// ParseDifferences reads the tab-separated file: case glob, field glob
// (optionally followed by " [line glob]" or " [runc's line glob => husk's
// line glob]"), "intended: reason" or "bug:
// reason" (the class optionally followed by " (cgroup v1)" or " (cgroup
// v2)"). Blank lines and lines starting with # are comments.
func ParseDifferences(r io.Reader) (*Differences, error) {
	d := &Differences{}
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cols := strings.Split(line, "\t")
		if len(cols) != 3 {
			return nil, fmt.Errorf("differences line %d: want 3 tab-separated columns (case, field, class: reason), got %d", n, len(cols))
		}
		class, reason, ok := strings.Cut(cols[2], ":")
		reason = strings.TrimSpace(reason)
		class, host, _ := strings.Cut(class, " (")
		host, hostOK := strings.CutSuffix(host, ")")
		if !ok || (Class(class) != Intended && Class(class) != Bug) || reason == "" ||
			!(host == "" || hostOK && (host == HostCgroupV1 || host == HostCgroupV2)) {
			return nil, fmt.Errorf("differences line %d: third column must be \"intended: <reason>\" or \"bug: <what husk does vs runc>\", "+
				"the class optionally followed by (cgroup v1) or (cgroup v2)", n)
		}
		e := &Entry{Line: n, Cases: cols[0], Fields: cols[1], Class: Class(class), Host: host, Reason: reason,
			cases: globRegexp(cols[0])}
		if f, lines, ok := strings.Cut(cols[1], " ["); ok {
			lines, ok = strings.CutSuffix(lines, "]")
			if !ok || lines == "" {
				return nil, fmt.Errorf("differences line %d: second column: want \"field glob [line glob]\"", n)
			}
			e.Fields, e.Lines = f, lines
			runc, husk, pair := strings.Cut(lines, " => ")
			if !pair {
				husk = runc
			}
			e.runcLines, e.huskLines = globRegexp(runc), globRegexp(husk)
		}
		e.fields = globRegexp(e.Fields)
		d.Entries = append(d.Entries, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading differences: %w", err)
	}
	return d, nil
}

func globRegexp(glob string) *regexp.Regexp {
	parts := strings.Split(glob, "*")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile("^" + strings.Join(parts, ".*") + "$")
}

// MatchesCase tells whether the entry concerns the case.
func (e *Entry) MatchesCase(name string) bool { return e.cases.MatchString(name) }

// OnHost keeps the entries that hold on a host (HostCgroupV1 or
// HostCgroupV2): the others neither allow a difference nor go stale.
func (d *Differences) OnHost(host string) *Differences {
	out := &Differences{}
	for _, e := range d.Entries {
		if e.Host == "" || e.Host == host {
			out.Entries = append(out.Entries, e)
		}
	}
	return out
}

// Find returns the first entry allowing the difference f of case name.
func (d *Differences) Find(name string, f FieldDiff) *Entry {
	for _, e := range d.Entries {
		if e.cases.MatchString(name) && e.fields.MatchString(f.Key) && e.allowsLines(f) {
			return e
		}
	}
	return nil
}

// allowsLines tells whether every line only one runtime shows in f
// matches the entry's line glob for that runtime (true for an entry
// without line globs).
func (e *Entry) allowsLines(f FieldDiff) bool {
	if e.runcLines == nil {
		return true
	}
	for _, l := range LineDiff(splitLines(f.Ref), splitLines(f.Husk)) {
		if (l[0] == '-' && !e.runcLines.MatchString(l[2:])) || (l[0] == '+' && !e.huskLines.MatchString(l[2:])) {
			return false
		}
	}
	return true
}

// String is the entry as the file has it, for messages.
func (e *Entry) String() string {
	fields, class := e.Fields, string(e.Class)
	if e.Lines != "" {
		fields += " [" + e.Lines + "]"
	}
	if e.Host != "" {
		class += " (" + e.Host + ")"
	}
	return fmt.Sprintf("differences.tsv:%d %s %s %s: %s", e.Line, e.Cases, fields, class, e.Reason)
}
