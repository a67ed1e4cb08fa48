package nsutil

import (
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

func TestFormatIDMap(t *testing.T) {
	m := []rspec.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}, {ContainerID: 65536, HostID: 0, Size: 1}}
	if got, want := FormatIDMap(m), "0 100000 65536\n65536 0 1\n"; got != want {
		t.Fatalf("FormatIDMap = %q, want %q", got, want)
	}
}

func TestMapsID(t *testing.T) {
	m := []rspec.LinuxIDMapping{{ContainerID: 1000, HostID: 5000, Size: 10}}
	for id, want := range map[uint32]bool{0: false, 999: false, 1000: true, 1009: true, 1010: false} {
		if got := MapsID(m, id); got != want {
			t.Errorf("MapsID(%d) = %v, want %v", id, got, want)
		}
	}
	if MapsID(nil, 0) {
		t.Error("MapsID(nil, 0) = true")
	}
}

func TestProcIDMaps(t *testing.T) {
	got := ProcIDMaps([]rspec.LinuxIDMapping{{ContainerID: 1, HostID: 2, Size: 3}})
	if len(got) != 1 || got[0].ContainerID != 1 || got[0].HostID != 2 || got[0].Size != 3 {
		t.Fatalf("ProcIDMaps = %+v", got)
	}
}

func TestParseAndCompareIDMaps(t *testing.T) {
	m, err := ParseIDMap("         0     100000      65536\n     65536 1 2\n")
	if err != nil || len(m) != 2 || m[0] != (rspec.LinuxIDMapping{ContainerID: 0, HostID: 100000, Size: 65536}) {
		t.Fatalf("ParseIDMap: %v %v", m, err)
	}
	if _, err := ParseIDMap("0 1\n"); err == nil {
		t.Error("a short line parsed")
	}
	rev := []rspec.LinuxIDMapping{m[1], m[0]}
	if !SameIDMaps(m, rev) || SameIDMaps(m, m[:1]) || SameIDMaps(m, []rspec.LinuxIDMapping{m[0], m[0]}) {
		t.Error("SameIDMaps")
	}
}
