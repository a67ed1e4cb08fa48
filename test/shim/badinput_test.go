package shimtest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBadInput: husk's own error (or warning) reaches the ctr user, and
// nothing stays.
func TestBadInput(t *testing.T) {
	for _, v := range versions {
		t.Run("containerd-"+v, func(t *testing.T) {
			c := newContainerd(t, v, false)
			rt := "--runtime=" + runtimeName
			t.Run("invalid-bundle", func(t *testing.T) {
				// A config.json husk rejects: an unknown namespace type.
				spec := map[string]any{
					"ociVersion": "1.0.2",
					"process":    map[string]any{"args": []string{"true"}, "cwd": "/", "user": map[string]any{}},
					"root":       map[string]any{"path": "rootfs"},
					"linux":      map[string]any{"namespaces": []map[string]string{{"type": "bogus"}}},
				}
				data, _ := json.Marshal(spec)
				cfg := filepath.Join(t.TempDir(), "config.json")
				os.WriteFile(cfg, data, 0o644)
				id := fmt.Sprintf("badbundle-%d", time.Now().UnixNano()%1e6)
				out, err := c.ctr("run", "--rm", rt, "--config", cfg, id)
				if err == nil || !strings.Contains(out, `unknown namespace type "bogus"`) {
					t.Fatalf("want husk's error in ctr's: %v: %q", err, out)
				}
				c.ctr("container", "delete", id)
				checkGone(t, c, "default", id, 0)
			})
			t.Run("unknown-capability", func(t *testing.T) {
				// As runc 1.5.3: a capability the kernel does not know is
				// left out with a warning (in the shim's log), and the
				// container runs.
				id := fmt.Sprintf("badcap-%d", time.Now().UnixNano()%1e6)
				out, err := c.ctr("run", "--rm", rt, "--cap-add", "CAP_BOGUS", imageRef, id, "echo", "ran")
				if err != nil || strings.TrimSpace(out) != "ran" {
					t.Fatalf("an unknown capability is only warned about: %v: %q", err, out)
				}
				if log := c.logTail(200); !strings.Contains(log, "ignoring unknown or unavailable capabilities: [CAP_BOGUS]") {
					t.Errorf("no warning about CAP_BOGUS in containerd's log:\n%s", tail(log, 20))
				}
				c.ctr("container", "delete", id)
				checkGone(t, c, "default", id, 0)
			})
			t.Run("missing-command", func(t *testing.T) {
				id := fmt.Sprintf("nocmd-%d", time.Now().UnixNano()%1e6)
				out, err := c.ctr("run", "--rm", rt, imageRef, id, "/no/such/command")
				if err == nil || !strings.Contains(out, "/no/such/command") {
					t.Fatalf("want an error naming the command: %v: %q", err, out)
				}
				c.ctr("container", "delete", id)
				checkGone(t, c, "default", id, 0)
			})
			waitFor(t, 5*time.Second, "no shim left", func() bool { return len(c.shimPids()) == 0 })
		})
	}
}
