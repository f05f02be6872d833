package nsenter

import (
	"os"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestCloneFlag(t *testing.T) {
	for _, tc := range []struct {
		typ  string
		want uintptr
		err  bool
	}{
		{"pid", unix.CLONE_NEWPID, false},
		{"network", unix.CLONE_NEWNET, false},
		{"mount", unix.CLONE_NEWNS, false},
		{"ipc", unix.CLONE_NEWIPC, false},
		{"uts", unix.CLONE_NEWUTS, false},
		{"user", unix.CLONE_NEWUSER, false},
		{"cgroup", unix.CLONE_NEWCGROUP, false},
		{"time", unix.CLONE_NEWTIME, false},
		{"net", 0, true}, // the spec says "network"
		{"", 0, true},
	} {
		got, err := CloneFlag(tc.typ)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("CloneFlag(%q) = %#x, %v; want %#x, error %v", tc.typ, got, err, tc.want, tc.err)
		}
	}
}

func TestEntryEnv(t *testing.T) {
	for _, tc := range []struct {
		name  string
		joins []Join
		want  string
		err   string
	}{
		{"none", nil, EnvName + "=", ""},
		{"user time mount", []Join{{Type: "user", ChildFD: 3}, {Type: "time", ChildFD: 4}, {Type: "mount", ChildFD: 15}}, EnvName + "=u3t4m15", ""},
		{"exec set", []Join{{Type: "network", ChildFD: 3}, {Type: "ipc", ChildFD: 4}, {Type: "uts", ChildFD: 5}, {Type: "cgroup", ChildFD: 6}}, EnvName + "=n3i4h5c6", ""},
		{"pid refused", []Join{{Type: "pid", ChildFD: 3}}, "", "pid namespace cannot be joined by the child's entry stage"},
		{"unknown", []Join{{Type: "net", ChildFD: 3}}, "", `unknown namespace type "net"`},
		{"fd range", []Join{{Type: "user", ChildFD: 10_000_000}}, "", "out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := EntryEnv(tc.joins)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("EntryEnv = %q, %v; want error containing %q", got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("EntryEnv = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// TestStageErrorMessages covers the Go side of every outcome the assembly can
// record; the integration tests check that it records them.
func TestStageErrorMessages(t *testing.T) {
	saved := [...]uint32{stageState, stageIndex, uint32(stageLetter), stageFD, stageErrno}
	t.Cleanup(func() {
		stageState, stageIndex, stageLetter, stageFD, stageErrno = saved[0], saved[1], uint8(saved[2]), saved[3], saved[4]
	})
	for _, tc := range []struct {
		name   string
		state  uint32
		letter byte
		set    bool
		val    string
		want   string // "" for no error
	}{
		{"plain binary, no joins", stageNotRun, 0, false, "", ""},
		{"plain binary, joins", stageNotRun, 0, true, "u3", "nsenter entry stage did not run (binary not built with hack/build-rt.sh?)"},
		{"no env", stageNoEnv, 0, false, "", ""},
		{"all joined", stageOK, 0, true, "u3t4", ""},
		{"setns failed", stageFailed, 't', true, "u3t4", `join time namespace from fd 4 (entry 1 of _RT_NSENTER="u3t4"): setns: operation not permitted`},
		{"bad letter", stageFailed, 'z', true, "z4", `join 'z' namespace`},
		{"malformed", stageMalformed, 0, true, "u3x", `malformed _RT_NSENTER="u3x" at entry 1`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stageState, stageIndex, stageLetter, stageFD, stageErrno = tc.state, 1, tc.letter, 4, uint32(unix.EPERM)
			err := stageError(tc.set, tc.val)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("stageError = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("stageError = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestOpenNamespace(t *testing.T) {
	f, err := OpenNamespace("/proc/self/ns/net", "network")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	for _, tc := range []struct{ path, typ, want string }{
		{"/proc/self/ns/net", "mount", "namespace path /proc/self/ns/net is a namespace of type network, not mount"},
		{"/proc/self/ns/uts", "user", "is a namespace of type uts, not user"},
		{"/dev/null", "ipc", "namespace path /dev/null is not a namespace file (want a namespace of type ipc)"},
		{"/proc/self/ns/net", "net", `unknown namespace type "net"`},
		{"/nonexistent/ns", "pid", "open pid namespace: open /nonexistent/ns: no such file or directory"},
	} {
		f, err := OpenNamespace(tc.path, tc.typ)
		if err == nil {
			f.Close()
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("OpenNamespace(%s, %s) = %v, want error containing %q", tc.path, tc.typ, err, tc.want)
		}
	}
}

func TestJoinThreadRefusesUserAndTime(t *testing.T) {
	f, err := os.Open("/proc/self/ns/user")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, typ := range []string{"user", "time"} {
		err := RunInNamespaces([]Join{{Type: typ, File: f}}, func() error { t.Error("fn ran"); return nil })
		if err == nil || !strings.Contains(err.Error(), "single-threaded") {
			t.Errorf("join %s: got %v, want single-threaded error", typ, err)
		}
	}
}

// OnDiscardedThread never runs fn on the main thread (which Go never ends),
// even when called from the goroutine that holds it.
func TestOnDiscardedThreadNotMain(t *testing.T) {
	done := make(chan struct{})
	var tids []int
	// Run from the main thread when we can get it: lock this goroutine and
	// check; the test goroutine may or may not be on the main thread.
	go func() {
		defer close(done)
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		for i := 0; i < 20; i++ {
			OnDiscardedThread(func() error {
				tids = append(tids, unix.Gettid())
				return nil
			})
		}
	}()
	<-done
	for _, tid := range tids {
		if tid == unix.Getpid() {
			t.Fatalf("fn ran on the main thread (tid %d)", tid)
		}
	}
}
