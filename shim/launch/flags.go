package launch

import (
	"flag"
	"io"
	"os"
	"path/filepath"
)

// Flags are the command line containerd gives every shim invocation.
type Flags struct {
	Namespace     string
	ID            string
	Address       string // containerd's gRPC address
	PublishBinary string // containerd's own binary
	Bundle        string // delete only; otherwise the working directory
	Socket        string // accepted: containerd ≥ 2.x passes it to some shims
	DebugSocket   string
	Debug         bool
	Version       bool
	Info          bool
	Action        string // start, delete, or "" for the daemon
}

// ParseFlags parses a shim command line (without the program name).
func ParseFlags(args []string) (*Flags, error) {
	f := &Flags{}
	fs := flag.NewFlagSet(filepath.Base(os.Args[0]), flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&f.Namespace, "namespace", "", "namespace that owns the shim")
	fs.StringVar(&f.ID, "id", "", "id of the task")
	fs.StringVar(&f.Address, "address", "", "grpc address back to main containerd")
	fs.StringVar(&f.PublishBinary, "publish-binary", "", "path to containerd's binary")
	fs.StringVar(&f.Bundle, "bundle", "", "path to the bundle if not the working directory")
	fs.StringVar(&f.Socket, "socket", "", "socket path to serve")
	fs.StringVar(&f.DebugSocket, "debug-socket", "", "debug socket path to serve")
	fs.BoolVar(&f.Debug, "debug", false, "enable debug output in logs")
	fs.BoolVar(&f.Version, "v", false, "show the shim version and exit")
	fs.BoolVar(&f.Version, "version", false, "show the shim version and exit")
	fs.BoolVar(&f.Info, "info", false, "print the runtime info protobuf and exit")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	f.Action = fs.Arg(0)
	return f, nil
}

// bundleDir is the bundle of a delete (-bundle, else the working
// directory) or of a start (the working directory).
func (f *Flags) bundleDir() (string, error) {
	if f.Bundle != "" {
		return f.Bundle, nil
	}
	return os.Getwd()
}
