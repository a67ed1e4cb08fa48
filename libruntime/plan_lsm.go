package libruntime

import (
	"fmt"
	"os"
	"strings"

	"github.com/husk-runtime/husk/libruntime/initproc"
)

// lsm compiles process.apparmorProfile and process.selinuxLabel: labels
// the kernel applies at the next exec, written through husk-init's private
// procfs. A label that cannot be applied is an error, as with runc: a
// container must not silently run unconfined when confinement was asked.
func (p *planner) lsm() error {
	proc := p.spec.Process
	if profile := proc.ApparmorProfile; profile != "" {
		if !apparmorEnabled() {
			return fmt.Errorf("process.apparmorProfile: %q cannot be applied: AppArmor is not enabled on this host", profile)
		}
		// Kernels with LSM stacking name the file apparmor/exec; the
		// older attr/exec still works when AppArmor is the major LSM.
		file := "exec"
		if _, err := os.Stat("/proc/self/attr/apparmor/exec"); err == nil {
			file = "apparmor/exec"
		}
		p.add(initproc.OpLsmAttr, "process.apparmorProfile", func(op *initproc.Op) {
			op.S[0] = initproc.Str(file)
			op.S[1] = initproc.Str("exec " + profile)
		})
	}
	if label := proc.SelinuxLabel; label != "" {
		if !selinuxEnabled() {
			return fmt.Errorf("process.selinuxLabel: %q cannot be applied: SELinux is not enabled on this host", label)
		}
		p.add(initproc.OpLsmAttr, "process.selinuxLabel", func(op *initproc.Op) {
			op.S[0] = initproc.Str("exec")
			op.S[1] = initproc.Str(label)
		})
	}
	return nil
}

func apparmorEnabled() bool {
	data, err := os.ReadFile("/sys/module/apparmor/parameters/enabled")
	return err == nil && strings.HasPrefix(string(data), "Y")
}

func selinuxEnabled() bool {
	_, err := os.Stat("/sys/fs/selinux/enforce")
	return err == nil
}
