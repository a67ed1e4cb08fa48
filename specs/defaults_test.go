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

// On a cgroup v2 host runc spec adds a cgroup namespace, before the user
// namespace of --rootless.
func TestHostDefaultCgroup2(t *testing.T) {
	names := func(s *rspec.Spec) (out []rspec.LinuxNamespaceType) {
		for _, n := range s.Linux.Namespaces {
			out = append(out, n.Type)
		}
		return out
	}
	for _, c := range []struct {
		rootless bool
		want     []rspec.LinuxNamespaceType
	}{
		{false, []rspec.LinuxNamespaceType{"pid", "network", "ipc", "uts", "mount", "cgroup"}},
		{true, []rspec.LinuxNamespaceType{"pid", "ipc", "uts", "mount", "cgroup", "user"}},
	} {
		if got := names(HostDefault(c.rootless, true)); !reflect.DeepEqual(got, c.want) {
			t.Errorf("HostDefault(%v, true) namespaces = %v, want %v", c.rootless, got, c.want)
		}
	}
	if !reflect.DeepEqual(HostDefault(false, false), Default(false)) {
		t.Error("HostDefault(false, false) differs from Default(false)")
	}
}
