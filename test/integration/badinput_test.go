package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// Bad configs: create fails with a non-zero exit and a message naming the
// field, and leaves nothing behind (state, cgroup, mount, process).
func TestBadConfigs(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(*rspec.Spec)
		raw   func(bundle string) // rewrites the bundle after it is written
		wants []string
	}{
		{
			name: "bad-json",
			raw: func(b string) {
				writeRaw(t, filepath.Join(b, "config.json"), "{\"ociVersion\": \"1.0.0\", \"process\": {")
			},
			wants: []string{"config.json", "invalid JSON"},
		},
		{
			name: "wrong-json-type",
			raw: func(b string) {
				writeRaw(t, filepath.Join(b, "config.json"), `{"ociVersion": "1.0.0", "process": {"args": "sh"}}`)
			},
			wants: []string{"process.args"},
		},
		{
			name:  "oci-version-missing",
			edit:  func(s *rspec.Spec) { s.Version = "" },
			wants: []string{"ociVersion", "required"},
		},
		{
			// A relative destination is only warned about (as runc
			// does); filesystem options on a bind are refused.
			name: "bind-with-filesystem-options",
			edit: func(s *rspec.Spec) {
				s.Mounts = append(s.Mounts, rspec.Mount{Destination: "/tmp", Source: "/tmp", Options: []string{"rbind", "mode=700"}})
			},
			wants: []string{"mounts[7].options", "mode=700"},
		},
		{
			name:  "missing-rootfs",
			edit:  func(s *rspec.Spec) { s.Root.Path = "no-such-rootfs" },
			wants: []string{"root.path", "no-such-rootfs"},
		},
		{
			name: "namespace-path-wrong-type",
			edit: func(s *rspec.Spec) {
				s.Hostname = ""
				setNS(s, rspec.UTSNamespace, "/proc/self/ns/net")
			},
			wants: []string{"linux.namespaces[3].path"},
		},
		{
			name: "namespace-path-missing",
			edit: func(s *rspec.Spec) {
				setNS(s, rspec.NetworkNamespace, "/proc/999999999/ns/net")
			},
			wants: []string{"linux.namespaces[1].path"},
		},
		{
			// Joining the host's network namespace: net.* sysctls would
			// change the host's settings.
			name: "net-sysctl-in-host-netns",
			edit: func(s *rspec.Spec) {
				setNS(s, rspec.NetworkNamespace, "/proc/self/ns/net")
				s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
			},
			wants: []string{`linux.sysctl["net.ipv4.ip_forward"]`, "host's network namespace"},
		},
		{
			name: "bind-source-missing",
			edit: func(s *rspec.Spec) {
				s.Mounts = append(s.Mounts, rspec.Mount{Destination: "/x", Source: "/no/such/source", Options: []string{"bind"}})
			},
			wants: []string{"mounts[7].source"},
		},
		{
			name: "unknown-filesystem",
			edit: func(s *rspec.Spec) {
				s.Mounts = append(s.Mounts, rspec.Mount{Destination: "/x", Type: "nosuchfs", Source: "none"})
			},
			wants: []string{"mounts[7]", "nosuchfs"},
		},
		{
			name: "tmpfs-bad-option",
			edit: func(s *rspec.Spec) {
				s.Mounts = append(s.Mounts, rspec.Mount{Destination: "/x", Type: "tmpfs", Source: "tmpfs", Options: []string{"size=lots"}})
			},
			wants: []string{"mounts[7]", "size=lots"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hh := newH(t)
			b := hh.bundle(tc.edit, "true")
			if tc.raw != nil {
				tc.raw(b)
			}
			before := takeSnapshot(t)
			name := id(t)
			r := hh.husk("create", "--bundle", b, name)
			if r.code == 0 {
				t.Fatalf("create succeeded: %s", r)
			}
			for _, w := range tc.wants {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("error does not name %q: %s", w, r)
				}
			}
			hh.assertClean(name, "", filepath.Join(b, "rootfs"), before)
			if e := hh.stateEntries(); len(e) != 0 {
				t.Errorf("state root has entries after a failed create: %v", e)
			}
			// The same through run.
			r = hh.husk("run", "--bundle", b, name)
			if r.code == 0 || !strings.Contains(r.stderr, tc.wants[0]) {
				t.Errorf("run: %s", r)
			}
			hh.assertClean(name, "", filepath.Join(b, "rootfs"), before)
		})
	}
}

