package cli

import (
	"os"
	"testing"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/specs"
	"github.com/husk-runtime/husk/vm/assets"
)

func TestVMConfigSizing(t *testing.T) {
	a := &assets.Assets{Kernel: "/k", Initrd: "/i"}
	s := specs.Default(false)
	c, err := vmConfig(s, "x", "/d", a)
	if err != nil || c.MemoryMiB != 0 || c.CPUs != 0 || c.Name != "husk-vm-x" {
		t.Errorf("default: %+v %v", c, err)
	}
	limit := int64(512 << 20)
	s.Linux.Resources.Memory = &rspec.LinuxMemory{Limit: &limit}
	if c, _ := vmConfig(s, "x", "/d", a); c.MemoryMiB != 512+vmOverhead {
		t.Errorf("memory for a 512 MiB limit: %d", c.MemoryMiB)
	}
	s.Annotations = map[string]string{AnnotationMemory: "300", AnnotationCPUs: "2", AnnotationBootTimeout: "7"}
	if c, err := vmConfig(s, "x", "/d", a); err != nil || c.MemoryMiB != 300 || c.CPUs != 2 || c.BootTimeout != 7*time.Second {
		t.Errorf("annotations: %+v %v", c, err)
	}
	for _, bad := range []map[string]string{{AnnotationMemory: "lots"}, {AnnotationCPUs: "0"}, {AnnotationBootTimeout: "-1"}} {
		s.Annotations = bad
		if _, err := vmConfig(s, "x", "/d", a); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}

func TestParseUserSignal(t *testing.T) {
	if u, g, err := parseUser("1000:100"); err != nil || u != 1000 || g != 100 {
		t.Errorf("1000:100: %d %d %v", u, g, err)
	}
	if _, _, err := parseUser("nobody"); err == nil {
		t.Error("a user name: no error")
	}
	for in, want := range map[string]unix.Signal{"9": unix.SIGKILL, "usr1": unix.SIGUSR1, "SIGTERM": unix.SIGTERM} {
		if got, err := parseSignal(in); err != nil || got != want {
			t.Errorf("%s: %v %v", in, got, err)
		}
	}
	if _, err := parseSignal("65"); err == nil {
		t.Error("signal 65: no error")
	}
}

func TestStateRoundTrip(t *testing.T) {
	dir := t.TempDir()
	st := &state{ID: "x", Bundle: "/b", Pid: os.Getpid(), PidStart: startTime(os.Getpid())}
	if err := writeState(dir, st); err != nil {
		t.Fatal(err)
	}
	got, err := readState(dir)
	if err != nil || got.ID != "x" || !got.supervisorAlive() {
		t.Errorf("read back %+v %v", got, err)
	}
	got.PidStart++
	if got.supervisorAlive() {
		t.Error("a pid with another start time counts as the supervisor")
	}
	if o := got.oci("stopped"); o.Pid != 0 || o.Status != "stopped" {
		t.Errorf("oci state: %+v", o)
	}
}
