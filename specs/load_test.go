package specs

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

func TestParseSyntaxErrors(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"empty", "", "config.json: invalid JSON at line 1, column 1: unexpected end of JSON input"},
		{"truncated", "{\n\t\"ociVersion\": \"1.0.0\",\n", "config.json: invalid JSON at line 3, column 1: unexpected end of JSON input"},
		{"bad value", "{\n  \"ociVersion\": \"1.0.0\",\n  \"root\": {\n    \"path\": }\n}",
			"config.json: invalid JSON at line 4, column 13: invalid character '}' looking for beginning of value"},
		{"trailing comma", "{\"a\": 1,}", "config.json: invalid JSON at line 1, column 9: invalid character '}'"},
		{"trailing garbage", "{}\n\nxyz", "config.json: invalid JSON at line 3, column 1: invalid character 'x' after top-level value"},
		{"second document", "{} {}", "config.json: invalid JSON at line 1, column 4: invalid character '{' after top-level value"},
		{"top-level array", "\n[1]", "config.json: invalid JSON at line 2, column 1: expected an object, got JSON array"},
		{"top-level string", `"x"`, "config.json: invalid JSON at line 1, column 1: expected an object, got JSON string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.in))
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("got %v\nwant prefix %s", err, tc.want)
			}
		})
	}
}

func TestParseSyntaxErrorWrapsJSONError(t *testing.T) {
	_, err := Parse([]byte("{"))
	var syn *json.SyntaxError
	if !errors.As(err, &syn) {
		t.Fatalf("%v does not wrap *json.SyntaxError", err)
	}
}

func TestParseTypeErrors(t *testing.T) {
	for _, tc := range []struct{ name, in, field, msg string }{
		{"version number", `{"ociVersion": 1}`, "ociVersion", "expected a string, got JSON number at line 1, column 16"},
		{"array index", "{\n\"mounts\": [\n  {\"destination\": \"/a\"},\n  {\"destination\": 5}\n]}",
			"mounts[1].destination", "expected a string, got JSON number at line 4, column 19"},
		{"negative uid", `{"process": {"user": {"uid": -1}}}`, "process.user.uid", "expected a non-negative integer (uint32), got JSON number -1"},
		{"args not array", `{"process": {"args": "sh"}}`, "process.args", "expected an array, got JSON string at line 1, column 22"},
		{"nested array", `{"process": {"capabilities": {"bounding": ["CAP_KILL", true]}}}`,
			"process.capabilities.bounding[1]", "expected a string, got JSON bool"},
		{"map member", `{"linux": {"sysctl": {"net.ipv4.ip_forward": 1}}}`,
			`linux.sysctl["net.ipv4.ip_forward"]`, "expected a string, got JSON number"},
		{"object in map", `{"linux": {"timeOffsets": {"monotonic": {"secs": "1"}}}}`,
			`linux.timeOffsets["monotonic"].secs`, "expected an integer (int64), got JSON string"},
		{"object expected", `{"linux": {"namespaces": [{"type": "pid"}, "uts"]}}`,
			"linux.namespaces[1]", "expected an object, got JSON string"},
		{"escaped key", `{"pro\u0063ess": {"cwd": []}}`, "process.cwd", "expected a string, got JSON array"},
		{"case-insensitive key", `{"Process": {"Terminal": "yes"}}`, "Process.Terminal", "expected a boolean, got JSON string"},
		{"overflow", `{"process": {"rlimits": [{"type": "RLIMIT_NOFILE", "hard": 18446744073709551616}]}}`,
			"process.rlimits[0].hard", "expected a non-negative integer (uint64), got JSON number 18446744073709551616"},
		{"fraction", `{"process": {"oomScoreAdj": 1.5}}`, "process.oomScoreAdj", "expected an integer (int), got JSON number 1.5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.in))
			wantFieldError(t, err, tc.field, tc.msg)
		})
	}
}

func TestParseAcceptsUnknownFields(t *testing.T) {
	data, err := os.ReadFile("testdata/runc-spec-1.5.3.json")
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Replace(string(data), `"ociVersion"`, `"futureField": {"x": [1, 2]}, "ociVersion"`, 1)
	doc = strings.Replace(doc, `"cwd"`, `"futureProcessField": true, "cwd"`, 1)
	if _, err := Parse([]byte(doc)); err != nil {
		t.Fatal(err)
	}
}

func TestParseRuncSpecs(t *testing.T) {
	for _, f := range []string{"testdata/runc-spec-1.5.3.json", "testdata/runc-spec-rootless-1.5.3.json"} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		s, err := Parse(data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if s.Version != "1.3.0" || s.Process.Args[0] != "sh" {
			t.Errorf("%s decoded wrongly: %+v", f, s)
		}
	}
}

func TestParseRunsValidation(t *testing.T) {
	_, err := Parse([]byte(`{"ociVersion": "2.0.0"}`))
	wantFieldError(t, err, "root", "required")
}

