package seccomp

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Filter is a compiled seccomp program.
type Filter struct {
	// Program is ready for seccomp(SECCOMP_SET_MODE_FILTER).
	Program []unix.SockFilter
	// Flags are the SECCOMP_FILTER_FLAG_* bits of linux.seccomp.flags,
	// plus TSYNC_ESRCH when TSYNC meets a listener, without
	// SECCOMP_FILTER_FLAG_NEW_LISTENER.
	Flags uint
	// Notify says that some rule uses SCMP_ACT_NOTIFY: the loader must
	// add SECCOMP_FILTER_FLAG_NEW_LISTENER and hand the listener on.
	Notify bool
	// Warnings name the syscalls that were skipped because none of the
	// filter's architectures has them, for the caller to log.
	Warnings []string
}

// maxArgs is the number of syscall arguments in struct seccomp_data.
const maxArgs = 6

var filterFlags = map[rspec.LinuxSeccompFlag]uint{
	// specs-go has no constant for TSYNC, which the spec lists.
	"SECCOMP_FILTER_FLAG_TSYNC":            unix.SECCOMP_FILTER_FLAG_TSYNC,
	rspec.LinuxSeccompFlagLog:              unix.SECCOMP_FILTER_FLAG_LOG,
	rspec.LinuxSeccompFlagSpecAllow:        unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW,
	rspec.LinuxSeccompFlagWaitKillableRecv: unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
}

var operators = []rspec.LinuxSeccompOperator{
	rspec.OpNotEqual, rspec.OpLessThan, rspec.OpLessEqual, rspec.OpEqualTo,
	rspec.OpGreaterEqual, rspec.OpGreaterThan, rspec.OpMaskedEqual,
}

// cond compares one syscall argument. For SCMP_CMP_MASKED_EQ, value is
// the mask and valueTwo the expected result, as in libseccomp.
type cond struct {
	arg             uint
	op              rspec.LinuxSeccompOperator
	value, valueTwo uint64
	// width is the argument's width in bits as the kernel uses it (32
	// for an int, 16 for a umode_t), 0 for the whole 64-bit register.
	width uint8
}

// rule gives act to the syscalls it is filed under when all conds hold.
type rule struct {
	conds []cond
	act   action
}

// archRules is what the profile says about one architecture.
type archRules struct {
	*arch
	rules map[uint32][]rule // by syscall number, in profile order
	// max is the largest number among the profile's syscalls on the
	// architecture, whatever their action; named says there is one.
	max   uint32
	named bool
}

// Compile compiles s for the host architecture plus every architecture in
// s.Architectures.
func Compile(s *rspec.LinuxSeccomp) (*Filter, error) {
	host, err := hostArch()
	if err != nil {
		return nil, err
	}
	return compile(s, host)
}

