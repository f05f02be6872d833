package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// recorder is a hook that appends "NAME STATUS ID" to log, STATUS and ID
// being read from the state JSON on its stdin. It is plain sh, so the same
// hook works on the host and inside the busybox container.
func recorder(log, name string) specs.Hook {
	script := fmt.Sprintf(`s=$(tr -d ' \n\t'); `+
		`st=$(echo "$s" | grep -o '"status":"[a-z]*"' | cut -d'"' -f4); `+
		`id=$(echo "$s" | grep -o '"id":"[^"]*"' | cut -d'"' -f4); `+
		`echo "%s $st $id" >> %s`, name, log)
	return specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", script},
		Env: []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}}
}

// hookLog makes a directory for hook output, bind-mounted into the container
// at the same path so host-side and container-side hooks write one file.
func hookLog(t testing.TB) (dir, log string) {
	t.Helper()
	dir = filepath.Join(baseDir, fmt.Sprintf("hooks-%d", time.Now().UnixNano()))
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir, filepath.Join(dir, "log")
}

// TestHooks: every hook runs once, in lifecycle order, with the state of
// the container on stdin.
func TestHooks(t *testing.T) {
	dir, log := hookLog(t)
	b := newBundle(t, args("sleep", "1000"), func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: dir, Type: "bind", Source: dir, Options: []string{"bind"}})
		s.Hooks = &specs.Hooks{
			CreateRuntime:   []specs.Hook{recorder(log, "createRuntime")},
			CreateContainer: []specs.Hook{recorder(log, "createContainer")},
			StartContainer:  []specs.Hook{recorder(log, "startContainer")},
			Poststart:       []specs.Hook{recorder(log, "poststart")},
			Poststop:        []specs.Hook{recorder(log, "poststop"), recorder(log, "poststop2")},
		}
	})
	b.create().mustOK(t)
	rt(t, "start", b.ID).mustOK(t)
	b.waitStatus("running")
	rt(t, "kill", b.ID, "KILL").mustOK(t)
	b.waitStatus("stopped")
	rt(t, "delete", b.ID).mustOK(t)

	// The spec does not pin the status create-time hooks see while the
	// container is being created: runc says creating, created is also fair.
	want := []struct{ name, status string }{
		{"createRuntime", "creating|created"},
		{"createContainer", "creating|created"},
		{"startContainer", "created"},
		{"poststart", "running"},
		{"poststop", "stopped"},
		{"poststop2", "stopped"},
	}
	lines := strings.Split(strings.TrimSpace(mustRead(t, log)), "\n")
	if len(lines) != len(want) {
		t.Fatalf("hooks ran %d times, want %d:\n%s", len(lines), len(want), strings.Join(lines, "\n"))
	}
	if runtimeName == "runc" {
		// runc 1.1.5 runs poststart while init may still be running the
		// startContainer hooks: order and status there are racy. Relax only that.
		t.Log("runc: not checking the order of startContainer and poststart, nor poststart's status")
		if strings.HasPrefix(lines[2], "poststart") {
			lines[2], lines[3] = lines[3], lines[2]
		}
		want[3].status = "created|running"
	}
	for i, w := range want {
		f := strings.Fields(lines[i])
		if len(f) != 3 || f[0] != w.name || !oneOf(f[1], strings.Split(w.status, "|")) || f[2] != b.ID {
			t.Errorf("hook %d: got %q, want %s with status %s and id %s", i, lines[i], w.name, w.status, b.ID)
		}
	}
}

// TestHookEnvAndArgs: a hook gets exactly its args and env.
func TestHookEnvAndArgs(t *testing.T) {
	dir, log := hookLog(t)
	_ = dir
	b := newBundle(t, args("true"), func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{
			Path: "/bin/sh",
			Args: []string{"sh", "-c", `echo "$0 $1 $HOOKVAR" > ` + log, "first", "second"},
			Env:  []string{"HOOKVAR=hook-value"},
		}}}
	})
	b.create().mustOK(t)
	if got := strings.TrimSpace(mustRead(t, log)); got != "first second hook-value" {
		t.Fatalf("hook saw %q, want %q", got, "first second hook-value")
	}
}