// writeBundle creates a bundle directory with the given config and a rootfs.
func writeBundle(t *testing.T, s *rspec.Spec) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "rootfs"), 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestLoad(t *testing.T) {
	s := Default(true) // has a bind mount of /sys
	s.Mounts = append(s.Mounts, rspec.Mount{Destination: "/etc/hosts", Type: "bind", Source: "hosts", Options: []string{"bind"}})
	dir := writeBundle(t, s)
	if err := os.WriteFile(filepath.Join(dir, "hosts"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.Root.Path != "rootfs" || len(got.Mounts) != len(s.Mounts) {
		t.Errorf("loaded %+v", got)
	}
}

func TestLoadMissingConfig(t *testing.T) {
	dir := t.TempDir()
	_, err := Load(dir)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("got %v, want a not-exist error", err)
	}
	if want := filepath.Join(dir, "config.json"); !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not name %s", err, want)
	}
}

func TestLoadSyntaxError(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte("{\n}\n}"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(dir)
	if err == nil || !strings.Contains(err.Error(), "config.json: invalid JSON at line 3, column 1") {
		t.Fatalf("got %v", err)
	}
}

func TestLoadFilesystemChecks(t *testing.T) {
	t.Run("missing rootfs", func(t *testing.T) {
		dir := writeBundle(t, Default(false))
		if err := os.Remove(filepath.Join(dir, "rootfs")); err != nil {
			t.Fatal(err)
		}
		_, err := Load(dir)
		wantFieldError(t, err, "root.path", filepath.Join(dir, "rootfs")+": no such file or directory")
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%v: errors.Is(fs.ErrNotExist) is false", err)
		}
	})
	t.Run("rootfs is a file", func(t *testing.T) {
		dir := writeBundle(t, Default(false))
		p := filepath.Join(dir, "rootfs")
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Load(dir)
		wantFieldError(t, err, "root.path", p+": not a directory")
		if !errors.Is(err, syscall.ENOTDIR) {
			t.Errorf("%v: errors.Is(ENOTDIR) is false", err)
		}
	})
	t.Run("absolute rootfs", func(t *testing.T) {
		s := Default(false)
		s.Root.Path = t.TempDir()
		if _, err := Load(writeBundle(t, s)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("missing relative bind source", func(t *testing.T) {
		s := Default(false)
		s.Mounts = append(s.Mounts, rspec.Mount{Destination: "/data", Source: "data", Options: []string{"rbind"}})
		dir := writeBundle(t, s)
		_, err := Load(dir)
		wantFieldError(t, err, "mounts[7].source", filepath.Join(dir, "data")+": no such file or directory")
	})
	t.Run("missing absolute bind source", func(t *testing.T) {
		s := Default(false)
		s.Mounts = append(s.Mounts, rspec.Mount{Destination: "/data", Type: "bind", Source: "/nonexistent/husk-test", Options: []string{"bind"}})
		_, err := Load(writeBundle(t, s))
		wantFieldError(t, err, "mounts[7].source", "/nonexistent/husk-test: no such file or directory")
	})
	t.Run("bind source inside the rootfs is resolved at mount time", func(t *testing.T) {
		s := Default(false)
		s.Mounts = append(s.Mounts, rspec.Mount{Destination: "/b", Source: "rootfs/made-by-an-earlier-mount", Options: []string{"bind"}})
		if _, err := Load(writeBundle(t, s)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("symlinked root.path", func(t *testing.T) {
		s := Default(false)
		s.Root.Path = "rootlink"
		dir := writeBundle(t, s)
		if err := os.Symlink("rootfs", filepath.Join(dir, "rootlink")); err != nil {
			t.Fatal(err)
		}
		_, err := Load(dir)
		wantFieldError(t, err, "root.path", "is a symlink")
		real, err := filepath.EvalSymlinks(dir)
		if err != nil {
			t.Fatal(err)
		}
		// The bundle directory is taken by its real path: a link to it is fine.
		link := filepath.Join(t.TempDir(), "bundle-link")
		if err := os.Symlink(real, link); err != nil {
			t.Fatal(err)
		}
		s.Root.Path = "rootfs"
		data, _ := json.Marshal(s)
		if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(link); err != nil {
			t.Errorf("bundle given through a symlink: %v", err)
		}
	})
	t.Run("non-bind sources are not checked", func(t *testing.T) {
		s := Default(false)
		s.Mounts = append(s.Mounts, rspec.Mount{Destination: "/data", Type: "tmpfs", Source: "nonexistent"})
		if _, err := Load(writeBundle(t, s)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("document order", func(t *testing.T) {
		// The missing rootfs comes before the bad cwd in the file.
		s := Default(false)
		s.Process.Cwd = "relative"
		dir := writeBundle(t, s)
		if err := os.Remove(filepath.Join(dir, "rootfs")); err != nil {
			t.Fatal(err)
		}
		_, err := Load(dir)
		wantFieldError(t, err, "root.path", "no such file or directory")
	})
}

func TestValidateStaticSkipsFilesystem(t *testing.T) {
	s := Default(false)
	s.Root.Path = "/nonexistent/husk-test"
	s.Mounts = append(s.Mounts, rspec.Mount{Destination: "/x", Type: "bind", Source: "/nonexistent/x", Options: []string{"bind"}})
	if err := ValidateStatic(s); err != nil {
		t.Fatal(err)
	}
	wantFieldError(t, Validate(s, "/"), "root.path", "/nonexistent/husk-test: no such file or directory")
}

func BenchmarkParse(b *testing.B) {
	data, err := json.Marshal(validSpec())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}
