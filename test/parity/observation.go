package parity

import (
	"fmt"
	"strings"
)

// Field is one thing a user would see, under a key that names the step
// and the aspect ("run.exit", "exec1.out", "cgroup:pids.max").
type Field struct {
	Key   string
	Value string
}

// Observation is what one runtime showed for one case, in the order the
// case produced it. Keys are unique.
type Observation struct {
	Fields []Field
}

// Add appends a field; a key given twice keeps both values, the later one
// under a numbered key, so nothing a case saw is lost.
func (o *Observation) Add(key, value string) {
	k := key
	for i := 2; o.has(k); i++ {
		k = fmt.Sprintf("%s#%d", key, i)
	}
	o.Fields = append(o.Fields, Field{Key: k, Value: value})
}

func (o *Observation) has(key string) bool {
	_, ok := o.Get(key)
	return ok
}

// Get returns the value of key.
func (o *Observation) Get(key string) (string, bool) {
	for _, f := range o.Fields {
		if f.Key == key {
			return f.Value, true
		}
	}
	return "", false
}

// String renders the observation as "key: value" lines, multi-line values
// indented under their key.
func (o *Observation) String() string {
	var b strings.Builder
	for _, f := range o.Fields {
		if !strings.Contains(f.Value, "\n") {
			fmt.Fprintf(&b, "%s: %s\n", f.Key, f.Value)
			continue
		}
		fmt.Fprintf(&b, "%s:\n", f.Key)
		for _, l := range strings.Split(strings.TrimSuffix(f.Value, "\n"), "\n") {
			fmt.Fprintf(&b, "    %s\n", l)
		}
	}
	return b.String()
}
