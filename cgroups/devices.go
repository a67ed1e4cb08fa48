package cgroups

import (
	"fmt"
	"math"
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
