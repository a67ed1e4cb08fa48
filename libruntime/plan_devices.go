package libruntime

import (
	"fmt"
	"os"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/libruntime/initproc"
)

func devMode(perm os.FileMode) *os.FileMode { return &perm }

// defaultDevices are the nodes every container gets, as the runtime spec
// asks ("Default Devices").
var defaultDevices = []rspec.LinuxDevice{
	{Path: "/dev/null", Type: "c", Major: 1, Minor: 3, FileMode: devMode(0o666)},
	{Path: "/dev/zero", Type: "c", Major: 1, Minor: 5, FileMode: devMode(0o666)},
	{Path: "/dev/full", Type: "c", Major: 1, Minor: 7, FileMode: devMode(0o666)},
	{Path: "/dev/random", Type: "c", Major: 1, Minor: 8, FileMode: devMode(0o666)},
	{Path: "/dev/urandom", Type: "c", Major: 1, Minor: 9, FileMode: devMode(0o666)},
	{Path: "/dev/tty", Type: "c", Major: 5, Minor: 0, FileMode: devMode(0o666)},
}

// needsDevSetup: unless the config binds a /dev from elsewhere, husk
// populates the container's /dev.
func (p *planner) needsDevSetup() bool {
	for i := range p.spec.Mounts {
		m := &p.spec.Mounts[i]
		if inRoot(m.Destination) == "dev" && isBind(m) {
			return false
		}
	}
	return true
}

// containerDevices is the default devices overridden and extended by
// linux.devices; index is the linux.devices index, -1 for a default.
type containerDevice struct {
	dev   rspec.LinuxDevice
	index int
}

func (p *planner) containerDevices() []containerDevice {
	return containerDevices(p.spec)
}

func containerDevices(s *rspec.Spec) []containerDevice {
	var devs []containerDevice
	byPath := map[string]int{}
	for _, d := range defaultDevices {
		byPath[d.Path] = len(devs)
		devs = append(devs, containerDevice{d, -1})
	}
	if s.Linux != nil {
		for i, d := range s.Linux.Devices {
			if j, ok := byPath[d.Path]; ok {
				devs[j] = containerDevice{d, i}
				continue
			}
			byPath[d.Path] = len(devs)
			devs = append(devs, containerDevice{d, i})
		}
	}
	return devs
}

func deviceTypeBits(t string) uint32 {
	switch t {
	case "b":
		return unix.S_IFBLK
	case "p":
		return unix.S_IFIFO
	default: // "c", "u"
		return unix.S_IFCHR
	}
}

// devices compiles the device nodes and the /dev symlinks.
func (p *planner) devices() {
	if !p.needsDevSetup() {
		return
	}
	for _, cd := range p.containerDevices() {
		d := cd.dev
		what := fmt.Sprintf("linux.devices[%d] (%s)", cd.index, d.Path)
		if cd.index < 0 {
			what = "default device " + d.Path
		}
		path := inRoot(d.Path)
		if p.userns {
			// mknod is refused in a user namespace: bind the host's node.
			p.add(what, initproc.BindDev{Path: path, HostPath: d.Path})
			continue
		}
		perm := uint32(0o666)
		if d.FileMode != nil {
			perm = uint32(d.FileMode.Perm())
		}
		var uid, gid uint32
		if d.UID != nil {
			uid = *d.UID
		}
		if d.GID != nil {
			gid = *d.GID
		}
		p.add(what, initproc.Mknod{
			Path: path,
			Mode: int64(deviceTypeBits(d.Type) | perm),
			Dev:  int64(unix.Mkdev(uint32(d.Major), uint32(d.Minor))),
			UID:  int64(uid), GID: int64(gid),
		})
	}
	links := [][2]string{
		{"/proc/self/fd", "dev/fd"},
		{"/proc/self/fd/0", "dev/stdin"},
		{"/proc/self/fd/1", "dev/stdout"},
		{"/proc/self/fd/2", "dev/stderr"},
	}
	if p.host.exists("/proc/kcore") {
		links = append(links, [2]string{"/proc/kcore", "dev/core"})
	}
	// As runc: /dev/ptmx is the devpts instance's, even without a devpts
	// mount in the config (then it dangles), unless a device is given.
	if !p.hasDevice("/dev/ptmx") {
		links = append(links, [2]string{"pts/ptmx", "dev/ptmx"})
	}
	for _, l := range links {
		p.add("/"+l[1], initproc.Symlink{Target: l[0], Link: l[1]})
	}
}

func (p *planner) hasDevice(path string) bool {
	if p.spec.Linux == nil {
		return false
	}
	for _, d := range p.spec.Linux.Devices {
		if d.Path == path {
			return true
		}
	}
	return false
}
