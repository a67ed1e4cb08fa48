package podnet

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A pod's namespace as CNI leaves it (a veth with an address and a
// default route), connected and disconnected for real: a ping from the
// host reaches the tap (what qemu would read), and nothing is left.
func TestAttachDetach(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: makes a network namespace and a veth pair")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs ip (iproute2)")
	}
	ns := fmt.Sprintf("vp-podnet-%d", os.Getpid())
	host := fmt.Sprintf("vp-pn%d", os.Getpid()%100000)
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	ip("netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run(); exec.Command("ip", "link", "del", host).Run() })
	ip("link", "add", host, "type", "veth", "peer", "name", "eth0", "netns", ns)
	ip("addr", "add", "10.251.77.1/24", "dev", host)
	ip("link", "set", host, "up")
	ip("-n", ns, "addr", "add", "10.251.77.5/24", "dev", "eth0")
	ip("-n", ns, "link", "set", "eth0", "up")
	ip("-n", ns, "route", "add", "default", "via", "10.251.77.1")
	path := "/run/netns/" + ns

	f, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := PlanFor(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.NICs) != 1 || p.NICs[0].Link != "eth0" || len(p.Guest.Routes) != 1 || p.Guest.Routes[0].Gateway != "10.251.77.1" {
		t.Fatalf("plan %+v, guest %v", p.NICs, p.Guest)
	}
	taps, err := Attach(path, p)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := exec.Command("ip", "netns", "exec", ns, "tc", "filter", "show", "dev", "eth0", "ingress").CombinedOutput()
	if !strings.Contains(string(out), "mirred") || !strings.Contains(string(out), "tap0_husk") {
		t.Errorf("no redirect on eth0: %s", out)
	}
	// The host's ARP request for the pod's address arrives on the tap.
	if c, err := net.Dial("udp4", "10.251.77.5:9"); err == nil {
		c.Write([]byte("x"))
		c.Close()
	}
	tap := taps[0]
	unix.SetNonblock(int(tap.Fd()), true)
	buf := make([]byte, 2048)
	got := false
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline) && !got; {
		n, err := unix.Read(int(tap.Fd()), buf)
		// A virtio-net header (10 bytes), then the frame: ARP is 0x0806.
		if err == nil && n > 10+14 && buf[10+12] == 0x08 && buf[10+13] == 0x06 {
			got = true
		}
		if err != nil {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if !got {
		out, _ := exec.Command("ip", "netns", "exec", ns, "tc", "-s", "filter", "show", "dev", "eth0", "ingress").CombinedOutput()
		l, _ := exec.Command("ip", "-n", ns, "-s", "link").CombinedOutput()
		t.Errorf("nothing from the host reached the tap: %s\n%s", out, l)
	}
	for _, t := range taps {
		t.Close()
	}
	if err := Detach(path, p.NICs); err != nil {
		t.Fatal(err)
	}
	out, _ = exec.Command("ip", "netns", "exec", ns, "tc", "qdisc", "show", "dev", "eth0").CombinedOutput()
	if strings.Contains(string(out), "ingress") {
		t.Errorf("ingress qdisc left: %s", out)
	}
	out, _ = exec.Command("ip", "-n", ns, "link").CombinedOutput()
	if strings.Contains(string(out), TapSuffix) {
		t.Errorf("tap left: %s", out)
	}
	if err := Detach("/run/netns/vp-no-such-ns", p.NICs); err != nil {
		t.Errorf("detach from a namespace that is gone: %v", err)
	}
}
