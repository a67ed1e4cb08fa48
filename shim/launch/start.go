package launch

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/husk-runtime/husk/internal/fastjson"
)

// defaultSocketDir is where containerd's shims put their sockets (its
// defaults.DefaultStateDir + "/s"), also for containerd instances with
// another state directory.
const defaultSocketDir = "/run/containerd/s"

// startInput is what containerd wrote on the start action's stdin.
type startInput struct {
	// params: containerd ≥ 2.3 speaks the bootstrap protocol, a
	// BootstrapParams protobuf naming the task, and expects a
	// BootstrapResult protobuf back.
	params *bootstrapParams
}

// readStartInput tells the bootstrap protocol from the legacy input (the
// runtime options as a protobuf Any, or nothing): an Any can decode as
// BootstrapParams too, so the task id and namespace must also match the
// command line, as containerd's own shim library checks.
func readStartInput(data []byte, id, ns string) startInput {
	if len(data) == 0 {
		return startInput{}
	}
	if p, err := decodeBootstrapParams(data); err == nil && p.instanceID == id && p.namespace == ns {
		return startInput{params: &p}
	}
	return startInput{}
}

// Start is the start action (cwd = the bundle): it finds or spawns the
// daemon (the binary at daemon) serving this container's group, writes
// its address in the bundle and prints it in the form the calling
// containerd expects.
func Start(f *Flags, daemon string) error {
	input, err := io.ReadAll(io.LimitReader(os.Stdin, 10<<20))
	if err != nil {
		return fmt.Errorf("read stdin: %w", err)
	}
	in := readStartInput(input, f.ID, f.Namespace)
	bundle, err := os.Getwd()
	if err != nil {
		return fmt.Errorf("working directory: %w", err)
	}
	grpcAddress, socketDir := f.Address, defaultSocketDir
	debug := f.Debug
	if p := in.params; p != nil {
		if p.grpcAddress != "" {
			grpcAddress = p.grpcAddress
		}
		if p.socketDir != "" {
			socketDir = p.socketDir
		}
		if p.logLevel <= logLevelDebug {
			debug = true
		}
		if os.Getenv("TTRPC_ADDRESS") == "" && p.ttrpcAddress != "" {
			os.Setenv("TTRPC_ADDRESS", p.ttrpcAddress)
		}
	}
	group, err := groupOf(bundle, f.ID)
	if err != nil {
		return err
	}
	if len(input) > 0 && !fileExists(filepath.Join(bundle, "config.json")) {
		// A sandbox (containerd 2.x's sandbox API): its runtime options
		// come only here; the daemon reads them at CreateSandbox.
		if err := os.WriteFile(filepath.Join(bundle, StartInputFile), input, 0o600); err != nil {
			return fmt.Errorf("keep the start input: %w", err)
		}
	}
	address := socketAddress(socketDir, grpcAddress, f.Namespace, group)
	l, err := listen(address)
	if errors.Is(err, errServing) {
		// Another container of the pod started the daemon already.
		return answerStart(in, f.PublishBinary, bundle, address)
	}
	if err != nil {
		return err
	}
	pid, err := spawnDaemon(daemon, l, bundle, f, grpcAddress, debug)
	if err != nil {
		os.Remove(socketPath(address))
		return err
	}
	// As containerd's runc shim: the daemon dies just after containerd
	// when memory runs out, not before it.
	adjustOOMScore(pid)
	return answerStart(in, f.PublishBinary, bundle, address)
}

// StartInputFile, in a sandbox's bundle, keeps what containerd gave the
// start action on stdin (BootstrapParams with the runtime options).
const StartInputFile = "husk-start-input.pb"

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// logLevelDebug is bootstrap.v1 LogLevel LOG_LEVEL_DEBUG.
const logLevelDebug = -4

func answerStart(in startInput, publishBinary, bundle, address string) error {
	// containerd 1.6 reads it back to reconnect after a restart.
	if err := os.WriteFile(filepath.Join(bundle, "address"), []byte(address), 0o600); err != nil {
		return fmt.Errorf("write address: %w", err)
	}
	_, err := os.Stdout.Write(startResponse(in, publishBinary, address))
	return err
}

// startResponse speaks each containerd's language:
//   - containerd ≥ 2.3 sent BootstrapParams: a BootstrapResult protobuf,
//     version 3 (containerd.task.v3.Task);
//   - containerd 2.0–2.2 send the legacy input but understand a JSON
//     bootstrap {"version":3,...}; containerd 1.6 and 1.7 take the whole
//     output as the address (1.7 rejects version 3). These are told apart
//     by the containerd binary that started us (-publish-binary): its Go
//     build info names module github.com/containerd/containerd/v2 from 2.0
//     on;
//   - otherwise the plain address, which every version accepts (as
//     task v2).
func startResponse(in startInput, publishBinary, address string) []byte {
	if in.params != nil {
		return encodeBootstrapResult(3, address, "ttrpc")
	}
	if containerdMajor(publishBinary) >= 2 {
		b := append([]byte(`{"version":3,"address":`), fastjson.AppendString(nil, address)...)
		return append(b, `,"protocol":"ttrpc"}`...)
	}
	return []byte(address)
}

