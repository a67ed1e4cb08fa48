package libruntime

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// runHooks runs hooks of one kind in the runtime's namespaces, each with
// the container state on stdin, stopping at the first failure.
func (r *Runtime) runHooks(ctx context.Context, kind string, hooks []rspec.Hook, state rspec.State) error {
	if len(hooks) == 0 {
		return nil
	}
	data, err := json.Marshal(state)
	if err != nil {
		return fmt.Errorf("hooks.%s: encode state: %w", kind, err)
	}
	for i, h := range hooks {
		if err := r.runHook(ctx, h, data); err != nil {
			return fmt.Errorf("hooks.%s[%d] (%s): %w", kind, i, h.Path, err)
		}
	}
	return nil
}

// HookError is what Delete returns when a poststop hook failed: the
// container is gone all the same. `husk delete` fails with it and `husk
// run` only warns about it, as runc does.
type HookError struct{ Err error }

func (e *HookError) Error() string { return e.Err.Error() }
func (e *HookError) Unwrap() error { return e.Err }

// runPoststop runs the poststop hooks of a container that is gone, up to
// the first that fails.
func (c *Container) runPoststop(ctx context.Context, hooks *rspec.Hooks) error {
	if hooks == nil || len(hooks.Poststop) == 0 {
		return nil
	}
	if err := c.rt.runHooks(ctx, "poststop", hooks.Poststop, c.hookState(Stopped)); err != nil {
		return &HookError{err}
	}
	return nil
}

// runHook runs one hook: state on stdin, output kept for the error. It is
// started directly and collected through the runtime's Reaper, not with
// os/exec, whose Wait would race a caller that reaps every child (the
// containerd shim).
func (r *Runtime) runHook(ctx context.Context, h rspec.Hook, state []byte) error {
	if h.Timeout != nil && *h.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(*h.Timeout)*time.Second)
		defer cancel()
	}
	args := h.Args
	if len(args) == 0 {
		args = []string{h.Path}
	}
	// Without an env of its own a hook inherits ours, as runc's do (Go's
	// exec.Cmd with a nil Env); an empty one is empty.
	env := h.Env
	if env == nil {
		env = os.Environ()
	}
	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		return err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		stdinR.Close()
		stdinW.Close()
		return err
	}
	proc, err := os.StartProcess(h.Path, args, &os.ProcAttr{Env: env, Files: []*os.File{stdinR, outW, outW}})
	stdinR.Close()
	outW.Close()
	if err != nil {
		stdinW.Close()
		outR.Close()
		return err
	}
	defer proc.Release()
	// A hook that does not read its stdin just gets EPIPE here (Go ignores
	// SIGPIPE on pipes other than stdout/stderr).
	go func() {
		stdinW.Write(state)
		stdinW.Close()
	}()
	var out bytes.Buffer
	outDone := make(chan struct{})
	go func() {
		io.Copy(&out, io.LimitReader(outR, 64<<10))
		close(outDone)
	}()
	type exit struct {
		code int
		err  error
	}
	exited := make(chan exit, 1)
	go func() {
		code, err := r.reaper.Wait(proc.Pid)
		exited <- exit{code, err}
	}()
	var res exit
	select {
	case res = <-exited:
	case <-ctx.Done():
		// Through the pidfd os.StartProcess holds: the reaper may have
		// collected the hook meanwhile, and its pid may be another's.
		proc.Kill()
		<-exited
		outR.Close()
		if ctx.Err() == context.DeadlineExceeded {
			return fmt.Errorf("timed out after %ds", *h.Timeout)
		}
		return ctx.Err()
	}
	// A daemon left behind by the hook must not hold us on its output.
	select {
	case <-outDone:
	case <-time.After(time.Second):
	}
	outR.Close()
	if res.err != nil {
		return res.err
	}
	if res.code != 0 {
		msg := strings.TrimSpace(out.String())
		if msg == "" {
			return fmt.Errorf("exit status %d", res.code)
		}
		return fmt.Errorf("exit status %d: %s", res.code, msg)
	}
	return nil
}
