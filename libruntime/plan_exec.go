package libruntime

import (
	"os"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/husk-runtime/husk/libruntime/initproc"
	"github.com/husk-runtime/husk/nsutil"
)

// compileExec builds the plan of a process joining the container: the
// namespaces of its init, all at once through a pidfd, then the process
// set up as at create, minus everything about the rootfs.
func (p *planner) compileExec(pidfd *os.File) (err error) {
	defer func() {
		if err != nil {
			p.closeFiles()
		}
	}()
	var flags uintptr
	l := p.spec.Linux
	if l == nil {
		l = &rspec.Linux{}
	}
	for _, ns := range l.Namespaces {
		f, _ := nsutil.CloneFlag(ns.Type)
		flags |= f
		switch ns.Type {
		case rspec.PIDNamespace, rspec.TimeNamespace:
			p.forks = true
		case rspec.MountNamespace:
			p.mntns = true
		}
	}
	p.execing = true
	p.waitForCgroup("cgroup")
	if err := p.startAffinity(); err != nil {
		return err
	}
	fd := p.file(pidfd)
	if flags != 0 {
		p.add("linux.namespaces", initproc.Setns{FD: fd, Type: int64(flags)})
	}
	if p.forks {
		p.add("linux.namespaces (pid)", initproc.Fork{})
	} else {
		p.add("exec", initproc.ReportPid{})
	}
	if p.mntns {
		p.add("root", initproc.Rootfs{OpFlags: initproc.RootCurrent})
	} else {
		p.add("root.path", initproc.Rootfs{Path: p.rootfs, OpFlags: initproc.RootNoBind})
		p.add("root.path", initproc.Chroot{})
	}
	if p.hasLSMLabel() {
		p.add("exec", initproc.Procfs{OpFlags: initproc.ProcFallback | initproc.ProcNoDevNull})
	}
	if p.terminal {
		c := initproc.Console{OpFlags: initproc.ConsNoDevConsole}
		if cs := p.spec.Process.ConsoleSize; cs != nil {
			c.Rows, c.Cols = int64(cs.Height), int64(cs.Width)
		}
		p.add("process.terminal", c)
	}
	if err := p.process(); err != nil {
		return err
	}
	p.add("exec", initproc.Ready{OpFlags: initproc.ReadyKeepSync})
	if err := p.lateSeccomp(); err != nil {
		return err
	}
	p.exec()
	return nil
}
