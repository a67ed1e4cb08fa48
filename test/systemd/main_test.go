// Package systemd tests husk's systemd cgroup driver under a real systemd:
// husk's CLI alone, side by side with runc 1.5.3 on the same bundles,
// and through containerd (its runc shim with husk as the binary, and
// husk's shim) with SystemdCgroup. They run as root inside the Debian
// guest that test/systemd/run.sh boots (`make systemd-test`), where
// systemd is PID 1; elsewhere they skip, saying so.
package systemd

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
)

var (
	huskBin = flag.String("husk", "/opt/husk-test/bin/husk", "husk binary (husk-systemd beside it)")
	runcBin = flag.String("runc", "/usr/local/sbin/runc-1.5.3", "reference runc, built with seccomp")
	shimBin = flag.String("shim", "/opt/husk-test/bin/containerd-shim-husk-v2", "husk's shim (its daemon beside it)")
)

// unified: the guest booted with systemd's cgroup v2 layout.
var unified bool

func TestMain(m *testing.M) {
	flag.Parse()
	if fi, err := os.Stat("/run/systemd/system"); err != nil || !fi.IsDir() || os.Geteuid() != 0 {
		fmt.Println("SKIP: these tests need root on a host booted with systemd (/run/systemd/system); make systemd-test runs them in a guest")
		os.Exit(0)
	}
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	unified = !strings.Contains(string(b), " - cgroup ")
	os.Exit(m.Run())
}
