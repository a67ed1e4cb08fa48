package launch

import (
	"os"
	"testing"
)

func TestGoMainModule(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if got := goMainModule(self); got != "github.com/husk-runtime/husk/shim/launch.test" && got != "github.com/husk-runtime/husk" {
		t.Errorf("goMainModule(test binary) = %q", got)
	}
	for path, want := range map[string]int{
		"/usr/bin/containerd":                              1,
		"/var/cache/husk-test/containerd-2.4.2/containerd": 2,
	} {
		if _, err := os.Stat(path); err != nil {
			continue
		}
		if got := containerdMajor(path); got != want {
			t.Errorf("containerdMajor(%s) = %d, want %d (module %q)", path, got, want, goMainModule(path))
		}
	}
	if got := containerdMajor("/nonexistent"); got != 1 {
		t.Errorf("containerdMajor(missing) = %d", got)
	}
}
