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
	if e := d.Find("caps/unknown/CAP_FOO", FieldDiff{Key: "run.exit"}); e == nil || e.Class != Bug || e.Line != 4 {
		t.Errorf("Find bug entry = %v", e)
	}
	if e := d.Find("mounts/x", FieldDiff{Key: "create.error"}); e == nil || e.Class != Intended {
		t.Errorf("Find intended entry = %v", e)
	}
	if e := d.Find("caps/known", FieldDiff{Key: "run.exit"}); e != nil {
		t.Errorf("unexpected match %v", e)
	}
	if !d.Entries[1].MatchesCase("caps/unknown/a/b") {
		t.Error("* must match across /")
	}
}

func TestDifferencesLinesAndHosts(t *testing.T) {
	in := "mounts/*\trun.out [/sys/fs/cgroup *]\tintended (cgroup v2): the cgroup mount\n" +
		"mounts/*\trun.exit\tintended (cgroup v1): v1 only\n" +
		"mounts/*\trun.out\tintended: any line\n"
	all, err := ParseDifferences(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if e := all.Entries[0]; e.Fields != "run.out" || e.Lines != "/sys/fs/cgroup *" || e.Host != HostCgroupV2 {
		t.Fatalf("entry = %+v", e)
	}
	v2 := all.OnHost(HostCgroupV2)
	if len(v2.Entries) != 2 {
		t.Fatalf("cgroup v2 entries = %d", len(v2.Entries))
	}
	cgLine := FieldDiff{Key: "run.out", Ref: "=== m\n/sys/fs/cgroup / ro\n/proc / rw", Husk: "=== m\n/sys/fs/cgroup <cgroup> ro\n/proc / rw"}
	if e := v2.Find("mounts/a", cgLine); e == nil || e.Line != 1 {
		t.Errorf("cgroup line: entry %v, want line 1", e)
	}
	other := FieldDiff{Key: "run.out", Ref: cgLine.Ref, Husk: "=== m\n/sys/fs/cgroup <cgroup> ro\n/proc / ro"}
	if e := v2.Find("mounts/a", other); e == nil || e.Line != 3 {
		t.Errorf("another line differs too: entry %v, want line 3", e)
	}
	if e := all.OnHost(HostCgroupV1).Find("mounts/a", cgLine); e == nil || e.Line != 3 {
		t.Errorf("cgroup v1: entry %v, want line 3", e)
	}
	if e := v2.Find("mounts/a", FieldDiff{Key: "run.exit"}); e != nil {
		t.Errorf("cgroup v1 entry used on cgroup v2: %v", e)
	}

	pair, err := ParseDifferences(strings.NewReader("*\t*.out [/sys/fs/cgroup / * => /sys/fs/cgroup <cgroup> *]\tintended: bind\n"))
	if err != nil {
		t.Fatal(err)
	}
	if e := pair.Find("mounts/a", cgLine); e == nil {
		t.Error("runc's / and husk's <cgroup>: not allowed")
	}
	source := FieldDiff{Key: "run.out", Ref: "/sys/fs/cgroup / ro - cgroup2 cgroup rw", Husk: "/sys/fs/cgroup / ro - cgroup2 cgroup2 rw"}
	if e := pair.Find("mounts/a", source); e != nil {
		t.Errorf("husk's line does not match husk's glob, yet allowed by %v", e)
	}
}

func TestParseDifferencesErrors(t *testing.T) {
	for _, in := range []string{
		"a\tb\n",
		"a\tb\tmaybe: x\n",
		"a\tb\tbug:\n",
		"a\tb\tbug: x\textra\n",
		"a\tb\tbug (cgroup v3): x\n",
		"a\tb\tbug (cgroup v2: x\n",
		"a\tb [x\tbug: x\n",
		"a\tb []\tbug: x\n",
	} {
		if _, err := ParseDifferences(strings.NewReader(in)); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
}
