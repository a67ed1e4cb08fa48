package libruntime

import (
	"fmt"
	"strings"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// mountOpts is a config.json mount's options, sorted by how the new mount
// API applies them.
type mountOpts struct {
	bind, rec bool
	// Attributes of the top mount (MOUNT_ATTR_*), and of the whole tree
	// (the r-prefixed options: rro, rnosuid, ...).
	set, clr       uint64
	recSet, recClr uint64
	// Propagation (MS_SHARED, ...) and whether it applies recursively.
	prop    uint64
	propRec bool
	// Filesystem options for fsconfig: "mode=755", "newinstance", "sync".
	data []string
}

type attrOpt struct {
	set, clr uint64
}

// Options that map to mount attributes. An atime mode replaces the whole
// atime field, so setting one also clears the others.
var attrOpts = map[string]attrOpt{
	"ro":            {unix.MOUNT_ATTR_RDONLY, 0},
	"rw":            {0, unix.MOUNT_ATTR_RDONLY},
	"nosuid":        {unix.MOUNT_ATTR_NOSUID, 0},
	"suid":          {0, unix.MOUNT_ATTR_NOSUID},
	"nodev":         {unix.MOUNT_ATTR_NODEV, 0},
	"dev":           {0, unix.MOUNT_ATTR_NODEV},
	"noexec":        {unix.MOUNT_ATTR_NOEXEC, 0},
	"exec":          {0, unix.MOUNT_ATTR_NOEXEC},
	"nodiratime":    {unix.MOUNT_ATTR_NODIRATIME, 0},
	"diratime":      {0, unix.MOUNT_ATTR_NODIRATIME},
	"noatime":       {unix.MOUNT_ATTR_NOATIME, unix.MOUNT_ATTR__ATIME},
	"relatime":      {unix.MOUNT_ATTR_RELATIME, unix.MOUNT_ATTR__ATIME},
	"strictatime":   {unix.MOUNT_ATTR_STRICTATIME, unix.MOUNT_ATTR__ATIME},
	"atime":         {unix.MOUNT_ATTR_RELATIME, unix.MOUNT_ATTR__ATIME},
	"norelatime":    {unix.MOUNT_ATTR_STRICTATIME, unix.MOUNT_ATTR__ATIME},
	"nostrictatime": {unix.MOUNT_ATTR_RELATIME, unix.MOUNT_ATTR__ATIME},
}

var propOpts = map[string]struct {
	flag uint64
	rec  bool
}{
	"shared":      {unix.MS_SHARED, false},
	"rshared":     {unix.MS_SHARED, true},
	"slave":       {unix.MS_SLAVE, false},
	"rslave":      {unix.MS_SLAVE, true},
	"private":     {unix.MS_PRIVATE, false},
	"rprivate":    {unix.MS_PRIVATE, true},
	"unbindable":  {unix.MS_UNBINDABLE, false},
	"runbindable": {unix.MS_UNBINDABLE, true},
}

// Superblock flags: meaningful for a new filesystem (passed to fsconfig),
// meaningless for a bind, where they are dropped.
var sbOpts = map[string]bool{
	"sync": true, "async": true, "dirsync": true, "mand": true, "nomand": true,
	"lazytime": true, "nolazytime": true,
}

// Options with no effect that clients still send.
var noopOpts = map[string]bool{
	"defaults": true, "silent": true, "loud": true, "iversion": true, "noiversion": true,
}

func isBind(m *rspec.Mount) bool {
	if m.Type == "bind" {
		return true
	}
	for _, o := range m.Options {
		if o == "bind" || o == "rbind" {
			return true
		}
	}
	return false
}

// parseMountOptions sorts a mount's options. Unknown options are passed to
// the filesystem, which rejects what it does not know with a message the
// user sees.
func parseMountOptions(m *rspec.Mount) (mountOpts, error) {
	var o mountOpts
	o.bind = isBind(m)
	for _, opt := range m.Options {
		switch {
		case opt == "bind":
		case opt == "rbind":
			o.rec = true
		case noopOpts[opt]:
		case opt == "idmap" || opt == "ridmap":
			return o, fmt.Errorf("option %q: id-mapped mounts are not supported yet", opt)
		case opt == "remount":
			return o, fmt.Errorf("option %q: remounting is not supported in config.json", opt)
		default:
			if a, ok := attrOpts[opt]; ok {
				o.set = o.set&^a.clr | a.set
				o.clr = o.clr&^a.set | a.clr
				continue
			}
			if a, ok := attrOpts[strings.TrimPrefix(opt, "r")]; ok && strings.HasPrefix(opt, "r") {
				o.recSet = o.recSet&^a.clr | a.set
				o.recClr = o.recClr&^a.set | a.clr
				continue
			}
			if p, ok := propOpts[opt]; ok {
				o.prop, o.propRec = p.flag, p.rec
				continue
			}
			if sbOpts[opt] && o.bind {
				continue
			}
			if o.bind {
				// A bind has no filesystem to hand options to; runc ignores them too.
				continue
			}
			o.data = append(o.data, opt)
		}
	}
	// Each option already cleared its bits from the other set. clr keeps
	// the whole atime field when an atime mode is set: the kernel wants
	// MOUNT_ATTR__ATIME in attr_clr to change it.
	return o, nil
}

// fsmountAttrs is what fsmount(2) accepts for a new filesystem: only set
// bits (a new mount has no attributes to clear).
func (o *mountOpts) fsmountAttrs() uint64 {
	return o.set | o.recSet
}
