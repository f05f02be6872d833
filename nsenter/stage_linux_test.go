package nsenter

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The tests below run as root: they build internal/testmain with
// hack/build-rt.sh, start namespace holders with unshare(1) and make the test
// program join them through the entry stage.

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

// builds caches test programs per variant; TestMain removes the directory.
var (
	buildDir   string
	buildMu    sync.Mutex
	builtBins  = map[string]string{}
	builtError = map[string]error{}
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// testProgram builds internal/testmain: variant "cgo" (links
// libseccomp-golang, externally linked, dynamic), "static" (CGO_ENABLED=0,
// internally linked) or "unpatched" (plain go build, no entry stage).
func testProgram(t *testing.T, variant string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if bin, ok := builtBins[variant]; ok {
		return bin
	}
	if err, ok := builtError[variant]; ok {
		t.Fatal(err)
	}
	if buildDir == "" {
		d, err := os.MkdirTemp("", "nsenter-test-")
		if err != nil {
			t.Fatal(err)
		}
		buildDir = d
	}
	bin := filepath.Join(buildDir, "testmain-"+variant)
	var cmd *exec.Cmd
	switch variant {
	case "unpatched":
		cmd = exec.Command("go", "build", "-o", bin, "./internal/testmain")
	case "cgo":
		cmd = exec.Command("../hack/build-rt.sh", bin, "./nsenter/internal/testmain")
	case "static":
		// build-rt.sh always builds with cgo (rt links libseccomp): a
		// plain static build, patched the same way, is what makes the
		// stage jump to the Go runtime's own entry instead of libc's.
		cmd = exec.Command("sh", "-c", `go build -o "$1" ./internal/testmain && go run ../hack/elfentry "$1"`, "sh", bin)
	}
	cmd.Env = append(os.Environ(), "CGO_ENABLED="+map[bool]string{true: "1", false: "0"}[variant != "static"])
	if out, err := cmd.CombinedOutput(); err != nil {
		builtError[variant] = fmt.Errorf("build %s test program: %v\n%s", variant, err, out)
		t.Fatal(builtError[variant])
	}
	builtBins[variant] = bin
	return bin
}

// holder is a process kept in namespaces made by unshare(1).
type holder struct {
	unshare *exec.Cmd
	pid     int // the forked child, which is in every new namespace
}

// startHolder runs `unshare ARGS --fork --kill-child sleep 100` and waits until
// its child is in new namespaces of the given /proc/PID/ns names. The holder
// is killed (by PID) when the test ends.
func startHolder(t *testing.T, nsNames []string, args ...string) *holder {
	t.Helper()
	args = append(args, "--fork", "--kill-child", "sleep", "100")
	cmd := exec.Command("unshare", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := &holder{unshare: cmd}
	t.Cleanup(func() {
		if h.pid > 0 {
			syscall.Kill(h.pid, syscall.SIGKILL)
		}
		cmd.Process.Kill()
		cmd.Wait()
	})
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if h.pid == 0 {
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", cmd.Process.Pid, cmd.Process.Pid))
			h.pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
		// unshare(1) forks before the child has finished entering every
		// namespace it asked for (time becomes effective at the child's exec).
		if h.pid > 0 && !slices.ContainsFunc(nsNames, func(n string) bool { return h.ns(n) == selfNS(n) }) {
			return h
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("unshare %v: child not in new namespaces %v after 5s (stderr: %s)", args, nsNames, stderr.String())
	return nil
}

func (h *holder) ns(name string) string {
	l, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", h.pid, name))
	return l
}

func (h *holder) path(name string) string { return fmt.Sprintf("/proc/%d/ns/%s", h.pid, name) }

func selfNS(name string) string {
	l, _ := os.Readlink("/proc/self/ns/" + name)
	return l
}

// report mirrors internal/testmain's output.
type report struct {
	StageError     string            `json:"stageError"`
	NS             map[string]string `json:"ns"`
	UIDMap         string            `json:"uidMap"`
	Monotonic      int64             `json:"monotonic"`
	Seccomp        string            `json:"seccomp"`
	OpenFDs        []string          `json:"openFDs"`
	DataNotPrivate int               `json:"dataNotPrivate"`
	ThreadCgroups  []string          `json:"threadCgroups"`
	GOMAXPROCS     int               `json:"gomaxprocs"`
	Settled        int               `json:"settled"`
	Args           []string          `json:"args"`
	Env            []string          `json:"env"`
	MemProfileRate int               `json:"memProfileRate"`
	HeapSamples    int               `json:"heapSamples"`
	TimerSlack     int               `json:"timerSlack"`
}

// run starts bin with env and extra files (ExtraFiles semantics: files[i] is fd 3+i).
func run(t *testing.T, bin string, env []string, files []*os.File) (report, int) {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), env...)
	cmd.ExtraFiles = files
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	var r report
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatalf("%s: exit %d, output %q, stderr %q: %v", bin, code, stdout.String(), stderr.String(), err)
	}
	return r, code
}

// openJoins opens each type's namespace of h and places it at fd 20+i in the
// child (fds 3..19 stay closed, so the test can see that the stage closed them).
func openJoins(t *testing.T, h *holder, types ...string) ([]Join, []*os.File) {
	t.Helper()
	procName := map[string]string{"mount": "mnt", "network": "net"}
	files := make([]*os.File, 17, 17+len(types))
	var joins []Join
	for i, typ := range types {
		name := typ
		if n, ok := procName[typ]; ok {
			name = n
		}
		f, err := OpenNamespace(h.path(name), typ)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		joins = append(joins, Join{Type: typ, File: f, ChildFD: 20 + i})
		files = append(files, f)
	}
	return joins, files
}

func TestStageJoinsUserAndTime(t *testing.T) {
	needRoot(t)
	for _, variant := range []string{"cgo", "static"} {
		t.Run(variant, func(t *testing.T) {
			bin := testProgram(t, variant)
			h := startHolder(t, []string{"user", "time"}, "--user", "--map-root-user", "--time", "--monotonic", "1000000")
			joins, files := openJoins(t, h, "user", "time")
			env, err := EntryEnv(joins)
			if err != nil {
				t.Fatal(err)
			}
			r, code := run(t, bin, []string{env}, files)
			if code != 0 || r.StageError != "" {
				t.Fatalf("exit %d, stage error %q", code, r.StageError)
			}
			for _, n := range []string{"user", "time"} {
				if r.NS[n] != h.ns(n) {
					t.Errorf("%s namespace %s, holder's %s", n, r.NS[n], h.ns(n))
				}
			}
			if r.NS["mnt"] != selfNS("mnt") {
				t.Errorf("mount namespace %s changed although not asked to join", r.NS["mnt"])
			}
			m, _ := os.ReadFile(fmt.Sprintf("/proc/%d/uid_map", h.pid))
			if want := strings.Join(strings.Fields(string(m)), " "); r.UIDMap != want || want != "0 0 1" {
				t.Errorf("uid_map %q, holder's %q", r.UIDMap, want)
			}
			if r.Monotonic < 1000000 {
				t.Errorf("CLOCK_MONOTONIC %ds: the time namespace's +1000000s offset is not in effect", r.Monotonic)
			}
			if variant == "cgo" && r.Seccomp == "" {
				t.Errorf("cgo variant did not link libseccomp-golang")
			}
			for _, fd := range []string{"20", "21"} {
				if slices.Contains(r.OpenFDs, fd) {
					t.Errorf("fd %s still open after the stage joined it: %v", fd, r.OpenFDs)
				}
			}
		})
	}
}

func TestStageJoinsMountNetIPCUTSCgroup(t *testing.T) {
	needRoot(t)
	bin := testProgram(t, "cgo")
	h := startHolder(t, []string{"mnt", "net", "ipc", "uts", "cgroup"}, "--mount", "--net", "--ipc", "--uts", "--cgroup")
	joins, files := openJoins(t, h, "mount", "network", "ipc", "uts", "cgroup")
	env, err := EntryEnv(joins)
	if err != nil {
		t.Fatal(err)
	}
	r, code := run(t, bin, []string{env}, files)
	if code != 0 || r.StageError != "" {
		t.Fatalf("exit %d, stage error %q", code, r.StageError)
	}
	for _, n := range []string{"mnt", "net", "ipc", "uts", "cgroup"} {
		if r.NS[n] != h.ns(n) {
			t.Errorf("%s namespace %s, holder's %s", n, r.NS[n], h.ns(n))
		}
	}
	if r.NS["user"] != selfNS("user") {
		t.Errorf("user namespace %s changed although not asked to join", r.NS["user"])
	}
}

func TestStageErrors(t *testing.T) {
	needRoot(t)
	devNull, err := os.Open("/dev/null")
	if err != nil {
		t.Fatal(err)
	}
	defer devNull.Close()
	selfNet, err := os.Open("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	defer selfNet.Close()
	for _, tc := range []struct {
		name    string
		variant string
		env     string
		files   []*os.File
		want    string // "" for success
	}{
		{"no env", "cgo", "", nil, ""},
		{"empty value", "cgo", EnvName + "=", nil, ""},
		{"not a namespace", "cgo", EnvName + "=u3", []*os.File{devNull}, `join user namespace from fd 3 (entry 0 of _RT_NSENTER="u3"): setns: invalid argument`},
		{"wrong type", "static", EnvName + "=n3m4", []*os.File{selfNet, selfNet}, `join mount namespace from fd 4 (entry 1 of _RT_NSENTER="n3m4"): setns: invalid argument`},
		{"closed fd", "cgo", EnvName + "=t9", nil, "join time namespace from fd 9 (entry 0 of _RT_NSENTER=\"t9\"): setns: bad file descriptor"},
		{"unknown letter", "cgo", EnvName + "=x3", nil, `malformed _RT_NSENTER="x3" at entry 0`},
		{"missing fd", "cgo", EnvName + "=n3u", []*os.File{selfNet}, `malformed _RT_NSENTER="n3u" at entry 1`},
		{"huge fd", "cgo", EnvName + "=u12345678", nil, `malformed _RT_NSENTER="u12345678" at entry 0`},
		{"not run", "unpatched", EnvName + "=u3", []*os.File{devNull}, "nsenter entry stage did not run (binary not built with hack/build-rt.sh?)"},
		{"not run, no env", "unpatched", "", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var env []string
			if tc.env != "" {
				env = []string{tc.env}
			}
			r, code := run(t, testProgram(t, tc.variant), env, tc.files)
			if tc.want == "" {
				if code != 0 || r.StageError != "" {
					t.Fatalf("exit %d, stage error %q", code, r.StageError)
				}
				return
			}
			if code != 1 || !strings.Contains(r.StageError, tc.want) {
				t.Fatalf("exit %d, stage error %q; want exit 1 and %q", code, r.StageError, tc.want)
			}
		})
	}
}

func TestRunInNamespaces(t *testing.T) {
	needRoot(t)
	h := startHolder(t, []string{"net", "uts", "pid", "mnt"}, "--net", "--uts", "--pid", "--mount")
	joins, _ := openJoins(t, h, "network", "uts", "pid", "mount")
	var thread, child map[string]string
	err := RunInNamespaces(joins, func() error {
		thread = map[string]string{}
		for _, n := range []string{"net", "uts", "mnt"} {
			thread[n], _ = os.Readlink("/proc/thread-self/ns/" + n)
		}
		thread["pid_for_children"], _ = os.Readlink("/proc/thread-self/ns/pid_for_children")
		// sh, started from this thread, inherits them all and lands in the
		// pid namespace; readlink, its child, reports what it inherited.
		out, err := exec.Command("sh", "-c", "readlink /proc/self/ns/pid /proc/self/ns/net /proc/self/ns/mnt").Output()
		f := strings.Fields(string(out))
		if len(f) == 3 {
			child = map[string]string{"pid": f[0], "net": f[1], "mnt": f[2]}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for n, want := range map[string]string{"net": h.ns("net"), "uts": h.ns("uts"), "mnt": h.ns("mnt"), "pid_for_children": h.ns("pid")} {
		if thread[n] != want {
			t.Errorf("thread's %s namespace %s, holder's %s", n, thread[n], want)
		}
	}
	for n, got := range child {
		if got != h.ns(n) {
			t.Errorf("child's %s namespace %s, holder's %s", n, got, h.ns(n))
		}
	}
	if child == nil {
		t.Error("child printed nothing")
	}
	if n, _ := os.Readlink("/proc/thread-self/ns/net"); n != selfNS("net") {
		t.Errorf("calling thread left in net namespace %s", n)
	}

	wantErr := errors.New("fn failed")
	if err := RunInNamespaces(joins[:1], func() error { return wantErr }); !errors.Is(err, wantErr) {
		t.Errorf("RunInNamespaces returned %v, want fn's error", err)
	}
}

// TestStagePopulatesData: the entry stage makes the Go data section private
// and present before the runtime starts its threads (MADV_POPULATE_WRITE).
func TestStagePopulatesData(t *testing.T) {
	for _, variant := range []string{"cgo", "static"} {
		t.Run(variant, func(t *testing.T) {
			bin := testProgram(t, variant)
			out, err := exec.Command("go", "tool", "nm", bin).Output()
			if err != nil {
				t.Fatal(err)
			}
			sym := map[string]string{}
			for _, l := range strings.Split(string(out), "\n") {
				if f := strings.Fields(l); len(f) == 3 && (f[2] == "runtime.data" || f[2] == "runtime.edata") {
					sym[f[2]] = f[0]
				}
			}
			if len(sym) != 2 {
				t.Fatalf("runtime.data/edata not in the symbol table: %v", sym)
			}
			r, code := run(t, bin, []string{"TESTMAIN_DATA=" + sym["runtime.data"] + " " + sym["runtime.edata"]}, nil)
			if code != 0 || r.DataNotPrivate != 0 {
				t.Fatalf("exit %d; %d pages of the data section not populated", code, r.DataNotPrivate)
			}
		})
	}
}

// TestStageRuntimeSettings: the stage starts the runtime with memory
// profiling off (no sample is ever taken) and rt's timer slack; a binary
// without the stage has the runtime's defaults.
func TestStageRuntimeSettings(t *testing.T) {
	for _, variant := range []string{"cgo", "static", "unpatched"} {
		t.Run(variant, func(t *testing.T) {
			r, code := run(t, testProgram(t, variant), nil, nil)
			if code != 0 {
				t.Fatalf("exit %d", code)
			}
			caller, _ := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0)
			if variant == "unpatched" {
				// earlyinit zeroes MemProfileRate during package init.
				if r.TimerSlack != caller {
					t.Errorf("timer slack %d ns, want the caller's %d", r.TimerSlack, caller)
				}
				return
			}
			if r.MemProfileRate != 0 || r.HeapSamples != 0 || r.TimerSlack != rtTimerSlack {
				t.Errorf("MemProfileRate %d, %d heap profile samples, timer slack %d ns; want 0, 0 and %d",
					r.MemProfileRate, r.HeapSamples, r.TimerSlack, rtTimerSlack)
			}
		})
	}
}

// TestStageJoinsCgroupV1: a CgroupTasks entry moves the child into a v1
// cgroup before the Go runtime starts, so every thread the runtime makes
// is in it too; the tasks fd is closed; a write the kernel refuses is
// reported with the fd and errno.
func TestStageJoinsCgroupV1(t *testing.T) {
	needRoot(t)
	const hier = "/sys/fs/cgroup/pids"
	if _, err := os.Stat(hier + "/tasks"); err != nil {
		t.Skipf("no cgroup v1 pids hierarchy at %s (a cgroup v2 host): %v", hier, err)
	}
	dir := fmt.Sprintf("%s/rt-nsenter-test-%d", hier, os.Getpid())
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for i := 0; i < 50 && os.Remove(dir) != nil; i++ {
			time.Sleep(20 * time.Millisecond)
		}
	})
	tasks, err := os.OpenFile(dir+"/tasks", os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer tasks.Close()
	want := "pids:/" + filepath.Base(dir) + "\n"
	for _, variant := range []string{"static", "cgo"} {
		bin := testProgram(t, variant)
		files := append(make([]*os.File, 17), tasks)
		env, err := EntryEnv([]Join{{Type: CgroupTasks, File: tasks, ChildFD: 20}})
		if err != nil {
			t.Fatal(err)
		}
		r, code := run(t, bin, []string{env}, files)
		if code != 0 || r.StageError != "" {
			t.Fatalf("%s: exit %d, stage error %q", variant, code, r.StageError)
		}
		if len(r.ThreadCgroups) < 2 {
			t.Errorf("%s: %d threads; want the runtime's threads too", variant, len(r.ThreadCgroups))
		}
		for i, cg := range r.ThreadCgroups {
			if !strings.Contains(cg, want) {
				t.Errorf("%s: thread %d is not in %s:\n%s", variant, i, dir, cg)
			}
		}
		if slices.Contains(r.OpenFDs, "20") {
			t.Errorf("%s: tasks fd 20 still open: %v", variant, r.OpenFDs)
		}
	}
	// A tasks file opened read-only: the write fails with EBADF.
	ro, err := os.Open(dir + "/tasks")
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	env, _ := EntryEnv([]Join{{Type: CgroupTasks, File: ro, ChildFD: 20}})
	r, code := run(t, testProgram(t, "static"), []string{env}, append(make([]*os.File, 17), ro))
	if code != 1 || !strings.Contains(r.StageError, "join cgroup: write 0 to the tasks file at fd 20") ||
		!strings.Contains(r.StageError, "bad file descriptor") {
		t.Errorf("read-only tasks file: exit %d, stage error %q", code, r.StageError)
	}
	for _, cg := range r.ThreadCgroups {
		if strings.Contains(cg, want) {
			t.Errorf("after a failed write a thread is in %s anyway", dir)
		}
	}
}

// The stage starts the runtime with GOMAXPROCS=1 unless the environment
// sets it, and nothing else of argv, the environment or auxv changes (a
// broken auxv stops the runtime before main: no vDSO, no AT_RANDOM).
// SettleGOMAXPROCS removes the variable again, or sets 1 P itself in an
// unpatched binary.
func TestStageGOMAXPROCS(t *testing.T) {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GOMAXPROCS=") && !strings.HasPrefix(kv, "GODEBUG=") {
			env = append(env, kv)
		}
	}
	// containermaxprocs=0: an unpatched binary then starts with NumCPU Ps
	// even where a CPU quota would lower the default.
	env = append(env, "TESTMAIN_MARK=a b=c", "EMPTY=", "GODEBUG=containermaxprocs=0")
	args := []string{"one", "", "three four"}
	for _, variant := range []string{"cgo", "static", "unpatched"} {
		for _, set := range []string{"", "3"} {
			t.Run(variant+"/GOMAXPROCS="+set, func(t *testing.T) {
				bin := testProgram(t, variant)
				cmd := exec.Command(bin, args...)
				cmd.Env = slices.Clone(env)
				want := runtime.NumCPU()
				if set != "" {
					cmd.Env = append(cmd.Env, "GOMAXPROCS="+set)
					want = 3
				} else if variant != "unpatched" {
					want = 1
				}
				r := reportOf(t, cmd)
				if r.GOMAXPROCS != want {
					t.Errorf("GOMAXPROCS = %d, want %d", r.GOMAXPROCS, want)
				}
				// The fallback for an unpatched binary.
				if want == runtime.NumCPU() && set == "" {
					want = 1
				}
				if r.Settled != want {
					t.Errorf("GOMAXPROCS after SettleGOMAXPROCS = %d, want %d", r.Settled, want)
				}
				if !slices.Equal(r.Args, args) {
					t.Errorf("args = %q, want %q", r.Args, args)
				}
				if !slices.Equal(r.Env, cmd.Env) {
					t.Errorf("environment after SettleGOMAXPROCS = %q, want %q", r.Env, cmd.Env)
				}
			})
		}
	}
}

// An environment too big to copy on a small stack is left alone; the
// fallback still gives the process one P.
func TestStageGOMAXPROCSHugeEnvironment(t *testing.T) {
	env := []string{"GODEBUG=containermaxprocs=0"}
	for i := 0; i < 2100; i++ {
		env = append(env, "E"+strconv.Itoa(i)+"=")
	}
	for _, variant := range []string{"cgo", "static"} {
		t.Run(variant, func(t *testing.T) {
			cmd := exec.Command(testProgram(t, variant))
			cmd.Env = env
			r := reportOf(t, cmd)
			if r.GOMAXPROCS != runtime.NumCPU() || r.Settled != 1 {
				t.Errorf("GOMAXPROCS = %d, after SettleGOMAXPROCS %d; want %d (not inserted), then 1", r.GOMAXPROCS, r.Settled, runtime.NumCPU())
			}
			if !slices.Equal(r.Env, env) {
				t.Errorf("environment changed: %d entries, want %d", len(r.Env), len(env))
			}
		})
	}
}

// reportOf runs cmd, which must succeed, and decodes its report.
func reportOf(t *testing.T, cmd *exec.Cmd) report {
	t.Helper()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	var r report
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	return r
}
