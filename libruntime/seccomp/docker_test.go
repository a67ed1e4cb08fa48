package seccomp

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Docker's default profile (testdata/README.md says where it comes from)
// is in Docker's own format: per entry, includes and excludes by
// architecture, capability and kernel version. dockerd resolves those for
// the container and hands the runtime a plain OCI object; dockerProfile
// does the same so that the tests compile what husk would get.

type dockerProfile struct {
	DefaultAction   rspec.LinuxSeccompAction `json:"defaultAction"`
	DefaultErrnoRet *uint                    `json:"defaultErrnoRet"`
	ArchMap         []struct {
		Arch      rspec.Arch   `json:"architecture"`
		SubArches []rspec.Arch `json:"subArchitectures"`
	} `json:"archMap"`
	Syscalls []struct {
		rspec.LinuxSyscall
		Includes *dockerFilter `json:"includes"`
		Excludes *dockerFilter `json:"excludes"`
	} `json:"syscalls"`
}

type dockerFilter struct {
	Caps      []string `json:"caps"`
	Arches    []string `json:"arches"`
	MinKernel string   `json:"minKernel"`
}

// dockerCaps is Docker's default capability set.
var dockerCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
	"CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// dockerArches maps GOARCH to Docker's architecture names and the
// architecture its archMap is keyed by.
var dockerArches = map[string]struct {
	name string
	arch rspec.Arch
}{
	"amd64":   {"amd64", rspec.ArchX86_64},
	"386":     {"x86", rspec.ArchX86},
	"arm64":   {"arm64", rspec.ArchAARCH64},
	"arm":     {"arm", rspec.ArchARM},
	"riscv64": {"riscv64", rspec.ArchRISCV64},
	"ppc64le": {"ppc64le", rspec.ArchPPC64LE},
	"s390x":   {"s390x", rspec.ArchS390X},
}

// dockerDefault returns Docker's default profile as dockerd would pass it
// for a container with caps on a goarch host running kernel
// major.minor.
func dockerDefault(t testing.TB, goarch string, caps []string, major, minor int) *rspec.LinuxSeccomp {
	t.Helper()
	b, err := os.ReadFile("testdata/docker-default.json")
	if err != nil {
		t.Fatal(err)
	}
	var p dockerProfile
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	host, ok := dockerArches[goarch]
	if !ok {
		t.Skipf("no Docker architecture for GOARCH %s", goarch)
	}
	s := &rspec.LinuxSeccomp{DefaultAction: p.DefaultAction, DefaultErrnoRet: p.DefaultErrnoRet}
	for _, m := range p.ArchMap {
		if m.Arch == host.arch {
			s.Architectures = append([]rspec.Arch{m.Arch}, m.SubArches...)
		}
	}
	kernelAtLeast := func(v string) bool {
		var maj, min int
		if _, err := fmt.Sscanf(v, "%d.%d", &maj, &min); err != nil {
			t.Fatalf("minKernel %q: %v", v, err)
		}
		return major > maj || major == maj && minor >= min
	}
	applies := func(inc, exc *dockerFilter) bool {
		if exc != nil {
			if slices.Contains(exc.Arches, host.name) ||
				slices.ContainsFunc(exc.Caps, func(c string) bool { return slices.Contains(caps, c) }) ||
				exc.MinKernel != "" && kernelAtLeast(exc.MinKernel) {
				return false
			}
		}
		if inc != nil {
			if len(inc.Arches) > 0 && !slices.Contains(inc.Arches, host.name) ||
				inc.MinKernel != "" && !kernelAtLeast(inc.MinKernel) {
				return false
			}
			for _, c := range inc.Caps {
				if !slices.Contains(caps, c) {
					return false
				}
			}
		}
		return true
	}
	for _, sc := range p.Syscalls {
		if applies(sc.Includes, sc.Excludes) {
			s.Syscalls = append(s.Syscalls, sc.LinuxSyscall)
		}
	}
	return s
}

