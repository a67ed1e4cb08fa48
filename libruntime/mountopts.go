package libruntime

import (
	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// mountOpts is a config.json mount's options, sorted by how the new mount
// API applies them.
type mountOpts struct {
	bind, rec bool
	// Attributes of the top mount (MOUNT_ATTR_*), and of the whole tree
	// (the r-prefixed options: rro, rnosuid, ...; binds only).
	set, clr       uint64
	recSet, recClr uint64
	// Propagation (MS_SHARED, ...) and whether it applies recursively.
	prop    uint64
	propRec bool
	// Filesystem options for fsconfig: "mode=755", "newinstance", "sync".
	// On a bind they have no filesystem to go to: the planner refuses
	// them, as runc does.
	data []string
	// copyUp (tmpcopyup): a new tmpfs starts with a copy of what the
	// directory it covers holds.
	copyUp bool
	// idmap (idmap, ridmap): an id-mapped bind; idmapRec maps every mount
	// of an rbind, not only the top one.
	idmap, idmapRec bool
	// remount was asked: a remount has no meaning in a config.
	remount bool
}

type attrOpt struct {
	set, clr uint64
}

// Options that map to mount attributes. An atime mode replaces the whole
// atime field, so setting one also clears the others. As mount(8) and
// runc, "norelatime" and "nostrictatime" only drop a flag that is not
// given: they change nothing (a new mount is relatime, a bind keeps its
// source's atime mode).
var attrOpts = map[string]attrOpt{
	"ro":            {unix.MOUNT_ATTR_RDONLY, 0},
	"rw":            {0, unix.MOUNT_ATTR_RDONLY},
	"nosuid":        {unix.MOUNT_ATTR_NOSUID, 0},
	"suid":          {0, unix.MOUNT_ATTR_NOSUID},
	"nodev":         {unix.MOUNT_ATTR_NODEV, 0},
	"dev":           {0, unix.MOUNT_ATTR_NODEV},
	"noexec":        {unix.MOUNT_ATTR_NOEXEC, 0},
	"exec":          {0, unix.MOUNT_ATTR_NOEXEC},
	"nosymfollow":   {unix.MOUNT_ATTR_NOSYMFOLLOW, 0},
	"symfollow":     {0, unix.MOUNT_ATTR_NOSYMFOLLOW},
	"nodiratime":    {unix.MOUNT_ATTR_NODIRATIME, 0},
	"diratime":      {0, unix.MOUNT_ATTR_NODIRATIME},
	"noatime":       {unix.MOUNT_ATTR_NOATIME, unix.MOUNT_ATTR__ATIME},
	"relatime":      {unix.MOUNT_ATTR_RELATIME, unix.MOUNT_ATTR__ATIME},
	"strictatime":   {unix.MOUNT_ATTR_STRICTATIME, unix.MOUNT_ATTR__ATIME},
	"atime":         {unix.MOUNT_ATTR_RELATIME, unix.MOUNT_ATTR__ATIME},
	"norelatime":    {0, 0},
	"nostrictatime": {0, 0},
}

// Recursive attributes (mount_setattr with AT_RECURSIVE), as runc reads
// them: the "r" form of a clearing option clears the flag, and any atime
// option clears the whole atime field first (the kernel wants
// MOUNT_ATTR__ATIME in attr_clr to change it), so "ratime",
// "rnorelatime" and "rnostrictatime" leave every mount strictatime.
var recAttrOpts = map[string]attrOpt{
	"rro":            {unix.MOUNT_ATTR_RDONLY, 0},
	"rrw":            {0, unix.MOUNT_ATTR_RDONLY},
	"rnosuid":        {unix.MOUNT_ATTR_NOSUID, 0},
	"rsuid":          {0, unix.MOUNT_ATTR_NOSUID},
	"rnodev":         {unix.MOUNT_ATTR_NODEV, 0},
	"rdev":           {0, unix.MOUNT_ATTR_NODEV},
	"rnoexec":        {unix.MOUNT_ATTR_NOEXEC, 0},
	"rexec":          {0, unix.MOUNT_ATTR_NOEXEC},
	"rnosymfollow":   {unix.MOUNT_ATTR_NOSYMFOLLOW, 0},
	"rsymfollow":     {0, unix.MOUNT_ATTR_NOSYMFOLLOW},
	"rnodiratime":    {unix.MOUNT_ATTR_NODIRATIME, 0},
	"rdiratime":      {0, unix.MOUNT_ATTR_NODIRATIME},
	"rrelatime":      {unix.MOUNT_ATTR_RELATIME, unix.MOUNT_ATTR__ATIME},
	"rnorelatime":    {0, unix.MOUNT_ATTR__ATIME},
	"rnoatime":       {unix.MOUNT_ATTR_NOATIME, unix.MOUNT_ATTR__ATIME},
	"ratime":         {0, unix.MOUNT_ATTR__ATIME},
	"rstrictatime":   {unix.MOUNT_ATTR_STRICTATIME, unix.MOUNT_ATTR__ATIME},
	"rnostrictatime": {0, unix.MOUNT_ATTR__ATIME},
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

// isBind tells whether a mount is a bind: the "bind" or "rbind" option
// makes it one, whatever its type (as in runc; a type "bind" without
// either option is a filesystem type the kernel does not know).
func isBind(m *rspec.Mount) bool {
	for _, o := range m.Options {
		if o == "bind" || o == "rbind" {
			return true
		}
	}
	return false
}

// parseMountOptions sorts a mount's options. Unknown options are data for
// the filesystem, which rejects what it does not know with a message the
// user sees (a bind, which has none, refuses them: see the planner).
func parseMountOptions(m *rspec.Mount) mountOpts {
	var o mountOpts
	o.bind = isBind(m)
	for _, opt := range m.Options {
		switch {
		case opt == "bind":
		case opt == "rbind":
			o.rec = true
		case noopOpts[opt]:
		case opt == "idmap":
			o.idmap = true
		case opt == "ridmap":
			o.idmap, o.idmapRec = true, true
		case opt == "tmpcopyup":
			o.copyUp = true
		case opt == "remount":
			o.remount = true
		default:
			if a, ok := attrOpts[opt]; ok {
				o.set = o.set&^a.clr | a.set
				o.clr = o.clr&^a.set | a.clr
				continue
			}
			if a, ok := recAttrOpts[opt]; ok {
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
			o.data = append(o.data, opt)
		}
	}
	// Recursive attributes are applied to binds only (runc ignores them
	// on a new filesystem, which has no mounts below it yet anyway).
	if !o.bind {
		o.recSet, o.recClr = 0, 0
	}
	// Each option already cleared its bits from the other set. clr keeps
	// the whole atime field when an atime mode is set: the kernel wants
	// MOUNT_ATTR__ATIME in attr_clr to change it.
	return o
}

// fsmountAttrs is what fsmount(2) accepts for a new filesystem: only set
// bits (a new mount has no attributes to clear).
func (o *mountOpts) fsmountAttrs() uint64 {
	return o.set | o.recSet
}

// knownMountOptions are the options husk understands, for `husk
// features`: those it reads itself (the rest go to the filesystem).
func knownMountOptions() []string {
	out := []string{"bind", "rbind", "tmpcopyup", "remount"}
	for _, m := range []map[string]attrOpt{attrOpts, recAttrOpts} {
		for o := range m {
			out = append(out, o)
		}
	}
	for o := range propOpts {
		out = append(out, o)
	}
	for o := range sbOpts {
		out = append(out, o)
	}
	for o := range noopOpts {
		out = append(out, o)
	}
	return out
}
