package shim

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
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
	if err != nil {
		return "", fmt.Errorf("read bundle config: %w", err)
	}
	// Only the annotations: decoding the whole spec here would only slow
	// down every container start.
	var spec struct {
		Annotations map[string]string `json:"annotations"`
	}
	if err := json.Unmarshal(data, &spec); err != nil {
		// Not for start to judge: Create reports husk's own error about
		// the bundle.
		return id, nil
	}
	for _, a := range groupAnnotations {
		if g := spec.Annotations[a]; g != "" {
			return g, nil
		}
	}
	return id, nil
}
