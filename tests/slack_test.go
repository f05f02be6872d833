package tests

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// callerSlack is a timer slack (ns) no process has by default (50000).
const callerSlack = 77777

// catSlack prints the timer slack of the process that runs it.
const catSlack = "cat /proc/self/timerslack_ns"

// TestTimerSlackOfCaller: every process the runtime starts has the timer
// slack of the runtime's caller: the container's program on both of rt's
// paths and by exec, and hooks on the host. (rt's own threads run with a
// coarser one, which they must not hand on; see nsenter's rtTimerSlack.)
func TestTimerSlackOfCaller(t *testing.T) {
	want := strconv.Itoa(callerSlack)
	o := cmdOpts{timerSlack: callerSlack}
	check := func(what, got string) {
		t.Helper()
		if got = strings.TrimSpace(got); got != want {
			t.Errorf("%s: timer slack %s, want the caller's %s", what, got, want)
		}
	}

	direct := newBundle(t, shell(catSlack))
	check("run (direct path)", direct.runWith(o).mustOK(t).stdout)

	dir, _ := hookLog(t)
	hook := func(name string) specs.Hook {
		return specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", catSlack + " > " + filepath.Join(dir, name)}}
	}
	reexec := newBundle(t, shell(catSlack), reexecPath, func(s *specs.Spec) {
		s.Hooks.CreateRuntime = []specs.Hook{hook("createRuntime")}
		s.Hooks.Poststop = []specs.Hook{hook("poststop")}
	})
	check("run (re-exec path)", reexec.runWith(o).mustOK(t).stdout)

	// A startContainer hook runs in init (in the container) from the thread
	// that then execs the program, after it took the caller's slack back.
	started := newBundle(t, shell(catSlack), func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{StartContainer: []specs.Hook{{Path: "/bin/true"}}}
	})
	check("run (startContainer hook)", started.runWith(o).mustOK(t).stdout)
	created := newBundle(t, shell(catSlack), func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{StartContainer: []specs.Hook{{Path: "/bin/true"}}}
	})
	// The container's process is init, forked by create: it has create's
	// caller's slack whoever starts it.
	out, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	rtWith(t, cmdOpts{stdout: out, timerSlack: callerSlack}, "create", "--bundle", created.Dir, created.ID).mustOK(t)
	created.pid = created.mustState().Pid
	registerContainerPid(created.pid)
	rt(t, "start", created.ID).mustOK(t)
	created.waitStatus("stopped")
	rt(t, "delete", created.ID).mustOK(t)
	if err := reapGone(created.pid, 5*time.Second); err != nil { // ours: create's child, reparented
		t.Fatal(err)
	}
	data, err := os.ReadFile(out.Name())
	if err != nil {
		t.Fatal(err)
	}
	check("create, start (startContainer hook)", string(data))
	for _, name := range []string{"createRuntime", "poststop"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("%s hook: %v", name, err)
		}
		check(name+" hook", string(data))
	}

	sleeper := newBundle(t, args("sleep", "1000"))
	sleeper.create().mustOK(t)
	rt(t, "start", sleeper.ID).mustOK(t)
	sleeper.waitStatus("running")
	check("exec", rtWith(t, o, "exec", sleeper.ID, "sh", "-c", catSlack).mustOK(t).stdout)
	// RLIMIT_NPROC takes rt's exec through a second rt process, which sets
	// it before the user switch.
	proc := filepath.Join(t.TempDir(), "process.json")
	data, err = json.Marshal(specs.Process{Args: []string{"sh", "-c", catSlack}, Cwd: "/",
		Env:     []string{"PATH=/bin"},
		Rlimits: []specs.POSIXRlimit{{Type: "RLIMIT_NPROC", Hard: 4096, Soft: 4096}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(proc, data, 0o644); err != nil {
		t.Fatal(err)
	}
	r := rtWith(t, o, "--debug", "exec", "--process", proc, sleeper.ID).mustOK(t)
	if runtimeName == "rt" {
		mustContain(t, "exec's debug log", r.stderr, "exec: re-exec path")
	}
	check("exec (re-exec path)", r.stdout)
}

// TestRuntimeTimerSlack: rt's own threads run with a 1 ms timer slack, set
// by its entry stage before the Go runtime starts any thread.
func TestRuntimeTimerSlack(t *testing.T) {
	skipOnRunc(t, "rt's own timer slack")
	b := newBundle(t, args("sleep", "1000"))
	cmd, done := b.runningForeground()
	tasks, err := os.ReadDir("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/task")
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		data, err := os.ReadFile("/proc/" + task.Name() + "/timerslack_ns")
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.TrimSpace(string(data)); got != "1000000" {
			t.Errorf("thread %s of rt run: timer slack %s ns, want 1000000", task.Name(), got)
		}
	}
	if len(tasks) < 2 {
		t.Errorf("rt run has %d threads; the Go runtime starts more", len(tasks))
	}
	rt(t, "kill", b.ID, "KILL").mustOK(t)
	<-done
}
