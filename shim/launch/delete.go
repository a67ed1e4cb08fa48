package launch

import (
	"errors"
	"os"
	"path/filepath"
	"time"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/internal/fastjson"
)

// ExitFile in the bundle records the init's exit for the delete action.
const ExitFile = "husk-exit.json"

// Exit is what the daemon recorded of a container's init.
type Exit struct {
	Pid    int
	Status int
	At     time.Time
}

// WriteExitFile records e in the bundle (best effort: without it, delete
// reports the container as killed).
func WriteExitFile(bundle string, e Exit) {
	b := append([]byte(`{"pid":`), fastjson.AppendInt(nil, int64(e.Pid))...)
	b = append(append(b, `,"status":`...), fastjson.AppendInt(nil, int64(e.Status))...)
	b = append(append(b, `,"at":`...), fastjson.AppendString(nil, e.At.Format(time.RFC3339Nano))...)
	os.WriteFile(filepath.Join(bundle, ExitFile), append(b, '}'), 0o600)
}

// ReadExitFile reads what WriteExitFile recorded.
func ReadExitFile(bundle string) (Exit, bool) {
	data, err := os.ReadFile(filepath.Join(bundle, ExitFile))
	if err != nil {
		return Exit{}, false
	}
	var e Exit
	var at string
	ok := fastjson.Decode(data, func(d *fastjson.Decoder) {
		for more := d.ObjStart(); more; more = d.ObjNext() {
			switch k := d.Key(); k {
			case "pid":
				fastjson.Int(d, &e.Pid)
			case "status":
				fastjson.Int(d, &e.Status)
			case "at":
				fastjson.String(d, &at)
			default:
				d.Skip()
			}
		}
	})
	if !ok {
		return Exit{}, false
	}
	if e.At, err = time.Parse(time.RFC3339Nano, at); err != nil {
		return Exit{}, false
	}
	return e, true
}

// StateRoot is where husk keeps the state of a containerd's containers of
// runtime: beside the bundles, in containerd's state directory (bundles
// are <state>/io.containerd.runtime.v2.task/<ns>/<id>), so that two
// containerd instances never share it and it goes with that directory;
// "husk" for the container class, "husk-vm" for the VM class.
func StateRoot(runtime, bundle, ns string) string {
	dir := "husk"
	if runtime == VMRuntimeName {
		dir = "husk-vm"
	}
	nsDir := filepath.Dir(bundle)
	tasks := filepath.Dir(nsDir)
	switch filepath.Base(tasks) {
	case "io.containerd.runtime.v2.task", "io.containerd.sandbox.controller.v1.shim":
		// Tasks' bundles, and sandboxes' (containerd 2.x's sandbox API,
		// sandboxer "shim"): one state root for a pod's sandbox and its
		// containers.
		if filepath.Base(nsDir) == ns {
			return filepath.Join(filepath.Dir(tasks), dir, ns)
		}
	}
	return filepath.Join("/run/"+dir+"-shim", ns)
}

// errNeedsCleanup: the daemon left something behind, which only the full
// delete (in the daemon binary, with libruntime) can remove.
var errNeedsCleanup = errors.New("container state or mounts left behind")

// quickDelete is the delete action when the daemon went away cleanly, as
// after every container with containerd 1.6, which runs delete whenever a
// shim's connection closes: no husk state for the task, nothing mounted
// under its rootfs. It answers with the recorded exit (or a SIGKILL) and
// removes a socket left by a killed daemon. errNeedsCleanup otherwise.
func quickDelete(f *Flags) ([]byte, error) {
	bundle, err := f.bundleDir()
	if err != nil {
		return nil, err
	}
	if _, err := os.Lstat(filepath.Join(StateRoot(Runtime(), bundle, f.Namespace), f.ID)); !os.IsNotExist(err) {
		return nil, errNeedsCleanup
	}
	mounts, err := mountinfo.GetMounts(mountinfo.PrefixFilter(filepath.Join(bundle, "rootfs")))
	if err != nil || len(mounts) > 0 {
		return nil, errNeedsCleanup
	}
	e := Exit{Status: 128 + int(unix.SIGKILL), At: time.Now()}
	if r, ok := ReadExitFile(bundle); ok {
		e = r
	}
	RemoveDeadSocket(bundle)
	return encodeDeleteResponse(uint32(e.Pid), uint32(e.Status), e.At), nil
}
