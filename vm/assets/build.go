package assets

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// BuildOptions name the inputs of Build.
type BuildOptions struct {
	// KernelTree is an unpacked linux-image package (dpkg-deb -x): its
	// boot/vmlinuz-* and lib/modules/*.
	KernelTree    string
	KernelPackage string
	// Agent is the static husk-agent binary.
	Agent        string
	AgentVersion string
	// Out is the asset directory; it is replaced as a whole.
	Out string
}

// Build makes the kernel and the initramfs in a fresh directory next to
// Out and renames it into place, so a reader never sees half a set.
func Build(o BuildOptions) (*Assets, error) {
	mods, err := filepath.Glob(filepath.Join(o.KernelTree, "lib/modules/*"))
	if err != nil || len(mods) != 1 {
		return nil, fmt.Errorf("%s: expected one lib/modules/<version>, found %d", o.KernelTree, len(mods))
	}
	version := filepath.Base(mods[0])
	bz := filepath.Join(o.KernelTree, "boot", "vmlinuz-"+version)
	agent, err := os.ReadFile(o.Agent)
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(o.Out), 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(o.Out), ".vm-assets-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return nil, err
	}
	if err := extractVmlinux(bz, filepath.Join(tmp, KernelFile)); err != nil {
		return nil, err
	}
	if err := trimZeroTails(filepath.Join(tmp, KernelFile)); err != nil {
		return nil, fmt.Errorf("trim the kernel: %w", err)
	}
	modules, groups, err := collectModules(mods[0])
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := writeInitramfs(&buf, agent, modules, groups); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(tmp, InitrdFile), buf.Bytes(), 0o644); err != nil {
		return nil, err
	}
	m := Manifest{
		KernelVersion: version, KernelPackage: o.KernelPackage, AgentVersion: o.AgentVersion,
		Built: time.Now().UTC().Truncate(time.Second), ModuleGroups: groups,
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(tmp, ManifestFile), append(data, '\n'), 0o644); err != nil {
		return nil, err
	}
	old := o.Out + ".old"
	os.RemoveAll(old)
	if err := os.Rename(o.Out, old); err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	if err := os.Rename(tmp, o.Out); err != nil {
		return nil, err
	}
	os.RemoveAll(old)
	return Lookup(o.Out)
}

// ModuleDir is where the initramfs keeps the modules, one file per
// module, and each group's load list (GROUP.list, module names in order).
const ModuleDir = "lib/modules"

// writeInitramfs lays out the guest's initramfs: /init (the agent), the
// modules, the load lists, and /dev/console for the kernel to give /init
// its stdio.
func writeInitramfs(w *bytes.Buffer, agent []byte, mods []guestModule, groups map[string][]string) error {
	c := newCpioWriter(w)
	c.CharDev("dev/console", 0o600, 5, 1)
	c.File("init", 0o755, agent)
	sort.Slice(mods, func(i, j int) bool { return mods[i].name < mods[j].name })
	for _, m := range mods {
		c.File(ModuleDir+"/"+m.name+".ko", 0o644, m.data)
	}
	names := make([]string, 0, len(groups))
	for g := range groups {
		names = append(names, g)
	}
	sort.Strings(names)
	for _, g := range names {
		c.File(ModuleDir+"/"+g+".list", 0o644, []byte(strings.Join(groups[g], "\n")+"\n"))
	}
	return c.Close()
}
