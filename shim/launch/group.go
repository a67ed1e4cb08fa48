package launch

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/husk-runtime/husk/internal/fastjson"
)

// Annotations that put containers in one shim process, first match wins:
// husk's own group, the runc shim's (so existing setups keep grouping),
// and the CRI plugin's pod sandbox id, which every container of a pod
// (the sandbox included) carries.
var groupAnnotations = []string{
	"io.containerd.husk.v2.group",
	"io.containerd.runc.v2.group",
	"io.kubernetes.cri.sandbox-id",
}

// groupOf returns the group of the container whose bundle this is: the
// key of the shim socket it is served on.
func groupOf(bundle, id string) (string, error) {
	data, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if errors.Is(err, os.ErrNotExist) {
		// A sandbox's bundle (containerd 2.x's sandbox API) has no
		// config: the sandbox is its own group, which its containers
		// are sent to.
		return id, nil
	}
	if err != nil {
		return "", fmt.Errorf("read bundle config: %w", err)
	}
	// Only the annotations: decoding the whole spec here would only slow
	// down every container start.
	var annotations map[string]string
	if !fastjson.Decode(data, func(d *fastjson.Decoder) {
		for more := d.ObjStart(); more; more = d.ObjNext() {
			if k := d.Key(); k == "annotations" {
				fastjson.Map(d, &annotations, fastjson.String[string])
			} else {
				d.Unknown(k, []string{"annotations"})
			}
		}
	}) {
		// Not for start to judge: Create reports husk's own error about
		// an invalid bundle. (fastjson also gives up on input that
		// encoding/json would read case-insensitively, e.g. a key
		// "Annotations"; containerd writes it in lower case.)
		return id, nil
	}
	for _, a := range groupAnnotations {
		if g := annotations[a]; g != "" {
			return g, nil
		}
	}
	return id, nil
}
