// Package launch is the front of husk's containerd shim: the binary
// containerd runs as containerd-shim-husk-v2 for every start and delete.
//
// The shim is two binaries. containerd runs the shim binary at least twice
// per container besides the daemon: `start`, which must spawn the daemon
// and print its address, and (containerd 1.6 and 1.7, after every exit)
// `delete`. Both are short and on the path of every `ctr run`. The daemon
// binary links containerd's API types, ttrpc and protobuf, whose package
// initialisation alone costs about 4 ms of every process before main; this
// package links none of them, so start and the common delete run in a
// process that starts almost as fast as an empty Go program. Everything
// else (the daemon itself, a delete that has to clean up after a daemon
// that died, -info) is the daemon binary's, which the front execs in its
// place.
package launch

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// The containerd runtimes the shim implements: the container class, and
// the microVM class (one VM per pod). One pair of binaries serves both:
// the front is installed under both names (containerd-shim-husk-v2,
// containerd-shim-huskvm-v2) and the name it is run by chooses.
const (
	RuntimeName   = "io.containerd.husk.v2"
	VMRuntimeName = "io.containerd.huskvm.v2"
)

// RuntimeEnv passes the runtime from the front to the daemon binary.
const RuntimeEnv = "HUSK_SHIM_RUNTIME"

// Runtime is the runtime this process serves: RuntimeEnv's, else the
// one the program's name says (containerd-shim-huskvm-v2 is the VM
// class).
func Runtime() string {
	switch os.Getenv(RuntimeEnv) {
	case RuntimeName:
		return RuntimeName
	case VMRuntimeName:
		return VMRuntimeName
	}
	if strings.Contains(filepath.Base(os.Args[0]), "huskvm") {
		return VMRuntimeName
	}
	return RuntimeName
}

// DaemonName is the daemon binary, installed next to the front.
const DaemonName = "containerd-shim-husk-v2-daemon"

// Main runs the front with os.Args and returns its exit code.
func Main(version, commit string) int {
	return RunWith(front, version, commit)
}

// RunWith parses os.Args and runs action, which is the front's or the
// daemon binary's; it returns the exit code.
func RunWith(action func(f *Flags, version, commit string) error, version, commit string) int {
	f, err := ParseFlags(os.Args[1:])
	if err == nil {
		err = action(f, version, commit)
	}
	if err != nil {
		// containerd shows this (start and delete) in its error message.
		fmt.Fprintf(os.Stderr, "%s: %v\n", Runtime(), err)
		return 1
	}
	return 0
}

func front(f *Flags, version, commit string) error {
	if f.Version {
		PrintVersion(version, commit)
		return nil
	}
	daemon, err := DaemonBinary()
	if err != nil {
		return err
	}
	// The daemon (spawned or executed below) serves the runtime this
	// front was run as.
	os.Setenv(RuntimeEnv, Runtime())
	switch {
	case f.Info, f.Namespace == "":
		// The daemon binary answers -info and reports a bad command line.
	case f.Action == "start":
		return Start(f, daemon)
	case f.Action == "delete":
		out, err := quickDelete(f)
		if err == nil {
			_, err = os.Stdout.Write(out)
			return err
		}
		if !errors.Is(err, errNeedsCleanup) {
			return err
		}
	}
	args := append([]string{daemon}, os.Args[1:]...)
	if err := syscall.Exec(daemon, args, os.Environ()); err != nil {
		return fmt.Errorf("exec %s: %w", daemon, err)
	}
	return nil
}

// PrintVersion answers -v.
func PrintVersion(version, commit string) {
	fmt.Printf("%s:\n  Version:  %s\n  Revision: %s\n", filepath.Base(os.Args[0]), version, commit)
}

// DaemonBinary finds the daemon binary: next to this one (after
// symlinks, so a link to the front on containerd's PATH works), else on
// PATH.
func DaemonBinary() (string, error) {
	self, err := os.Executable()
	if err == nil {
		p := filepath.Join(filepath.Dir(self), DaemonName)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	if p, err := exec.LookPath(DaemonName); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%s not found next to %s or on PATH: install both shim binaries", DaemonName, self)
}
