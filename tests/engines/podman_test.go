package engines

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// podman with --runtime NAME, cgroupfs, conmon. Every check compares what
// podman reports with what is true on the host or inside the container.

func TestPodmanRunExitCode(t *testing.T) {
	r := execute(t, podmanRun("--rm", Image, "sh", "-c", "echo out; echo err >&2; exit 7"))
	if r.code != 7 || r.stdout != "out\n" || !strings.Contains(r.stderr, "err") {
		t.Fatalf("want exit 7, stdout out, stderr err; got %v", r)
	}
}

func TestPodmanTerminalRun(t *testing.T) {
	line := "podman --runtime " + runtimeName + " run --rm -t " + shellQuote(env.PodmanRunFlags()) +
		" " + Image + " sh -c 'tty; sleep 0.2; stty size'"
	out := ok(t, inTerminal(env.Dir, env.PodmanEnv(), line))
	if !strings.Contains(out, "/dev/pts/0") || !strings.Contains(out, "23 91") {
		t.Fatalf("want /dev/pts/0 and size 23 91; got %q", out)
	}
}

func TestPodmanPreserveFDs(t *testing.T) {
	f, err := os.CreateTemp(env.Dir, "fd3-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(f.Name())
	f.WriteString("passed as fd 3\n")
	f.Seek(0, 0)
	cmd := podmanRun("--rm", "--preserve-fds", "1", Image, "sh", "-c", "cat <&3")
	cmd.ExtraFiles = []*os.File{f}
	if out := ok(t, cmd); out != "passed as fd 3\n" {
		t.Fatalf("fd 3 in the container: got %q", out)
	}
}

// A detached container through its whole life: exec (plain and with a tty),
// top, pause/unpause, update, stop, rm.
func TestPodmanDetachedLifecycle(t *testing.T) {
	name := "life-" + runtimeName
	id := strings.TrimSpace(ok(t, podmanRun("-d", "--name", name, Image, "sleep", "1000")))
	defer podman("rm", "-f", "-t", "0", name).Run()
	pid := strings.TrimSpace(ok(t, podman("inspect", "-f", "{{.State.Pid}}", name)))
	cgroup := env.CgroupParent + "/libpod-" + id

	// The init process is the container's sleep, in the cgroup podman chose.
	if b, _ := os.ReadFile("/proc/" + pid + "/cmdline"); !strings.HasPrefix(string(b), "sleep\x00") {
		t.Fatalf("init pid %s runs %q", pid, b)
	}
	if procs, err := cgroupFile("memory", cgroup, "cgroup.procs"); err != nil || !strings.Contains(procs, pid) {
		t.Fatalf("init %s not in memory cgroup %s: %q %v", pid, cgroup, procs, err)
	}

	t.Run("exec", func(t *testing.T) {
		checkExecNamespaces(t, execute(t, podman("exec", name, "sh", "-c", nsScript)), pid)
	})
	t.Run("exec-tty", func(t *testing.T) {
		line := "podman --runtime " + runtimeName + " exec -t " + name + " sh -c 'tty; sleep 0.2; stty size'"
		out := ok(t, inTerminal(env.Dir, env.PodmanEnv(), line))
		if !strings.Contains(out, "/dev/pts/") || !strings.Contains(out, "23 91") {
			t.Fatalf("want a pts of size 23 91; got %q", out)
		}
	})
	t.Run("top", func(t *testing.T) {
		out := ok(t, podman("top", name, "pid", "args"))
		if !strings.Contains(out, "sleep 1000") {
			t.Fatalf("podman top: %q", out)
		}
	})
	t.Run("pause-unpause", func(t *testing.T) {
		ok(t, podman("pause", name))
		if s := strings.TrimSpace(ok(t, podman("inspect", "-f", "{{.State.Status}}", name))); s != "paused" {
			t.Fatalf("podman says %q after pause", s)
		}
		if s, _ := cgroupFile("freezer", cgroup, "freezer.state"); s != "FROZEN" {
			t.Fatalf("freezer.state %q after pause", s)
		}
		ok(t, podman("unpause", name))
		if s := strings.TrimSpace(ok(t, podman("inspect", "-f", "{{.State.Status}}", name))); s != "running" {
			t.Fatalf("podman says %q after unpause", s)
		}
		if s, _ := cgroupFile("freezer", cgroup, "freezer.state"); s != "THAWED" {
			t.Fatalf("freezer.state %q after unpause", s)
		}
	})
	t.Run("update", func(t *testing.T) {
		ok(t, podman("update", "--memory", "96m", "--cpu-quota", "50000", "--cpu-period", "100000", name))
		if s, _ := cgroupFile("memory", cgroup, "memory.limit_in_bytes"); s != "100663296" {
			t.Fatalf("memory.limit_in_bytes %q after update --memory 96m", s)
		}
		if s, _ := cgroupFile("cpu", cgroup, "cpu.cfs_quota_us"); s != "50000" {
			t.Fatalf("cpu.cfs_quota_us %q after update", s)
		}
		// The container sees its own cgroup's limit.
		if out := ok(t, podman("exec", name, "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes")); strings.TrimSpace(out) != "100663296" {
			t.Fatalf("inside: memory.limit_in_bytes %q", out)
		}
	})
	t.Run("stop-rm", func(t *testing.T) {
		// sleep as PID 1 ignores SIGTERM: stop escalates to SIGKILL.
		ok(t, podman("stop", "-t", "1", name))
		if s := strings.TrimSpace(ok(t, podman("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", name))); s != "exited 137" {
			t.Fatalf("after stop: %q", s)
		}
		if _, err := os.Stat("/proc/" + pid); err == nil {
			t.Fatalf("init %s still exists after stop", pid)
		}
		ok(t, podman("rm", name))
		if r := runtimeState(t, "", id); r.code == 0 {
			t.Fatalf("runtime still knows the container after rm: %v", r)
		}
		noCgroup(t, cgroup)
	})
}

// podman kill -s delivers that signal; podman wait reports the exit code.
func TestPodmanKillSignal(t *testing.T) {
	name := "kill-" + runtimeName
	ok(t, podmanRun("-d", "--name", name, Image, "sh", "-c",
		`trap "exit 42" USR1; touch /tmp/ready; while :; do sleep 0.1; done`))
	defer podman("rm", "-f", "-t", "0", name).Run()
	eventually(t, 5*time.Second, "trap installed", func() error {
		return podman("exec", name, "test", "-e", "/tmp/ready").Run()
	})
	ok(t, podman("kill", "-s", "USR1", name))
	if out := strings.TrimSpace(ok(t, podman("wait", name))); out != "42" {
		t.Fatalf("podman wait after SIGUSR1: %q", out)
	}
}

// The OOM killer ends the container; podman must say so. Debian's conmon
// 2.1.6 writes its "oom" file into its working directory, while podman 4.3.1
// looks for it in the bundle: so podman start runs from the bundle.
func TestPodmanOOMKilled(t *testing.T) {
	name := "oom-" + runtimeName
	id := strings.TrimSpace(ok(t, podman(append(append([]string{"create"}, env.PodmanRunFlags()...),
		"--name", name, "--memory", "16m", "--memory-swap", "16m", Image, "tail", "/dev/zero")...)))
	defer podman("rm", "-f", "-t", "0", name).Run()
	start := podman("start", "--attach", name)
	start.Dir = env.PodmanBundle(id)
	if r := execute(t, start); r.code != 137 {
		t.Fatalf("want 137 from the OOM kill; got %v", r)
	}
	if s := strings.TrimSpace(ok(t, podman("inspect", "-f", "{{.State.OOMKilled}} {{.State.ExitCode}}", name))); s != "true 137" {
		t.Fatalf("podman inspect: OOMKilled, ExitCode = %q, want true 137", s)
	}
}

// Errors inside the runtime reach podman's user as the runtime's message.
func TestPodmanRuntimeErrors(t *testing.T) {
	r := execute(t, podmanRun("--rm", Image, "/no/such/binary"))
	if r.code == 0 || !strings.Contains(r.stderr, "/no/such/binary") || !strings.Contains(r.stderr, "no such file or directory") {
		t.Fatalf("missing binary: want the runtime's message; got %v", r)
	}
	checkNoExitStatusOnly(t, r)

	// A file bind-mounted over a directory: only the runtime can find out.
	file := filepath.Join(env.Dir, "a-file")
	os.WriteFile(file, []byte("x"), 0o644)
	r = execute(t, podmanRun("--rm", "--mount", "type=bind,src="+file+",dst=/etc", Image, "true"))
	if r.code == 0 || !strings.Contains(r.stderr, "not a directory") {
		t.Fatalf("bad mount: want the runtime's message; got %v", r)
	}
	checkNoExitStatusOnly(t, r)
	if runtimeName == "rt" && !strings.Contains(r.stderr, "mounts[") {
		t.Fatalf("rt's message should name the mount: %v", r)
	}
	// Failed creates leave nothing in the runtime's (default) root.
	out := ok(t, exec.Command(runtimeBin, "list", "--format", "json"))
	var list []map[string]any
	json.Unmarshal([]byte(out), &list)
	for _, c := range list {
		if b, _ := c["bundle"].(string); strings.HasPrefix(b, env.BundleRoot) {
			t.Fatalf("failed create left %v", c)
		}
	}
}

func checkNoExitStatusOnly(t *testing.T, r result) {
	t.Helper()
	if strings.Contains(r.stderr, "exit status 1") {
		t.Fatalf("the engine shows only the exit status: %v", r)
	}
}

func procState(pid string) string {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return "gone"
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return "?"
	}
	return fmt.Sprintf("%c", s[i+2])
}
