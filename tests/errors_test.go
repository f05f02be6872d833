package tests

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestBadConfig: create must refuse each bad config with a message naming
// the field or reason, and leave nothing behind.
func TestBadConfig(t *testing.T) {
	tests := []struct {
		name     string
		mutate   func(*specs.Spec)
		raw      string   // if set, config.json content instead of the spec
		want     []string // the error names one of these
		runcSkip string   // why runc 1.1.5 accepts it, if it does
	}{
		{name: "malformed json", raw: `{"ociVersion": "1.0.2", "process": {`,
			want: []string{"json", "unexpected end", "unexpected eof"}},
		{name: "wrong json type", raw: `{"ociVersion": "1.0.2", "process": {"args": "sh"}}`,
			want: []string{"json", "args", "cannot unmarshal"}},
		{name: "missing rootfs", mutate: func(s *specs.Spec) { s.Root.Path = "no-such-rootfs" },
			want: []string{"no-such-rootfs"}},
		{name: "no root", mutate: func(s *specs.Spec) { s.Root = nil },
			want: []string{"root"}},
		{name: "empty mount destination", mutate: func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "", Type: "tmpfs", Source: "tmpfs"})
		}, want: []string{"destination"}},
		{name: "missing bind source", mutate: func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt/x", Type: "bind", Source: "/no-such-rt-test-src", Options: []string{"bind"}})
		}, want: []string{"/no-such-rt-test-src"}},
		{name: "seccomp errnoRet on an action without errno", mutate: func(s *specs.Spec) {
			one := uint(1)
			s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
				{Names: []string{"mkdir"}, Action: specs.ActKillProcess, ErrnoRet: &one}}}
		}, want: []string{"linux.seccomp.syscalls[0].action"}, runcSkip: "runc 1.1 ignores errnoRet there"},
		{name: "unknown filesystem", mutate: func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt/x", Type: "rtbogusfs", Source: "none"})
		}, want: []string{"rtbogusfs", "/mnt/x"}},
		{name: "unknown capability", mutate: func(s *specs.Spec) {
			s.Process.Capabilities.Bounding = append(s.Process.Capabilities.Bounding, "CAP_BOGUS")
		}, want: []string{"CAP_BOGUS"}, runcSkip: "runc 1.1 only warns about an unknown capability"},
		{name: "empty args", mutate: func(s *specs.Spec) { s.Process.Args = nil },
			want: []string{"args"}},
		{name: "relative cwd", mutate: func(s *specs.Spec) { s.Process.Cwd = "tmp" },
			want: []string{"cwd"}},
		{name: "unknown rlimit", mutate: func(s *specs.Spec) {
			s.Process.Rlimits = append(s.Process.Rlimits, specs.POSIXRlimit{Type: "RLIMIT_BOGUS", Soft: 1, Hard: 1})
		}, want: []string{"RLIMIT_BOGUS"}},
		{name: "duplicate rlimit", mutate: func(s *specs.Spec) {
			s.Process.Rlimits = append(s.Process.Rlimits, specs.POSIXRlimit{Type: "RLIMIT_NOFILE", Soft: 10, Hard: 10})
		}, want: []string{"RLIMIT_NOFILE"}, runcSkip: "runc 1.1 applies duplicate rlimits in order"},
		{name: "rlimit above hard limit", mutate: func(s *specs.Spec) {
			s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 1 << 20, Hard: 1 << 20}}
		}, want: []string{"rlimit", "operation not permitted"}},
		{name: "unknown namespace", mutate: func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "bogusns"})
		}, want: []string{"bogusns"}},
		{name: "duplicate namespace", mutate: func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.PIDNamespace})
		}, want: []string{"duplicate", "pid"}},
		{name: "namespace path of another type", mutate: func(s *specs.Spec) {
			for i := range s.Linux.Namespaces {
				if s.Linux.Namespaces[i].Type == specs.NetworkNamespace {
					s.Linux.Namespaces[i].Path = "/proc/self/ns/uts"
				}
			}
		}, want: []string{"network", "net", "/proc/self/ns/uts"},
			runcSkip: "runc leaves its runc:[1:CHILD] zombie behind when setns fails"},
		{name: "missing namespace path", mutate: func(s *specs.Spec) {
			for i := range s.Linux.Namespaces {
				if s.Linux.Namespaces[i].Type == specs.NetworkNamespace {
					s.Linux.Namespaces[i].Path = "/no-such-rt-netns"
				}
			}
		}, want: []string{"/no-such-rt-netns"}},
		{name: "hostname without uts namespace", mutate: func(s *specs.Spec) {
			var ns []specs.LinuxNamespace
			for _, n := range s.Linux.Namespaces {
				if n.Type != specs.UTSNamespace {
					ns = append(ns, n)
				}
			}
			s.Linux.Namespaces = ns
		}, want: []string{"hostname", "uts"}},
		{name: "uid mappings without user namespace", mutate: func(s *specs.Spec) {
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 1000}}
			s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 1000}}
		}, want: []string{"user namespace", "mapping"}, runcSkip: "runc 1.1 ignores mappings without a user namespace"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.runcSkip != "" {
				skipOnRunc(t, tc.runcSkip)
			}
			b := newBundle(t, args("true"))
			if tc.mutate != nil {
				tc.mutate(b.Spec)
				b.write()
			}
			if tc.raw != "" {
				if err := os.WriteFile(filepath.Join(b.Dir, "config.json"), []byte(tc.raw), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			b.create().mustFail(t, tc.want...)
			assertNothingLeft(t, b)
		})
	}
}

