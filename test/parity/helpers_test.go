package parity

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// edits applies several config edits in order.
func edits(fns ...func(*rspec.Spec)) func(*rspec.Spec) {
	return func(s *rspec.Spec) {
		for _, f := range fns {
			f(s)
		}
	}
}

// addMount appends a mount to the config.
func addMount(m rspec.Mount) func(*rspec.Spec) {
	return func(s *rspec.Spec) { s.Mounts = append(s.Mounts, m) }
}

// withNS adds a namespace (with an optional path).
func withNS(typ rspec.LinuxNamespaceType, path string) func(*rspec.Spec) {
	return func(s *rspec.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, rspec.LinuxNamespace{Type: typ, Path: path})
	}
}

// withoutNS removes a namespace.
func withoutNS(typ rspec.LinuxNamespaceType) func(*rspec.Spec) {
	return func(s *rspec.Spec) {
		var keep []rspec.LinuxNamespace
		for _, n := range s.Linux.Namespaces {
			if n.Type != typ {
				keep = append(keep, n)
			}
		}
		s.Linux.Namespaces = keep
	}
}

// withUserNS adds a user namespace mapping container 0-65535 to host
// 100000-165535.
func withUserNS(s *rspec.Spec) {
	s.Linux.Namespaces = append(s.Linux.Namespaces, rspec.LinuxNamespace{Type: rspec.UserNamespace})
	s.Linux.UIDMappings = []rspec.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	s.Linux.GIDMappings = []rspec.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
}

// sleeper makes the container's process wait, so commands can be run
// against it.
func sleeper(s *rspec.Spec) { s.Process.Args = []string{"sleep", "1000"} }

// started are the steps that create and start the container and wait
// until it runs.
func started() []Step {
	return []Step{
		Cmd{Key: "create", Args: []string{"create", "--bundle", "{bundle}", "{id}"}},
		Cmd{Key: "start", Args: []string{"start", "{id}"}},
		WaitStatus{Status: "running"},
	}
}

// created is the step that creates the container.
func created() []Step {
	return []Step{Cmd{Key: "create", Args: []string{"create", "--bundle", "{bundle}", "{id}"}}}
}

// execSh runs a shell script with exec, recording its output under key.
func execSh(key, sh string, flags ...string) Cmd {
	args := append([]string{"exec"}, flags...)
	args = append(args, "{id}", "sh", "-c", sh)
	return Cmd{Key: key, Args: args, Out: OutProbe}
}

// steps concatenates step lists.
func steps(lists ...[]Step) []Step {
	var out []Step
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// state is `state {id}` with its JSON normalised.
func state(key string) Cmd {
	return Cmd{Key: key, Args: []string{"state", "{id}"}, Out: OutJSON}
}

// symlinkRootfs makes a symlink in the rootfs.
func symlinkRootfs(b *Bundle, target, link string) error {
	p := b.InRootfs(link)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.Symlink(target, p)
}

// bindSrc makes a host directory {dir}/src with a file, for bind mounts.
func bindSrc(b *Bundle) error {
	return b.WriteFile("{dir}/src/file", "content\n", 0o644)
}

// optionName turns a mount option into a case name part.
func optionName(o string) string {
	return strings.NewReplacer("=", "-", ",", "+", "/", "_").Replace(o)
}

// itoa is strconv.Itoa, short for tables.
func itoa(i int) string { return strconv.Itoa(i) }

// removeAll removes files of the rootfs.
func removeAll(paths ...string) error {
	for _, p := range paths {
		if err := os.RemoveAll(p); err != nil {
			return err
		}
	}
	return nil
}

// errString is err's text, "" for nil.
func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// bindMount bind-mounts src on dst on the host.
func bindMount(src, dst string) error { return unix.Mount(src, dst, "", unix.MS_BIND, "") }

// unmount detaches a host mount.
func unmount(path string) error { return unix.Unmount(path, unix.MNT_DETACH) }
