package libruntime

import (
	"errors"
	"fmt"
	"os"
	"sort"

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
