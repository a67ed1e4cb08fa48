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
type Entry struct {
	Line   int
	Cases  string
	Fields string
	Class  Class
	Reason string

	cases, fields *regexp.Regexp
}

// Differences is the parsed differences file.
type Differences struct {
	Entries []*Entry
}

// ParseDifferences reads the tab-separated file: case glob, field glob,
// "intended: reason" or "bug: reason". Blank lines and lines starting
// with # are comments.
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
		if !ok || (Class(class) != Intended && Class(class) != Bug) || reason == "" {
			return nil, fmt.Errorf("differences line %d: third column must be \"intended: <reason>\" or \"bug: <what husk does vs runc>\"", n)
		}
		e := &Entry{Line: n, Cases: cols[0], Fields: cols[1], Class: Class(class), Reason: reason,
			cases: globRegexp(cols[0]), fields: globRegexp(cols[1])}
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

// Find returns the first entry allowing field key of case name to differ.
func (d *Differences) Find(name, key string) *Entry {
	for _, e := range d.Entries {
		if e.cases.MatchString(name) && e.fields.MatchString(key) {
			return e
		}
	}
	return nil
}

// String is the entry as the file has it, for messages.
func (e *Entry) String() string {
	return fmt.Sprintf("differences.tsv:%d %s %s %s: %s", e.Line, e.Cases, e.Fields, e.Class, e.Reason)
}