func TestBadContainerIDs(t *testing.T) {
	hh := newH(t)
	b := hh.bundle(nil, "true")
	before := takeSnapshot(t)
	cgBefore := cgroupPresence(t, "x", "a/b", "a", "/x")
	for _, bad := range []string{"../x", "a/b", "", ".", "..", "with space", "semi;colon", strings.Repeat("x", 1100)} {
		r := hh.husk("create", "--bundle", b, bad)
		if r.code == 0 {
			t.Errorf("create with ID %q succeeded", bad)
			hh.husk("delete", "--force", bad)
			continue
		}
		want := "invalid container ID"
		if bad == "" {
			want = "container ID"
		}
		if !strings.Contains(r.stderr, want) {
			t.Errorf("create with ID %q: %s, want %q", bad, r, want)
		}
	}
	// Nothing was made, in the state root or next to it.
	if e := hh.stateEntries(); len(e) != 0 {
		t.Errorf("state root entries after bad IDs: %v", e)
	}
	for _, p := range []string{filepath.Join(hh.dir, "x"), filepath.Join(hh.root, "a")} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s was created", p)
		}
	}
	assertCgroupsUnchanged(t, cgBefore)
	hh.assertClean("", "", filepath.Join(b, "rootfs"), before)
	// Other commands refuse them too, without touching anything.
	for _, cmd := range []string{"state", "start", "delete", "kill"} {
		if r := hh.husk(cmd, "../x"); r.code == 0 || !strings.Contains(r.stderr, "invalid container ID") {
			t.Errorf("%s ../x: %s", cmd, r)
		}
	}
}

func TestKillUnknownSignal(t *testing.T) {
	hh := newH(t)
	name, st := hh.startSleeper(nil)
	for _, sig := range []string{"SIGNOPE", "NOPE", "99999", "-1"} {
		r := hh.husk("kill", name, sig)
		if r.code == 0 || !strings.Contains(r.stderr, "signal") {
			t.Errorf("kill %s: %s, want an error about the signal", sig, r)
		}
	}
	if s := hh.state(name); s.Status != "running" || s.Pid != st.Pid {
		t.Errorf("container after bad kills: %+v", s)
	}
	// Names with and without SIG and numbers all work.
	hh.must("kill", name, "SIGCONT")
	hh.must("kill", name, "cont")
	hh.must("kill", name, "18")
	hh.must("kill", name, "KILL")
	hh.waitStatus(name, "stopped")
	hh.must("delete", name)
}

// A second create of an existing ID fails and does not disturb the first
// container.
func TestDuplicateID(t *testing.T) {
	hh := newH(t)
	name, st := hh.startSleeper(nil)
	stateBefore, err := os.ReadFile(filepath.Join(hh.root, name, "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	b := hh.bundle(nil, "true")
	before := takeSnapshot(t)
	r := hh.husk("create", "--bundle", b, name)
	if r.code == 0 || !strings.Contains(r.stderr, "exists") {
		t.Errorf("second create of %s: %s, want an error saying it exists", name, r)
	}
	hh.assertClean("", "", filepath.Join(b, "rootfs"), before)
	if s := hh.state(name); s.Status != "running" || s.Pid != st.Pid || s.Bundle == b {
		t.Errorf("first container after the duplicate create: %+v", s)
	}
	if now, _ := os.ReadFile(filepath.Join(hh.root, name, "state.json")); string(now) != string(stateBefore) {
		t.Errorf("state of the first container changed:\n%s\n%s", stateBefore, now)
	}
	hh.must("delete", "--force", name)
	assertNoCgroup(t, name)
}
