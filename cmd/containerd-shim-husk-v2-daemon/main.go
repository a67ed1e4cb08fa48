// Command containerd-shim-husk-v2-daemon is the daemon of husk's
// containerd shim: containerd-shim-husk-v2 starts it, and it creates and
// manages containers in-process with libruntime, with no runtime binary
// to exec. It also answers every shim action itself, so containerd can
// run it directly under the shim's name.
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
