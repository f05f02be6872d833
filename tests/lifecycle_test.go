package tests

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// TestLifecycle walks create → created → start → running → kill → stopped →
// delete, checking the state JSON and the host at each step.
func TestLifecycle(t *testing.T) {
	b := newBundle(t, shell("echo started; exec sleep 1000"))
	b.create().mustOK(t)

	st := b.mustState()
	if st.Status != specs.StateCreated {
		t.Fatalf("after create: status %q, want created", st.Status)
	}
	if st.ID != b.ID || st.Bundle != b.Dir || st.Pid <= 0 {
		t.Fatalf("after create: state %+v does not describe %s in %s with a pid", st, b.ID, b.Dir)
	}
	if st.Version == "" {
		t.Errorf("state has no ociVersion: %+v", st)
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", st.Pid)); err != nil {
		t.Fatalf("init pid %d of a created container does not exist: %v", st.Pid, err)
	}
	// create must not run the user program.
	time.Sleep(100 * time.Millisecond)
	if out := b.containerOutput(); out != "" {
		t.Fatalf("user program ran before start: %q", out)
	}

	rt(t, "start", b.ID).mustOK(t)
	st = b.waitStatus("running")
	if st.Pid != b.pid {
		t.Errorf("pid changed from %d (created) to %d (running)", b.pid, st.Pid)
	}
	waitOutput(t, b, "started")

	rt(t, "kill", b.ID, "KILL").mustOK(t)
	st = b.waitStatus("stopped")
	if st.Status != specs.StateStopped {
		t.Fatalf("status %q after kill, want stopped", st.Status)
	}

	rt(t, "delete", b.ID).mustOK(t)
	if _, err := b.state(); err == nil {
		t.Fatalf("state of %s succeeds after delete", b.ID)
	}
	assertGone(t, b)
}

// TestCreateWithoutProcess: the spec lets create run without a process; only
// start must fail then.
func TestCreateWithoutProcess(t *testing.T) {
	skipOnRunc(t, "runc refuses a config without process at create")
	b := newBundle(t, func(s *specs.Spec) { s.Process = nil })
	b.create().mustOK(t)
	if st := b.mustState(); st.Status != specs.StateCreated {
		t.Fatalf("status %q, want created", st.Status)
	}
	rt(t, "start", b.ID).mustFail(t, "process")
	rt(t, "delete", "--force", b.ID).mustOK(t)
	assertGone(t, b)
}

// TestRunDetached: `run -d` leaves a running container behind, whose init
// runs the program, with its pid in --pid-file.
func TestRunDetached(t *testing.T) {
	b := newBundle(t, args("sleep", "1000"))
	pidFile := filepath.Join(b.Dir, "init.pid")
	b.detached("run", "--detach", "--pid-file", pidFile).mustOK(t)
	st := b.mustState()
	if st.Status != specs.StateRunning {
		t.Fatalf("status %q after run -d, want running", st.Status)
	}
	// The program runs: init's command line is the container's.
	if cmdline := strings.ReplaceAll(mustRead(t, fmt.Sprintf("/proc/%d/cmdline", st.Pid)), "\x00", " "); cmdline != "sleep 1000 " {
		t.Errorf("init runs %q, want sleep 1000", cmdline)
	}
	if got := strings.TrimSpace(mustRead(t, pidFile)); got != strconv.Itoa(st.Pid) {
		t.Errorf("pid file %q, state pid %d", got, st.Pid)
	}
	rt(t, "delete", "--force", b.ID).mustOK(t)
	assertGone(t, b)
}

