package cli

import (
	"errors"
	"fmt"
	"io"

	"github.com/husk-runtime/husk/vm/assets"
)

// cmdVM: `husk vm assets` says where the guest assets are;
// `husk vm assets build` makes them (make vm-assets).
func cmdVM(g *global, args []string, out io.Writer) error {
	if len(args) == 0 || args[0] != "assets" {
		return errors.New("usage: husk vm assets [build ...]")
	}
	if len(args) > 1 && args[1] == "build" {
		var o assets.BuildOptions
		f := newFlags("vm assets build")
		f.str(&o.KernelTree, "", "kernel-tree")
		f.str(&o.KernelPackage, "", "kernel-package")
		f.str(&o.Agent, "", "agent")
		f.str(&o.AgentVersion, "", "agent-version")
		f.str(&o.Out, assets.Dir(), "out")
		if err := f.parse(args[2:]); err != nil {
			return err
		}
		if o.KernelTree == "" || o.Agent == "" {
			return errors.New("vm assets build: --kernel-tree and --agent are required")
		}
		a, err := assets.Build(o)
		if err != nil {
			return err
		}
		return printAssets(out, a)
	}
	a, err := assets.Lookup(assets.Dir())
	if err != nil {
		return err
	}
	return printAssets(out, a)
}

func printAssets(out io.Writer, a *assets.Assets) error {
	m := a.Manifest
	_, err := fmt.Fprintf(out, "directory: %s\nkernel:    %s (%s, from %s)\ninitramfs: %s (husk-agent %s)\nbuilt:     %s\n",
		a.Dir, a.Kernel, m.KernelVersion, m.KernelPackage, a.Initrd, m.AgentVersion, m.Built.Format("2006-01-02 15:04:05 UTC"))
	return err
}
