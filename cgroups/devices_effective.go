package cgroups

import (
	"slices"
	"strings"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// DeviceAccess is one device, or class of devices, and the access a
// container has to it.
type DeviceAccess struct {
	// Type is 'b' (block) or 'c' (char).
	Type byte
	// Major and Minor are -1 for "any".
	Major, Minor int64
	// Access is a combination of "r", "w" and "m", in that order.
	Access string
}

// EffectiveDevices validates linux.resources.devices and returns what a
// v1 devices cgroup holds once the rules are written in order (as husk
// does on v1 and emulates in its v2 program): whether devices are
// allowed by default, and the exceptions to that default, sorted. The
// systemd driver turns this into DevicePolicy and DeviceAllow.
func EffectiveDevices(rules []rspec.LinuxDeviceCgroup) (allowDefault bool, exceptions []DeviceAccess, err error) {
	parsed, err := parseDeviceRules(rules)
	if err != nil {
		return false, nil, err
	}
	st := emulateDevicesV1(parsed)
	for k, acc := range st.exceptions {
		r := devRule{typ: k.typ, major: k.major, minor: k.minor, access: acc}
		s := r.String()
		exceptions = append(exceptions, DeviceAccess{Type: k.typ, Major: k.major, Minor: k.minor, Access: s[strings.LastIndexByte(s, ' ')+1:]})
	}
	slices.SortFunc(exceptions, func(a, b DeviceAccess) int {
		if a.Type != b.Type {
			return int(a.Type) - int(b.Type)
		}
		if a.Major != b.Major {
			return cmpInt(a.Major, b.Major)
		}
		return cmpInt(a.Minor, b.Minor)
	})
	return st.allowDefault, exceptions, nil
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