// TestDeleteWithoutForce: delete without -f must fail unless stopped, and
// leave the container intact.
func TestDeleteWithoutForce(t *testing.T) {
	for _, start := range []bool{false, true} {
		name := map[bool]string{false: "created", true: "running"}[start]
		t.Run(name, func(t *testing.T) {
			if !start {
				skipOnRunc(t, "runc deletes a created container without --force")
			}
			b := newBundle(t, args("sleep", "1000"))
			b.create().mustOK(t)
			if start {
				rt(t, "start", b.ID).mustOK(t)
				b.waitStatus("running")
			}
			rt(t, "delete", b.ID).mustFail(t, "stopped", "running", "created", "force")
			if st := b.mustState(); string(st.Status) != name {
				t.Fatalf("status %q after a refused delete, want %q", st.Status, name)
			}
			if _, err := os.Stat(fmt.Sprintf("/proc/%d", b.pid)); err != nil {
				t.Fatalf("init died on a refused delete: %v", err)
			}
		})
	}
}

// TestDeleteForce: delete -f removes a created or running container and
// everything it made.
func TestDeleteForce(t *testing.T) {
	for _, start := range []bool{false, true} {
		t.Run(map[bool]string{false: "created", true: "running"}[start], func(t *testing.T) {
			b := newBundle(t, args("sleep", "1000"))
			b.create().mustOK(t)
			if start {
				rt(t, "start", b.ID).mustOK(t)
				b.waitStatus("running")
			}
			rt(t, "delete", "--force", b.ID).mustOK(t)
			if _, err := b.state(); err == nil {
				t.Fatal("state succeeds after delete --force")
			}
			assertGone(t, b)
		})
	}
}

// TestStartTwice: start is only valid from created.
func TestStartTwice(t *testing.T) {
	b := newBundle(t, args("sleep", "1000"))
	b.create().mustOK(t)
	rt(t, "start", b.ID).mustOK(t)
	b.waitStatus("running")
	rt(t, "start", b.ID).mustFail(t, "created", "running", "not")
	if st := b.mustState(); st.Status != specs.StateRunning {
		t.Fatalf("status %q after a second start, want running", st.Status)
	}
}

// TestStartStopped: a stopped container cannot be started again.
func TestStartStopped(t *testing.T) {
	b := newBundle(t, args("true"))
	b.create().mustOK(t)
	rt(t, "start", b.ID).mustOK(t)
	b.waitStatus("stopped")
	rt(t, "start", b.ID).mustFail(t, "stopped", "created", "not")
}

// TestKillStopped: kill is only valid when created or running.
func TestKillStopped(t *testing.T) {
	b := newBundle(t, args("true"))
	b.create().mustOK(t)
	rt(t, "start", b.ID).mustOK(t)
	b.waitStatus("stopped")
	rt(t, "kill", b.ID, "KILL").mustFail(t, "not running", "stopped", "created")
}

// TestKillSignal: signals by name, SIG-name and number reach init (which
// traps TERM: pid 1 ignores default-action signals).
func TestKillSignal(t *testing.T) {
	for _, sig := range []string{"TERM", "SIGTERM", "15"} {
		t.Run(sig, func(t *testing.T) {
			b := newBundle(t, shell(`trap 'echo got-term; exit 7' TERM; echo ready; while :; do sleep 0.05; done`))
			b.create().mustOK(t)
			rt(t, "start", b.ID).mustOK(t)
			waitOutput(t, b, "ready")
			rt(t, "kill", b.ID, sig).mustOK(t)
			b.waitStatus("stopped")
			mustContain(t, "container output", b.containerOutput(), "got-term")
			rt(t, "delete", b.ID).mustOK(t)
		})
	}
}

// TestKillAll: kill --all signals every process in the container.
func TestKillAll(t *testing.T) {
	b := newBundle(t, shell(`sleep 1000 & echo ready; wait`))
	b.create().mustOK(t)
	rt(t, "start", b.ID).mustOK(t)
	waitOutput(t, b, "ready")
	rt(t, "kill", "--all", b.ID, "KILL").mustOK(t)
	b.waitStatus("stopped")
}

