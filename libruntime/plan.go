package libruntime

import (
	"fmt"
	"os"
	"syscall"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/husk-runtime/husk/cgroups"
	"github.com/husk-runtime/husk/libruntime/initproc"
	"github.com/husk-runtime/husk/libruntime/seccomp"
)

// planner compiles a container's config into the plan husk-init executes.
// It only decides: what it needs to know of the machine it asks host, so
// that the plan is a pure function of the config and host's answers.
type planner struct {
	spec   *rspec.Spec
	bundle string
	rootfs string
	id     string
	host   host

	noPivot      bool
	noNewKeyring bool
	// execing: the plan is `husk exec`'s, not the container's init's.
	execing     bool
	rootless    bool // husk runs without root
	preserveFDs int
	terminal    bool

	hier *cgroups.Hierarchy
	cg   map[string]string // controller -> the container's cgroup directory

	plan  initproc.Plan
	files []*os.File // husk-init's fds from 3+preserveFDs on

	// The container has a user namespace (new or joined): device nodes
	// cannot be created in it, they are bound from the host.
	userns bool
	// husk-init forks: the container's init is its child.
	forks bool
	// clone: namespaces husk-init is started in (see cloneNamespaces).
	clone *syscall.SysProcAttr
	// The container has its own pid namespace (new or joined), so killing
	// its init kills everything in it.
	pidns bool
	// The container has a mount namespace; without one its mounts are
	// made in the host's, and delete must remove them.
	mntns bool

	seccomp *seccomp.Filter // compiled once, loaded early or late

	// warnings are what the caller logs as warnings: parts of the config
	// left out or asked in a deprecated way (a relative mount destination),
	// as runc warns of them. setupWarnings are
	// logged only once husk-init has set the process up: runc notices
	// those while it applies the part concerned, after which a failure
	// of that part would be the only thing to report.
	warnings, setupWarnings []string
}

// warnf records a warning for the caller to log.
func (p *planner) warnf(format string, args ...any) {
	p.warnings = append(p.warnings, fmt.Sprintf(format, args...))
}

// file adds f to husk-init's descriptors and returns the fd number it will
// have there.
func (p *planner) file(f *os.File) int64 {
	p.files = append(p.files, f)
	return int64(3 + p.preserveFDs + len(p.files) - 1)
}

// add appends an op; what names the config element it comes from in
// errors ("mounts[2] (/proc)").
func (p *planner) add(what string, args initproc.Args) {
	p.plan.Add(initproc.NewOp(what, args))
}

// closeFiles releases the descriptors opened for the plan.
func (p *planner) closeFiles() {
	for _, f := range p.files {
		f.Close()
	}
	p.files = nil
}

// compileCreate builds the whole plan of a new container: namespaces,
// rootfs, process, then the wait for `start` (on the listening start
// socket) and the exec.
func (p *planner) compileCreate(startListener *os.File) (err error) {
	defer func() {
		if err != nil {
			p.closeFiles()
		}
	}()
	if err := p.namespaces(); err != nil {
		return err
	}
	if err := p.intelRdt(); err != nil {
		return err
	}
	if err := p.network(); err != nil {
		return err
	}
	p.trustedHandles()
	if err := p.rootfsSetup(); err != nil {
		return err
	}
	if err := p.process(); err != nil {
		return err
	}
	// As runc does, the filter is in place before the container counts
	// as created: a profile under which the init cannot finish fails
	// create, and startContainer hooks run under it.
	if err := p.lateSeccomp(); err != nil {
		return err
	}
	listenFD := p.file(startListener)
	p.add("init", initproc.Ready{})
	p.add("start", initproc.WaitStart{Listener: listenFD})
	if err := p.hooks("startContainer", p.startContainerHooks()); err != nil {
		return err
	}
	p.exec()
	return nil
}

// trustedHandles opens what husk-init needs and must not take from the
// container: a private procfs for sysctls and LSM labels, only when the
// config needs it; it is closed (OpDropHandles) before the container can
// reach husk-init. (Masked paths need nothing of the host's: they are
// covered with the container's own /dev/null, checked to be the null
// device, as runc does.)
func (p *planner) trustedHandles() {
	if !p.needsProcfs() {
		return
	}
	p.add("init", initproc.Procfs{OpFlags: initproc.ProcNoDevNull})
}

// needsProcfs tells whether husk-init writes to /proc itself at create:
// sysctls and LSM labels (the parent writes oom_score_adj and time
// offsets).
func (p *planner) needsProcfs() bool {
	if l := p.spec.Linux; l != nil && len(l.Sysctl) > 0 {
		return true
	}
	return p.hasLSMLabel()
}

// hasLSMLabel: an LSM label is written through the procfs, at create and
// at exec.
func (p *planner) hasLSMLabel() bool {
	proc := p.spec.Process
	return proc.ApparmorProfile != "" || proc.SelinuxLabel != ""
}

func (p *planner) startContainerHooks() []rspec.Hook {
	if p.spec.Hooks == nil {
		return nil
	}
	return p.spec.Hooks.StartContainer
}

// hooks adds ops running hooks of one kind inside the container.
func (p *planner) hooks(kind string, hooks []rspec.Hook) error {
	for i, h := range hooks {
		args := h.Args
		if len(args) == 0 {
			args = []string{h.Path}
		}
		timeout := 0
		if h.Timeout != nil {
			timeout = *h.Timeout
		}
		p.add(fmt.Sprintf("hooks.%s[%d]", kind, i),
			initproc.RunHook{Path: h.Path, Args: args, Env: p.hookEnv(kind, h), Timeout: int64(timeout)})
	}
	return nil
}

// hookEnv is the environment of a hook run in the container. A hook
// without env of its own inherits the init's, as runc's do: none while
// the container is set up (createContainer), the process's (process.env,
// with HOME) once it is about to be executed (startContainer).
func (p *planner) hookEnv(kind string, h rspec.Hook) []string {
	if h.Env == nil && kind == "startContainer" {
		return p.spec.Process.Env
	}
	return h.Env
}

func (p *planner) exec() {
	p.add("process.args", initproc.Exec{Args: p.spec.Process.Args, Env: p.spec.Process.Env})
}
