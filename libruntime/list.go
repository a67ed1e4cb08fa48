package libruntime

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/husk-runtime/husk/specs"
)

// List returns the containers under the state root, sorted by ID.
func (r *Runtime) List() ([]*Container, error) {
	entries, err := os.ReadDir(r.root)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("list %s: %w", r.root, err)
	}
	var out []*Container
	for _, e := range entries {
		if !e.IsDir() || specs.ValidateID(e.Name()) != nil {
			continue
		}
		c, err := r.Load(e.Name())
		if err != nil {
			// Deleted while we listed.
			continue
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out, nil
}

// Owner is the name of the user owning the container's state directory
// (from the host's /etc/passwd, else "#uid"), as `runc list` shows it.
func (c *Container) Owner() string {
	st, err := os.Stat(c.dir)
	if err != nil {
		return ""
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	return userName("/etc/passwd", sys.Uid)
}

// userName finds uid in a passwd file: its name, else "#uid".
func userName(passwd string, uid uint32) string {
	want := strconv.FormatUint(uint64(uid), 10)
	if f, err := os.Open(passwd); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Split(sc.Text(), ":")
			if len(fields) >= 3 && fields[2] == want && fields[0] != "" {
				return fields[0]
			}
		}
	}
	return "#" + want
}
