package seccomp

import (
	"sort"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
)

// Features lists what Compile accepts, for `husk features`, sorted as
// runc sorts them (flags in the spec's order).
func Features() *features.Seccomp {
	enabled := true
	f := &features.Seccomp{
		Enabled: &enabled,
		Actions: []string{
			string(rspec.ActKill), string(rspec.ActKillProcess), string(rspec.ActKillThread),
			string(rspec.ActTrap), string(rspec.ActErrno), string(rspec.ActTrace), string(rspec.ActAllow),
			string(rspec.ActLog), string(rspec.ActNotify),
		},
		Operators: []string{
			string(rspec.OpNotEqual), string(rspec.OpLessThan), string(rspec.OpLessEqual), string(rspec.OpEqualTo),
			string(rspec.OpGreaterEqual), string(rspec.OpGreaterThan), string(rspec.OpMaskedEqual),
		},
	}
	sort.Strings(f.Actions)
	sort.Strings(f.Operators)
	for _, a := range arches {
		f.Archs = append(f.Archs, string(a.name))
	}
	sort.Strings(f.Archs)
	for _, flag := range []rspec.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_TSYNC", rspec.LinuxSeccompFlagSpecAllow,
		rspec.LinuxSeccompFlagLog, rspec.LinuxSeccompFlagWaitKillableRecv} {
		if _, ok := filterFlags[flag]; ok {
			f.KnownFlags = append(f.KnownFlags, string(flag))
		}
	}
	f.SupportedFlags = f.KnownFlags
	return f
}
