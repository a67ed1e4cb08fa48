package vm

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// startVirtioFSD starts the virtio-fs daemon on the shared directory and
// waits for its socket.
func (v *VM) startVirtioFSD(e qemuEnds) error {
	cmd := exec.Command(v.cfg.VirtioFSD,
		"--socket-path="+e.fsSocket,
		"-o", "source="+e.shareDir,
		"-o", "cache=auto",
		"-o", "sandbox=chroot",
		"--thread-pool-size=1")
	cmd.Stderr = &v.stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("vm: start virtiofsd: %w", err)
	}
	v.fsd = cmd
	exited := make(chan error, 1)
	v.fsdExited = exited
	go func() { exited <- cmd.Wait() }()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if _, err := os.Stat(e.fsSocket); err == nil {
			return nil
		}
		select {
		case err := <-exited:
			v.fsd = nil
			return fmt.Errorf("vm: virtiofsd exited: %v: %s", err, v.stderr.String())
		case <-time.After(2 * time.Millisecond):
		}
	}
	return fmt.Errorf("vm: virtiofsd made no socket within 10 s")
}
