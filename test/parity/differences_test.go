package parity

import (
	"strings"
	"testing"
)

func TestParseDifferences(t *testing.T) {
	in := "# comment\n\n" +
		"*\t*.error\tintended: wording is husk's own\n" +
		"caps/unknown/*\trun.exit\tbug: husk fails where runc warns and ignores the name\n"
	d, err := ParseDifferences(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Entries) != 2 {
		t.Fatalf("entries = %d", len(d.Entries))
	}
	if e := d.Find("caps/unknown/CAP_FOO", "run.exit"); e == nil || e.Class != Bug || e.Line != 4 {
		t.Errorf("Find bug entry = %v", e)
	}
	if e := d.Find("mounts/x", "create.error"); e == nil || e.Class != Intended {
		t.Errorf("Find intended entry = %v", e)
	}
	if e := d.Find("caps/known", "run.exit"); e != nil {
		t.Errorf("unexpected match %v", e)
	}
	if !d.Entries[1].MatchesCase("caps/unknown/a/b") {
		t.Error("* must match across /")
	}
}

func TestParseDifferencesErrors(t *testing.T) {
	for _, in := range []string{
		"a\tb\n",
		"a\tb\tmaybe: x\n",
		"a\tb\tbug:\n",
		"a\tb\tbug: x\textra\n",
	} {
		if _, err := ParseDifferences(strings.NewReader(in)); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
}
