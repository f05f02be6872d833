package engines

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// containerd 1.6 with its runc v2 shim, driven by ctr run --runc-binary: the
// shim calls the runtime with --root, --log FILE --log-format json, and
// create --bundle --pid-file [--console-socket], exec --process --detach,
// ps --format json, update --resources -, pause, resume, kill, delete.

func TestCtrRunExitCode(t *testing.T) {
	id := "exit-" + runtimeName
	r := execute(t, ctrRun([]string{"--rm"}, id, "sh", "-c", "echo out; exit 7"))
	if r.code != 7 || r.stdout != "out\n" {
		t.Fatalf("want exit 7 and out; got %v", r)
	}
	noCgroup(t, env.CgroupParent+"/"+id)
}

func TestCtrTerminalRun(t *testing.T) {
	id := "tty-" + runtimeName
	line := shellQuote(ctrRun([]string{"--rm", "-t"}, id, "sh", "-c", "tty; sleep 0.2; stty size").Args)
	out := ok(t, inTerminal(env.Dir, os.Environ(), line))
	if !strings.Contains(out, "/dev/pts/0") || !strings.Contains(out, "23 91") {
		t.Fatalf("want /dev/pts/0 and size 23 91; got %q", out)
	}
}

func ctrTaskStatus(t *testing.T, id string) string {
	t.Helper()
	for _, line := range strings.Split(ok(t, env.Ctr("task", "ls")), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == id {
			return f[2]
		}
	}
	return "absent"
}

