// Command husk-vm runs husk's commands on containers in microVMs (see
// vm/cli); husk executes it for `--vm` and for VM containers.
package main

import (
	"os"

	"github.com/husk-runtime/husk/vm/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:]))
}