// TestPidFile: --pid-file holds the init pid that state reports.
func TestPidFile(t *testing.T) {
	b := newBundle(t, args("sleep", "1000"))
	pidFile := filepath.Join(b.Dir, "init.pid")
	b.create("--pid-file", pidFile).mustOK(t)
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatalf("pid file %q: %v", data, err)
	}
	if st := b.mustState(); pid != st.Pid {
		t.Fatalf("pid file says %d, state says %d", pid, st.Pid)
	}
}

// TestPidFileFailedCreate: a create that fails in init's last steps (its
// cwd is a file), after the pid file was written ahead under a temporary
// name, leaves nothing in the pid file's directory.
func TestPidFileFailedCreate(t *testing.T) {
	b := newBundle(t, args("true"), func(s *specs.Spec) { s.Process.Cwd = "/bin/busybox" })
	dir := filepath.Join(b.Dir, "piddir")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b.create("--pid-file", filepath.Join(dir, "init.pid")).mustFail(t, "cwd")
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("failed create left %v in the pid file's directory", ents)
	}
}

// TestList: list shows the container, in table, json and quiet form.
func TestList(t *testing.T) {
	b := newBundle(t, args("sleep", "1000"))
	b.create().mustOK(t)
	mustContain(t, "list -q", rt(t, "list", "-q").mustOK(t).stdout, b.ID)
	mustContain(t, "list", rt(t, "list").mustOK(t).stdout, b.ID)
	var list []containerState
	out := rt(t, "list", "--format", "json").mustOK(t).stdout
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("list --format json: %v: %q", err, out)
	}
	for _, c := range list {
		if c.ID == b.ID {
			if c.Status != specs.StateCreated || c.Pid != b.pid {
				t.Fatalf("list entry %+v, want created with pid %d", c, b.pid)
			}
			return
		}
	}
	t.Fatalf("%s missing from list --format json: %s", b.ID, out)
}

// TestExitStatus: foreground run returns the container's exit status, and
// 128+signal when the container is killed.
func TestExitStatus(t *testing.T) {
	for _, code := range []int{0, 3, 42} {
		b := newBundle(t, shell(fmt.Sprintf("exit %d", code)))
		if r := b.run(); r.code != code {
			t.Errorf("exit %d: run returned %s", code, r)
		}
	}

	b := newBundle(t, args("sleep", "1000"))
	_, done := b.runningForeground()
	rt(t, "kill", b.ID, "KILL").mustOK(t)
	if r := <-done; r.code != 128+9 {
		t.Fatalf("run of a SIGKILLed container: %s, want exit 137", r)
	}
	if _, err := b.state(); err == nil {
		t.Fatalf("foreground run left container %s behind", b.ID)
	}
}

// runningForeground starts `run` of b in the foreground and returns once
// the container runs; done yields run's result when it ends.
func (b *bundle) runningForeground() (*exec.Cmd, <-chan result) {
	t := b.t
	t.Helper()
	cmd, outF, errF := rtCommand(t, cmdOpts{}, "run", "--bundle", b.Dir, b.ID)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan result, 1)
	go func() { done <- finish(t, cmd, cmd.Wait(), outF, errF) }()
	st := b.waitStatus("running")
	b.pid = st.Pid
	registerContainerPid(st.Pid)
	return cmd, done
}

// TestExecFormatError: a program that passes init's checks (an executable
// file) but that execve refuses fails run, which starts at once, with
// execve's error and leaves nothing; and fails start the same way.
func TestExecFormatError(t *testing.T) {
	mk := func() *bundle {
		b := newBundle(t, args("/bin/not-elf"))
		b.plantFile("/bin/not-elf", "\x00\x01 not a program")
		if err := os.Chmod(b.rootfsPath("/bin/not-elf"), 0o755); err != nil {
			t.Fatal(err)
		}
		return b
	}
	b := mk()
	b.run().mustFail(t, "exec format error")
	assertNothingLeft(t, b)
	b = mk()
	b.create().mustOK(t)
	rt(t, "start", b.ID).mustFail(t, "exec format error")
}