func ctrRemove(id string) {
	env.Ctr("task", "kill", "--signal", "SIGKILL", id).Run()
	for i := 0; i < 100; i++ {
		out, err := env.Ctr("task", "delete", id).CombinedOutput()
		if err == nil || strings.Contains(string(out), "not found") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	env.Ctr("containers", "delete", id).Run()
}

func TestCtrDetachedLifecycle(t *testing.T) {
	id := "life-" + runtimeName
	cgroup := env.CgroupParent + "/" + id
	ok(t, ctrRun([]string{"-d"}, id, "sleep", "1000"))
	defer ctrRemove(id)
	pidb, err := os.ReadFile(filepath.Join(env.CtrdBundle(id), "init.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid := strings.TrimSpace(string(pidb))
	if s := ctrTaskStatus(t, id); s != "RUNNING" {
		t.Fatalf("task status %s", s)
	}
	if procs, _ := cgroupFile("pids", cgroup, "cgroup.procs"); !strings.Contains(procs, pid) {
		t.Fatalf("init %s not in pids cgroup %s: %q", pid, cgroup, procs)
	}

	t.Run("exec", func(t *testing.T) {
		checkExecNamespaces(t, execute(t, env.Ctr("task", "exec", "--exec-id", "e1", id, "sh", "-c", nsScript)), pid)
	})
	t.Run("exec-tty", func(t *testing.T) {
		line := shellQuote(env.Ctr("task", "exec", "-t", "--exec-id", "e2", id, "sh", "-c", "tty; sleep 0.2; stty size").Args)
		out := ok(t, inTerminal(env.Dir, os.Environ(), line))
		if !strings.Contains(out, "/dev/pts/") || !strings.Contains(out, "23 91") {
			t.Fatalf("want a pts of size 23 91; got %q", out)
		}
	})
	t.Run("ps", func(t *testing.T) {
		// The shim asks the runtime: ps --format json.
		out := ok(t, env.Ctr("task", "ps", id))
		if !strings.Contains(out, pid) {
			t.Fatalf("ctr task ps lacks init %s: %q", pid, out)
		}
	})
	t.Run("pause-resume", func(t *testing.T) {
		ok(t, env.Ctr("task", "pause", id))
		if s := ctrTaskStatus(t, id); s != "PAUSED" {
			t.Fatalf("task status %s after pause", s)
		}
		if s, _ := cgroupFile("freezer", cgroup, "freezer.state"); s != "FROZEN" {
			t.Fatalf("freezer.state %q after pause", s)
		}
		ok(t, env.Ctr("task", "resume", id))
		if s := ctrTaskStatus(t, id); s != "RUNNING" {
			t.Fatalf("task status %s after resume", s)
		}
		if s, _ := cgroupFile("freezer", cgroup, "freezer.state"); s != "THAWED" {
			t.Fatalf("freezer.state %q after resume", s)
		}
	})
	t.Run("update", func(t *testing.T) {
		// Tasks.Update → shim → RUNTIME update --resources - (JSON on stdin).
		ok(t, exec.Command(ctrUpdate, env.CtrdSocket(), env.Name, id,
			`{"memory":{"limit":67108864},"pids":{"limit":55}}`))
		if s, _ := cgroupFile("memory", cgroup, "memory.limit_in_bytes"); s != "67108864" {
			t.Fatalf("memory.limit_in_bytes %q after update", s)
		}
		if s, _ := cgroupFile("pids", cgroup, "pids.max"); s != "55" {
			t.Fatalf("pids.max %q after update", s)
		}
	})
	t.Run("kill-delete", func(t *testing.T) {
		// sleep as PID 1 ignores SIGTERM; SIGKILL ends it.
		ok(t, env.Ctr("task", "kill", "--signal", "SIGTERM", id))
		time.Sleep(200 * time.Millisecond)
		if s := ctrTaskStatus(t, id); s != "RUNNING" {
			t.Fatalf("PID 1 without a handler died of SIGTERM: %s", s)
		}
		ok(t, env.Ctr("task", "kill", "--signal", "SIGKILL", id))
		eventually(t, 5*time.Second, "task stopped", func() error {
			if s := ctrTaskStatus(t, id); s != "STOPPED" {
				return &statusError{s}
			}
			return nil
		})
		ok(t, env.Ctr("task", "delete", id))
		ok(t, env.Ctr("containers", "delete", id))
		if r := runtimeState(t, env.RuncRoot()+"/"+env.Name, id); r.code == 0 {
			t.Fatalf("runtime still knows the container: %v", r)
		}
		noCgroup(t, cgroup)
	})
}

type statusError struct{ s string }

func (e *statusError) Error() string { return "status " + e.s }

// ctr task kill -s delivers that signal; ctr run reports the exit code.
func TestCtrKillSignal(t *testing.T) {
	id := "kill-" + runtimeName
	run := ctrRun(nil, id, "sh", "-c", `trap "exit 42" USR1; touch /tmp/ready; while :; do sleep 0.1; done`)
	done := make(chan result, 1)
	go func() { done <- execute(t, run) }()
	defer ctrRemove(id)
	eventually(t, 10*time.Second, "trap installed", func() error {
		return env.Ctr("task", "exec", "--exec-id", "probe", id, "test", "-e", "/tmp/ready").Run()
	})
	ok(t, env.Ctr("task", "kill", "--signal", "SIGUSR1", id))
	select {
	case r := <-done:
		if r.code != 42 {
			t.Fatalf("want exit 42 after SIGUSR1; got %v", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ctr run did not return after SIGUSR1")
	}
}

// containerd reports an OOM kill as a /tasks/oom event (the shim watches
// the container's memory cgroup, which the runtime must have set up).
func TestCtrOOM(t *testing.T) {
	id := "oom-" + runtimeName
	events := env.Ctr("events")
	pipe, err := events.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := events.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { events.Process.Kill(); events.Wait() }()
	got := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			got <- sc.Text()
		}
		close(got)
	}()
	time.Sleep(200 * time.Millisecond) // subscribed
	r := execute(t, ctrRun([]string{"--rm", "--memory-limit", "16777216"}, id, "tail", "/dev/zero"))
	if r.code != 137 {
		t.Fatalf("want 137 from the OOM kill; got %v", r)
	}
	timeout := time.After(5 * time.Second)
	for {
		select {
		case line, open := <-got:
			if !open {
				t.Fatal("ctr events ended without an oom event")
			}
			if strings.Contains(line, "/tasks/oom") && strings.Contains(line, `"container_id":"`+id+`"`) {
				return
			}
		case <-timeout:
			t.Fatal("no /tasks/oom event for the container")
		}
	}
}

// Runtime errors reach ctr's user: the shim takes the last "level":"error"
// line of the runtime's JSON log.
func TestCtrRuntimeErrors(t *testing.T) {
	r := execute(t, ctrRun([]string{"--rm"}, "err1-"+runtimeName, "/no/such/binary"))
	if r.code == 0 || !strings.Contains(r.stderr, "/no/such/binary") || !strings.Contains(r.stderr, "no such file or directory") {
		t.Fatalf("missing binary: want the runtime's message; got %v", r)
	}
	checkNoExitStatusOnly(t, r)
	r = execute(t, ctrRun([]string{"--rm", "--mount", "type=bind,src=/no/such/dir,dst=/x,options=rbind"}, "err2-"+runtimeName, "true"))
	if r.code == 0 || !strings.Contains(r.stderr, "/no/such/dir") {
		t.Fatalf("bad mount: want the runtime's message; got %v", r)
	}
	checkNoExitStatusOnly(t, r)
	if runtimeName == "rt" && !strings.Contains(r.stderr, "mounts[") {
		t.Fatalf("rt's message should name the mount: %v", r)
	}
	// Failed creates leave no container in the runtime's root.
	out := ok(t, exec.Command(runtimeBin, "--root", env.RuncRoot()+"/"+env.Name, "list", "--format", "json"))
	var list []map[string]any
	json.Unmarshal([]byte(out), &list)
	for _, c := range list {
		if id, _ := c["id"].(string); strings.HasPrefix(id, "err") {
			t.Fatalf("failed create left %v", c)
		}
	}
	for _, id := range []string{"err1-", "err2-"} {
		noCgroup(t, env.CgroupParent+"/"+id+runtimeName)
		env.Ctr("containers", "delete", id+runtimeName).Run()
	}
}