// containerdMajor reads the major version of the containerd binary at
// path from the module path in its Go build info (1 when unknown).
func containerdMajor(path string) int {
	mod := goMainModule(path)
	const prefix = "github.com/containerd/containerd/v"
	if !strings.HasPrefix(mod, prefix) {
		return 1
	}
	major, _, _ := strings.Cut(mod[len(prefix):], "/")
	n, err := strconv.Atoi(major)
	if err != nil {
		return 1
	}
	return n
}

// socketAddress is containerd's shim socket naming (pkg/shim
// CreateSocketAddress): a hash of containerd's address, the namespace and
// the group, so each containerd instance and pod gets its own.
func socketAddress(dir, grpcAddress, ns, group string) string {
	d := sha256.Sum256([]byte(filepath.Join(grpcAddress, ns, group)))
	return "unix://" + filepath.Join(dir, hex.EncodeToString(d[:]))
}

func socketPath(address string) string {
	return strings.TrimPrefix(address, "unix://")
}

var errServing = errors.New("a shim already serves this socket")

// listen creates the daemon's socket; errServing if a live daemon has it.
func listen(address string) (*net.UnixListener, error) {
	path := socketPath(address)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create socket directory: %w", err)
	}
	for attempt := 0; ; attempt++ {
		l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
		if err == nil {
			if err := os.Chmod(path, 0o600); err != nil {
				l.Close()
				return nil, fmt.Errorf("chmod socket: %w", err)
			}
			return l, nil
		}
		if !errors.Is(err, syscall.EADDRINUSE) || attempt > 0 {
			return nil, fmt.Errorf("listen on %s: %w", path, err)
		}
		if canConnect(path) {
			return nil, errServing
		}
		// Left by a daemon that died.
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("remove stale socket: %w", err)
		}
	}
}

func canConnect(path string) bool {
	conn, err := net.DialTimeout("unix", path, 100*time.Millisecond)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

// spawnDaemon starts the daemon binary without an action, serving on l (fd 3),
// in the bundle, in its own process group (containerd's signals are not
// for it), with /dev/null as stdio: containerd reads the start action's
// output until EOF, which must not wait for the daemon.
func spawnDaemon(daemon string, l *net.UnixListener, bundle string, f *Flags, grpcAddress string, debug bool) (int, error) {
	// The daemon removes the socket when it is done; closing our copy of
	// the listener must not.
	l.SetUnlinkOnClose(false)
	defer l.Close()
	lf, err := l.File()
	if err != nil {
		return 0, fmt.Errorf("socket file: %w", err)
	}
	defer lf.Close()
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return 0, err
	}
	defer devnull.Close()
	args := []string{daemon, "-namespace", f.Namespace, "-id", f.ID, "-address", grpcAddress}
	if debug {
		args = append(args, "-debug")
	}
	p, err := os.StartProcess(daemon, args, &os.ProcAttr{
		Dir:   bundle,
		Env:   os.Environ(),
		Files: []*os.File{devnull, devnull, devnull, lf},
		Sys:   &syscall.SysProcAttr{Setpgid: true},
	})
	if err != nil {
		return 0, fmt.Errorf("start shim daemon: %w", err)
	}
	pid := p.Pid
	p.Release()
	return pid, nil
}

// adjustOOMScore gives the daemon containerd's OOM score plus one.
func adjustOOMScore(pid int) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/oom_score_adj", os.Getppid()))
	if err != nil {
		return
	}
	score, err := strconv.Atoi(string(bytes.TrimSpace(data)))
	if err != nil {
		return
	}
	if score < 1000 {
		score++
	}
	os.WriteFile(fmt.Sprintf("/proc/%d/oom_score_adj", pid), []byte(strconv.Itoa(score)), 0)
}

// RemoveDeadSocket removes the socket a killed daemon left behind, named
// in the bundle's address file, unless a daemon still answers on it.
func RemoveDeadSocket(bundle string) {
	data, err := os.ReadFile(filepath.Join(bundle, "address"))
	if err != nil {
		return
	}
	path := socketPath(strings.TrimSpace(string(data)))
	if path == "" || canConnect(path) {
		return
	}
	os.Remove(path)
}
