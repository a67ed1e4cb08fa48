package specs

import (
	"encoding/json"
	"os"
	"reflect"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

func readSpec(t *testing.T, path string) *rspec.Spec {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s rspec.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	return &s
}

func TestDefaultMatchesRunc(t *testing.T) {
	want := readSpec(t, "testdata/runc-spec-1.5.3.json")
	want.Version = rspec.Version
	if got := Default(false); !reflect.DeepEqual(got, want) {
		t.Errorf("Default(false) differs from runc spec:\n got %s\nwant %s", mustJSON(t, got), mustJSON(t, want))
	}
}

func TestDefaultRootlessMatchesRunc(t *testing.T) {
	want := readSpec(t, "testdata/runc-spec-rootless-1.5.3.json")
	want.Version = rspec.Version
	// The testdata was generated as root; the mappings are the caller's.
	want.Linux.UIDMappings[0].HostID = uint32(os.Getuid())
	want.Linux.GIDMappings[0].HostID = uint32(os.Getgid())
	if got := Default(true); !reflect.DeepEqual(got, want) {
		t.Errorf("Default(true) differs from runc spec --rootless:\n got %s\nwant %s", mustJSON(t, got), mustJSON(t, want))
	}
}

// TestDefaultBytes checks that `husk spec` can write byte-for-byte what
// runc writes, apart from the version line.
func TestDefaultBytes(t *testing.T) {
	data, err := os.ReadFile("testdata/runc-spec-1.5.3.json")
	if err != nil {
		t.Fatal(err)
	}
	s := Default(false)
	s.Version = "1.3.0"
	got, err := json.MarshalIndent(s, "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(data) {
		t.Errorf("MarshalIndent(Default(false)) differs from runc's output:\n%s", got)
	}
}

func TestDefaultReturnsFreshValues(t *testing.T) {
	a := Default(false)
	a.Process.Capabilities.Bounding[0] = "CAP_SYS_ADMIN"
	a.Mounts[1].Options[0] = "x"
	a.Process.Capabilities.Effective[1] = "y"
	b := Default(false)
	if b.Process.Capabilities.Bounding[0] != "CAP_AUDIT_WRITE" || b.Mounts[1].Options[0] != "nosuid" {
		t.Error("Default shares state between calls")
	}
	if b.Process.Capabilities.Effective[1] != "CAP_KILL" || a.Process.Capabilities.Bounding[1] != "CAP_KILL" {
		t.Error("capability sets share backing arrays")
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