func compile(s *rspec.LinuxSeccomp, host *arch) (*Filter, error) {
	if s == nil {
		return nil, errors.New("linux.seccomp: no profile")
	}
	def, err := parseAction("linux.seccomp.defaultAction", s.DefaultAction, "linux.seccomp.defaultErrnoRet", s.DefaultErrnoRet)
	if err != nil {
		return nil, err
	}
	if def == unix.SECCOMP_RET_USER_NOTIF {
		// Every syscall of the init after loading the filter, including
		// the ones that hand the listener over, would wait for an agent
		// that has no listener yet.
		return nil, errors.New("linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action")
	}
	targets, err := targetArches(s, host)
	if err != nil {
		return nil, err
	}
	f := &Filter{}
	if s.Flags == nil {
		// No flags at all (not even an empty list): runc's default,
		// SPEC_ALLOW, which spares the container the speculative store
		// bypass mitigation seccomp would otherwise force on it.
		f.Flags = unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW
	}
	waitKillable := -1
	for i, name := range s.Flags {
		bit, ok := filterFlags[name]
		if !ok {
			return nil, fmt.Errorf("linux.seccomp.flags[%d]: unknown flag %q", i, name)
		}
		if bit == unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV {
			waitKillable = i
		}
		f.Flags |= bit
	}
	for i, sc := range s.Syscalls {
		if err := f.addSyscall("linux.seccomp.syscalls["+strconv.Itoa(i)+"]", sc, def, targets); err != nil {
			return nil, err
		}
	}
	if waitKillable >= 0 && !f.Notify {
		// The kernel refuses the flag without a listener.
		return nil, fmt.Errorf("linux.seccomp.flags[%d]: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV needs a syscall with SCMP_ACT_NOTIFY", waitKillable)
	}
	if f.Notify && f.Flags&unix.SECCOMP_FILTER_FLAG_TSYNC != 0 {
		// The kernel refuses TSYNC with NEW_LISTENER unless TSYNC_ESRCH
		// says how to report a thread that could not be synchronised:
		// both would want the return value otherwise.
		f.Flags |= unix.SECCOMP_FILTER_FLAG_TSYNC_ESRCH
	}

	g := &gen{def: def, enosys: !def.permissive(), bigEndian: host.bigEndian}
	f.Program, err = g.program(targets)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// addSyscall files the rules of the syscall entry at path p under each
// target architecture that has the syscalls it names.
func (f *Filter) addSyscall(p string, sc rspec.LinuxSyscall, def action, targets []*archRules) error {
	act, err := parseAction(p+".action", sc.Action, p+".errnoRet", sc.ErrnoRet)
	if err != nil {
		return err
	}
	conds, err := parseArgs(p, sc.Args)
	if err != nil {
		return err
	}
	if len(sc.Names) == 0 {
		return nil // a rule for no syscall: nothing to add, as with runc
	}
	if act == unix.SECCOMP_RET_USER_NOTIF {
		f.Notify = true
	}
	rules := splitRules(conds, act)
	for j, name := range sc.Names {
		rules := narrowed(rules, name)
		if name == "" {
			return fmt.Errorf("%s.names[%d]: empty syscall name", p, j)
		}
		found := false
		for _, t := range targets {
			nr, ok := t.sysnum(name)
			if !ok {
				continue
			}
			found = true
			if !t.named || nr > t.max {
				t.max, t.named = nr, true
			}
			// libseccomp refuses a rule that repeats the default
			// action and runc skips it; so do we.
			if act != def {
				t.rules[nr] = append(t.rules[nr], rules...)
			}
		}
		if !found {
			f.Warnings = append(f.Warnings, fmt.Sprintf("%s.names[%d]: syscall %q does not exist on %s; skipped", p, j, name, archNames(targets)))
		}
	}
	return nil
}

// targetArches returns the architectures to compile for: the host's first,
// then the profile's in their order, each once.
func targetArches(s *rspec.LinuxSeccomp, host *arch) ([]*archRules, error) {
	list := []*arch{host}
	for i, name := range s.Architectures {
		a := lookupArch(name)
		switch {
		case a != nil:
		case slices.Contains(unsupportedArches, name):
			return nil, fmt.Errorf("linux.seccomp.architectures[%d]: architecture %q is not supported", i, name)
		default:
			return nil, fmt.Errorf("linux.seccomp.architectures[%d]: unknown architecture %q", i, name)
		}
		if !slices.Contains(list, a) {
			list = append(list, a)
		}
	}
	targets := make([]*archRules, len(list))
	for i, a := range list {
		targets[i] = &archRules{arch: a, rules: map[uint32][]rule{}}
	}
	return targets, nil
}

func archNames(targets []*archRules) string {
	names := make([]string, len(targets))
	for i, t := range targets {
		names[i] = string(t.name)
	}
	return strings.Join(names, ", ")
}

func parseArgs(p string, args []rspec.LinuxSeccompArg) ([]cond, error) {
	conds := make([]cond, len(args))
	for j, a := range args {
		if a.Index >= maxArgs {
			return nil, fmt.Errorf("%s.args[%d].index: %d is out of range [0, %d]", p, j, a.Index, maxArgs-1)
		}
		if !slices.Contains(operators, a.Op) {
			return nil, fmt.Errorf("%s.args[%d].op: unknown operator %q", p, j, a.Op)
		}
		conds[j] = cond{arg: a.Index, op: a.Op, value: a.Value, valueTwo: a.ValueTwo}
	}
	return conds, nil
}

// narrowed gives the conditions of rules the width the kernel gives each
// argument of syscall name (see zargwidths.go): the kernel truncates an
// int argument to its low 32 bits, so a filter comparing all 64 would
// pass socket(0x100000028, ...) through a rule meant to refuse family 40.
func narrowed(rules []rule, name string) []rule {
	w, ok := argWidths[name]
	if !ok {
		return rules
	}
	out := make([]rule, len(rules))
	for i, r := range rules {
		out[i] = rule{conds: slices.Clone(r.conds), act: r.act}
		for j := range out[i].conds {
			if n := w[out[i].conds[j].arg]; n < 64 {
				out[i].conds[j].width = n
			}
		}
	}
	return out
}

// splitRules turns one syscall entry into rules the way runc does:
// comparisons of different arguments must all hold, but when an argument
// is compared more than once each comparison becomes a rule of its own,
// so that any one of them is enough ("arg0 == 1 or arg0 == 2").
func splitRules(conds []cond, act action) []rule {
	var seen [maxArgs]bool
	for _, c := range conds {
		if seen[c.arg] {
			rules := make([]rule, len(conds))
			for i, c := range conds {
				rules[i] = rule{conds: []cond{c}, act: act}
			}
			return rules
		}
		seen[c.arg] = true
	}
	return []rule{{conds: conds, act: act}}
}
