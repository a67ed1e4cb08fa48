package parity

import (
	"flag"
	"fmt"
	"reflect"
	"strings"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

var selectCases = flag.String("select", "all", "which cases run: all, or cgroup (those whose observations "+
	"depend on the cgroup hierarchy, plus every "+itoa(sampleEvery)+"th of the rest of each family: the cgroup v2 VM of make v2host)")

// sampleEvery: with -select=cgroup, one case in sampleEvery of each
// family's cases that do not touch cgroups still runs, in the order of
// the family's table, so every family is seen on the other hierarchy.
const sampleEvery = 50

// selection decides which cases run; nil runs all.
func selection() (func(c *Case) bool, error) {
	switch *selectCases {
	case "all":
		return nil, nil
	case "cgroup":
		seen := map[string]int{}
		return func(c *Case) bool {
			if touchesCgroups(c) {
				return true
			}
			fam, _, _ := strings.Cut(c.Name, "/")
			n := seen[fam]
			seen[fam]++
			return n%sampleEvery == 0
		}, nil
	}
	return nil, fmt.Errorf("-select %q: want all or cgroup", *selectCases)
}

// cgroupWords are what a case's script or commands hold when what they
// show comes from the cgroup hierarchy: /proc/self/cgroup, /sys/fs/cgroup,
// exec --cgroup, --systemd-cgroup, the mount table where it lists the
// cgroup mounts.
var cgroupWords = []string{"/proc/self/cgroup", "/sys/fs/cgroup", "-cgroup", pMounts, pMountAt("/"), pMountAt("/sys")}

// cgroupCommands are the runtime commands that work on the container's
// cgroup (kill --all and exec --cgroup are found by their flags), and
// spec, whose config has a cgroup namespace on a cgroup v2 host.
var cgroupCommands = map[string]bool{"pause": true, "resume": true, "update": true, "events": true, "ps": true, "spec": true}

// touchesCgroups tells whether a case's observations can differ between
// a cgroup v1 (or hybrid) host and a cgroup v2 one: the cgroup and update
// families, a script or command that reads cgroups, commands on the
// container's cgroup, cgroup files read on the host, and configs that
// change resources, the cgroup path, the cgroup namespace, device nodes
// (device rules) or the mounts under /sys.
func touchesCgroups(c *Case) bool {
	fam, _, _ := strings.Cut(c.Name, "/")
	if fam == "cgroups" || fam == "update" || containsAny(c.Script, cgroupWords) {
		return true
	}
	for _, st := range c.steps() {
		switch st := st.(type) {
		case CgroupFiles:
			return true
		case Cmd:
			if st.Out == OutHelp {
				continue
			}
			all := strings.Join(append(append([]string(nil), st.Global...), st.Args...), " ")
			if (len(st.Args) > 0 && cgroupCommands[st.Args[0]]) || containsAny(all, cgroupWords) ||
				strings.Contains(" "+all+" ", " --all ") {
				return true
			}
		}
	}
	if c.Spec == nil {
		return false
	}
	base, s := baseSpec(), baseSpec()
	c.Spec(s)
	if s.Linux == nil {
		return true
	}
	if !reflect.DeepEqual(base.Linux.Resources, s.Linux.Resources) || base.Linux.CgroupsPath != s.Linux.CgroupsPath ||
		!reflect.DeepEqual(base.Linux.Devices, s.Linux.Devices) {
		return true
	}
	for _, n := range s.Linux.Namespaces {
		if n.Type == "cgroup" {
			return true
		}
	}
	return !reflect.DeepEqual(sysMounts(base), sysMounts(s))
}

// sysMounts are the config's mounts at or below /sys.
func sysMounts(s *rspec.Spec) []rspec.Mount {
	var out []rspec.Mount
	for _, m := range s.Mounts {
		if m.Destination == "/sys" || strings.HasPrefix(m.Destination, "/sys/") {
			out = append(out, m)
		}
	}
	return out
}

func containsAny(s string, words []string) bool {
	for _, w := range words {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}
