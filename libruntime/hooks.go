package libruntime

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// runHooks runs hooks of one kind in the runtime's namespaces, each with
// the container state on stdin, stopping at the first failure.
func runHooks(ctx context.Context, kind string, hooks []rspec.Hook, state rspec.State) error {
	if len(hooks) == 0 {
		return nil
	}
	data, err := json.Marshal(state)
	if err != nil {
		return fmt.Errorf("hooks.%s: encode state: %w", kind, err)
	}
	for i, h := range hooks {
		if err := runHook(ctx, h, data); err != nil {
			return fmt.Errorf("hooks.%s[%d] (%s): %w", kind, i, h.Path, err)
		}
	}
	return nil
}

// runHooksWarn runs every hook of a kind whose failures the spec makes
// warnings (poststart, poststop): a failing hook does not stop the others.
func runHooksWarn(ctx context.Context, log Logger, kind string, hooks []rspec.Hook, state rspec.State) {
	for i := range hooks {
		if err := runHooks(ctx, kind, hooks[i:i+1], state); err != nil {
			log.Warnf("%s", strings.Replace(err.Error(), kind+"[0]", fmt.Sprintf("%s[%d]", kind, i), 1))
		}
	}
}

func runHook(ctx context.Context, h rspec.Hook, state []byte) error {
	if h.Timeout != nil && *h.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(*h.Timeout)*time.Second)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, h.Path)
	if len(h.Args) > 0 {
		cmd.Args = h.Args
	}
	cmd.Env = h.Env
	if cmd.Env == nil {
		cmd.Env = []string{}
	}
	cmd.Stdin = bytes.NewReader(state)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// A daemon left behind by the hook must not hold us on its output.
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if ctx.Err() == context.DeadlineExceeded {
		return fmt.Errorf("timed out after %ds", *h.Timeout)
	}
	if err != nil {
		if msg := strings.TrimSpace(out.String()); msg != "" {
			return fmt.Errorf("%w: %s", err, msg)
		}
		return err
	}
	return nil
}
