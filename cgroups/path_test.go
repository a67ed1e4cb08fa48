package cgroups

import (
	"maps"
	"strings"
	"testing"
)

const selfHybrid = `9:name=systemd:/user.slice
8:pids:/user.slice/session-1.scope
4:memory:/process_api/be72
2:cpuacct:/
1:cpu:/
0::/user.slice/session-1.scope
`

func TestResolvePaths(t *testing.T) {
	hybrid := &Hierarchy{
		V1:      map[string]string{"cpu": "/cg/cpu", "cpuacct": "/cg/cpuacct", "memory": "/cg/memory", "pids": "/cg/pids", "name=systemd": "/cg/systemd"},
		Unified: "/cg/unified",
	}
	unified := &Hierarchy{Unified: "/sys/fs/cgroup"}
	legacyComounted := &Hierarchy{V1: map[string]string{"cpu": "/cg/cpu,cpuacct", "cpuacct": "/cg/cpu,cpuacct"}}
	inContainer := &Hierarchy{
		V1:    map[string]string{"memory": "/cg/memory"},
		roots: map[string]string{"/cg/memory": "/docker/abc"},
	}

	tests := []struct {
		name     string
		h        *Hierarchy
		path, id string
		self     string
		want     map[string]string
		wantErr  string
	}{
		{
			name: "empty means <id>, relative to own cgroup", h: hybrid, id: "ctr", self: selfHybrid,
			want: map[string]string{
				"cpu": "/cg/cpu/ctr", "cpuacct": "/cg/cpuacct/ctr", "memory": "/cg/memory/process_api/be72/ctr",
				"pids": "/cg/pids/user.slice/session-1.scope/ctr", "name=systemd": "/cg/systemd/user.slice/ctr",
				"unified": "/cg/unified/user.slice/session-1.scope/ctr",
			},
		},
		{
			name: "empty on unified: beside own cgroup", h: unified, id: "ctr", self: "0::/user.slice/session-1.scope\n",
			want: map[string]string{"unified": "/sys/fs/cgroup/user.slice/ctr"},
		},
		{
			name: "empty on unified, own cgroup the root", h: unified, id: "ctr", self: "0::/\n",
			want: map[string]string{"unified": "/sys/fs/cgroup/ctr"},
		},
		{
			name: "absolute is relative to each root", h: hybrid, path: "/a/b//c/",
			want: map[string]string{
				"cpu": "/cg/cpu/a/b/c", "cpuacct": "/cg/cpuacct/a/b/c", "memory": "/cg/memory/a/b/c",
				"pids": "/cg/pids/a/b/c", "name=systemd": "/cg/systemd/a/b/c", "unified": "/cg/unified/a/b/c",
			},
		},
		{
			name: "relative joins own cgroup", h: hybrid, path: "x/y", self: selfHybrid,
			want: map[string]string{
				"cpu": "/cg/cpu/x/y", "cpuacct": "/cg/cpuacct/x/y", "memory": "/cg/memory/process_api/be72/x/y",
				"pids": "/cg/pids/user.slice/session-1.scope/x/y", "name=systemd": "/cg/systemd/user.slice/x/y",
				"unified": "/cg/unified/user.slice/session-1.scope/x/y",
			},
		},
		{
			name: "unified relative: beside own cgroup", h: unified, path: "x/ctr", self: "0::/system.slice/husk.service\n",
			want: map[string]string{"unified": "/sys/fs/cgroup/system.slice/x/ctr"},
		},
		{
			name: "co-mounted legacy", h: legacyComounted, path: "/ctr",
			want: map[string]string{"cpu": "/cg/cpu,cpuacct/ctr", "cpuacct": "/cg/cpu,cpuacct/ctr"},
		},
		{
			name: "relative under a mount exposing a subtree", h: inContainer, path: "ctr", self: "4:memory:/docker/abc/sub\n",
			want: map[string]string{"memory": "/cg/memory/sub/ctr"},
		},
		{name: "dotdot absolute", h: hybrid, path: "/a/../b", wantErr: `linux.cgroupsPath "/a/../b": must not contain ".."`},
		{name: "dotdot relative", h: hybrid, path: "..", self: selfHybrid, wantErr: `linux.cgroupsPath ".."`},
		{name: "root", h: hybrid, path: "/", wantErr: "names an existing cgroup"},
		{name: "own cgroup", h: hybrid, path: "./", self: selfHybrid, wantErr: "names an existing cgroup"},
		{name: "bad id", h: hybrid, id: "a/b", wantErr: "container id"},
		{name: "no hierarchy", h: &Hierarchy{}, path: "/x", wantErr: "no cgroup hierarchy"},
		{name: "relative, missing entry", h: hybrid, path: "x", self: "0::/\n", wantErr: `has no "cpu" entry`},
		{name: "relative outside subtree", h: inContainer, path: "x", self: "4:memory:/other\n", wantErr: "outside the mounted subtree"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			self := noSelf
			if tt.self != "" {
				self = fakeSelf(tt.self)
			}
			got, err := resolvePaths(tt.h, tt.path, tt.id, self)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("got  %v\nwant %v", got, tt.want)
			}
		})
	}
}

func TestParseProcCgroup(t *testing.T) {
	got, err := parseProcCgroup("3:cpu,cpuacct:/a\n2:name=systemd:/b\n0::/c\n")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"cpu": "/a", "cpuacct": "/a", "name=systemd": "/b", "unified": "/c"}
	if !maps.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if _, err := parseProcCgroup("garbage\n"); err == nil {
		t.Error("malformed line accepted")
	}
}
