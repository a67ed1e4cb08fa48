package parity

import (
	"strings"
	"testing"
)

func TestCompare(t *testing.T) {
	var ref, husk Observation
	ref.Add("run.exit", "0")
	ref.Add("run.out", "a\nb\nc")
	ref.Add("only.runc", "x")
	husk.Add("run.exit", "0")
	husk.Add("run.out", "a\nc\nd")
	husk.Add("only.husk", "y")
	diffs := Compare(&ref, &husk)
	var keys []string
	for _, d := range diffs {
		keys = append(keys, d.Key)
	}
	if got := strings.Join(keys, " "); got != "run.out only.runc only.husk" {
		t.Fatalf("diff keys = %q", got)
	}
	if got, want := diffs[0].String(), "run.out:\n      a\n    - b\n      c\n    + d\n"; got != want {
		t.Errorf("multi-line diff:\n%s\nwant\n%s", got, want)
	}
	if got, want := diffs[1].String(), "only.runc:\n    runc: x\n    husk: <absent>\n"; got != want {
		t.Errorf("single-line diff:\n%q\nwant\n%q", got, want)
	}
}

func TestObservationAddKeepsDuplicates(t *testing.T) {
	var o Observation
	o.Add("k", "1")
	o.Add("k", "2")
	o.Add("k", "3")
	if v, _ := o.Get("k#3"); v != "3" || len(o.Fields) != 3 {
		t.Errorf("fields = %+v", o.Fields)
	}
	if got := o.String(); got != "k: 1\nk#2: 2\nk#3: 3\n" {
		t.Errorf("String = %q", got)
	}
}

func TestLineDiffEdges(t *testing.T) {
	if got := LineDiff(nil, []string{"x"}); len(got) != 1 || got[0] != "+ x" {
		t.Errorf("insert only: %q", got)
	}
	if got := LineDiff([]string{"x"}, nil); len(got) != 1 || got[0] != "- x" {
		t.Errorf("delete only: %q", got)
	}
}
