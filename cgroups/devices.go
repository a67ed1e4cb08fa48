package cgroups

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Device access bits, as in struct bpf_cgroup_dev_ctx.
const (
	accMknod = unix.BPF_DEVCG_ACC_MKNOD
	accRead  = unix.BPF_DEVCG_ACC_READ
	accWrite = unix.BPF_DEVCG_ACC_WRITE
	accAll   = accMknod | accRead | accWrite
)

// devRule is a validated linux.resources.devices entry.
type devRule struct {
	allow  bool
	typ    byte  // 'a', 'b' or 'c'
	major  int64 // -1: any
	minor  int64 // -1: any
	access uint32
}

// parseDeviceRules validates the OCI rules and returns them as the kernel
// sees them. Like runc, an implicit "deny all" comes first unless the list
// starts with an "a" rule, so v1 (which inherits its parent's allow-all
// otherwise) and v2 (whose program starts from nothing) agree.
func parseDeviceRules(rules []rspec.LinuxDeviceCgroup) ([]devRule, error) {
	out := make([]devRule, 0, len(rules)+1)
	for i, r := range rules {
		d := devRule{allow: r.Allow, major: -1, minor: -1}
		switch r.Type {
		case "", "a":
			d.typ = 'a'
		case "b":
			d.typ = 'b'
		case "c", "u":
			d.typ = 'c'
		default:
			return nil, fmt.Errorf("linux.resources.devices[%d]: type %q is not a cgroup device type (a, b or c)", i, r.Type)
		}
		for _, f := range []struct {
			name string
			in   *int64
			out  *int64
		}{{"major", r.Major, &d.major}, {"minor", r.Minor, &d.minor}} {
			if f.in == nil || *f.in == -1 {
				continue
			}
			// The BPF program compares against a sign-extended 32-bit
			// immediate; real majors and minors are far smaller anyway.
			if *f.in < 0 || *f.in > math.MaxInt32 {
				return nil, fmt.Errorf("linux.resources.devices[%d]: invalid %s %d", i, f.name, *f.in)
			}
			*f.out = *f.in
		}
		access := r.Access
		if access == "" {
			access = "rwm"
		}
		// Letters other than r, w and m are ignored, as by runc.
		for _, c := range access {
			switch c {
			case 'r':
				d.access |= accRead
			case 'w':
				d.access |= accWrite
			case 'm':
				d.access |= accMknod
			}
		}
		if d.typ == 'a' {
			// The kernel treats every "a" rule as "all devices, all access",
			// whatever numbers or access it carries.
			d.major, d.minor, d.access = -1, -1, accAll
		}
		out = append(out, d)
	}
	if len(out) == 0 || out[0].typ != 'a' {
		out = append([]devRule{{typ: 'a', major: -1, minor: -1, access: accAll}}, out...)
	}
	return out, nil
}

// String formats the rule for devices.allow/devices.deny: "c 1:3 rwm".
func (d devRule) String() string {
	num := func(n int64) string {
		if n < 0 {
			return "*"
		}
		return strconv.FormatInt(n, 10)
	}
	var acc strings.Builder
	for _, a := range []struct {
		bit uint32
		c   byte
	}{{accRead, 'r'}, {accWrite, 'w'}, {accMknod, 'm'}} {
		if d.access&a.bit != 0 {
			acc.WriteByte(a.c)
		}
	}
	return string(d.typ) + " " + num(d.major) + ":" + num(d.minor) + " " + acc.String()
}

// devKey identifies an exception of a v1 devices cgroup.
type devKey struct {
	typ          byte
	major, minor int64
}

// devState is what a v1 devices cgroup holds: a default and the
// exceptions to it, each with its access bits.
type devState struct {
	allowDefault bool
	exceptions   map[devKey]uint32
}

// emulateDevicesV1 returns the state the kernel reaches when rules are
// written in order (devcgroup_update_access): an "a" rule sets the default
// and drops every exception; a rule against the default adds an exception
// (merging access into an identical one); a rule agreeing with the default
// takes its access away from the identical exception, if any.
func emulateDevicesV1(rules []devRule) devState {
	st := devState{exceptions: map[devKey]uint32{}}
	for _, r := range rules {
		if r.typ == 'a' {
			st.allowDefault = r.allow
			clear(st.exceptions)
			continue
		}
		k := devKey{r.typ, r.major, r.minor}
		if r.access == 0 {
			continue // only letters other than r, w, m: no access at all
		}
		if r.allow != st.allowDefault {
			st.exceptions[k] |= r.access
		} else if acc := st.exceptions[k] &^ r.access; acc != 0 {
			st.exceptions[k] = acc
		} else {
			delete(st.exceptions, k)
		}
	}
	return st
}

