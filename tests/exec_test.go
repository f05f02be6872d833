package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// runningBundle starts a detached container that sleeps, and returns it.
func runningBundle(t *testing.T, mutators ...func(*specs.Spec)) *bundle {
	t.Helper()
	b := newBundle(t, append([]func(*specs.Spec){args("sleep", "1000")}, mutators...)...)
	b.detached("run", "-d").mustOK(t)
	return b
}

// procFacts reads the namespace links and a few status fields of a host pid.
func procFacts(t *testing.T, pid int) map[string]string {
	t.Helper()
	f := map[string]string{}
	for _, n := range []string{"mnt", "pid", "net", "ipc", "uts", "cgroup", "user", "time"} {
		l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, n))
		if err != nil {
			t.Fatal(err)
		}
		f[n] = l
	}
	f["uid_map"] = strings.Join(strings.Fields(mustRead(t, fmt.Sprintf("/proc/%d/uid_map", pid))), " ")
	f["cgroup"] = mustRead(t, fmt.Sprintf("/proc/%d/cgroup", pid))
	for _, line := range strings.Split(mustRead(t, fmt.Sprintf("/proc/%d/status", pid)), "\n") {
		for _, k := range []string{"Uid", "Gid", "Groups", "CapEff", "CapPrm", "CapBnd", "CapInh", "CapAmb", "NoNewPrivs", "Seccomp"} {
			if strings.HasPrefix(line, k+":") {
				f[k] = strings.TrimSpace(line[len(k)+1:])
			}
		}
	}
	return f
}

// TestExecJoinsEverything: an exec'd process is in every namespace of the
// container's init (user and time included), in its cgroups, with the same
// uid_map, capabilities, no_new_privs and seccomp mode.
func TestExecJoinsEverything(t *testing.T) {
	one := uint(1)
	cases := map[string]func(*specs.Spec){
		"plain": func(s *specs.Spec) {},
		"user and time namespaces, seccomp": func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces,
				specs.LinuxNamespace{Type: specs.UserNamespace}, specs.LinuxNamespace{Type: specs.TimeNamespace})
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 0, Size: 65536}}
			s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 0, Size: 65536}}
			s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"boottime": {Secs: 86400}}
			s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
				{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno, ErrnoRet: &one}}}
		},
	}
	// rt's direct exec path (no user or time namespace), with a filter,
	// a user, groups, fewer capabilities and no_new_privs, all of which it
	// sets on one thread of rt.
	cases["seccomp, user, capabilities, no_new_privs"] = func(s *specs.Spec) {
		s.Process.User = specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{10, 20}}
		s.Process.NoNewPrivileges = true
		keep := []string{"CAP_NET_BIND_SERVICE", "CAP_KILL"}
		s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: keep, Effective: keep, Permitted: keep, Ambient: keep, Inheritable: keep}
		s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno, ErrnoRet: &one}}}
	}
	// Docker's default profile answers clone3 with ENOSYS: the direct path
	// then cannot clone into the cgroup2 cgroup, and rt moves the process
	// before it execs.
	enosys := uint(38)
	cases["clone3 refused by the filter"] = func(s *specs.Spec) {
		s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"clone3"}, Action: specs.ActErrno, ErrnoRet: &enosys},
			{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno, ErrnoRet: &one}}}
	}
	for name, mut := range cases {
		t.Run(name, func(t *testing.T) {
			b := runningBundle(t, mut)
			st := b.mustState()
			// The exec'd process reports its own pid as the host sees it by
			// sleeping; the test reads its /proc entries from the host.
			rt(t, "exec", "-d", "--pid-file", filepath.Join(b.Dir, "exec.pid"), b.ID, "sleep", "1000").mustOK(t)
			pidText := strings.TrimSpace(mustRead(t, filepath.Join(b.Dir, "exec.pid")))
			var pid int
			fmt.Sscan(pidText, &pid)
			b.execPids = append(b.execPids, pid)
			want, got := procFacts(t, st.Pid), procFacts(t, pid)
			for k, v := range want {
				if got[k] != v {
					t.Errorf("%s: exec'd process has %q, init has %q", k, got[k], v)
				}
			}
			if name != "plain" && got["Seccomp"] != "2" {
				t.Errorf("exec'd process Seccomp %q, want 2 (the container's filter)", got["Seccomp"])
			}
			// And the filter works in it.
			out := rt(t, "exec", b.ID, "sh", "-c", "mkdir /tmp/e 2>&1; true").stdout
			if name != "plain" {
				mustContain(t, "mkdir under the container's seccomp rule", out, "Operation not permitted")
			}
			// delete -f with an exec'd process alive: init, killed, waits in
			// exit for the reaper (the suite) to reap that process; the
			// container is stopped all the same and delete must not hang.
			rt(t, "delete", "-f", b.ID).mustOK(t)
		})
	}
}

