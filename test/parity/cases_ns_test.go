package parity

import (
	"os"
	"strings"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

func init() { caseFamilies = append(caseFamilies, nsCases, sysctlCases, idmapCases) }

// nsShow prints the namespaces the process is in, as inode numbers
// compared against the host's (same or new) by the harness-free shell.
const nsShow = `echo '=== ns'; for n in cgroup ipc mnt net pid time user uts; do if [ "$(readlink /proc/self/ns/$n)" = "$(cat /hostns/$n 2>/dev/null)" ]; then echo "$n host"; else echo "$n own"; fi; done`

// hostNS writes the host's namespace links into /hostns in the rootfs.
func hostNS(b *Bundle) error {
	for _, n := range []string{"cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"} {
		l, err := os.Readlink("/proc/self/ns/" + n)
		if err != nil {
			continue
		}
		if err := b.WriteFile("{rootfs}/hostns/"+n, l, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func nsCases() []*Case {
	var cs []*Case
	for _, n := range []rspec.LinuxNamespaceType{rspec.PIDNamespace, rspec.NetworkNamespace, rspec.IPCNamespace, rspec.UTSNamespace, rspec.MountNamespace} {
		cs = append(cs, &Case{Name: "ns/without-" + string(n), Script: nsShow, Files: hostNS, Spec: withoutNS(n)})
	}
	for _, n := range []rspec.LinuxNamespaceType{rspec.CgroupNamespace, rspec.TimeNamespace} {
		cs = append(cs, &Case{Name: "ns/with-" + string(n), Script: nsShow, Files: hostNS, Spec: withNS(n, "")})
	}
	cs = append(cs,
		&Case{Name: "ns/with-user", Script: nsShow + "; " + pNSMaps + "; " + pCaps, Files: hostNS, Spec: withUserNS},
		&Case{Name: "ns/all", Script: nsShow, Files: hostNS, Spec: edits(withUserNS, withNS(rspec.CgroupNamespace, ""), withNS(rspec.TimeNamespace, ""))},
		&Case{Name: "ns/none", Script: nsShow, Files: hostNS, Spec: func(s *rspec.Spec) {
			s.Linux.Namespaces = nil
			s.Mounts = s.Mounts[:1]
			s.Linux.MaskedPaths, s.Linux.ReadonlyPaths = nil, nil
		}},
		&Case{Name: "ns/duplicate", Script: nsShow, Files: hostNS, Spec: withNS(rspec.PIDNamespace, "")},
		&Case{Name: "ns/unknown-type", Script: nsShow, Files: hostNS, Spec: withNS("nosuch", "")},
		&Case{Name: "ns/user-without-mappings", Script: nsShow + "; " + pNSMaps, Files: hostNS, Spec: withNS(rspec.UserNamespace, "")},
		&Case{Name: "ns/mappings-without-user", Script: nsShow + "; " + pNSMaps, Files: hostNS, Spec: func(s *rspec.Spec) {
			s.Linux.UIDMappings = []rspec.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 1000}}
			s.Linux.GIDMappings = []rspec.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 1000}}
		}},
		&Case{Name: "ns/user-multiple-mappings", Script: pNSMaps, Spec: func(s *rspec.Spec) {
			withUserNS(s)
			s.Linux.UIDMappings = []rspec.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 1}, {ContainerID: 1, HostID: 200001, Size: 1000}}
			s.Linux.GIDMappings = []rspec.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 1}, {ContainerID: 1, HostID: 200001, Size: 1000}}
		}},
		&Case{Name: "ns/user-inaccessible-bind", Script: pMountAt("/mnt") + "; ls /mnt 2>&1",
			Spec: edits(withUserNS, addMount(rspec.Mount{Destination: "/mnt", Type: "bind", Source: "{dir}/private", Options: []string{"bind"}})),
			Files: func(b *Bundle) error {
				if err := b.WriteFile("{dir}/private/file", "x", 0o600); err != nil {
					return err
				}
				return os.Chmod(b.Fill("{dir}/private"), 0o700)
			}},
		&Case{Name: "ns/user-sysfs", Script: pMountAt("/sys"), Spec: withUserNS},
		&Case{Name: "ns/user-devices", Script: pDev, Spec: withUserNS},
		&Case{Name: "ns/user-ids", Script: pIDs + "; " + pStat("/", "/etc/passwd"), Spec: withUserNS},
	)
	cs = append(cs, nsJoinCases()...)
	return cs
}

