package parity

import (
	"strings"
)

// FieldDiff is one key whose value differs between the reference runtime
// and husk; a value missing on one side is "<absent>".
type FieldDiff struct {
	Key       string
	Ref, Husk string
}

const absent = "<absent>"

// Compare lists the fields that differ, in the reference's order, then
// the keys only husk has.
func Compare(ref, husk *Observation) []FieldDiff {
	var out []FieldDiff
	for _, f := range ref.Fields {
		v, ok := husk.Get(f.Key)
		switch {
		case !ok:
			out = append(out, FieldDiff{Key: f.Key, Ref: f.Value, Husk: absent})
		case v != f.Value:
			out = append(out, FieldDiff{Key: f.Key, Ref: f.Value, Husk: v})
		}
	}
	for _, f := range husk.Fields {
		if !ref.has(f.Key) {
			out = append(out, FieldDiff{Key: f.Key, Ref: absent, Husk: f.Value})
		}
	}
	return out
}

// String renders the difference readably: single-line values side by
// side, multi-line values as a line diff ("-" only in the reference,
// "+" only in husk, " " in both).
func (d FieldDiff) String() string {
	var b strings.Builder
	b.WriteString(d.Key + ":\n")
	if !strings.Contains(d.Ref, "\n") && !strings.Contains(d.Husk, "\n") {
		b.WriteString("    runc: " + d.Ref + "\n")
		b.WriteString("    husk: " + d.Husk + "\n")
		return b.String()
	}
	for _, l := range LineDiff(splitLines(d.Ref), splitLines(d.Husk)) {
		b.WriteString("    " + l + "\n")
	}
	return b.String()
}

func splitLines(s string) []string {
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// LineDiff is a longest-common-subsequence diff of two line lists. The
// values compared here are short (a mountinfo is a few dozen lines), so
// the quadratic table is cheap.
func LineDiff(a, b []string) []string {
	n, m := len(a), len(b)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out []string
	i, j := 0, 0
	for i < n && j < m {
		switch {
		case a[i] == b[j]:
			out = append(out, "  "+a[i])
			i++
			j++
		case lcs[i+1][j] >= lcs[i][j+1]:
			out = append(out, "- "+a[i])
			i++
		default:
			out = append(out, "+ "+b[j])
			j++
		}
	}
	for ; i < n; i++ {
		out = append(out, "- "+a[i])
	}
	for ; j < m; j++ {
		out = append(out, "+ "+b[j])
	}
	return out
}
