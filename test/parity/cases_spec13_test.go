package parity

import (
	"os"
	"os/exec"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

func init() { caseFamilies = append(caseFamilies, spec13Cases) }

// needTimeNS skips where the kernel has no time namespaces.
func needTimeNS() string {
	if _, err := os.Stat("/proc/self/ns/time"); err != nil {
		return "no time namespaces in this kernel"
	}
	return ""
}

// needResctrl skips where Intel RDT is not mounted.
func needResctrl() string {
	if _, err := os.Stat("/sys/fs/resctrl/schemata"); err != nil {
		return "no Intel RDT (resctrl) on this machine"
	}
	return ""
}

// pLinks lists the container's network devices (name and state, without
// a veth's peer index) and their IPv4 addresses.
const pLinks = `echo '=== links'; ip -o link | awk '{sub(/@.*/, "", $2); print $2, $3}'; echo '=== addrs'; ip -o -4 addr | awk '{print $2, $4}'`

const pTime = `echo '=== time'; cat /proc/self/timens_offsets 2>&1`

func spec13Cases() []*Case {
	var cs []*Case
	policy := func(mode string, nodes string, flags ...string) func(*rspec.Spec) {
		return func(s *rspec.Spec) {
			mp := &rspec.LinuxMemoryPolicy{Mode: rspec.MemoryPolicyModeType(mode), Nodes: nodes}
			for _, f := range flags {
				mp.Flags = append(mp.Flags, rspec.MemoryPolicyFlagType(f))
			}
			s.Linux.MemoryPolicy = mp
		}
	}
	for _, p := range []struct {
		name, mode, nodes string
		flags             []string
	}{
		{"default", "MPOL_DEFAULT", "", nil},
		{"bind", "MPOL_BIND", "0", nil},
		{"interleave", "MPOL_INTERLEAVE", "0", nil},
		{"preferred", "MPOL_PREFERRED", "0", nil},
		{"local", "MPOL_LOCAL", "", nil},
		{"weighted-interleave", "MPOL_WEIGHTED_INTERLEAVE", "0", nil},
		{"preferred-many", "MPOL_PREFERRED_MANY", "0", nil},
		{"bind-static-nodes", "MPOL_BIND", "0", []string{"MPOL_F_STATIC_NODES"}},
		{"bind-relative-nodes", "MPOL_BIND", "0", []string{"MPOL_F_RELATIVE_NODES"}},
		{"bind-numa-balancing", "MPOL_BIND", "0", []string{"MPOL_F_NUMA_BALANCING"}},
		{"bind-missing-node", "MPOL_BIND", "7", nil},
		{"bind-no-nodes", "MPOL_BIND", "", nil},
		{"bogus-mode", "MPOL_BOGUS", "0", nil},
	} {
		cs = append(cs, &Case{Name: "spec13/memory-policy/" + p.name, Script: "/bin/probe mempolicy", Spec: policy(p.mode, p.nodes, p.flags...)})
	}
	sched := func(sc rspec.Scheduler) func(*rspec.Spec) {
		return func(s *rspec.Spec) { s.Process.Scheduler = &sc }
	}
	for _, sc := range []struct {
		name string
		s    rspec.Scheduler
	}{
		{"other-nice", rspec.Scheduler{Policy: rspec.SchedOther, Nice: 5}},
		{"batch", rspec.Scheduler{Policy: rspec.SchedBatch}},
		{"idle", rspec.Scheduler{Policy: rspec.SchedIdle}},
		{"fifo", rspec.Scheduler{Policy: rspec.SchedFIFO, Priority: 10}},
		{"rr", rspec.Scheduler{Policy: rspec.SchedRR, Priority: 10}},
		{"fifo-no-priority", rspec.Scheduler{Policy: rspec.SchedFIFO}},
		{"other-with-priority", rspec.Scheduler{Policy: rspec.SchedOther, Priority: 10}},
		{"reset-on-fork", rspec.Scheduler{Policy: rspec.SchedOther, Flags: []rspec.LinuxSchedulerFlag{rspec.SchedFlagResetOnFork}}},
		{"deadline", rspec.Scheduler{Policy: rspec.SchedDeadline, Runtime: 10000000, Deadline: 30000000, Period: 30000000}},
		{"bogus", rspec.Scheduler{Policy: "SCHED_BOGUS"}},
	} {
		cs = append(cs, &Case{Name: "spec13/scheduler/" + sc.name, Script: "/bin/probe sched", Spec: sched(sc.s)})
	}
	ioprio := func(class string, prio int) func(*rspec.Spec) {
		return func(s *rspec.Spec) {
			s.Process.IOPriority = &rspec.LinuxIOPriority{Class: rspec.IOPriorityClass(class), Priority: prio}
		}
	}
	for _, p := range []struct {
		class string
		prio  int
	}{{"IOPRIO_CLASS_RT", 3}, {"IOPRIO_CLASS_BE", 5}, {"IOPRIO_CLASS_IDLE", 0}, {"IOPRIO_CLASS_BE", 9}, {"IOPRIO_CLASS_BOGUS", 1}} {
		cs = append(cs, &Case{Name: "spec13/io-priority/" + p.class + "-" + itoa(p.prio), Script: "/bin/probe ioprio", Spec: ioprio(p.class, p.prio)})
	}
	affinity := func(initial, final string) func(*rspec.Spec) {
		return func(s *rspec.Spec) {
			s.Process.ExecCPUAffinity = &rspec.CPUAffinity{Initial: initial, Final: final}
		}
	}
	for _, a := range []struct{ name, initial, final string }{
		{"final", "", "1"}, {"initial", "1", ""}, {"both", "0", "1"}, {"range", "", "0-1"}, {"bad", "", "x"}, {"missing-cpu", "", "63"},
	} {
		cs = append(cs, &Case{Name: "spec13/exec-cpu-affinity/" + a.name, Script: "/bin/probe affinity", Spec: affinity(a.initial, a.final)})
	}
	cs = append(cs,
		&Case{Name: "spec13/exec-cpu-affinity/exec", Spec: edits(sleeper, affinity("", "1")),
			Steps: steps(started(), []Step{Cmd{Key: "exec", Args: []string{"exec", "{id}", "/bin/probe", "affinity"}, Out: OutProbe}})},
		&Case{Name: "spec13/affinity-not-inherited", Script: "/bin/probe affinity",
			Steps: []Step{Cmd{Key: "run", Args: []string{"run", "--bundle", "{bundle}", "{id}"}, Out: OutProbe, Wrap: []string{"taskset", "-c", "0"}}},
		},
	)
	pers := func(domain string, flags ...string) func(*rspec.Spec) {
		return func(s *rspec.Spec) {
			p := &rspec.LinuxPersonality{Domain: rspec.LinuxPersonalityDomain(domain)}
			for _, f := range flags {
				p.Flags = append(p.Flags, rspec.LinuxPersonalityFlag(f))
			}
			s.Linux.Personality = p
		}
	}
	for _, p := range []struct {
		name, domain string
		flags        []string
	}{{"linux", "LINUX", nil}, {"linux32", "LINUX32", nil}, {"bogus", "BOGUS", nil}, {"flag", "LINUX", []string{"ADDR_NO_RANDOMIZE"}}} {
		cs = append(cs, &Case{Name: "spec13/personality/" + p.name, Script: "/bin/probe personality; uname -m", Spec: pers(p.domain, p.flags...)})
	}
	offsets := func(s *rspec.Spec) {
		s.Linux.TimeOffsets = map[string]rspec.LinuxTimeOffset{"monotonic": {Secs: 86400}, "boottime": {Secs: 3600, Nanosecs: 5}}
	}
	timeNS := []Need{needTimeNS}
	cs = append(cs,
		&Case{Name: "spec13/time-ns/offsets", Script: pTime, Spec: edits(withNS(rspec.TimeNamespace, ""), offsets), Needs: timeNS},
		&Case{Name: "spec13/time-ns/no-offsets", Script: pTime, Spec: withNS(rspec.TimeNamespace, ""), Needs: timeNS},
		&Case{Name: "spec13/time-ns/offsets-without-ns", Script: pTime, Spec: offsets, Needs: timeNS},
		&Case{Name: "spec13/time-ns/offsets-bad-clock", Script: pTime, Needs: timeNS, Spec: edits(withNS(rspec.TimeNamespace, ""), func(s *rspec.Spec) {
			s.Linux.TimeOffsets = map[string]rspec.LinuxTimeOffset{"realtime": {Secs: 1}}
		})},
		&Case{Name: "spec13/time-ns/with-userns", Script: pTime, Spec: edits(withUserNS, withNS(rspec.TimeNamespace, ""), offsets), Needs: timeNS},
		&Case{Name: "spec13/time-ns/exec", Spec: edits(sleeper, withNS(rspec.TimeNamespace, ""), offsets), Needs: timeNS,
			Steps: steps(started(), []Step{execSh("exec", pTime)})},
		&Case{Name: "spec13/time-ns/join-path", Script: pTime, Needs: timeNS,
			Spec: func(s *rspec.Spec) {
				s.Linux.Namespaces = append(s.Linux.Namespaces, rspec.LinuxNamespace{Type: rspec.TimeNamespace, Path: "/proc/{pid2}/ns/time"})
			},
			Steps: steps(second(edits(withNS(rspec.TimeNamespace, ""), offsets)), []Step{runStep()})},
		&Case{Name: "spec13/time-ns/join-path-with-offsets", Script: pTime, Needs: timeNS,
			Spec: func(s *rspec.Spec) {
				s.Linux.Namespaces = append(s.Linux.Namespaces, rspec.LinuxNamespace{Type: rspec.TimeNamespace, Path: "/proc/{pid2}/ns/time"})
				offsets(s)
			},
			Steps: steps(second(edits(withNS(rspec.TimeNamespace, ""), offsets)), []Step{runStep()})},
		&Case{Name: "spec13/intel-rdt/closid", Script: "echo ok", Needs: []Need{needResctrl},
			Spec: func(s *rspec.Spec) { s.Linux.IntelRdt = &rspec.LinuxIntelRdt{ClosID: "parity"} }},
		&Case{Name: "spec13/intel-rdt/without-resctrl", Script: "echo ok",
			Spec: func(s *rspec.Spec) { s.Linux.IntelRdt = &rspec.LinuxIntelRdt{L3CacheSchema: "L3:0=f"} }},
		&Case{Name: "spec13/net-devices/missing-device", Script: pLinks,
			Spec: func(s *rspec.Spec) { s.Linux.NetDevices = map[string]rspec.LinuxNetDevice{"pnodev0": {Name: "eth9"}} }},
		&Case{Name: "spec13/net-devices/dummy", Script: pLinks,
			Spec:  func(s *rspec.Spec) { s.Linux.NetDevices = map[string]rspec.LinuxNetDevice{"{netdev}": {Name: "eth9"}} },
			Steps: []Step{makeDummy(), runStep(), dropDummy()}},
		&Case{Name: "spec13/net-devices/without-netns", Script: "echo ok",
			Spec: edits(withoutNS(rspec.NetworkNamespace), func(s *rspec.Spec) {
				s.Linux.NetDevices = map[string]rspec.LinuxNetDevice{"pnodev0": {}}
			})},
		&Case{Name: "spec13/domainname", Script: pHostname, Spec: func(s *rspec.Spec) { s.Domainname = "parity.test" }},
	)
	return cs
}

// makeDummy adds a network device {netdev} on the host, for
// linux.netDevices to move into the container: a dummy device, or where
// the kernel has none, one end of a veth pair (its peer {netdev}p stays
// on the host; the pair goes when the container's end does). The device
// gets an address, which a move keeps.
func makeDummy() Step {
	return HostDo{Key: "netdev-made", Fn: func(x *Exec) string {
		if exec.Command("ip", "link", "add", x.B.NetDev, "type", "dummy").Run() != nil {
			out, err := exec.Command("ip", "link", "add", x.B.NetDev, "type", "veth", "peer", "name", x.B.NetDev+"p").CombinedOutput()
			if err != nil {
				return "ip link add: " + string(out)
			}
		}
		if out, err := exec.Command("ip", "addr", "add", "192.0.2.7/24", "dev", x.B.NetDev).CombinedOutput(); err != nil {
			return "ip addr add: " + string(out)
		}
		return "ok"
	}}
}

// dropDummy removes the device (and a veth peer) if it is back on the host.
func dropDummy() Step {
	return HostDo{Key: "netdev-on-host-after", Fn: func(x *Exec) string {
		exec.Command("ip", "link", "del", x.B.NetDev+"p").Run()
		if exec.Command("ip", "link", "show", x.B.NetDev).Run() != nil {
			return "gone"
		}
		exec.Command("ip", "link", "del", x.B.NetDev).Run()
		return "present"
	}}
}
