package specs

// fastDecode's decoders for the platform-independent part of config.json:
// Spec, Process, Root, Mount, Hooks. Each struct decoder switches on the
// exact JSON names of the struct's fields; anything else goes to
// d.Unknown with the full list of the struct's JSON names, so a key
// encoding/json would match case-insensitively sends the whole document
// to encoding/json instead of being skipped. TestFastDecodeFieldLists
// checks the lists against the struct tags.
//
// Non-pointer struct decoders start with d.Null(): for encoding/json a
// null struct is a no-op.

import (
	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/husk-runtime/husk/internal/fastjson"
)

// specFields includes the sections of other platforms: they are not
// decoded here, so their presence (even case-folded) means !ok.
var specFields = []string{"ociVersion", "process", "root", "hostname", "domainname", "mounts", "hooks", "annotations",
	"linux", "solaris", "windows", "vm", "zos", "freebsd"}

func fdSpec(d *fastjson.Decoder, s *rspec.Spec) {
	if d.Null() {
		return
	}
	for more := d.ObjStart(); more; more = d.ObjNext() {
		switch k := d.Key(); k {
		case "ociVersion":
			fastjson.String(d, &s.Version)
		case "process":
			fastjson.Ptr(d, &s.Process, fdProcess)
		case "root":
			fastjson.Ptr(d, &s.Root, fdRoot)
		case "hostname":
			fastjson.String(d, &s.Hostname)
		case "domainname":
			fastjson.String(d, &s.Domainname)
		case "mounts":
			fastjson.Slice(d, &s.Mounts, fdMount)
		case "hooks":
			fastjson.Ptr(d, &s.Hooks, fdHooks)
		case "annotations":
			fastjson.Map(d, &s.Annotations, fastjson.String[string])
		case "linux":
			fastjson.Ptr(d, &s.Linux, fdLinux)
		default:
			d.Unknown(k, specFields)
		}
	}
}

var processFields = []string{"terminal", "consoleSize", "user", "args", "commandLine", "env", "cwd", "capabilities",
	"rlimits", "noNewPrivileges", "apparmorProfile", "oomScoreAdj", "scheduler", "selinuxLabel", "ioPriority",
	"execCPUAffinity"}

func fdProcess(d *fastjson.Decoder, p *rspec.Process) {
	if d.Null() {
		return
	}
	for more := d.ObjStart(); more; more = d.ObjNext() {
		switch k := d.Key(); k {
		case "terminal":
			fastjson.Bool(d, &p.Terminal)
		case "consoleSize":
			fastjson.Ptr(d, &p.ConsoleSize, fdBox)
		case "user":
			fdUser(d, &p.User)
		case "args":
			fastjson.Slice(d, &p.Args, fastjson.String[string])
		case "commandLine": // Windows only, but a plain string
			fastjson.String(d, &p.CommandLine)
		case "env":
			fastjson.Slice(d, &p.Env, fastjson.String[string])
		case "cwd":
			fastjson.String(d, &p.Cwd)
		case "capabilities":
			fastjson.Ptr(d, &p.Capabilities, fdCapabilities)
		case "rlimits":
			fastjson.Slice(d, &p.Rlimits, fdRlimit)
		case "noNewPrivileges":
			fastjson.Bool(d, &p.NoNewPrivileges)
		case "apparmorProfile":
			fastjson.String(d, &p.ApparmorProfile)
		case "oomScoreAdj":
			fastjson.Ptr(d, &p.OOMScoreAdj, fastjson.Int[int])
		case "scheduler":
			fastjson.Ptr(d, &p.Scheduler, fdScheduler)
		case "selinuxLabel":
			fastjson.String(d, &p.SelinuxLabel)
		case "ioPriority":
			fastjson.Ptr(d, &p.IOPriority, fdIOPriority)
		case "execCPUAffinity":
			fastjson.Ptr(d, &p.ExecCPUAffinity, fdCPUAffinity)
		default:
			d.Unknown(k, processFields)
		}
	}
}

var boxFields = []string{"height", "width"}

func fdBox(d *fastjson.Decoder, b *rspec.Box) {
	if d.Null() {
		return
	}
	for more := d.ObjStart(); more; more = d.ObjNext() {
		switch k := d.Key(); k {
		case "height":
			fastjson.Uint(d, &b.Height)
		case "width":
			fastjson.Uint(d, &b.Width)
		default:
			d.Unknown(k, boxFields)
		}
	}
}

var userFields = []string{"uid", "gid", "umask", "additionalGids", "username"}

func fdUser(d *fastjson.Decoder, u *rspec.User) {
	if d.Null() {
		return
	}
	for more := d.ObjStart(); more; more = d.ObjNext() {
		switch k := d.Key(); k {
		case "uid":
			fastjson.Uint(d, &u.UID)
		case "gid":
			fastjson.Uint(d, &u.GID)
		case "umask":
			fastjson.Ptr(d, &u.Umask, fastjson.Uint[uint32])
		case "additionalGids":
			fastjson.Slice(d, &u.AdditionalGids, fastjson.Uint[uint32])
		case "username": // Windows only, but a plain string
			fastjson.String(d, &u.Username)
		default:
			d.Unknown(k, userFields)
		}
	}
}

var capabilitiesFields = []string{"bounding", "effective", "inheritable", "permitted", "ambient"}

func fdCapabilities(d *fastjson.Decoder, c *rspec.LinuxCapabilities) {
	if d.Null() {
		return
	}
	for more := d.ObjStart(); more; more = d.ObjNext() {
		switch k := d.Key(); k {
		case "bounding":
			fastjson.Slice(d, &c.Bounding, fastjson.String[string])
		case "effective":
			fastjson.Slice(d, &c.Effective, fastjson.String[string])
		case "inheritable":
			fastjson.Slice(d, &c.Inheritable, fastjson.String[string])
		case "permitted":
			fastjson.Slice(d, &c.Permitted, fastjson.String[string])
		case "ambient":
			fastjson.Slice(d, &c.Ambient, fastjson.String[string])
		default:
			d.Unknown(k, capabilitiesFields)
		}
	}
}

