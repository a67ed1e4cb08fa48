package libruntime

import (
	"strings"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/husk-runtime/husk/libruntime/initproc"
)

// netdevWaits returns the positions of the waits for linux.netDevices.
func netdevWaits(p *planner) []int {
	var at []int
	for i, op := range p.plan.Ops {
		if op.Code == initproc.OpWaitParent && op.A[0] == waitNetdev {
			at = append(at, i)
		}
	}
	return at
}

// joinNetns makes s join a network namespace instead of making one.
func joinNetns(s *rspec.Spec) *rspec.Spec {
	var ns []rspec.LinuxNamespace
	for _, n := range s.Linux.Namespaces {
		if n.Type != rspec.NetworkNamespace {
			ns = append(ns, n)
		}
	}
	s.Linux.Namespaces = append(ns, rspec.LinuxNamespace{Type: rspec.NetworkNamespace, Path: "/proc/1/ns/net"})
	return s
}

func TestPlanNetDevices(t *testing.T) {
	withNetns := func(s *rspec.Spec) *rspec.Spec {
		for _, ns := range s.Linux.Namespaces {
			if ns.Type == rspec.NetworkNamespace {
				return s
			}
		}
		s.Linux.Namespaces = append(s.Linux.Namespaces, rspec.LinuxNamespace{Type: rspec.NetworkNamespace})
		return s
	}
	// Without devices: no wait; a new network namespace gets its lo up.
	p := mustPlan(t, withNetns(defaultSpec()), newFakeHost())
	if w := netdevWaits(p); len(w) != 0 {
		t.Errorf("waits without netDevices: %v", w)
	}
	if lo := index(p, initproc.OpLoopbackUp); lo < index(p, initproc.OpReportPid) || lo > index(p, initproc.OpRootfs) {
		t.Errorf("lo up at %d, plan %v", lo, p.plan.Ops)
	}
	// Not in a network namespace joined, nor in the host's.
	s := joinNetns(defaultSpec())
	if lo := index(mustPlan(t, s, newFakeHost()), initproc.OpLoopbackUp); lo >= 0 {
		t.Errorf("lo up in a joined network namespace")
	}
	s = defaultSpec()
	s.Linux.Namespaces = nil
	s.Root.Readonly = false
	if lo := index(mustPlan(t, s, newFakeHost()), initproc.OpLoopbackUp); lo >= 0 {
		t.Errorf("lo up in the host's network namespace")
	}
	// A new network namespace made by clone(2), and one joined or unshared:
	// husk is asked once the init is in it (after it reported its pid).
	for _, tc := range []struct {
		name string
		spec func() *rspec.Spec
	}{
		{"clone", func() *rspec.Spec { return withNetns(defaultSpec()) }},
		{"join", func() *rspec.Spec { return joinNetns(defaultSpec()) }},
		{"time namespace (unshare and fork)", func() *rspec.Spec {
			s := withNetns(defaultSpec())
			s.Linux.Namespaces = append(s.Linux.Namespaces, rspec.LinuxNamespace{Type: rspec.TimeNamespace})
			return s
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.spec()
			s.Linux.NetDevices = map[string]rspec.LinuxNetDevice{"eth1": {Name: "net0"}, "veth7": {}}
			p := mustPlan(t, s, newFakeHost())
			w := netdevWaits(p)
			reported := max(index(p, initproc.OpReportPid), index(p, initproc.OpFork))
			if len(w) != 1 || reported < 0 || w[0] < reported || w[0] > index(p, initproc.OpReady) {
				t.Errorf("netdev wait at %v, pid reported at %d, plan %v", w, reported, p.plan.Ops)
			}
		})
	}

	for _, tc := range []struct {
		name string
		edit func(s *rspec.Spec, h *fakeHost)
		want string
	}{
		{"no network namespace", func(s *rspec.Spec, _ *fakeHost) {
			s.Linux.Namespaces = nil
			s.Root.Readonly = false
		}, "linux.netDevices: needs a network namespace"},
		{"rootless", func(_ *rspec.Spec, h *fakeHost) { h.uid = 1000 }, "linux.netDevices: moving network devices needs root"},
		{"bad host name", func(s *rspec.Spec, _ *fakeHost) {
			s.Linux.NetDevices = map[string]rspec.LinuxNetDevice{"a/b": {}}
		}, `linux.netDevices["a/b"]: invalid network device name`},
		{"too long", func(s *rspec.Spec, _ *fakeHost) {
			s.Linux.NetDevices = map[string]rspec.LinuxNetDevice{"eth0": {Name: "abcdefghijklmnop"}}
		}, `linux.netDevices["eth0"].name: invalid network device name "abcdefghijklmnop"`},
		{"same new name", func(s *rspec.Spec, _ *fakeHost) {
			s.Linux.NetDevices = map[string]rspec.LinuxNetDevice{"eth0": {Name: "eth1"}, "eth1": {}}
		}, `"eth0" and "eth1" would both be named "eth1"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, h := withNetns(defaultSpec()), newFakeHost()
			s.Linux.NetDevices = map[string]rspec.LinuxNetDevice{"eth0": {}}
			tc.edit(s, h)
			_, err := planFor(t, s, h)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestPlanIntelRdt(t *testing.T) {
	s, h := defaultSpec(), newFakeHost()
	s.Linux.IntelRdt = &rspec.LinuxIntelRdt{L3CacheSchema: "L3:0=f"}
	if _, err := planFor(t, s, h); err == nil || !strings.Contains(err.Error(), "Intel RDT is not enabled on this host") {
		t.Errorf("without resctrl: err = %v", err)
	}
	h.paths[resctrlSchemata] = true
	if _, err := planFor(t, s, h); err == nil || !strings.Contains(err.Error(), "not supported by husk") {
		t.Errorf("with resctrl: err = %v", err)
	}
}
