package libcontainer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtrun/rt/nsenter"
)

// runHooks runs hooks in order with the state on stdin; the first failure
// stops the rest and is returned with the hook's output.
func runHooks(kind string, hooks []specs.Hook, st *specs.State) error {
	return runHooksMode(kind, hooks, st, false)
}

// runHooksAll runs every hook even after one fails (poststop: the spec makes
// failures warnings) and returns all the failures.
func runHooksAll(kind string, hooks []specs.Hook, st *specs.State) error {
	return runHooksMode(kind, hooks, st, true)
}

func runHooksMode(kind string, hooks []specs.Hook, st *specs.State, all bool) error {
	if len(hooks) == 0 {
		return nil
	}
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	var errs []error
	for i, h := range hooks {
		if err := runHook(h, data); err != nil {
			err = fmt.Errorf("%s hook #%d (%s): %w", kind, i, h.Path, err)
			if !all {
				return err
			}
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func runHook(h specs.Hook, state []byte) error {
	ctx := context.Background()
	if h.Timeout != nil {
		if *h.Timeout <= 0 {
			return fmt.Errorf("timeout must be positive, got %d", *h.Timeout)
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(*h.Timeout)*time.Second)
		defer cancel()
	}
	args := h.Args
	if len(args) == 0 {
		args = []string{h.Path}
	}
	cmd := exec.CommandContext(ctx, h.Path)
	cmd.Args = args
	cmd.Env = h.Env
	if cmd.Env == nil {
		cmd.Env = []string{}
	}
	cmd.Stdin = bytes.NewReader(state)
	var stderr bytes.Buffer
	cmd.Stdout = &stderr
	cmd.Stderr = &stderr
	// Do not wait for grandchildren that kept our pipes open past the timeout.
	cmd.WaitDelay = time.Second
	err := nsenter.WithCallerTimerSlack(cmd.Start)
	if err == nil {
		err = cmd.Wait()
	}
	if ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("timed out after %ds", *h.Timeout)
	}
	if err != nil {
		if out := strings.TrimSpace(stderr.String()); out != "" {
			return fmt.Errorf("%w: %s", err, out)
		}
		return err
	}
	return nil
}
