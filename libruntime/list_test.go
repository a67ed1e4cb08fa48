package libruntime

import (
	"os"
	"testing"
)

// list shows the owner of a container by name, as runc does.
func TestUserName(t *testing.T) {
	dir := t.TempDir()
	passwd := dir + "/passwd"
	if err := os.WriteFile(passwd, []byte("root:x:0:0:root:/root:/bin/sh\nbad\nalice:x:1000:1000::/home/a:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for uid, want := range map[uint32]string{0: "root", 1000: "alice", 7: "#7"} {
		if got := userName(passwd, uid); got != want {
			t.Errorf("userName(%d) = %q, want %q", uid, got, want)
		}
	}
	if got := userName(dir+"/none", 0); got != "#0" {
		t.Errorf("without a passwd file: %q", got)
	}
}
