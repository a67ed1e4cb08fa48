package parity

import (
	"os"

	"golang.org/x/sys/unix"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

func init() { caseFamilies = append(caseFamilies, mountCases, defaultMountCases) }

// tmpfsOptions are options tried one at a time on a tmpfs at /mnt.
var tmpfsOptions = []string{
	"ro", "rw", "nosuid", "suid", "nodev", "dev", "noexec", "exec", "sync", "async", "dirsync",
	"noatime", "atime", "nodiratime", "diratime", "relatime", "norelatime", "strictatime",
	"nostrictatime", "lazytime", "nolazytime", "nosymfollow", "symfollow", "mand", "nomand",
	"iversion", "noiversion", "silent", "loud", "defaults", "remount", "bind",
	"mode=700", "mode=1777", "mode=0", "size=1m", "uid=1000", "gid=1000", "nr_inodes=100",
	"tmpcopyup", "private", "rprivate", "shared", "rshared", "slave", "rslave", "unbindable",
	"runbindable", "rro", "rnosuid", "rnodev", "rnoexec", "rnoatime", "rrelatime", "rnosymfollow",
	"no-such-option", "size=bogus",
}

// bindOptions are options tried one at a time on a bind mount of a host
// directory at /mnt (with "bind" or "rbind" added).
var bindOptions = []string{
	"", "ro", "rw", "nosuid", "nodev", "noexec", "noatime", "nodiratime", "relatime",
	"strictatime", "nosymfollow", "sync", "dirsync", "lazytime", "private", "rprivate", "shared",
	"rshared", "slave", "rslave", "unbindable", "runbindable", "rro", "rrw", "rnosuid", "rnodev",
	"rnoexec", "rnoatime", "rrelatime", "rstrictatime", "rnodiratime", "rnosymfollow",
	"mode=700", "size=1m", "remount", "suid,dev,exec", "atime",
}

func mountCases() []*Case {
	var cs []*Case
	mnt := pMountAt("/mnt") + "; " + pStat("/mnt")
	for _, o := range tmpfsOptions {
		cs = append(cs, &Case{Name: "mounts/tmpfs-option/" + optionName(o), Script: mnt,
			Spec: addMount(rspec.Mount{Destination: "/mnt", Type: "tmpfs", Source: "tmpfs", Options: []string{o}})})
	}
	for _, kind := range []string{"bind", "rbind"} {
		for _, o := range bindOptions {
			opts := []string{kind}
			if o != "" {
				opts = append(opts, o)
			}
			name := o
			if name == "" {
				name = "none"
			}
			cs = append(cs, &Case{Name: "mounts/" + kind + "-option/" + optionName(name), Script: mnt,
				Spec:  addMount(rspec.Mount{Destination: "/mnt", Type: "bind", Source: "{dir}/src", Options: opts}),
				Files: bindSrc})
		}
	}
	// A bind mount of a host tree with a submount: rbind keeps it, bind
	// not; recursive flags reach it.
	for _, opts := range [][]string{{"rbind"}, {"bind"}, {"rbind", "rro"}, {"rbind", "ro"}, {"rbind", "rnoexec"}} {
		cs = append(cs, &Case{Name: "mounts/submount/" + optionName(joinOpts(opts)), Script: pMountAt("/mnt"),
			Spec:  addMount(rspec.Mount{Destination: "/mnt", Type: "bind", Source: "{dir}/src", Options: opts}),
			Files: bindSrc,
			Steps: []Step{hostSubmount(true), runStep(), hostSubmount(false)}})
	}
	cs = append(cs,
		&Case{Name: "mounts/tmpfs-mode-existing-dir", Script: mnt, Spec: addMount(rspec.Mount{Destination: "/mnt", Type: "tmpfs", Source: "tmpfs"}),
			Files: func(b *Bundle) error { return os.Mkdir(b.InRootfs("mnt"), 0o700) }},
		&Case{Name: "mounts/tmpfs-mode-new-dir", Script: mnt, Spec: addMount(rspec.Mount{Destination: "/mnt", Type: "tmpfs", Source: "tmpfs"})},
		&Case{Name: "mounts/tmpfs-mode-given-existing-dir", Script: mnt, Spec: addMount(rspec.Mount{Destination: "/mnt", Type: "tmpfs", Source: "tmpfs", Options: []string{"mode=755"}}),
			Files: func(b *Bundle) error { return os.Mkdir(b.InRootfs("mnt"), 0o700) }},
		&Case{Name: "mounts/tmpcopyup-content", Script: "echo '=== content'; ls -ln /etc | awk '{print $1, $3, $4, $NF}'",
			Spec: addMount(rspec.Mount{Destination: "/etc", Type: "tmpfs", Source: "tmpfs", Options: []string{"tmpcopyup"}})},
		&Case{Name: "mounts/bind-file", Script: pMountAt("/etc/hostname") + "; cat /etc/hostname",
			Spec:  addMount(rspec.Mount{Destination: "/etc/hostname", Type: "bind", Source: "{dir}/src/file", Options: []string{"bind", "ro"}}),
			Files: bindSrc},
		&Case{Name: "mounts/bind-file-new-dest", Script: pMountAt("/new/file") + "; cat /new/file",
			Spec:  addMount(rspec.Mount{Destination: "/new/file", Type: "bind", Source: "{dir}/src/file", Options: []string{"bind"}}),
			Files: bindSrc},
		&Case{Name: "mounts/bind-missing-source", Script: pMountAt("/mnt"),
			Spec: addMount(rspec.Mount{Destination: "/mnt", Type: "bind", Source: "{dir}/nonexistent", Options: []string{"bind"}})},
		&Case{Name: "mounts/bind-type-none", Script: pMountAt("/mnt"),
			Spec: addMount(rspec.Mount{Destination: "/mnt", Type: "none", Source: "{dir}/src", Options: []string{"rbind"}}), Files: bindSrc},
		&Case{Name: "mounts/bind-type-empty", Script: pMountAt("/mnt"),
			Spec: addMount(rspec.Mount{Destination: "/mnt", Source: "{dir}/src", Options: []string{"rbind"}}), Files: bindSrc},
		&Case{Name: "mounts/bind-type-bind-no-option", Script: pMountAt("/mnt"),
			Spec: addMount(rspec.Mount{Destination: "/mnt", Type: "bind", Source: "{dir}/src"}), Files: bindSrc},
		&Case{Name: "mounts/relative-destination", Script: pMountAt("/mnt"),
			Spec: addMount(rspec.Mount{Destination: "mnt", Type: "tmpfs", Source: "tmpfs"})},
		&Case{Name: "mounts/destination-dotdot", Script: pMountAt("/mnt"),
			Spec: addMount(rspec.Mount{Destination: "/../../mnt", Type: "tmpfs", Source: "tmpfs"})},
		&Case{Name: "mounts/dest-dangling-symlink-trailing", Script: pMountAt("/mnt") + "; " + pMountAt("/target"),
			Spec:  addMount(rspec.Mount{Destination: "/mnt", Type: "tmpfs", Source: "tmpfs"}),
			Files: func(b *Bundle) error { return symlinkRootfs(b, "/target", "mnt") }},
		&Case{Name: "mounts/dest-dangling-symlink-component", Script: pMountAt("/link/mnt") + "; " + pMountAt("/target"),
			Spec:  addMount(rspec.Mount{Destination: "/link/mnt", Type: "tmpfs", Source: "tmpfs"}),
			Files: func(b *Bundle) error { return symlinkRootfs(b, "/target", "link") }},
		&Case{Name: "mounts/dest-symlink-escaping", Script: pMountAt("/mnt") + "; " + pMountAt("/tmp"),
			Spec:  addMount(rspec.Mount{Destination: "/mnt", Type: "tmpfs", Source: "tmpfs"}),
			Files: func(b *Bundle) error { return symlinkRootfs(b, "../../../../../../tmp", "mnt") }},
		&Case{Name: "mounts/bind-dangling-symlink-component", Script: pMountAt("/link/mnt") + "; " + pMountAt("/target"),
			Spec: addMount(rspec.Mount{Destination: "/link/mnt", Type: "bind", Source: "{dir}/src", Options: []string{"bind"}}),
			Files: func(b *Bundle) error {
				if err := bindSrc(b); err != nil {
					return err
				}
				return symlinkRootfs(b, "/target", "link")
			}},
		&Case{Name: "mounts/bind-file-dangling-symlink-trailing", Script: pMountAt("/f") + "; " + pMountAt("/target"),
			Spec: addMount(rspec.Mount{Destination: "/f", Type: "bind", Source: "{dir}/src/file", Options: []string{"bind"}}),
			Files: func(b *Bundle) error {
				if err := bindSrc(b); err != nil {
					return err
				}
				return symlinkRootfs(b, "/target", "f")
			}},
		// A later mount whose source is inside what an earlier mount made.
		&Case{Name: "mounts/order-source-inside-container", Script: pMountAt("/a") + "; " + pMountAt("/b") + "; ls /b",
			Spec: edits(
				addMount(rspec.Mount{Destination: "/a", Type: "tmpfs", Source: "tmpfs"}),
				addMount(rspec.Mount{Destination: "/b", Type: "bind", Source: "{rootfs}/a", Options: []string{"bind"}}))},
		&Case{Name: "mounts/nested-order", Script: pMountAt("/x"),
			Spec: edits(
				addMount(rspec.Mount{Destination: "/x/y", Type: "tmpfs", Source: "tmpfs"}),
				addMount(rspec.Mount{Destination: "/x", Type: "tmpfs", Source: "tmpfs"}))},
		&Case{Name: "mounts/same-destination-twice", Script: pMountAt("/mnt"),
			Spec: edits(
				addMount(rspec.Mount{Destination: "/mnt", Type: "tmpfs", Source: "first"}),
				addMount(rspec.Mount{Destination: "/mnt", Type: "tmpfs", Source: "second"}))},
		&Case{Name: "mounts/proc-is-symlink", Script: "echo '=== proc'; ls /proc/self/ >/dev/null && echo readable",
			Files: func(b *Bundle) error {
				if err := os.Remove(b.InRootfs("proc")); err != nil {
					return err
				}
				return symlinkRootfs(b, "/elsewhere", "proc")
			}},
		&Case{Name: "mounts/proc-second-mount", Script: pMountAt("/mnt"),
			Spec: addMount(rspec.Mount{Destination: "/mnt", Type: "proc", Source: "proc"})},
		&Case{Name: "mounts/proc-onto-symlink-dest", Script: pMountAt("/mnt"),
			Spec:  addMount(rspec.Mount{Destination: "/mnt", Type: "proc", Source: "proc"}),
			Files: func(b *Bundle) error { return symlinkRootfs(b, "/tmp", "mnt") }},
		&Case{Name: "mounts/sysfs-rw", Script: pMountAt("/sys"),
			Spec: func(s *rspec.Spec) { s.Mounts[5].Options = []string{"nosuid", "noexec", "nodev"} }},
		&Case{Name: "mounts/sysfs-without-netns", Script: pMountAt("/sys"), Spec: withoutNS(rspec.NetworkNamespace)},
		&Case{Name: "mounts/cgroup-rw", Script: pMountAt("/sys/fs/cgroup"),
			Spec: func(s *rspec.Spec) { s.Mounts[6].Options = []string{"nosuid", "noexec", "nodev", "relatime"} }},
		&Case{Name: "mounts/cgroup-with-cgroupns", Script: pMountAt("/sys/fs/cgroup") + "; " + pCgroup, Spec: withNS(rspec.CgroupNamespace, "")},
		&Case{Name: "mounts/cgroup2-type", Script: pMountAt("/sys/fs/cgroup"),
			Spec: func(s *rspec.Spec) { s.Mounts[6].Type = "cgroup2"; s.Mounts[6].Source = "cgroup2" }},
		&Case{Name: "mounts/no-mounts", Script: "echo '=== mountinfo'; cat /proc/self/mountinfo 2>&1 | wc -l",
			Spec: func(s *rspec.Spec) { s.Mounts = nil; s.Linux.MaskedPaths = nil; s.Linux.ReadonlyPaths = nil }},
		&Case{Name: "mounts/root-readwrite", Script: pMountAt("/"), Spec: func(s *rspec.Spec) { s.Root.Readonly = false }},
		&Case{Name: "mounts/root-path-absolute", Script: "echo ok", Spec: func(s *rspec.Spec) { s.Root.Path = "{rootfs}" }},
		&Case{Name: "mounts/root-path-symlink", Script: "echo ok", Spec: func(s *rspec.Spec) { s.Root.Path = "rootlink" },
			Files: func(b *Bundle) error { return os.Symlink("rootfs", b.Fill("{bundle}/rootlink")) }},
		&Case{Name: "mounts/root-path-missing", Script: "echo ok", Spec: func(s *rspec.Spec) { s.Root.Path = "nosuchdir" }},
		&Case{Name: "mounts/no-pivot", Script: pMountAt("/") + "; " + pMountAt("/proc") + "; " + pStatus,
			Steps: []Step{Cmd{Key: "run", Args: []string{"run", "--no-pivot", "--bundle", "{bundle}", "{id}"}, Out: OutProbe}}},
		&Case{Name: "mounts/dev-readonly", Script: pMountAt("/dev") + "; " + pDev,
			Spec: func(s *rspec.Spec) { s.Mounts[1].Options = append(s.Mounts[1].Options, "ro") }},
		&Case{Name: "mounts/devpts-options", Script: pMountAt("/dev/pts") + "; " + pStat("/dev/pts/ptmx", "/dev/ptmx"),
			Spec: func(s *rspec.Spec) { s.Mounts[2].Options = []string{"newinstance", "ptmxmode=0600", "mode=0600"} }},
		&Case{Name: "mounts/no-dev-mount", Script: pMountAt("/dev") + "; " + pDev,
			Spec: func(s *rspec.Spec) { s.Mounts = append(s.Mounts[:1], s.Mounts[5:]...) }},
		&Case{Name: "mounts/dev-default-devices", Script: pDev},
		&Case{Name: "mounts/dev-shm-size", Script: pMountAt("/dev/shm"),
			Spec: func(s *rspec.Spec) { s.Mounts[3].Options = []string{"size=1m"} }},
		&Case{Name: "mounts/mqueue-without-ipcns", Script: pMountAt("/dev/mqueue"), Spec: withoutNS(rspec.IPCNamespace)},
	)
	cs = append(cs, maskCases()...)
	cs = append(cs, propagationCases()...)
	return cs
}

// hostSubmount mounts (or unmounts) a tmpfs on {dir}/src/sub on the host.
func hostSubmount(on bool) Step {
	return HostDo{Fn: func(x *Exec) string {
		dir := x.B.Fill("{dir}/src/sub")
		if !on {
			return errString(unix.Unmount(dir, unix.MNT_DETACH))
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err.Error()
		}
		return errString(unix.Mount("parity", dir, "tmpfs", 0, "size=1m"))
	}}
}

func joinOpts(o []string) string {
	s := ""
	for i, x := range o {
		if i > 0 {
			s += ","
		}
		s += x
	}
	return s
}

func maskCases() []*Case {
	masks := func(m ...string) func(*rspec.Spec) { return func(s *rspec.Spec) { s.Linux.MaskedPaths = m } }
	ro := func(m ...string) func(*rspec.Spec) { return func(s *rspec.Spec) { s.Linux.ReadonlyPaths = m } }
	show := func(p string) string { return pMountAt(p) + "; " + pStat(p) }
	return []*Case{
		{Name: "masks/file", Script: show("/proc/kcore"), Spec: masks("/proc/kcore")},
		{Name: "masks/directory", Script: show("/proc/acpi"), Spec: masks("/proc/acpi")},
		{Name: "masks/two-directories", Script: show("/proc/acpi") + "; " + show("/sys/firmware"), Spec: masks("/proc/acpi", "/sys/firmware")},
		{Name: "masks/duplicate", Script: show("/proc/kcore"), Spec: masks("/proc/kcore", "/proc/kcore")},
		{Name: "masks/missing-path", Script: show("/proc/nosuch"), Spec: masks("/proc/nosuch")},
		{Name: "masks/rootfs-file", Script: show("/etc/passwd"), Spec: masks("/etc/passwd")},
		{Name: "masks/relative", Script: show("/proc/kcore"), Spec: masks("proc/kcore")},
		{Name: "masks/default-set", Script: "echo '=== masks'; awk '$5 ~ /^\\/(proc|sys)\\// {print $5, $4, $6, $9, $10, $11}' /proc/self/mountinfo"},
		{Name: "masks/default-with-userns", Script: "echo '=== masks'; awk '$5 ~ /^\\/(proc|sys)\\// {print $5, $4, $6, $9, $10, $11}' /proc/self/mountinfo", Spec: withUserNS},
		{Name: "readonly/file", Script: show("/proc/sysrq-trigger"), Spec: ro("/proc/sysrq-trigger")},
		{Name: "readonly/directory", Script: show("/proc/sys"), Spec: ro("/proc/sys")},
		{Name: "readonly/missing-path", Script: show("/proc/nosuch"), Spec: ro("/proc/nosuch")},
		{Name: "readonly/duplicate", Script: show("/proc/sys"), Spec: ro("/proc/sys", "/proc/sys")},
		{Name: "readonly/rootfs-dir", Script: show("/etc"), Spec: edits(ro("/etc"), func(s *rspec.Spec) { s.Root.Readonly = false })},
		{Name: "readonly/masked-too", Script: show("/proc/kcore"), Spec: edits(ro("/proc/kcore"), masks("/proc/kcore"))},
	}
}

func propagationCases() []*Case {
	var cs []*Case
	for _, p := range []string{"private", "rprivate", "shared", "rshared", "slave", "rslave", "unbindable", "runbindable", "bogus"} {
		cs = append(cs, &Case{Name: "propagation/rootfs-" + p, Script: pMountAt("/") + "; " + pMountAt("/proc"),
			Spec: func(s *rspec.Spec) { s.Linux.RootfsPropagation = p }})
	}
	return cs
}

// defaultMountCases look at each mount of the base config on its own.
func defaultMountCases() []*Case {
	var cs []*Case
	for _, p := range []string{"/", "/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup"} {
		name := optionName(p)
		if p == "/" {
			name = "root"
		}
		cs = append(cs, &Case{Name: "default-mounts/" + name, Script: `echo '=== mountinfo'; awk -v p='` + p + `' '$5==p' /proc/self/mountinfo`})
	}
	cs = append(cs, &Case{Name: "default-mounts/cgroup-submounts", Script: pMountAt("/sys/fs/cgroup")})
	return cs
}