// second creates and starts the second container ({id2}) from a config
// written next to the first: the namespace owner for join cases.
func second(edit func(*rspec.Spec)) []Step {
	return []Step{
		HostDo{Fn: func(x *Exec) string {
			s := baseSpec()
			sleeper(s)
			s.Linux.CgroupsPath = "{cgroup2}"
			// Both containers share the first bundle's rootfs.
			s.Root.Path = x.B.Rootfs
			if edit != nil {
				edit(s)
			}
			b2 := *x.B
			b2.Path = x.B.Fill("{dir}/bundle2")
			if err := os.MkdirAll(b2.Path, 0o755); err != nil {
				return err.Error()
			}
			return errString(b2.WriteSpec(s))
		}},
		Cmd{Key: "create2", Args: []string{"create", "--bundle", "{dir}/bundle2", "{id2}"}},
		Cmd{Key: "start2", Args: []string{"start", "{id2}"}},
		WaitStatus{ID: "{id2}", Status: "running"},
		HostDo{Fn: fillPid2},
	}
}

// fillPid2 puts the second container's pid into the first's config.json
// where it says {pid2}.
func fillPid2(x *Exec) string {
	out := x.quiet("state", x.B.ID2)
	_, rest, ok := strings.Cut(out, `"pid": `)
	if !ok {
		return "no pid for " + x.B.ID2
	}
	pid, _, _ := strings.Cut(rest, ",")
	cfg := x.B.Fill("{bundle}/config.json")
	data, err := os.ReadFile(cfg)
	if err != nil {
		return err.Error()
	}
	return errString(os.WriteFile(cfg, []byte(strings.ReplaceAll(string(data), "{pid2}", pid)), 0o644))
}

// bindNS bind-mounts the second container's namespace file of kind n to
// {dir}/nsfd-n (as a pod manager pins a namespace).
func bindNS(n string) Step {
	return HostDo{Fn: func(x *Exec) string {
		out := x.quiet("state", x.B.ID2)
		_, rest, ok := strings.Cut(out, `"pid": `)
		if !ok {
			return "no pid"
		}
		pid, _, _ := strings.Cut(rest, ",")
		target := x.B.Fill("{dir}/nsfd-" + n)
		if err := os.WriteFile(target, nil, 0o644); err != nil {
			return err.Error()
		}
		return errString(bindMount("/proc/"+pid+"/ns/"+n, target))
	}}
}

