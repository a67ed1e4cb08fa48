// Command containerd-shim-husk-v2 is husk's containerd shim: containerd
// runs it for the runtime io.containerd.husk.v2. This binary is the light
// front that answers start and delete; containerd-shim-husk-v2-daemon,
// installed next to it, is the daemon that runs the containers in-process
// with libruntime (see package shim/launch for why there are two).
package main

import (
	"os"

	"github.com/husk-runtime/husk/shim/launch"
)

// Set with -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "0.1.0-dev"
	commit  = "unknown"
)

func main() {
	os.Exit(launch.Main(version, commit))
}
