package cgroups

import (
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
		for _, c := range access {
			switch c {
			case 'r':
				d.access |= accRead
			case 'w':
				d.access |= accWrite
			case 'm':
				d.access |= accMknod
			default:
				return nil, fmt.Errorf("linux.resources.devices[%d]: invalid access %q (want a combination of r, w, m)", i, r.Access)
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

// setDevicesV1 writes the rules in order, each to devices.allow or
// devices.deny; consecutive rules for the same file share one open file.
func setDevicesV1(fs cgfs, dir string, rules []devRule) error {
	for i := 0; i < len(rules); {
		j := i
		var lines []string
		for ; j < len(rules) && rules[j].allow == rules[i].allow; j++ {
			lines = append(lines, rules[j].String())
		}
		name := "devices.deny"
		if rules[i].allow {
			name = "devices.allow"
		}
		if err := fs.writeLines(dir, name, lines); err != nil {
			return fmt.Errorf("linux.resources.devices: %w", err)
		}
		i = j
	}
	return nil
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

// updateDevicesV1 changes the rules of a running container's v1 devices
// cgroup. Writing them all again would start with "deny all" and leave
// the container without its devices until the allows follow; when both
// the current and the new rules deny by default, only the difference is
// written instead, allows first, as runc does. Otherwise (the default
// itself changes, or is allow, whose exceptions devices.list does not
// show) the rules are written in full.
func updateDevicesV1(fs cgfs, dir string, rules []devRule) error {
	want := emulateDevicesV1(rules)
	if want.allowDefault {
		return setDevicesV1(fs, dir, rules)
	}
	list, err := fs.readFile(dir, "devices.list")
	if err != nil {
		return fmt.Errorf("linux.resources.devices: %w", err)
	}
	have, err := parseDevicesList(list)
	if err != nil || have.allowDefault {
		return setDevicesV1(fs, dir, rules)
	}
	var diff []devRule
	for k, acc := range want.exceptions {
		if add := acc &^ have.exceptions[k]; add != 0 {
			diff = append(diff, devRule{allow: true, typ: k.typ, major: k.major, minor: k.minor, access: add})
		}
	}
	for k, acc := range have.exceptions {
		if drop := acc &^ want.exceptions[k]; drop != 0 {
			diff = append(diff, devRule{typ: k.typ, major: k.major, minor: k.minor, access: drop})
		}
	}
	// Map order is random: sort within allows and denies for stable
	// writes (and tests).
	slices.SortStableFunc(diff, func(a, b devRule) int {
		if a.allow != b.allow {
			if a.allow {
				return -1
			}
			return 1
		}
		return strings.Compare(a.String(), b.String())
	})
	return setDevicesV1(fs, dir, diff)
}
