package shim

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/containerd/ttrpc"
	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/shim/hostbackend"
	"github.com/husk-runtime/husk/shim/launch"
	"github.com/husk-runtime/husk/shim/reaper"
	"github.com/husk-runtime/husk/shim/vmbackend"
)

// serve is the daemon: started by the start action in the first bundle
// of its group, with its listening socket as fd 3. It returns when
// containerd shuts it down with no container left, or on SIGTERM/SIGINT
// (containers keep running then; a new shim's delete cleans them up).
func serve(f *launch.Flags, version string) error {
	// The daemon mostly waits; its bursts of work (a create) are short.
	// One P instead of the two containerd asks for saves about 1 MiB of
	// resident memory (per-P caches, idle threads) in every shim process.
	if os.Getenv("HUSK_SHIM_GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
	// Go's default GC pacing is kept: a shim's live heap is small (about
	// 2 MiB with one container, ~150 KiB more per container of its pod),
	// so it mostly stays under the 4 MiB minimum heap goal. With GOGC=25
	// the start-up burst ran GC cycles: `ctr run --rm` took 162 ms
	// instead of 156 ms (median of 25 alternating runs) for the same
	// resident memory. The soft limit only bounds a shim serving a large
	// pod.
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(32 << 20)
	}
	bundle, err := os.Getwd()
	if err != nil {
		return fmt.Errorf("working directory: %w", err)
	}
	rtName := launch.Runtime()
	log := openLogger(filepath.Join(bundle, "log"), f.Debug, rtName)
	root := launch.StateRoot(rtName, bundle, f.Namespace)
	pub := newPublisher(os.Getenv("TTRPC_ADDRESS"), f.Namespace, log)
	// The container class's processes are children of the daemon, in a
	// pid namespace its grandchildren (re-parented to it): it is their
	// subreaper, and reaps every child. The VM class's daemon has only
	// qemu (waited for by package vm) and logging binaries.
	rp := reaper.New(rtName == launch.RuntimeName)
	svc := newService(rp, pub, log, f.Namespace, rtName)
	if rtName == launch.RuntimeName {
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("become subreaper: %w", err)
		}
		if svc.be, err = hostbackend.New(root, rp, svc, log); err != nil {
			return err
		}
		go rp.Run()
	}
	var vb *vmbackend.Backend
	if rtName != launch.RuntimeName {
		vb = vmbackend.New(root, svc, log)
		svc.be, svc.holds = vb, vb.HasSandbox
	}

	l, err := net.FileListener(os.NewFile(3, "socket"))
	if err != nil {
		return fmt.Errorf("shim socket (fd 3): %w", err)
	}
	srv, err := ttrpc.NewServer()
	if err != nil {
		return fmt.Errorf("ttrpc server: %w", err)
	}
	registerTaskService(srv, svc)
	if vb != nil {
		registerSandboxService(srv, &sandboxService{s: svc, vb: vb})
	}
	go func() {
		if err := srv.Serve(context.Background(), l); err != nil && err != ttrpc.ErrServerClosed {
			log.Errorf("ttrpc server: %v", err)
		}
	}()
	log.Debugf("shim %s (%s) serving %s for %s/%s", version, rtName, l.Addr(), f.Namespace, f.ID)

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, unix.SIGTERM, unix.SIGINT)
	select {
	case <-svc.done:
	case s := <-sigs:
		log.Infof("shim exiting on %v", s)
	}
	// Answer the Shutdown call, send the last events, then go.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	srv.Shutdown(ctx)
	pub.close(2 * time.Second)
	if a, ok := l.Addr().(*net.UnixAddr); ok && a.Name != "" && a.Name[0] != '@' {
		os.Remove(a.Name)
	}
	// The state root of this namespace goes when it is empty.
	os.Remove(root)
	return nil
}
