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
	rootless     bool // husk runs without root
	preserveFDs  int
	terminal     bool

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
	listenFD := p.file(startListener)
	p.add("init", initproc.Ready{})
	p.add("start", initproc.WaitStart{Listener: listenFD})
	if err := p.hooks("startContainer", p.startContainerHooks()); err != nil {
		return err
	}
	if err := p.lateSeccomp(); err != nil {
		return err
	}
	p.exec()
	return nil
}

// trustedHandles opens what husk-init needs and must not take from the
// container: a private procfs for sysctls and LSM labels, the host's
// /dev/null to mask paths with. Each only when the config needs it; both
// are closed (OpDropHandles) before the container can reach husk-init.
func (p *planner) trustedHandles() {
	var flags uint32
	if !p.needsProcfs() {
		flags |= initproc.ProcNoProc
	}
	if p.spec.Linux == nil || len(p.spec.Linux.MaskedPaths) == 0 {
		flags |= initproc.ProcNoDevNull
	}
	if flags == initproc.ProcNoProc|initproc.ProcNoDevNull {
		return
	}
	p.add("init", initproc.Procfs{OpFlags: flags})
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
			initproc.RunHook{Path: h.Path, Args: args, Env: h.Env, Timeout: int64(timeout)})
	}
	return nil
}

func (p *planner) exec() {
	p.add("process.args", initproc.Exec{Args: p.spec.Process.Args, Env: p.spec.Process.Env})
}
