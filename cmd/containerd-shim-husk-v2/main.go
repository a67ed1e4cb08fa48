// Command containerd-shim-husk-v2 is husk's containerd shim: containerd
// runs it for the runtime io.containerd.husk.v2 and it creates and manages
// containers in-process with libruntime, with no runtime binary to exec.
package main

import (
	"os"

	"github.com/husk-runtime/husk/shim"
)

// Set with -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "0.1.0-dev"
	commit  = "unknown"
)

func main() {
	os.Exit(shim.Run(version, commit))
}