// pidRecorder is a hook that appends "NAME PID" to log, PID read from the
// state JSON on its stdin.
func pidRecorder(log, name string) specs.Hook {
	script := fmt.Sprintf(`s=$(tr -d ' \n\t'); pid=$(echo "$s" | grep -o '"pid":[0-9]*' | cut -d: -f2); echo "%s $pid" >> %s`, name, log)
	return specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", script}, Env: []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}}
}

// TestHookStatePid: the hooks init runs (createContainer, startContainer)
// get init's pid as the host sees it, whether or not create has a step
// between init's mounts and pivot_root (here: a createRuntime hook), where
// the pid used to come from.
func TestHookStatePid(t *testing.T) {
	for _, withStep := range []bool{false, true} {
		dir, log := hookLog(t)
		b := newBundle(t, args("sleep", "1000"), func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: dir, Type: "bind", Source: dir, Options: []string{"bind"}})
			s.Hooks = &specs.Hooks{
				CreateContainer: []specs.Hook{pidRecorder(log, "createContainer")},
				StartContainer:  []specs.Hook{pidRecorder(log, "startContainer")},
			}
			if withStep {
				s.Hooks.CreateRuntime = []specs.Hook{pidRecorder(log, "createRuntime")}
			}
		})
		b.create().mustOK(t)
		rt(t, "start", b.ID).mustOK(t)
		pid := b.mustState().Pid
		want := fmt.Sprintf("createContainer %d\nstartContainer %d", pid, pid)
		if withStep {
			want = fmt.Sprintf("createRuntime %d\n", pid) + want
		}
		if got := strings.TrimSpace(mustRead(t, log)); got != want {
			t.Errorf("with a hooks step %v: hooks saw\n%s\nwant\n%s", withStep, got, want)
		}
	}
}

// TestHookFailure: a failing create-time hook fails create and leaves
// nothing behind; a failing poststop hook is only a warning.
func TestHookFailure(t *testing.T) {
	fail := specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", "echo hook-broke >&2; exit 1"}}
	for _, tc := range []struct {
		name string
		set  func(*specs.Hooks)
	}{
		{"createRuntime", func(h *specs.Hooks) { h.CreateRuntime = []specs.Hook{fail} }},
		{"createContainer", func(h *specs.Hooks) { h.CreateContainer = []specs.Hook{fail} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBundle(t, args("true"), func(s *specs.Spec) {
				s.Hooks = &specs.Hooks{}
				tc.set(s.Hooks)
			})
			b.create().mustFail(t, "hook")
			assertNothingLeft(t, b)
		})
	}
	// startContainer runs in init at start: run (which starts at once,
	// without exec.sock) and start both fail with the hook's error.
	startFail := func(s *specs.Spec) { s.Hooks = &specs.Hooks{StartContainer: []specs.Hook{fail}} }
	t.Run("startContainer/run", func(t *testing.T) {
		b := newBundle(t, args("true"), startFail)
		b.run().mustFail(t, "startContainer hook")
		assertNothingLeft(t, b)
	})
	t.Run("startContainer/start", func(t *testing.T) {
		b := newBundle(t, args("true"), startFail)
		b.create().mustOK(t)
		rt(t, "start", b.ID).mustFail(t, "startContainer hook")
	})
	t.Run("timeout", func(t *testing.T) {
		one := 1
		b := newBundle(t, args("true"), func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/sleep", Args: []string{"sleep", "30"}, Timeout: &one}}}
		})
		start := time.Now()
		b.create().mustFail(t, "timeout", "timed out", "deadline", "killed")
		if d := time.Since(start); d > 15*time.Second {
			t.Errorf("create with a 1 s hook timeout took %v", d)
		}
		assertNothingLeft(t, b)
	})
	t.Run("poststop", func(t *testing.T) {
		_, log := hookLog(t)
		b := newBundle(t, args("true"), func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{Poststop: []specs.Hook{fail, recorder(log, "after")}}
		})
		b.create().mustOK(t)
		rt(t, "start", b.ID).mustOK(t)
		b.waitStatus("stopped")
		rt(t, "delete", b.ID).mustOK(t)
		assertGone(t, b)
		skipOnRunc(t, "runc stops at the first failing poststop hook")
		mustContain(t, "hooks after a failed poststop", mustRead(t, log), "after stopped")
	})
}
