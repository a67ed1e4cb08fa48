package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// gvisorRuntime is how the pod workloads run gVisor: its containerd
// runtime section, ctr's flags, and what containerd's PATH needs first.
type gvisorRuntime struct {
	cri  string   // the body of the CRI plugin's runtimes.runsc section
	ctr  []string // ctr run's runtime flags
	path string   // ":DIR" to put before containerd's PATH, or ""
	desc string   // for the report
}

// gvisorSetup chooses gVisor's shim when -gvisor names a directory with
// runsc and containerd-shim-runsc-v1: with it a pod's containers join the
// pause container's sandbox, as GKE Sandbox runs them. Platform systrap
// (gVisor's default, no KVM needed). Otherwise Debian's runsc (2022-12,
// ptrace only) goes through containerd's runc shim, which starts every
// container as a sandbox of its own: a pod's container then waits for a
// sandbox it cannot find (StartContainer hits the CRI deadline), so only
// ctr run and the pod memory are measured for it.
func (b *bench) gvisorSetup(dir string) (gvisorRuntime, error) {
	if b.o.gvisor != "" {
		runsc := filepath.Join(b.o.gvisor, "runsc")
		for _, f := range []string{runsc, filepath.Join(b.o.gvisor, "containerd-shim-runsc-v1")} {
			if _, err := os.Stat(f); err != nil {
				return gvisorRuntime{}, fmt.Errorf("-gvisor: %w", err)
			}
		}
		// ctr run goes through containerd's runc shim (runsc speaks
		// runc's command line): gVisor's shim, at this commit, waits
		// forever in Create under ctr here: the pipe it reads runsc
		// create's output from becomes the sandbox's stdout, so it never
		// sees its end.
		wrapper := filepath.Join(dir, "runsc-systrap")
		if err := os.WriteFile(wrapper, []byte("#!/bin/sh\nexec "+runsc+" --platform=systrap \"$@\"\n"), 0o755); err != nil {
			return gvisorRuntime{}, err
		}
		conf := filepath.Join(dir, "runsc.toml")
		body := fmt.Sprintf("binary_name = %q\nroot = %q\n\n[runsc_config]\n  platform = \"systrap\"\n",
			runsc, filepath.Join(b.o.state, "runsc"))
		if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
			return gvisorRuntime{}, err
		}
		return gvisorRuntime{
			cri: fmt.Sprintf("    runtime_type = \"io.containerd.runsc.v1\"\n"+
				"    [plugins.\"io.containerd.cri.v1.runtime\".containerd.runtimes.runsc.options]\n"+
				"      TypeUrl = \"io.containerd.runsc.v1.options\"\n      ConfigPath = %q", conf),
			ctr:  []string{"--runtime", "io.containerd.runc.v2", "--runc-binary", wrapper},
			path: ":" + b.o.gvisor,
			desc: "gVisor's runsc (" + filepath.Base(b.o.gvisor) + ", platform systrap), pods through its containerd-shim-runsc-v1, " +
				"`ctr run` through containerd's runc shim (gVisor's shim hangs in Create under ctr here)",
		}, nil
	}
	runsc, err := exec.LookPath("runsc")
	if err != nil {
		return gvisorRuntime{}, fmt.Errorf("runsc (Debian package runsc): %w", err)
	}
	// Debian's runsc takes every network namespace of this kernel for the
	// host's ("cannot run with network enabled in root network
	// namespace"), so the pod's namespace goes through the host's stack.
	wrapper := filepath.Join(dir, "runsc-ptrace")
	if err := os.WriteFile(wrapper, []byte("#!/bin/sh\nexec "+runsc+" --platform=ptrace --network=host \"$@\"\n"), 0o755); err != nil {
		return gvisorRuntime{}, err
	}
	return gvisorRuntime{
		cri: fmt.Sprintf("    runtime_type = \"io.containerd.runc.v2\"\n"+
			"    [plugins.\"io.containerd.cri.v1.runtime\".containerd.runtimes.runsc.options]\n"+
			"      BinaryName = %q", wrapper),
		ctr:  []string{"--runtime", "io.containerd.runc.v2", "--runc-binary", wrapper},
		desc: "Debian's runsc (--platform=ptrace) through containerd's runc shim",
	}, nil
}