// parseDevicesList reads devices.list: "a *:* rwm" alone for a cgroup
// whose default is allow (its exceptions are not listed), otherwise one
// line per allowed exception ("c 1:3 rwm", "c 136:* rw").
func parseDevicesList(list string) (devState, error) {
	st := devState{exceptions: map[devKey]uint32{}}
	for _, line := range strings.Split(strings.TrimSpace(list), "\n") {
		if line == "" {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 3 || len(f[0]) != 1 {
			return st, fmt.Errorf("devices.list: unexpected line %q", line)
		}
		if f[0] == "a" {
			st.allowDefault = true
			continue
		}
		majS, minS, ok := strings.Cut(f[1], ":")
		if !ok {
			return st, fmt.Errorf("devices.list: unexpected line %q", line)
		}
		k := devKey{typ: f[0][0]}
		for _, n := range []struct {
			s string
			p *int64
		}{{majS, &k.major}, {minS, &k.minor}} {
			if n.s == "*" {
				*n.p = -1
			} else if v, err := strconv.ParseInt(n.s, 10, 64); err == nil {
				*n.p = v
			} else {
				return st, fmt.Errorf("devices.list: unexpected line %q", line)
			}
		}
		var acc uint32
		for _, c := range f[2] {
			switch c {
			case 'r':
				acc |= accRead
			case 'w':
				acc |= accWrite
			case 'm':
				acc |= accMknod
			}
		}
		st.exceptions[k] |= acc
	}
	return st, nil
}

// setDevicesV1 brings a v1 devices cgroup from the state devices.list
// shows to the one the rules describe, writing only the difference, as
// runc does (so that its devices.list reads the same): when the default
// changes, or the cgroup allows by default (its exceptions are not
// listed), a "deny all" or "allow all" first; then the access each
// listed exception loses, and last the access each exception gains, in
// runc's order (major, minor, type; "*" first). A new cgroup inherits
// its parent's allow-all, so create writes "a *:* rwm" to devices.deny
// and then the allowed devices.
func setDevicesV1(fs cgfs, dir string, rules []devRule) error {
	want := emulateDevicesV1(rules)
	have := devState{allowDefault: true}
	if list, err := fs.readFile(dir, "devices.list"); err == nil {
		if st, err := parseDevicesList(list); err == nil {
			have = st
		}
	}
	var writes []devRule
	if have.allowDefault || have.allowDefault != want.allowDefault {
		writes = append(writes, devRule{allow: want.allowDefault, typ: 'a', major: -1, minor: -1, access: accAll})
		have = devState{allowDefault: want.allowDefault}
	}
	for _, k := range sortedDevKeys(have.exceptions) {
		if drop := have.exceptions[k] &^ want.exceptions[k]; drop != 0 {
			writes = append(writes, devRule{allow: want.allowDefault, typ: k.typ, major: k.major, minor: k.minor, access: drop})
		}
	}
	for _, k := range sortedDevKeys(want.exceptions) {
		if add := want.exceptions[k] &^ have.exceptions[k]; add != 0 {
			writes = append(writes, devRule{allow: !want.allowDefault, typ: k.typ, major: k.major, minor: k.minor, access: add})
		}
	}
	// Consecutive rules for the same file share one open file.
	for i := 0; i < len(writes); {
		j := i
		var lines []string
		for ; j < len(writes) && writes[j].allow == writes[i].allow; j++ {
			lines = append(lines, writes[j].String())
		}
		name := "devices.deny"
		if writes[i].allow {
			name = "devices.allow"
		}
		if err := fs.writeLines(dir, name, lines); err != nil {
			return fmt.Errorf("linux.resources.devices: %w", err)
		}
		i = j
	}
	return nil
}

// sortedDevKeys orders exceptions by major, minor and type, "*" (-1)
// first, as runc writes them.
func sortedDevKeys(m map[devKey]uint32) []devKey {
	keys := make([]devKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b devKey) int {
		if c := cmp.Compare(a.major, b.major); c != 0 {
			return c
		}
		if c := cmp.Compare(a.minor, b.minor); c != 0 {
			return c
		}
		return cmp.Compare(a.typ, b.typ)
	})
	return keys
}
