// Command husk-systemd is husk's D-Bus client for systemd: `husk
// --systemd-cgroup` runs it to create, change and stop the transient units
// that hold containers (see cgroups/systemd/helper). It keeps the D-Bus
// libraries out of the husk binary. Not meant to be run by hand.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/husk-runtime/husk/cgroups/systemd"
	"github.com/husk-runtime/husk/cgroups/systemd/helper"
	"github.com/husk-runtime/husk/cgroups/systemd/sdbus"
)

func main() {
	connect := func() (systemd.Bus, error) { return sdbus.Connect(context.Background()) }
	if err := helper.Serve(os.Stdin, os.Stdout, connect); err != nil {
		fmt.Fprintf(os.Stderr, "husk-systemd: %v\n", err)
		os.Exit(1)
	}
}
