package systemd

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/husk-runtime/husk/cgroups"
)

// versionDeviceMajor is the systemd that takes a major number in
// DeviceAllow ("char-136"); older ones only know /proc/devices names.
const versionDeviceMajor = 240

// deviceProperties turns the device rules into DevicePolicy and
// DeviceAllow. systemd only knows allow lists: a container that may use
// every device gets DevicePolicy=auto; otherwise "strict" with one
// DeviceAllow per exception. What systemd cannot express (a deny list,
// "c *:5" rules, a major without a /proc/devices group before systemd
// 240) is left to the
// cgroupfs write that follows, which holds the exact rules (as runc).
func (c *converter) deviceProperties(rules []rspec.LinuxDeviceCgroup) ([]Property, error) {
	allowAll, exceptions, err := cgroups.EffectiveDevices(rules)
	if err != nil {
		return nil, err
	}
	if allowAll {
		if len(exceptions) == 0 {
			return []Property{{"DevicePolicy", "auto"}, {"DeviceAllow", []DeviceAllow{}}}, nil
		}
		c.warnf("linux.resources.devices: systemd has no deny rules: its DevicePolicy denies all, the cgroupfs rules allow the rest")
		return []Property{{"DevicePolicy", "strict"}, {"DeviceAllow", []DeviceAllow{}}}, nil
	}
	// An empty DeviceAllow first clears what the unit had (on update).
	props := []Property{{"DevicePolicy", "strict"}, {"DeviceAllow", []DeviceAllow{}}}
	for _, e := range exceptions {
		kind := "char"
		if e.Type == 'b' {
			kind = "block"
		}
		var path string
		switch {
		case e.Major < 0 && e.Minor < 0:
			path = kind + "-*"
		case e.Major < 0:
			c.warnf("linux.resources.devices: systemd has no rule for %c *:%d: left to the cgroupfs rules", e.Type, e.Minor)
			continue
		case e.Minor < 0 && c.version >= versionDeviceMajor:
			path = fmt.Sprintf("%s-%d", kind, e.Major)
		case e.Minor < 0:
			group, err := c.deviceGroup(e.Type, e.Major)
			if err != nil {
				return nil, err
			}
			if group == "" {
				c.warnf("linux.resources.devices: major %d has no group in /proc/devices for systemd: left to the cgroupfs rules", e.Major)
				continue
			}
			path = group
		default:
			path = fmt.Sprintf("/dev/%s/%d:%d", kind, e.Major, e.Minor)
		}
		props = append(props, Property{"DeviceAllow", []DeviceAllow{{Path: path, Perms: e.Access}}})
	}
	return props, nil
}

// deviceGroupIn finds the group systemd names a major by ("char-pts" for
// char major 136) in the text of /proc/devices, "" if none.
func deviceGroupIn(procDevices string, typ byte, major int64) string {
	want := "Character devices:"
	kind := "char-"
	if typ == 'b' {
		want, kind = "Block devices:", "block-"
	}
	in := false
	sc := bufio.NewScanner(strings.NewReader(procDevices))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasSuffix(line, ":") {
			in = line == want
			continue
		}
		if !in {
			continue
		}
		num, name, ok := strings.Cut(line, " ")
		if n, err := strconv.ParseInt(num, 10, 64); ok && err == nil && n == major {
			return kind + strings.TrimSpace(name)
		}
	}
	return ""
}
