package specs

import (
	"encoding/json"
	"os"
	"testing"
)

func FuzzParse(f *testing.F) {
	for _, p := range []string{"testdata/runc-spec-1.5.3.json", "testdata/runc-spec-rootless-1.5.3.json"} {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	valid, err := json.Marshal(validSpec())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	for _, s := range []string{
		"",
		"{",
		"null",
		"[]",
		"{} {}",
		`{"ociVersion": "1.0.0"}`,
		`{"ociVersion": 1}`,
		`{"ociVersion": "1.0.0", "root": {"path": "r"}, "process": {"args": ["sh"], "cwd": "/"}}`,
		`{"ociVersion": "1.0.0", "root": {"path": "r"}, "process": {"args": ["sh"], "cwd": "/"}, "linux": {"sysctl": {"vm.x": "1"}}}`,
		`{"mounts": [{"destination": "\u0000"}], "linux": {"namespaces": [{"type": "foo"}]}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(data)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		out, err := json.Marshal(s)
		if err != nil {
			t.Fatalf("accepted config does not marshal: %v", err)
		}
		if _, err := Parse(out); err != nil {
			t.Fatalf("re-encoded config rejected: %v\n%s", err, out)
		}
	})
}