func TestDockerDefault(t *testing.T) {
	s := dockerDefault(t, "amd64", dockerCaps, 6, 1)
	f := mustCompile(t, s, archX86_64)
	t.Logf("Docker's default profile (x86_64, x86, x32): %d instructions", len(f.Program))
	if len(f.Program) > 600 {
		t.Errorf("%d instructions: the search tree is not doing its job", len(f.Program))
	}
	// The profile names syscalls of other architectures (recv, send,
	// riscv_hwprobe); all of them must be in the tables.
	var unknown []string
	for _, sc := range s.Syscalls {
		for _, name := range sc.Names {
			if !slices.ContainsFunc(arches, func(a *arch) bool { _, ok := a.sysnum(name); return ok }) {
				unknown = append(unknown, name)
			}
		}
	}
	if len(unknown) > 0 {
		t.Errorf("syscalls missing from the tables: %v", unknown)
	}
	if len(f.Warnings) != 3 {
		t.Errorf("warnings: %q", f.Warnings)
	}
	// The profile lists no flags: runc's default applies.
	if f.Notify || f.Flags != unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW {
		t.Errorf("Notify %v Flags %#x", f.Notify, f.Flags)
	}

	x := func(name string, args ...uint64) call { return on(archX86_64, nr(t, archX86_64, name), args...) }
	i386 := func(name string, args ...uint64) call { return on(archX86, nr(t, archX86, name), args...) }
	x32 := func(name string, args ...uint64) call { return on(archX32, nr(t, archX32, name), args...) }
	eperm := retErrno(unix.EPERM)
	expect(t, f, archX86_64, []check{
		{"read", x("read"), retAllow},
		{"futex", x("futex"), retAllow},
		{"mseal (newer than libseccomp 2.5.4)", x("mseal"), retAllow},
		{"keyctl", x("keyctl"), eperm},
		{"mount", x("mount"), eperm},
		{"unshare", x("unshare"), eperm},
		{"chroot (CAP_SYS_CHROOT)", x("chroot"), retAllow},
		{"ptrace (kernel >= 4.8)", x("ptrace"), retAllow},
		{"clone, thread", x("clone", unix.CLONE_VM|unix.CLONE_FS|unix.CLONE_FILES|unix.CLONE_SIGHAND|unix.CLONE_THREAD), retAllow},
		{"clone, fork", x("clone", uint64(unix.SIGCHLD)), retAllow},
		{"clone, CLONE_NEWUSER", x("clone", unix.CLONE_NEWUSER|uint64(unix.SIGCHLD)), eperm},
		{"clone, CLONE_NEWNS", x("clone", unix.CLONE_NEWNS), eperm},
		{"clone3", x("clone3"), retErrno(unix.ENOSYS)},
		{"personality(0xffffffff)", x("personality", 0xffffffff), retAllow},
		{"personality(PER_LINUX32)", x("personality", 8), retAllow},
		{"personality(1)", x("personality", 1), eperm},
		// personality takes an unsigned int: the kernel sees 0xffffffff,
		// which the profile allows.
		{"personality(0xffffffff) with high bits", x("personality", 0xffffffff_ffffffff), retAllow},
		{"personality(0x1_00000009): the kernel sees 9", x("personality", 0x1_00000009), eperm},
		{"socket(AF_INET)", x("socket", unix.AF_INET), retAllow},
		{"socket(AF_ALG)", x("socket", unix.AF_ALG), eperm},
		{"socket(AF_VSOCK)", x("socket", unix.AF_VSOCK), eperm},
		// socket's family is an int: high bits set pass "> 40" on 64 bits,
		// but the kernel creates an AF_VSOCK socket.
		{"socket(AF_VSOCK | 1<<32)", x("socket", 1<<32|unix.AF_VSOCK), eperm},
		{"socket(AF_ALG | 1<<63)", x("socket", 1<<63|unix.AF_ALG), eperm},
		{"socket(AF_INET | 1<<32)", x("socket", 1<<32|unix.AF_INET), retAllow},
		{"socket(AF_KCM)", x("socket", unix.AF_KCM), retAllow},
		{"arch_prctl", x("arch_prctl"), retAllow},
		{"open_tree_attr (newer than the profile)", x("open_tree_attr"), retErrno(unix.ENOSYS)},
		{"number 1000", on(archX86_64, 1000), retErrno(unix.ENOSYS)},
		{"x86 read", i386("read"), retAllow},
		{"x86 socketcall", i386("socketcall"), retAllow},
		{"x86 keyctl", i386("keyctl"), eperm},
		{"x86 personality(0xffffffff)", i386("personality", 0xffffffff), retAllow},
		{"x86 clone, CLONE_NEWUSER", i386("clone", unix.CLONE_NEWUSER), eperm},
		{"x32 read", x32("read"), retAllow},
		{"x32 rt_sigaction", x32("rt_sigaction"), retAllow},
		{"x32 keyctl", x32("keyctl"), eperm},
		{"aarch64", on(archAARCH64, 63), retKillThread},
	})

	// Every syscall the profile allows outright is allowed, and none
	// takes a long walk: the dispatch is a search, not a chain.
	maxSteps := 0
	for _, sc := range s.Syscalls {
		for _, name := range sc.Names {
			for _, a := range []*arch{archX86_64, archX86, archX32} {
				n, ok := a.sysnum(name)
				if !ok {
					continue
				}
				got, steps := run(t, f.Program, on(a, n), false)
				maxSteps = max(maxSteps, steps)
				if sc.Action == rspec.ActAllow && len(sc.Args) == 0 && got != retAllow {
					t.Errorf("%s on %s: verdict %#x", name, a.name, got)
				}
			}
		}
	}
	t.Logf("at most %d instructions run per syscall", maxSteps)
	if maxSteps > 30 {
		t.Errorf("a syscall runs %d instructions", maxSteps)
	}
}

// TestDockerDefaultArches compiles the profile as dockerd hands it out on
// the other architectures it supports.
func TestDockerDefaultArches(t *testing.T) {
	for goarch, d := range dockerArches {
		t.Run(goarch, func(t *testing.T) {
			s := dockerDefault(t, goarch, dockerCaps, 6, 1)
			f := mustCompile(t, s, lookupArch(d.arch))
			t.Logf("%s: %v, %d instructions", goarch, s.Architectures, len(f.Program))
		})
	}
}
