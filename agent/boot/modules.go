package boot

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

const moduleDir = "/lib/modules"

// loadModules loads each group's modules in the order of its list
// (dependencies first, as vm/assets wrote it).
func loadModules(groups []string, c *clock) error {
	loaded := map[string]bool{}
	for _, g := range groups {
		if strings.ContainsAny(g, "/.") {
			return fmt.Errorf("module group %q: bad name", g)
		}
		data, err := os.ReadFile(filepath.Join(moduleDir, g+".list"))
		if err != nil {
			return fmt.Errorf("module group %s: %w", g, err)
		}
		for _, name := range strings.Fields(string(data)) {
			if loaded[name] {
				continue
			}
			if err := loadModule(filepath.Join(moduleDir, name+".ko")); err != nil {
				return err
			}
			loaded[name] = true
			c.phase("module " + name)
		}
	}
	return nil
}

func loadModule(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.FinitModule(int(f.Fd()), "", 0); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("load module %s: %w", path, err)
	}
	return nil
}
