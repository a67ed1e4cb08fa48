// Command containerd-shim-husk-v2 is husk's containerd shim: containerd
// runs it for the runtime io.containerd.husk.v2 and it creates and manages
// containers in-process with libruntime, with no runtime binary to exec.
package main

import (
	"os"
	"runtime/debug"

	"github.com/husk-runtime/husk/shim"
)

// Set with -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "0.1.0-dev"
	commit  = "unknown"
)

func main() {
	// One shim process lives as long as its containers (a pod's), so its
	// memory counts: a small heap goal and a soft limit keep the heap
	// close to what is live, unless the environment says otherwise.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(25)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(32 << 20)
	}
	os.Exit(shim.Run(version, commit))
}