// TestRunForwardsSignals: run in the foreground passes the signals it gets
// on to the container's init (here one that traps them) and returns its
// exit status.
func TestRunForwardsSignals(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGHUP, syscall.SIGUSR1} {
		b := newBundle(t, shell(`trap 'exit 7' TERM HUP USR1; while :; do sleep 0.05; done`))
		cmd, done := b.runningForeground()
		// The shell may not have set its trap yet: repeat until run ends.
		var r result
	wait:
		for {
			cmd.Process.Signal(sig)
			select {
			case r = <-done:
				break wait
			case <-time.After(100 * time.Millisecond):
			}
		}
		if r.code != 7 {
			t.Errorf("%v to a foreground run: %s, want the container's exit 7", sig, r)
		}
	}
}

// waitOutput waits until a detached container has written want.
func waitOutput(t testing.TB, b *bundle, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(b.containerOutput(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("container never wrote %q; stdout %q", want, b.containerOutput())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// assertGone checks that nothing of a deleted container remains: its state
// dir, its cgroups, its init process.
func assertGone(t testing.TB, b *bundle) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(stateRoot, b.ID)); err == nil {
		t.Errorf("state dir of %s remains after delete", b.ID)
	}
	for _, h := range cgroupHierarchies() {
		if _, err := os.Stat(cgroupDir(h, b.CgroupsPath)); err == nil {
			t.Errorf("cgroup %s remains after delete", cgroupDir(h, b.CgroupsPath))
		}
	}
	if b.pid > 0 {
		if err := reapGone(b.pid, 5*time.Second); err != nil {
			t.Errorf("after delete: %v", err)
		}
	}
}

// TestInitBinarySealed: while a container is created its init is rt itself;
// the executable it runs must be a read-only copy, so nothing in the
// container can overwrite the host's rt through /proc/PID/exe
// (CVE-2019-5736).
func TestInitBinarySealed(t *testing.T) {
	skipOnRunc(t, "runc 1.1.5 seals with a memfd; this checks rt's read-only mount")
	b := newBundle(t, args("true"))
	b.create().mustOK(t)
	st := b.mustState()
	exe := fmt.Sprintf("/proc/%d/exe", st.Pid)
	var fs unix.Statfs_t
	if err := unix.Statfs(exe, &fs); err != nil {
		t.Fatal(err)
	}
	if fs.Flags&unix.ST_RDONLY == 0 {
		t.Fatalf("init's executable %s is on a writable mount (flags %#x)", exe, fs.Flags)
	}
	// Even once init is gone from it, the file cannot be opened for writing.
	if f, err := os.OpenFile(exe, os.O_WRONLY, 0); err == nil {
		f.Close()
		t.Fatalf("opened %s for writing", exe)
	} else if !errors.Is(err, unix.EROFS) && !errors.Is(err, unix.ETXTBSY) {
		t.Fatalf("open %s for writing: %v, want EROFS or ETXTBSY", exe, err)
	}
}

// TestInterruptedCreate: an engine that gives up on a slow create kills the
// runtime; `delete -f` must still remove everything that create made.
func TestInterruptedCreate(t *testing.T) {
	b := newBundle(t, args("true"), func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/sleep", Args: []string{"sleep", "30"}}}}
	})
	cmd, outF, errF := rtCommand(t, cmdOpts{}, "create", "--bundle", b.Dir, b.ID)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until the hook runs: init exists and is in its cgroups.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if data, err := os.ReadFile(cgroupDir("pids", b.CgroupsPath) + "/cgroup.procs"); err == nil && len(strings.TrimSpace(string(data))) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("create never placed init in its cgroup")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cmd.Process.Kill()
	finish(t, cmd, cmd.Wait(), outF, errF)
	st := b.mustState()
	b.pid = st.Pid
	if runtimeName == "rt" && st.Status != "creating" && st.Status != "stopped" {
		t.Errorf("after create was killed: status %q, want creating or stopped", st.Status)
	}
	rt(t, "delete", "--force", b.ID).mustOK(t)
	assertGone(t, b)
	// Only the hook's sleep and the init, which exited when its parent died,
	// are left for the reaper (the suite plays the engine's subreaper).
	for _, p := range reapOrphans(true) {
		if !strings.Contains(p, "sleep") && !strings.Contains(p, "rt:init") {
			t.Errorf("left behind: %s", p)
		}
	}
}

