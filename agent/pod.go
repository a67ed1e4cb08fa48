package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/libruntime"
	"github.com/husk-runtime/husk/vm/api"
)

// PodHolderArg is the argument husk-agent runs with as a pod's namespace
// holder: `husk-agent pod-holder HOSTNAME`.
const PodHolderArg = "pod-holder"

// hostnameMax is HOST_NAME_MAX.
const hostnameMax = 64

// SetPod gives the service what starts a pod's namespace holder
// (StartPodHolder in a real guest).
func (s *Service) SetPod(start func(hostname string) (int, error)) { s.startPod = start }

// StartPod starts the pod's namespace holder, once.
func (s *Service) StartPod(ctx context.Context, r *api.StartPodRequest) (*api.StartPodResponse, error) {
	if len(r.Hostname) > hostnameMax || !validHostname(r.Hostname) {
		return nil, fmt.Errorf("start pod: hostname %q: not a hostname", r.Hostname)
	}
	s.podMu.Lock()
	defer s.podMu.Unlock()
	if s.podPid != 0 {
		return nil, errors.New("start pod: the pod's namespaces exist already")
	}
	if s.startPod == nil {
		return nil, errors.New("start pod: this agent cannot start a pod")
	}
	pid, err := s.startPod(r.Hostname)
	if err != nil {
		return nil, fmt.Errorf("start pod: %w", err)
	}
	s.podPid = pid
	return &api.StartPodResponse{Pid: int64(pid)}, nil
}

// validHostname: letters, digits, '-', '.' and '_' (what the kubelet
// gives; nothing a file or a shell could misread).
func validHostname(h string) bool {
	for _, c := range []byte(h) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '.', c == '_':
		default:
			return false
		}
	}
	return true
}

// StartPodHolder runs this binary as a pod's namespace holder in new IPC,
// UTS and PID namespaces and returns its pid once it has set the
// hostname. The agent's reaper collects it.
func StartPodHolder(hostname string) (int, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	defer r.Close()
	cmd := exec.Command("/proc/self/exe", PodHolderArg, hostname)
	cmd.ExtraFiles = []*os.File{w} // fd 3: one byte once ready
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWIPC | unix.CLONE_NEWUTS | unix.CLONE_NEWPID}
	err = cmd.Start()
	w.Close()
	if err != nil {
		return 0, err
	}
	pid := cmd.Process.Pid
	cmd.Process.Release()
	r.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := r.Read(make([]byte, 1)); err != nil {
		unix.Kill(pid, unix.SIGKILL)
		return 0, fmt.Errorf("the pod's holder did not come up: %w", err)
	}
	return pid, nil
}

// PodHolder is the holder's life: PID 1 of the pod's PID namespace, it
// sets the pod's hostname, says it is ready on fd 3, then reaps what is
// orphaned in the namespace until the VM goes. Signals from the pod's
// containers do not end it (the pod's namespaces live as long as its
// VM).
func PodHolder(hostname string) {
	if err := unix.Sethostname([]byte(hostname)); err != nil {
		fmt.Fprintf(os.Stderr, "husk-agent pod holder: sethostname: %v\n", err)
		os.Exit(1)
	}
	signal.Ignore(unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGUSR1, unix.SIGUSR2, unix.SIGPIPE)
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, unix.SIGCHLD)
	ready := os.NewFile(3, "ready")
	ready.Write([]byte{1})
	ready.Close()
	for range sigs {
		libruntime.ReapExited(func(int, int) {})
	}
}