func nsJoinCases() []*Case {
	join := func(n rspec.LinuxNamespaceType, file string) func(*rspec.Spec) {
		return func(s *rspec.Spec) {
			for i := range s.Linux.Namespaces {
				if s.Linux.Namespaces[i].Type == n {
					s.Linux.Namespaces[i].Path = "/proc/{pid2}/ns/" + file
					return
				}
			}
			s.Linux.Namespaces = append(s.Linux.Namespaces, rspec.LinuxNamespace{Type: n, Path: "/proc/{pid2}/ns/" + file})
		}
	}
	same := `echo '=== same-as-second'; for n in ipc net uts user pid; do [ "$(readlink /proc/self/ns/$n)" = "$(cat /ns2/$n)" ] && echo "$n same" || echo "$n differs"; done`
	recordNS := HostDo{Fn: func(x *Exec) string {
		out := x.quiet("state", x.B.ID2)
		_, rest, _ := strings.Cut(out, `"pid": `)
		pid, _, _ := strings.Cut(rest, ",")
		for _, n := range []string{"ipc", "net", "uts", "user", "pid"} {
			l, _ := os.Readlink("/proc/" + pid + "/ns/" + n)
			if err := x.B.WriteFile("{rootfs}/ns2/"+n, l, 0o644); err != nil {
				return err.Error()
			}
		}
		return ""
	}}
	var cs []*Case
	for _, n := range []struct {
		t    rspec.LinuxNamespaceType
		file string
	}{{rspec.NetworkNamespace, "net"}, {rspec.IPCNamespace, "ipc"}, {rspec.UTSNamespace, "uts"}} {
		cs = append(cs, &Case{Name: "ns-join/path-" + n.file, Script: same, Spec: join(n.t, n.file),
			Steps: steps(second(nil), []Step{recordNS, runStep()})})
	}
	cs = append(cs,
		&Case{Name: "ns-join/user-by-path", Script: same + "; " + pNSMaps,
			Spec:  edits(withUserNS, join(rspec.UserNamespace, "user")),
			Steps: steps(second(withUserNS), []Step{recordNS, runStep()})},
		&Case{Name: "ns-join/user-by-path-no-mappings", Script: same + "; " + pNSMaps,
			Spec:  edits(join(rspec.UserNamespace, "user")),
			Steps: steps(second(withUserNS), []Step{recordNS, runStep()})},
		&Case{Name: "ns-join/user-by-nsfd", Script: same + "; " + pNSMaps,
			Spec: edits(func(s *rspec.Spec) {
				s.Linux.Namespaces = append(s.Linux.Namespaces, rspec.LinuxNamespace{Type: rspec.UserNamespace, Path: "{dir}/nsfd-user"})
			}),
			Steps: steps(second(withUserNS), []Step{recordNS, bindNS("user"), runStep(), unbind("{dir}/nsfd-user")})},
		&Case{Name: "ns-join/net-owned-by-other-userns", Script: same,
			Spec:  join(rspec.NetworkNamespace, "net"),
			Steps: steps(second(withUserNS), []Step{recordNS, runStep()})},
		&Case{Name: "ns-join/pid-path", Script: same + "; echo '=== pid1'; cat /proc/1/comm",
			Spec:  join(rspec.PIDNamespace, "pid"),
			Steps: steps(second(nil), []Step{recordNS, runStep()})},
		&Case{Name: "ns-join/path-not-a-namespace", Script: "echo ok",
			Spec: func(s *rspec.Spec) { s.Linux.Namespaces[1].Path = "/etc/passwd" }},
		&Case{Name: "ns-join/path-missing", Script: "echo ok",
			Spec: func(s *rspec.Spec) { s.Linux.Namespaces[1].Path = "/proc/999999999/ns/net" }},
		&Case{Name: "ns-join/path-wrong-type", Script: "echo ok",
			Spec: func(s *rspec.Spec) { s.Linux.Namespaces[1].Path = "/proc/self/ns/ipc" }},
	)
	return cs
}

// unbind undoes a bind mount made on the host.
func unbind(path string) Step {
	return HostDo{Fn: func(x *Exec) string { return errString(unmount(x.B.Fill(path))) }}
}