var rlimitFields = []string{"type", "hard", "soft"}

func fdRlimit(d *fastjson.Decoder, r *rspec.POSIXRlimit) {
	if d.Null() {
		return
	}
	for more := d.ObjStart(); more; more = d.ObjNext() {
		switch k := d.Key(); k {
		case "type":
			fastjson.String(d, &r.Type)
		case "hard":
			fastjson.Uint(d, &r.Hard)
		case "soft":
			fastjson.Uint(d, &r.Soft)
		default:
			d.Unknown(k, rlimitFields)
		}
	}
}

var schedulerFields = []string{"policy", "nice", "priority", "flags", "runtime", "deadline", "period"}

func fdScheduler(d *fastjson.Decoder, s *rspec.Scheduler) {
	if d.Null() {
		return
	}
	for more := d.ObjStart(); more; more = d.ObjNext() {
		switch k := d.Key(); k {
		case "policy":
			fastjson.String(d, &s.Policy)
		case "nice":
			fastjson.Int(d, &s.Nice)
		case "priority":
			fastjson.Int(d, &s.Priority)
		case "flags":
			fastjson.Slice(d, &s.Flags, fastjson.String[rspec.LinuxSchedulerFlag])
		case "runtime":
			fastjson.Uint(d, &s.Runtime)
		case "deadline":
			fastjson.Uint(d, &s.Deadline)
		case "period":
			fastjson.Uint(d, &s.Period)
		default:
			d.Unknown(k, schedulerFields)
		}
	}
}

var ioPriorityFields = []string{"class", "priority"}

func fdIOPriority(d *fastjson.Decoder, p *rspec.LinuxIOPriority) {
	if d.Null() {
		return
	}
	for more := d.ObjStart(); more; more = d.ObjNext() {
		switch k := d.Key(); k {
		case "class":
			fastjson.String(d, &p.Class)
		case "priority":
			fastjson.Int(d, &p.Priority)
		default:
			d.Unknown(k, ioPriorityFields)
		}
	}
}

var cpuAffinityFields = []string{"initial", "final"}

func fdCPUAffinity(d *fastjson.Decoder, a *rspec.CPUAffinity) {
	if d.Null() {
		return
	}
	for more := d.ObjStart(); more; more = d.ObjNext() {
		switch k := d.Key(); k {
		case "initial":
			fastjson.String(d, &a.Initial)
		case "final":
			fastjson.String(d, &a.Final)
		default:
			d.Unknown(k, cpuAffinityFields)
		}
	}
}

var rootFields = []string{"path", "readonly"}

func fdRoot(d *fastjson.Decoder, r *rspec.Root) {
	if d.Null() {
		return
	}
	for more := d.ObjStart(); more; more = d.ObjNext() {
		switch k := d.Key(); k {
		case "path":
			fastjson.String(d, &r.Path)
		case "readonly":
			fastjson.Bool(d, &r.Readonly)
		default:
			d.Unknown(k, rootFields)
		}
	}
}

var mountFields = []string{"destination", "type", "source", "options", "uidMappings", "gidMappings"}

func fdMount(d *fastjson.Decoder, m *rspec.Mount) {
	if d.Null() {
		return
	}
	for more := d.ObjStart(); more; more = d.ObjNext() {
		switch k := d.Key(); k {
		case "destination":
			fastjson.String(d, &m.Destination)
		case "type":
			fastjson.String(d, &m.Type)
		case "source":
			fastjson.String(d, &m.Source)
		case "options":
			fastjson.Slice(d, &m.Options, fastjson.String[string])
		case "uidMappings":
			fastjson.Slice(d, &m.UIDMappings, fdIDMapping)
		case "gidMappings":
			fastjson.Slice(d, &m.GIDMappings, fdIDMapping)
		default:
			d.Unknown(k, mountFields)
		}
	}
}

var hooksFields = []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"}

func fdHooks(d *fastjson.Decoder, h *rspec.Hooks) {
	if d.Null() {
		return
	}
	for more := d.ObjStart(); more; more = d.ObjNext() {
		switch k := d.Key(); k {
		case "prestart":
			fastjson.Slice(d, &h.Prestart, fdHook)
		case "createRuntime":
			fastjson.Slice(d, &h.CreateRuntime, fdHook)
		case "createContainer":
			fastjson.Slice(d, &h.CreateContainer, fdHook)
		case "startContainer":
			fastjson.Slice(d, &h.StartContainer, fdHook)
		case "poststart":
			fastjson.Slice(d, &h.Poststart, fdHook)
		case "poststop":
			fastjson.Slice(d, &h.Poststop, fdHook)
		default:
			d.Unknown(k, hooksFields)
		}
	}
}

var hookFields = []string{"path", "args", "env", "timeout"}

func fdHook(d *fastjson.Decoder, h *rspec.Hook) {
	if d.Null() {
		return
	}
	for more := d.ObjStart(); more; more = d.ObjNext() {
		switch k := d.Key(); k {
		case "path":
			fastjson.String(d, &h.Path)
		case "args":
			fastjson.Slice(d, &h.Args, fastjson.String[string])
		case "env":
			fastjson.Slice(d, &h.Env, fastjson.String[string])
		case "timeout":
			fastjson.Ptr(d, &h.Timeout, fastjson.Int[int])
		default:
			d.Unknown(k, hookFields)
		}
	}
}