// TestMissingConfig: a bundle without config.json is refused.
func TestMissingConfig(t *testing.T) {
	b := newBundle(t)
	os.Remove(filepath.Join(b.Dir, "config.json"))
	b.create().mustFail(t, "config.json")
	assertNothingLeft(t, b)
}

// TestDuplicateID: a second create with a live id fails and leaves the first
// container untouched.
func TestDuplicateID(t *testing.T) {
	b := newBundle(t, args("sleep", "1000"))
	b.create().mustOK(t)
	b2 := newBundle(t, args("true"))
	r := rt(t, "create", "--bundle", b2.Dir, b.ID)
	r.mustFail(t, "exists", b.ID)
	st := b.mustState()
	if st.Status != specs.StateCreated || st.Pid != b.pid || st.Bundle != b.Dir {
		t.Fatalf("first container changed after a duplicate create: %+v", st)
	}
}

// TestUnknownID: every command on an id that does not exist fails naming it.
// (delete --force of an unknown id is left out: runc succeeds there, and
// containerd relies on that to clean up after a failed create.)
func TestUnknownID(t *testing.T) {
	const id = "no-such-container-rt"
	for _, cmd := range [][]string{{"state", id}, {"start", id}, {"kill", id, "KILL"}, {"delete", id}} {
		t.Run(strings.Join(cmd, " "), func(t *testing.T) {
			rt(t, cmd...).mustFail(t, "not exist", "not found", "no such")
		})
	}
}

// TestBadID: ids that could escape the state root are refused.
func TestBadID(t *testing.T) {
	b := newBundle(t, args("true"))
	for _, id := range []string{"../escape", "a/b", ".."} {
		rt(t, "create", "--bundle", b.Dir, id).mustFail(t, "id", "invalid")
	}
	if _, err := os.Stat(filepath.Join(stateRoot, "..", "escape")); err == nil {
		t.Fatal("a container id escaped the state root")
	}
}

// TestErrorLogJSON: with --log-format json, the failure is a JSON line with
// level "error" whose msg names the reason (containerd shows exactly that).
func TestErrorLogJSON(t *testing.T) {
	b := newBundle(t, args("true"), func(s *specs.Spec) { s.Root.Path = "no-such-rootfs" })
	logFile := filepath.Join(b.Dir, "log.json")
	rt(t, "--log", logFile, "--log-format", "json", "create", "--bundle", b.Dir, b.ID).mustFail(t)
	f, err := os.Open(logFile)
	if err != nil {
		t.Fatalf("no log file: %v", err)
	}
	defer f.Close()
	var last string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var entry map[string]any
		if err := json.Unmarshal(sc.Bytes(), &entry); err != nil {
			t.Fatalf("log line is not JSON: %q", sc.Text())
		}
		if entry["level"] == "error" {
			last, _ = entry["msg"].(string)
		}
		if _, ok := entry["time"]; !ok {
			t.Errorf("log line without time: %q", sc.Text())
		}
	}
	mustContain(t, "last error in the JSON log", last, "no-such-rootfs")
	assertNothingLeft(t, b)
}