func sysctlCases() []*Case {
	sysctl := func(k, v string) func(*rspec.Spec) {
		return func(s *rspec.Spec) { s.Linux.Sysctl = map[string]string{k: v} }
	}
	show := func(k string) string {
		return "echo '=== sysctl'; cat /proc/sys/" + strings.ReplaceAll(k, ".", "/") + " 2>&1"
	}
	var cs []*Case
	for _, c := range []struct{ class, key, value string }{
		{"ipc", "kernel.msgmax", "4096"},
		{"ipc", "kernel.shm_rmid_forced", "1"},
		{"ipc", "kernel.sem", "250 32000 32 128"},
		{"mqueue", "fs.mqueue.msg_max", "20"},
		{"net", "net.ipv4.ip_forward", "1"},
		{"net", "net.core.somaxconn", "1000"},
		{"net", "net.ipv4.conf.all.forwarding", "1"},
		{"uts", "kernel.domainname", "example.net"},
		{"uts", "kernel.hostname", "sysctlhost"},
		{"host-only", "vm.swappiness", "10"},
		{"host-only", "kernel.panic", "0"},
		{"unknown", "kernel.no_such_sysctl", "1"},
		{"user", "user.max_user_namespaces", "10"},
		{"slash", "net/ipv4/ip_forward", "1"},
	} {
		cs = append(cs, &Case{Name: "sysctl/" + c.class + "/" + c.key, Script: show(c.key), Spec: sysctl(c.key, c.value)})
	}
	cs = append(cs,
		&Case{Name: "sysctl/net-without-netns", Script: show("net.ipv4.ip_forward"), Spec: edits(withoutNS(rspec.NetworkNamespace), sysctl("net.ipv4.ip_forward", "0"))},
		&Case{Name: "sysctl/ipc-without-ipcns", Script: show("kernel.msgmax"), Spec: edits(withoutNS(rspec.IPCNamespace), sysctl("kernel.msgmax", "4096"))},
		&Case{Name: "sysctl/user-with-userns", Script: show("user.max_user_namespaces"), Spec: edits(withUserNS, sysctl("user.max_user_namespaces", "10"))},
		&Case{Name: "sysctl/ping-group-range", Script: show("net.ipv4.ping_group_range"), Spec: sysctl("net.ipv4.ping_group_range", "0 2147483647")},
	)
	return cs
}

func idmapCases() []*Case {
	own := func(b *Bundle) error {
		if err := bindSrc(b); err != nil {
			return err
		}
		return os.Chown(b.Fill("{dir}/src/file"), 1000, 1000)
	}
	show := pMountAt("/mnt") + "; " + pStat("/mnt/file")
	idm := func(opts []string, maps bool) func(*rspec.Spec) {
		return func(s *rspec.Spec) {
			m := rspec.Mount{Destination: "/mnt", Type: "bind", Source: "{dir}/src", Options: opts}
			if maps {
				m.UIDMappings = []rspec.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 10}}
				m.GIDMappings = []rspec.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 10}}
			}
			s.Mounts = append(s.Mounts, m)
		}
	}
	var cs []*Case
	for _, v := range []struct {
		name   string
		opts   []string
		maps   bool
		userns bool
	}{
		{"mappings-bind", []string{"bind"}, true, false},
		{"mappings-rbind", []string{"rbind"}, true, false},
		{"idmap-option-bind", []string{"bind", "idmap"}, true, false},
		{"ridmap-option-rbind", []string{"rbind", "ridmap"}, true, false},
		{"idmap-without-mappings", []string{"bind", "idmap"}, false, false},
		{"idmap-without-mappings-userns", []string{"bind", "idmap"}, false, true},
		{"ridmap-without-mappings-userns", []string{"rbind", "ridmap"}, false, true},
		{"mappings-userns", []string{"bind"}, true, true},
		{"mappings-ro", []string{"bind", "ro"}, true, false},
	} {
		spec := idm(v.opts, v.maps)
		if v.userns {
			spec = edits(withUserNS, spec)
		}
		cs = append(cs, &Case{Name: "idmap/" + v.name, Script: show, Spec: spec, Files: own})
	}
	cs = append(cs, &Case{Name: "idmap/tmpfs-mappings", Script: pMountAt("/mnt"),
		Spec: func(s *rspec.Spec) {
			s.Mounts = append(s.Mounts, rspec.Mount{Destination: "/mnt", Type: "tmpfs", Source: "tmpfs",
				UIDMappings: []rspec.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 10}},
				GIDMappings: []rspec.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 10}}})
		}})
	return cs
}
