package systemd

import (
	"maps"
	"strings"
	"testing"

	"github.com/husk-runtime/husk/cgroups"
)

func TestParsePath(t *testing.T) {
	for _, tc := range []struct {
		path, id string
		want     Unit
		err      string
	}{
		{path: "system.slice:docker:abc", want: Unit{"system.slice", "docker-abc.scope"}},
		{path: "kubepods-besteffort-pod1a2b.slice:cri-containerd:abc", want: Unit{"kubepods-besteffort-pod1a2b.slice", "cri-containerd-abc.scope"}},
		{path: ":sd:abc", want: Unit{"system.slice", "sd-abc.scope"}},
		{path: "system.slice::abc", want: Unit{"system.slice", "-abc.scope"}},
		{path: "-.slice:x:abc", want: Unit{"-.slice", "x-abc.scope"}},
		{path: "", id: "c1", want: Unit{"system.slice", "husk-c1.scope"}},
		{path: "machine.slice:ignored:my-pod.slice", want: Unit{"machine.slice", "my-pod.slice"}},
		{path: "/husk/c1", err: `expects "slice:prefix:name"`},
		{path: "a:b:c:d", err: `expects "slice:prefix:name"`},
		{path: "system:docker:abc", err: `invalid slice name "system"`},
		{path: "a--b.slice:docker:abc", err: "empty component"},
		{path: "system.slice:docker:", err: "the name part is empty"},
		{path: "system.slice:dock/er:abc", err: `character '/'`},
		{path: "system.slice:d:" + strings.Repeat("x", 260), err: "longer than 255"},
		{path: "", id: "", err: "empty container id"},
	} {
		got, err := ParsePath(tc.path, tc.id)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParsePath(%q) error = %v, want one containing %q", tc.path, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParsePath(%q, %q) = %+v, %v; want %+v", tc.path, tc.id, got, err, tc.want)
		}
	}
}

func TestExpandSlice(t *testing.T) {
	for in, want := range map[string]string{
		"-.slice":                   "/",
		"system.slice":              "/system.slice",
		"kubepods-besteffort.slice": "/kubepods.slice/kubepods-besteffort.slice",
		"a-b-c.slice":               "/a.slice/a-b.slice/a-b-c.slice",
	} {
		if got, err := ExpandSlice(in); err != nil || got != want {
			t.Errorf("ExpandSlice(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", ".slice", "a.scope", "-a.slice", "a-.slice", "a/b.slice"} {
		if _, err := ExpandSlice(bad); err == nil {
			t.Errorf("ExpandSlice(%q) accepted", bad)
		}
	}
}

func TestPaths(t *testing.T) {
	u := Unit{"kubepods-burstable.slice", "cri-containerd-x.scope"}
	got, err := Paths(&cgroups.Hierarchy{Unified: "/sys/fs/cgroup"}, u)
	want := map[string]string{"unified": "/sys/fs/cgroup/kubepods.slice/kubepods-burstable.slice/cri-containerd-x.scope"}
	if err != nil || !maps.Equal(got, want) {
		t.Errorf("unified: %v, %v", got, err)
	}
	h := &cgroups.Hierarchy{
		V1:      map[string]string{"memory": "/cg/memory", "cpu": "/cg/cpu,cpuacct", "cpuacct": "/cg/cpu,cpuacct", "name=systemd": "/cg/systemd"},
		Unified: "/cg/unified",
	}
	got, err = Paths(h, Unit{"system.slice", "d-x.scope"})
	want = map[string]string{
		"memory": "/cg/memory/system.slice/d-x.scope", "cpu": "/cg/cpu,cpuacct/system.slice/d-x.scope",
		"cpuacct": "/cg/cpu,cpuacct/system.slice/d-x.scope", "name=systemd": "/cg/systemd/system.slice/d-x.scope",
		"unified": "/cg/unified/system.slice/d-x.scope",
	}
	if err != nil || !maps.Equal(got, want) {
		t.Errorf("hybrid: %v, %v", got, err)
	}
	if _, err := Paths(&cgroups.Hierarchy{}, u); err == nil {
		t.Error("Paths without any hierarchy succeeded")
	}
}
