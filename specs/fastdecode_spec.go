package specs

// fastDecode's decoders for the platform-independent part of config.json:
// Spec, Process, Root, Mount, Hooks. Each struct decoder switches on the
// exact JSON names of the struct's fields; anything else goes to
// fdec.unknown with the full list of the struct's JSON names, so a key
// encoding/json would match case-insensitively sends the whole document
// to encoding/json instead of being skipped. TestFastDecodeFieldLists
// checks the lists against the struct tags.
//
// Non-pointer struct decoders start with d.null(): for encoding/json a
// null struct is a no-op.

import (
	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// specFields includes the sections of other platforms: they are not
// decoded here, so their presence (even case-folded) means !ok.
var specFields = []string{"ociVersion", "process", "root", "hostname", "domainname", "mounts", "hooks", "annotations",
	"linux", "solaris", "windows", "vm", "zos", "freebsd"}

func fdSpec(d *fdec, s *rspec.Spec) {
	if d.null() {
		return
	}
	for more := d.objStart(); more; more = d.objNext() {
		switch k := d.key(); k {
		case "ociVersion":
			fdString(d, &s.Version)
		case "process":
			fdPtr(d, &s.Process, fdProcess)
		case "root":
			fdPtr(d, &s.Root, fdRoot)
		case "hostname":
			fdString(d, &s.Hostname)
		case "domainname":
			fdString(d, &s.Domainname)
		case "mounts":
			fdSlice(d, &s.Mounts, fdMount)
		case "hooks":
			fdPtr(d, &s.Hooks, fdHooks)
		case "annotations":
			fdMap(d, &s.Annotations, fdString[string])
		case "linux":
			fdPtr(d, &s.Linux, fdLinux)
		default:
			d.unknown(k, specFields)
		}
	}
}

var processFields = []string{"terminal", "consoleSize", "user", "args", "commandLine", "env", "cwd", "capabilities",
	"rlimits", "noNewPrivileges", "apparmorProfile", "oomScoreAdj", "scheduler", "selinuxLabel", "ioPriority",
	"execCPUAffinity"}

func fdProcess(d *fdec, p *rspec.Process) {
	if d.null() {
		return
	}
	for more := d.objStart(); more; more = d.objNext() {
		switch k := d.key(); k {
		case "terminal":
			fdBool(d, &p.Terminal)
		case "consoleSize":
			fdPtr(d, &p.ConsoleSize, fdBox)
		case "user":
			fdUser(d, &p.User)
		case "args":
			fdSlice(d, &p.Args, fdString[string])
		case "commandLine": // Windows only, but a plain string
			fdString(d, &p.CommandLine)
		case "env":
			fdSlice(d, &p.Env, fdString[string])
		case "cwd":
			fdString(d, &p.Cwd)
		case "capabilities":
			fdPtr(d, &p.Capabilities, fdCapabilities)
		case "rlimits":
			fdSlice(d, &p.Rlimits, fdRlimit)
		case "noNewPrivileges":
			fdBool(d, &p.NoNewPrivileges)
		case "apparmorProfile":
			fdString(d, &p.ApparmorProfile)
		case "oomScoreAdj":
			fdPtr(d, &p.OOMScoreAdj, fdInt[int])
		case "scheduler":
			fdPtr(d, &p.Scheduler, fdScheduler)
		case "selinuxLabel":
			fdString(d, &p.SelinuxLabel)
		case "ioPriority":
			fdPtr(d, &p.IOPriority, fdIOPriority)
		case "execCPUAffinity":
			fdPtr(d, &p.ExecCPUAffinity, fdCPUAffinity)
		default:
			d.unknown(k, processFields)
		}
	}
}

var boxFields = []string{"height", "width"}

func fdBox(d *fdec, b *rspec.Box) {
	if d.null() {
		return
	}
	for more := d.objStart(); more; more = d.objNext() {
		switch k := d.key(); k {
		case "height":
			fdUint(d, &b.Height)
		case "width":
			fdUint(d, &b.Width)
		default:
			d.unknown(k, boxFields)
		}
	}
}

var userFields = []string{"uid", "gid", "umask", "additionalGids", "username"}

func fdUser(d *fdec, u *rspec.User) {
	if d.null() {
		return
	}
	for more := d.objStart(); more; more = d.objNext() {
		switch k := d.key(); k {
		case "uid":
			fdUint(d, &u.UID)
		case "gid":
			fdUint(d, &u.GID)
		case "umask":
			fdPtr(d, &u.Umask, fdUint[uint32])
		case "additionalGids":
			fdSlice(d, &u.AdditionalGids, fdUint[uint32])
		case "username": // Windows only, but a plain string
			fdString(d, &u.Username)
		default:
			d.unknown(k, userFields)
		}
	}
}

var capabilitiesFields = []string{"bounding", "effective", "inheritable", "permitted", "ambient"}

func fdCapabilities(d *fdec, c *rspec.LinuxCapabilities) {
	if d.null() {
		return
	}
	for more := d.objStart(); more; more = d.objNext() {
		switch k := d.key(); k {
		case "bounding":
			fdSlice(d, &c.Bounding, fdString[string])
		case "effective":
			fdSlice(d, &c.Effective, fdString[string])
		case "inheritable":
			fdSlice(d, &c.Inheritable, fdString[string])
		case "permitted":
			fdSlice(d, &c.Permitted, fdString[string])
		case "ambient":
			fdSlice(d, &c.Ambient, fdString[string])
		default:
			d.unknown(k, capabilitiesFields)
		}
	}
}

var rlimitFields = []string{"type", "hard", "soft"}

func fdRlimit(d *fdec, r *rspec.POSIXRlimit) {
	if d.null() {
		return
	}
	for more := d.objStart(); more; more = d.objNext() {
		switch k := d.key(); k {
		case "type":
			fdString(d, &r.Type)
		case "hard":
			fdUint(d, &r.Hard)
		case "soft":
			fdUint(d, &r.Soft)
		default:
			d.unknown(k, rlimitFields)
		}
	}
}

var schedulerFields = []string{"policy", "nice", "priority", "flags", "runtime", "deadline", "period"}

func fdScheduler(d *fdec, s *rspec.Scheduler) {
	if d.null() {
		return
	}
	for more := d.objStart(); more; more = d.objNext() {
		switch k := d.key(); k {
		case "policy":
			fdString(d, &s.Policy)
		case "nice":
			fdInt(d, &s.Nice)
		case "priority":
			fdInt(d, &s.Priority)
		case "flags":
			fdSlice(d, &s.Flags, fdString[rspec.LinuxSchedulerFlag])
		case "runtime":
			fdUint(d, &s.Runtime)
		case "deadline":
			fdUint(d, &s.Deadline)
		case "period":
			fdUint(d, &s.Period)
		default:
			d.unknown(k, schedulerFields)
		}
	}
}

var ioPriorityFields = []string{"class", "priority"}

func fdIOPriority(d *fdec, p *rspec.LinuxIOPriority) {
	if d.null() {
		return
	}
	for more := d.objStart(); more; more = d.objNext() {
		switch k := d.key(); k {
		case "class":
			fdString(d, &p.Class)
		case "priority":
			fdInt(d, &p.Priority)
		default:
			d.unknown(k, ioPriorityFields)
		}
	}
}

var cpuAffinityFields = []string{"initial", "final"}

func fdCPUAffinity(d *fdec, a *rspec.CPUAffinity) {
	if d.null() {
		return
	}
	for more := d.objStart(); more; more = d.objNext() {
		switch k := d.key(); k {
		case "initial":
			fdString(d, &a.Initial)
		case "final":
			fdString(d, &a.Final)
		default:
			d.unknown(k, cpuAffinityFields)
		}
	}
}

var rootFields = []string{"path", "readonly"}

func fdRoot(d *fdec, r *rspec.Root) {
	if d.null() {
		return
	}
	for more := d.objStart(); more; more = d.objNext() {
		switch k := d.key(); k {
		case "path":
			fdString(d, &r.Path)
		case "readonly":
			fdBool(d, &r.Readonly)
		default:
			d.unknown(k, rootFields)
		}
	}
}

var mountFields = []string{"destination", "type", "source", "options", "uidMappings", "gidMappings"}

func fdMount(d *fdec, m *rspec.Mount) {
	if d.null() {
		return
	}
	for more := d.objStart(); more; more = d.objNext() {
		switch k := d.key(); k {
		case "destination":
			fdString(d, &m.Destination)
		case "type":
			fdString(d, &m.Type)
		case "source":
			fdString(d, &m.Source)
		case "options":
			fdSlice(d, &m.Options, fdString[string])
		case "uidMappings":
			fdSlice(d, &m.UIDMappings, fdIDMapping)
		case "gidMappings":
			fdSlice(d, &m.GIDMappings, fdIDMapping)
		default:
			d.unknown(k, mountFields)
		}
	}
}

var hooksFields = []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"}

func fdHooks(d *fdec, h *rspec.Hooks) {
	if d.null() {
		return
	}
	for more := d.objStart(); more; more = d.objNext() {
		switch k := d.key(); k {
		case "prestart":
			fdSlice(d, &h.Prestart, fdHook)
		case "createRuntime":
			fdSlice(d, &h.CreateRuntime, fdHook)
		case "createContainer":
			fdSlice(d, &h.CreateContainer, fdHook)
		case "startContainer":
			fdSlice(d, &h.StartContainer, fdHook)
		case "poststart":
			fdSlice(d, &h.Poststart, fdHook)
		case "poststop":
			fdSlice(d, &h.Poststop, fdHook)
		default:
			d.unknown(k, hooksFields)
		}
	}
}

var hookFields = []string{"path", "args", "env", "timeout"}

func fdHook(d *fdec, h *rspec.Hook) {
	if d.null() {
		return
	}
	for more := d.objStart(); more; more = d.objNext() {
		switch k := d.key(); k {
		case "path":
			fdString(d, &h.Path)
		case "args":
			fdSlice(d, &h.Args, fdString[string])
		case "env":
			fdSlice(d, &h.Env, fdString[string])
		case "timeout":
			fdPtr(d, &h.Timeout, fdInt[int])
		default:
			d.unknown(k, hookFields)
		}
	}
}