// assertNothingLeft checks that a failed create left no trace: the id is
// unknown, no state dir, no cgroup, no mounts in the bundle, no process.
func assertNothingLeft(t testing.TB, b *bundle) {
	t.Helper()
	if st, err := b.state(); err == nil {
		t.Errorf("failed create left container %s in state %+v", b.ID, st)
	}
	if _, err := os.Stat(filepath.Join(stateRoot, b.ID)); err == nil {
		t.Errorf("failed create left state dir %s", filepath.Join(stateRoot, b.ID))
	}
	for _, h := range cgroupHierarchies() {
		if _, err := os.Stat(cgroupDir(h, b.CgroupsPath)); err == nil {
			t.Errorf("failed create left cgroup %s", cgroupDir(h, b.CgroupsPath))
		}
	}
	for _, m := range mountpoints() {
		if under(m, b.Dir) {
			t.Errorf("failed create left mount %s", m)
		}
	}
	for _, p := range reapOrphans(true) {
		t.Errorf("failed create left %s", p)
	}
}

// TestMissingExecutable: a process binary that does not exist fails the run
// with its name, and leaves nothing behind.
func TestMissingExecutable(t *testing.T) {
	b := newBundle(t, args("/no-such-rt-binary"))
	r := b.run()
	r.mustFail(t, "/no-such-rt-binary")
	if r.code == 0 {
		t.Fatal("run of a missing executable exited 0")
	}
	assertNothingLeft(t, b)
}

// TestConcurrentSameID: of two simultaneous creates of one id, exactly one
// wins; the other fails without disturbing it.
func TestConcurrentSameID(t *testing.T) {
	b1 := newBundle(t, args("sleep", "1000"))
	b2 := newBundle(t, args("sleep", "1000"))
	id := b1.ID
	var wg sync.WaitGroup
	results := make([]result, 2)
	for i, b := range []*bundle{b1, b2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = rt(t, "create", "--bundle", b.Dir, id)
		}()
	}
	wg.Wait()
	if results[0].ok() == results[1].ok() {
		t.Fatalf("want exactly one create to succeed:\n%s\n%s", results[0], results[1])
	}
	st := b1.mustState()
	b1.pid = st.Pid
	registerContainerPid(st.Pid)
	want := b1.Dir
	if results[1].ok() {
		want = b2.Dir
	}
	if st.Status != specs.StateCreated || st.Bundle != want {
		t.Fatalf("surviving container: %+v, want created from %s", st, want)
	}
	rt(t, "delete", "--force", id).mustOK(t)
	assertGone(t, b1)
}

// TestPreserveFdsNotPassed: --preserve-fds for fds the caller never passed
// must fail, never hand the runtime's own fds to the container.
func TestPreserveFdsNotPassed(t *testing.T) {
	skipOnRunc(t, "runc 1.1 passes whatever is at those fd numbers")
	b := newBundle(t, shell(`ls -l /proc/self/fd/`))
	b.run("--preserve-fds", "2").mustFail(t, "fd 3", "--preserve-fds")
	assertNothingLeft(t, b)
}

// TestSharedCgroupRefused: a cgroup that already holds processes belongs to
// someone else; create refuses it, so delete never kills or removes it.
func TestSharedCgroupRefused(t *testing.T) {
	skipOnRunc(t, "runc 1.1 joins a non-empty cgroup")
	b := newBundle(t, args("true"))
	dir := cgroupDir("pids", b.CgroupsPath)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(dir) }) // made here, not by the runtime
	other := holdNamespace(t, 0)
	if err := os.WriteFile(dir+"/cgroup.procs", []byte(itoa(other)), 0); err != nil {
		t.Fatal(err)
	}
	b.create().mustFail(t, "already holds processes", "linux.cgroupsPath")
	// The other process is untouched and still in its cgroup.
	if data, err := os.ReadFile(dir + "/cgroup.procs"); err != nil || !containsLine(string(data), itoa(other)) {
		t.Errorf("the foreign process left %s: %q, %v", dir, data, err)
	}
	// Free the cgroup for the bundle's cleanup.
	os.WriteFile("/sys/fs/cgroup/pids/cgroup.procs", []byte(itoa(other)), 0)
}
