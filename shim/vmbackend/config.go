package vmbackend

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/pelletier/go-toml/v2"

	"github.com/husk-runtime/husk/vm"
	"github.com/husk-runtime/husk/vm/assets"
)

// Config is the VM class's configuration: a TOML file named by the CRI
// runtime's ConfigPath option, else by $HUSK_VM_CONFIG, else
// DefaultConfigPath if it exists.
type Config struct {
	// Assets is the guest assets' directory (default: $HUSK_VM_ASSETS,
	// else /var/cache/husk/vm).
	Assets string `toml:"assets"`
	// OverheadMiB is added to the pod's memory (the guest kernel and
	// agent need it besides the containers' limits).
	OverheadMiB int `toml:"memory_overhead_mib"`
	// DefaultMemoryMiB is a pod's VM memory when nothing limits it.
	DefaultMemoryMiB int `toml:"default_memory_mib"`
	// BootTimeoutSeconds bounds a VM's start (0: the VMM's default).
	BootTimeoutSeconds int `toml:"boot_timeout_seconds"`
	// Share is how the rootfs reaches the guest: 9p or virtiofs.
	Share string `toml:"share"`
	// RunDir holds the VMs' directories (agent socket, shared directory)
	// and records; unix socket paths must stay short.
	RunDir string `toml:"run_dir"`
}

// Where things are unless configured.
const (
	DefaultConfigPath  = "/etc/husk/vm.toml"
	ConfigEnv          = "HUSK_VM_CONFIG"
	DefaultRunDir      = "/run/husk-vm"
	DefaultOverheadMiB = 128
)

// LoadConfig reads the configuration at path (see Config for which when
// path is "") and fills in the defaults.
func LoadConfig(path string) (Config, error) {
	c := Config{}
	explicit := path != ""
	if !explicit {
		if path = os.Getenv(ConfigEnv); path != "" {
			explicit = true
		} else {
			path = DefaultConfigPath
		}
	}
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		d := toml.NewDecoder(bytes.NewReader(data))
		d.DisallowUnknownFields()
		if err := d.Decode(&c); err != nil {
			var strict *toml.StrictMissingError
			if errors.As(err, &strict) {
				var keys []string
				for _, e := range strict.Errors {
					keys = append(keys, strings.Join(e.Key(), "."))
				}
				return c, fmt.Errorf("VM class configuration %s: unknown keys %s", path, strings.Join(keys, ", "))
			}
			return c, fmt.Errorf("VM class configuration %s: %w", path, err)
		}
	case explicit || !errors.Is(err, os.ErrNotExist):
		return c, fmt.Errorf("VM class configuration: %w", err)
	}
	return c.withDefaults()
}

func (c Config) withDefaults() (Config, error) {
	if c.Assets == "" {
		c.Assets = assets.Dir()
	}
	if c.OverheadMiB == 0 {
		c.OverheadMiB = DefaultOverheadMiB
	}
	if c.DefaultMemoryMiB == 0 {
		c.DefaultMemoryMiB = vm.DefaultMemoryMiB
	}
	if c.RunDir == "" {
		c.RunDir = DefaultRunDir
	}
	switch {
	case c.OverheadMiB < 0, c.DefaultMemoryMiB < 64, c.BootTimeoutSeconds < 0:
		return c, fmt.Errorf("VM class configuration: memory_overhead_mib %d, default_memory_mib %d (at least 64), boot_timeout_seconds %d",
			c.OverheadMiB, c.DefaultMemoryMiB, c.BootTimeoutSeconds)
	}
	switch vm.ShareKind(c.Share) {
	case "", vm.Share9P, vm.ShareVirtioFS:
	default:
		return c, fmt.Errorf("VM class configuration: share %q: not 9p or virtiofs", c.Share)
	}
	return c, nil
}

func (c Config) bootTimeout() time.Duration {
	return time.Duration(c.BootTimeoutSeconds) * time.Second
}

// Annotations that size a pod's VM: containerd's CRI plugin puts the
// pod's resources (the sum of its containers', as the kubelet computed
// them) on the sandbox; husk's own override them.
const (
	annSandboxMemory    = "io.kubernetes.cri.sandbox-memory"
	annSandboxCPUQuota  = "io.kubernetes.cri.sandbox-cpu-quota"
	annSandboxCPUPeriod = "io.kubernetes.cri.sandbox-cpu-period"
	annMemory           = "io.husk.vm.memory"
	annCPUs             = "io.husk.vm.cpus"
)

// Size is the memory (MiB) and vCPUs of the VM of a pod whose first
// container (the sandbox) has spec:
//   - memory: io.husk.vm.memory, else the pod's memory limit (the CRI
//     sandbox annotation, else the container's own limit) plus the
//     overhead, else the default;
//   - vCPUs: io.husk.vm.cpus, else the pod's CPU quota over its period
//     (rounded up), else 1; at most the host's CPUs.
func Size(spec *rspec.Spec, c Config, hostCPUs int) (memMiB, cpus int, err error) {
	ann := spec.Annotations
	var res *rspec.LinuxResources
	if spec.Linux != nil {
		res = spec.Linux.Resources
	}
	memMiB = c.DefaultMemoryMiB
	if v, ok := ann[annMemory]; ok {
		if memMiB, err = positive(annMemory, v, math.MaxInt32); err != nil {
			return 0, 0, err
		}
	} else {
		limit := int64(0)
		if v, ok := ann[annSandboxMemory]; ok && v != "0" {
			n, err := positive(annSandboxMemory, v, math.MaxInt64)
			if err != nil {
				return 0, 0, err
			}
			limit = int64(n)
		} else if res != nil && res.Memory != nil && res.Memory.Limit != nil && *res.Memory.Limit > 0 {
			limit = *res.Memory.Limit
		}
		if limit > 0 {
			memMiB = int((limit+(1<<20)-1)>>20) + c.OverheadMiB
		}
	}
	if memMiB < 64 {
		memMiB = 64
	}
	cpus = 1
	if v, ok := ann[annCPUs]; ok {
		if cpus, err = positive(annCPUs, v, 1024); err != nil {
			return 0, 0, err
		}
	} else {
		quota, period := int64(0), int64(0)
		if q, p := ann[annSandboxCPUQuota], ann[annSandboxCPUPeriod]; q != "" && p != "" {
			quota, _ = strconv.ParseInt(q, 10, 64)
			period, _ = strconv.ParseInt(p, 10, 64)
		} else if res != nil && res.CPU != nil && res.CPU.Quota != nil && res.CPU.Period != nil {
			quota, period = *res.CPU.Quota, int64(*res.CPU.Period)
		}
		if quota > 0 && period > 0 {
			cpus = int((quota + period - 1) / period)
		}
	}
	if hostCPUs > 0 && cpus > hostCPUs {
		cpus = hostCPUs
	}
	return memMiB, cpus, nil
}

func positive(name, v string, limit int64) (int, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 || n > limit {
		return 0, fmt.Errorf("annotation %s: %q is not a positive number", name, v)
	}
	return int(n), nil
}