// TestExecPath: rt starts exec'd programs from a prepared thread of its own
// (no second rt process) unless a user or time namespace must be joined,
// which needs the single-threaded entry stage of a re-exec'd rt.
// TestExecJoinsEverything checks both give the container's process.
func TestExecPath(t *testing.T) {
	if runtimeName != "rt" {
		t.Skip("rt's own exec paths")
	}
	b := runningBundle(t)
	if r := rt(t, "--debug", "exec", b.ID, "true").mustOK(t); strings.Contains(r.stderr, "re-exec path") {
		t.Fatalf("a plain container took the re-exec path:\n%s", r.stderr)
	}
	u := runningBundle(t, func(s *specs.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 0, Size: 65536}}
		s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 0, Size: 65536}}
	})
	r := rt(t, "--debug", "exec", u.ID, "true").mustOK(t)
	mustContain(t, "debug log of exec with a user namespace", r.stderr, "re-exec path (user namespace)")
}

// TestExecStatusAndErrors: foreground exec returns the exit status; a
// missing binary and a stopped container give clear errors.
func TestExecStatusAndErrors(t *testing.T) {
	b := runningBundle(t)
	r := rt(t, "exec", b.ID, "sh", "-c", "echo out; exit 7")
	if r.code != 7 || !strings.Contains(r.stdout, "out") {
		t.Fatalf("exec exit status: %s", r)
	}
	rt(t, "exec", b.ID, "/no/such/binary").mustFail(t, "/no/such/binary")
	out := rt(t, "exec", "--cwd", "/etc", "-e", "FOO=bar", "-u", "1000:1000", b.ID, "sh", "-c", `echo "$(pwd) $FOO $(id -u):$(id -g)"`).stdout
	mustContain(t, "cwd, env and user flags", out, "/etc bar 1000:1000")
	rt(t, "kill", b.ID, "KILL").mustOK(t)
	b.waitStatus("stopped")
	rt(t, "exec", b.ID, "true").mustFail(t, "stopped")
}

// TestExecProcessFile: the way containerd's shim and podman call exec.
func TestExecProcessFile(t *testing.T) {
	b := runningBundle(t)
	p := specs.Process{Args: []string{"sh", "-c", "echo from-process-file > /dev/shm/pf; sleep 1000"}, Cwd: "/", Env: []string{"PATH=/bin:/usr/bin"},
		User: specs.User{UID: 0, GID: 0}}
	data, _ := json.Marshal(p)
	pf := filepath.Join(b.Dir, "process.json")
	if err := os.WriteFile(pf, data, 0o644); err != nil {
		t.Fatal(err)
	}
	pidFile := filepath.Join(b.Dir, "p.pid")
	rt(t, "exec", "--process", pf, "--detach", "--pid-file", pidFile, b.ID).mustOK(t)
	var pid int
	fmt.Sscan(mustRead(t, pidFile), &pid)
	b.execPids = append(b.execPids, pid)
	if pid <= 0 {
		t.Fatal("no pid in the pid file")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		out := rt(t, "exec", b.ID, "cat", "/dev/shm/pf").stdout
		if strings.Contains(out, "from-process-file") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the --process program never ran")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestExecTerminal: exec -t with a console socket gives the process a pty.
func TestExecTerminal(t *testing.T) {
	b := runningBundle(t)
	cs := newConsoleSocket(t)
	pidFile := filepath.Join(b.Dir, "t.pid")
	rt(t, "exec", "-t", "-d", "--console-socket", cs.path, "--pid-file", pidFile, b.ID, "sh", "-c", "tty; echo exec-tty-done").mustOK(t)
	var pid int
	fmt.Sscan(mustRead(t, pidFile), &pid)
	b.execPids = append(b.execPids, pid)
	master := cs.receive(t)
	out := readAll(t, master, 5*time.Second)
	mustContain(t, "exec'd tty", out, "/dev/pts/")
	mustContain(t, "exec'd output through the pty", out, "exec-tty-done")
}

// TestExecWhileExiting: execs racing with the container's exit either work
// or fail cleanly, and leave nothing behind.
func TestExecWhileExiting(t *testing.T) {
	for i := 0; i < 5; i++ {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			b := newBundle(t, shell("sleep 0.1"))
			b.detached("run", "-d").mustOK(t)
			for j := 0; j < 10; j++ {
				r := rt(t, "exec", b.ID, "true")
				// Clean outcomes: it ran (0), it was killed as the pid
				// namespace went away (137), or exec refused with a reason.
				if !r.ok() && r.code != 137 && !strings.Contains(r.stderr, "stopped") && !strings.Contains(r.stderr, "exec") {
					t.Errorf("exec during exit failed unclearly: %s", r)
				}
			}
			b.waitStatus("stopped")
		})
	}
}

