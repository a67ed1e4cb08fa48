// Command mkbundle writes a busybox OCI bundle: mkbundle DIR [ARGS...].
package main

import (
	"fmt"
	"os"

	"github.com/husk-runtime/husk/internal/testbundle"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: mkbundle DIR [ARGS...]")
		os.Exit(2)
	}
	args := os.Args[2:]
	if len(args) == 0 {
		args = []string{"sh", "-c", `echo "hello from a husk container: hostname $(hostname), pid $$, $(id)"; ` +
			`echo "mounts:"; cut -d' ' -f2,3 /proc/mounts | sed 's/^/  /'`}
	}
	if err := testbundle.Write(os.Args[1], testbundle.Config(args...)); err != nil {
		fmt.Fprintln(os.Stderr, "mkbundle:", err)
		os.Exit(1)
	}
}
