package vm

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// HostFacts are what the host offers a VM.
type HostFacts struct {
	KVM        bool // /dev/kvm opens
	VhostVsock bool // /dev/vhost-vsock opens
	// TSCkHz is the host CPU's clock (0 if unknown): under TCG the guest's
	// TSC runs at the host's rate, and telling the guest spares it a
	// calibration that can fail there.
	TSCkHz int
}

// DetectHost looks at the host.
func DetectHost() HostFacts {
	h := HostFacts{KVM: canOpen("/dev/kvm"), VhostVsock: canOpen("/dev/vhost-vsock")}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		h.TSCkHz = cpuKHz(data)
	}
	return h
}

func canOpen(path string) bool {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	unix.Close(fd)
	return true
}

// cpuKHz reads the first "cpu MHz" of /proc/cpuinfo.
func cpuKHz(cpuinfo []byte) int {
	sc := bufio.NewScanner(bytes.NewReader(cpuinfo))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || strings.TrimSpace(k) != "cpu MHz" {
			continue
		}
		mhz, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || mhz <= 0 {
			return 0
		}
		return int(mhz * 1000)
	}
	return 0
}