// TestProcessAttributes: scheduler, I/O priority and personality reach the
// container's process and exec'd processes; execCPUAffinity.final the
// exec'd one.
func TestProcessAttributes(t *testing.T) {
	attrs := func(s *specs.Spec) {
		s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedBatch, Nice: 5}
		s.Process.IOPriority = &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_IDLE}
		s.Linux.Personality = &specs.LinuxPersonality{Domain: specs.PerLinux32}
	}
	check := func(what, out string) {
		t.Helper()
		mustContain(t, what+": policy (3 = SCHED_BATCH)", out, "policy=3")
		mustContain(t, what+": nice", out, "nice=5")
		mustContain(t, what+": ionice", out, "idle")
		mustContain(t, what+": personality (LINUX32 makes uname -m report i686)", out, "machine=i686")
	}
	script := `echo policy=$(grep '^policy' /proc/self/sched | tr -dc 0-9); echo nice=$(cut -d' ' -f19 /proc/self/stat); ionice; echo machine=$(uname -m)`
	check("container process", newBundle(t, shell(script), attrs).output())

	b := runningBundle(t, attrs)
	p := specs.Process{Args: []string{"sh", "-c", script + "; grep Cpus_allowed_list /proc/self/status"}, Cwd: "/",
		Env:             []string{"PATH=/bin:/usr/bin"},
		Scheduler:       &specs.Scheduler{Policy: specs.SchedBatch, Nice: 5},
		IOPriority:      &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_IDLE},
		ExecCPUAffinity: &specs.CPUAffinity{Initial: "0", Final: "0"}}
	data, _ := json.Marshal(p)
	pf := filepath.Join(b.Dir, "attrs.json")
	os.WriteFile(pf, data, 0o644)
	out := rt(t, "exec", "--process", pf, b.ID).mustOK(t).stdout
	check("exec'd process", out)
	mustContain(t, "execCPUAffinity.final", out, "Cpus_allowed_list:\t0\n")
}

// TestPidfdSocket: --pidfd-socket sends a pidfd of the new process (init
// for create, the process for exec).
func TestPidfdSocket(t *testing.T) {
	skipOnRunc(t, "runc 1.1.5 has no --pidfd-socket")
	pidOf := func(t *testing.T, f *os.File) string {
		for _, l := range strings.Split(mustRead(t, fmt.Sprintf("/proc/self/fdinfo/%d", f.Fd())), "\n") {
			if strings.HasPrefix(l, "Pid:") {
				return strings.TrimSpace(l[4:])
			}
		}
		t.Fatal("received fd is not a pidfd")
		return ""
	}
	b := newBundle(t, args("sleep", "1000"))
	cs := newConsoleSocket(t)
	b.create("--pidfd-socket", cs.path).mustOK(t)
	if got := pidOf(t, cs.receive(t)); got != fmt.Sprint(b.mustState().Pid) {
		t.Errorf("create sent a pidfd of %s, init is %d", got, b.mustState().Pid)
	}
	rt(t, "start", b.ID).mustOK(t)
	cs2 := newConsoleSocket(t)
	pidFile := filepath.Join(b.Dir, "x.pid")
	rt(t, "exec", "-d", "--pidfd-socket", cs2.path, "--pid-file", pidFile, b.ID, "sleep", "1000").mustOK(t)
	var pid int
	fmt.Sscan(mustRead(t, pidFile), &pid)
	b.execPids = append(b.execPids, pid)
	if got := pidOf(t, cs2.receive(t)); got != fmt.Sprint(pid) {
		t.Errorf("exec sent a pidfd of %s, the process is %d", got, pid)
	}
}

// TestExecSubCgroup: --cgroup runs the process in a sub-cgroup of the
// container's (one that exists), for one controller or all of them.
func TestExecSubCgroup(t *testing.T) {
	skipOnRunc(t, "runc 1.1.5 has no exec --cgroup")
	b := runningBundle(t)
	for _, c := range []string{"memory", "pids"} {
		if err := os.Mkdir(cgroupDir(c, b.CgroupsPath)+"/probe", 0o755); err != nil {
			t.Fatal(err)
		}
	}
	out := rt(t, "exec", "--cgroup", "memory:probe", b.ID, "cat", "/proc/self/cgroup").mustOK(t).stdout
	want := map[string]bool{"memory": true, "pids": false}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			continue
		}
		if inProbe, ok := want[f[1]]; ok && strings.HasSuffix(f[2], "/probe") != inProbe {
			t.Errorf("%s: in %s, want in probe: %v", f[1], f[2], inProbe)
		}
	}
	rt(t, "exec", "--cgroup", "nosuch", b.ID, "true").mustFail(t, "nosuch", "does not exist")
	rt(t, "exec", "--cgroup", "../escape", b.ID, "true").mustFail(t, "inside the container's cgroup")
}