// TestDeleteKillsLeftovers: delete kills what is left in the container's
// cgroups once init is gone - without a pid namespace, init's children;
// with one, a process someone put in the cgroup from outside - and removes
// the cgroups.
func TestDeleteKillsLeftovers(t *testing.T) {
	skipOnRunc(t, "runc 1.1.5 leaves a process put in the cgroup from outside")
	t.Run("no pid namespace", func(t *testing.T) {
		b := newBundle(t, shell("sleep 1000 & echo $! > /tmp/child; exec sleep 1000"), func(s *specs.Spec) {
			var keep []specs.LinuxNamespace
			for _, ns := range s.Linux.Namespaces {
				if ns.Type != specs.PIDNamespace {
					keep = append(keep, ns)
				}
			}
			s.Linux.Namespaces = keep
			s.Root.Readonly = false
		})
		b.detached("run", "-d").mustOK(t)
		var child int
		for i := 0; i < 200 && child == 0; i++ {
			data, _ := os.ReadFile(filepath.Join(b.Dir, "rootfs/tmp/child"))
			child, _ = strconv.Atoi(strings.TrimSpace(string(data)))
			time.Sleep(10 * time.Millisecond)
		}
		if child == 0 {
			t.Fatal("the container's background sleep never wrote its pid")
		}
		rt(t, "kill", b.ID, "KILL").mustOK(t)
		b.waitStatus("stopped")
		rt(t, "delete", b.ID).mustOK(t)
		assertGone(t, b)
		if err := reapGone(child, 5*time.Second); err != nil {
			t.Errorf("init's child: %v", err)
		}
	})
	t.Run("pid namespace, a process from outside", func(t *testing.T) {
		b := newBundle(t, args("sleep", "1000"))
		b.detached("run", "-d").mustOK(t)
		intruder := exec.Command("sleep", "1000")
		if err := intruder.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() {
			intruder.Process.Kill()
			intruder.Wait()
		}()
		dir := cgroupDir(cgroupHierarchies()[0], b.CgroupsPath)
		if err := os.WriteFile(dir+"/cgroup.procs", []byte(strconv.Itoa(intruder.Process.Pid)), 0); err != nil {
			t.Fatal(err)
		}
		rt(t, "kill", b.ID, "KILL").mustOK(t)
		b.waitStatus("stopped")
		rt(t, "delete", b.ID).mustOK(t)
		assertGone(t, b)
		if err := intruder.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
			t.Errorf("the process put in the cgroup: %v, want killed", err)
		}
	})
}

// TestDeleteForceCreatingWithoutPid: create saves init's pid only when init
// is ready; a create killed just before that leaves a "creating" state
// with no pid and init waiting in its cgroups. delete -f finds it there,
// kills it and removes everything.
func TestDeleteForceCreatingWithoutPid(t *testing.T) {
	skipOnRunc(t, "rewrites rt's state file")
	b := newBundle(t, args("sleep", "1000"))
	b.create().mustOK(t)
	st := b.mustState()
	path := filepath.Join(stateRoot, b.ID, "state.json")
	var raw map[string]any
	if err := json.Unmarshal([]byte(mustRead(t, path)), &raw); err != nil {
		t.Fatal(err)
	}
	raw["init_pid"], raw["init_start_time"], raw["creating"] = 0, 0, true
	data, _ := json.Marshal(raw)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if s := b.mustState(); s.Status != "creating" || s.Pid != 0 {
		t.Fatalf("rewritten state reads as %q, pid %d", s.Status, s.Pid)
	}
	rt(t, "delete", "--force", b.ID).mustOK(t)
	b.pid = st.Pid
	assertGone(t, b)
}
