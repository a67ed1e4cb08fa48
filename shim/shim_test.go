package shim

import (
	"strings"
	"testing"

	v1 "github.com/containerd/cgroups/v3/cgroup1/stats"
	v2 "github.com/containerd/cgroups/v3/cgroup2/stats"
	bootapi "github.com/containerd/containerd/api/runtime/bootstrap/v1"
	"github.com/containerd/containerd/api/types/runc/options"
	runtimeoptions "github.com/containerd/containerd/api/types/runtimeoptions/v1"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/husk-runtime/husk/cgroups"
	"github.com/husk-runtime/husk/shim/launch"
)

func TestParseOptions(t *testing.T) {
	a, _ := anypb.New(&options.Options{BinaryName: "runc", Root: "/run/x", SystemdCgroup: true, NoPivotRoot: true})
	// containerd's typeurl names types without the googleapis prefix.
	a.TypeUrl = "containerd.runc.v1.Options"
	o, err := parseOptions(a, launch.RuntimeName)
	if err != nil || !o.NoPivotRoot || !o.SystemdCgroup || len(o.ignored) != 2 {
		t.Errorf("runc options: %v %+v", err, o)
	}
	r, _ := anypb.New(&runtimeoptions.Options{ConfigPath: "/etc/x.toml"})
	if o, err := parseOptions(r, launch.RuntimeName); err != nil || len(o.ignored) != 1 {
		t.Errorf("runtimeoptions: %v %+v", err, o)
	}
	// The VM class reads its configuration file.
	if o, err := parseOptions(r, launch.VMRuntimeName); err != nil || len(o.ignored) != 0 || o.ConfigPath != "/etc/x.toml" {
		t.Errorf("runtimeoptions of the VM class: %v %+v", err, o)
	}
	if o, err := parseOptions(nil, launch.RuntimeName); err != nil || o.NoPivotRoot {
		t.Errorf("no options: %v %+v", err, o)
	}
	x, _ := anypb.New(&bootapi.BootstrapResult{})
	if _, err := parseOptions(x, launch.RuntimeName); err == nil || !strings.Contains(err.Error(), "not husk's") {
		t.Errorf("foreign options: %v", err)
	}
}

func TestMetrics(t *testing.T) {
	s := &cgroups.Stats{}
	s.CPU.Usage.Total, s.CPU.Usage.User = 5000, 3000
	s.Memory.Usage = cgroups.MemoryEntry{Usage: 100, Limit: 200}
	s.Memory.Raw = map[string]uint64{"rss": 42, "total_cache": 7, "anon": 9, "file": 11}
	s.Pids.Current = 3
	s.Blkio.IoServiceBytesRecursive = []cgroups.BlkioEntry{{Major: 8, Minor: 0, Op: "Read", Value: 10}, {Major: 8, Minor: 0, Op: "Write", Value: 20}}
	m1 := metrics(s, false, 2).(*v1.Metrics)
	if m1.CPU.Usage.Total != 5000 || m1.Memory.RSS != 42 || m1.Memory.TotalCache != 7 || m1.Memory.Usage.Usage != 100 ||
		m1.Pids.Current != 3 || m1.MemoryOomControl.OomKill != 2 || m1.Blkio.IoServiceBytesRecursive[1].Op != "write" {
		t.Errorf("v1 metrics: %v", m1)
	}
	m2 := metrics(s, true, 2).(*v2.Metrics)
	if m2.CPU.UsageUsec != 5 || m2.Memory.Anon != 9 || m2.Memory.File != 11 || m2.Memory.UsageLimit != 200 ||
		len(m2.Io.Usage) != 1 || m2.Io.Usage[0].Rbytes != 10 || m2.Io.Usage[0].Wbytes != 20 || m2.MemoryEvents.OomKill != 2 {
		t.Errorf("v2 metrics: %v", m2)
	}
}
