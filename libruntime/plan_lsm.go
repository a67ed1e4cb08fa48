package libruntime

import (
	"fmt"

	"github.com/husk-runtime/husk/libruntime/initproc"
)

// lsm compiles process.apparmorProfile and process.selinuxLabel: labels
// the kernel applies at the next exec, written through husk-init's private
// procfs. A label that cannot be applied is an error, as with runc: a
// container must not silently run unconfined when confinement was asked.
func (p *planner) lsm() error {
	proc := p.spec.Process
	if profile := proc.ApparmorProfile; profile != "" {
		if !p.host.apparmorEnabled() {
			return fmt.Errorf("process.apparmorProfile: %q cannot be applied: AppArmor is not enabled on this host", profile)
		}
		// Kernels with LSM stacking name the file apparmor/exec; the
		// older attr/exec still works when AppArmor is the major LSM.
		file := "exec"
		if p.host.exists("/proc/self/attr/apparmor/exec") {
			file = "apparmor/exec"
		}
		p.add("process.apparmorProfile", initproc.LsmAttr{File: file, Value: "exec " + profile})
	}
	if label := proc.SelinuxLabel; label != "" {
		if !p.host.selinuxEnabled() {
			return fmt.Errorf("process.selinuxLabel: %q cannot be applied: SELinux is not enabled on this host", label)
		}
		p.add("process.selinuxLabel", initproc.LsmAttr{File: "exec", Value: label})
	}
	return nil
}
