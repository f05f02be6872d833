package engines

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The suite runs against one runtime per invocation: RUNTIME=runc first, to
// show each check is right, then rt (the default). `make test-engines` does both.
var (
	runtimeName string // "rt" or "runc": the name podman knows it by
	runtimeBin  string // its absolute path
	env         *Env
	ctrUpdate   string // the ctrupdate helper (containerd's Tasks.Update)
)

const reaperEnv = "_RT_ENGINES_REAPED"

func TestMain(m *testing.M) {
	if os.Getenv(reaperEnv) == "" {
		os.Exit(reap())
	}
	os.Exit(testMain(m))
}

// reap runs the suite as a child and reaps every orphan meanwhile (see
// ReapUntil).
func reap() int {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintln(os.Stderr, "engines: set child subreaper:", err)
		return 1
	}
	cmd := exec.Command("/proc/self/exe", os.Args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), reaperEnv+"=1")
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "engines:", err)
		return 1
	}
	return ReapUntil(cmd.Process.Pid)
}

func testMain(m *testing.M) int {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "engines: the engine suite must run as root")
		return 1
	}
	for _, bin := range []string{"podman", "conmon", "containerd", "ctr", "containerd-shim-runc-v2", "script"} {
		if _, err := exec.LookPath(bin); err != nil {
			fmt.Fprintf(os.Stderr, "engines: %s not found: run hack/setup.sh test\n", bin)
			return 1
		}
	}
	dir, err := os.MkdirTemp("", "rt-engines-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "engines:", err)
		return 1
	}
	code := func() int {
		if err := setup(dir); err != nil {
			fmt.Fprintln(os.Stderr, "engines: setup:", err)
			return 1
		}
		fmt.Fprintf(os.Stderr, "engines: runtime %s (%s); podman %s; containerd %s\n",
			runtimeName, runtimeBin, version("podman", "--version"), version("containerd", "--version"))
		return m.Run()
	}()
	if env != nil {
		if problems := env.Close(); len(problems) > 0 {
			fmt.Fprintln(os.Stderr, "engines: cleanup failed:\n  "+strings.Join(problems, "\n  "))
			code = 1
		}
	}
	os.RemoveAll(dir)
	return code
}

func version(cmd ...string) string {
	out, _ := exec.Command(cmd[0], cmd[1:]...).Output()
	return strings.TrimSpace(string(out))
}

func setup(dir string) error {
	repo, err := filepath.Abs("../..")
	if err != nil {
		return err
	}
	switch os.Getenv("RUNTIME") {
	case "runc":
		runtimeName = "runc"
		if runtimeBin, err = exec.LookPath("runc"); err != nil {
			return err
		}
	case "", "rt":
		runtimeName = "rt"
		if b := os.Getenv("RT_BINARY"); b != "" {
			runtimeBin, err = filepath.Abs(b)
		} else {
			runtimeBin = filepath.Join(dir, "rt")
			err = runIn(repo, "hack/build-rt.sh", runtimeBin)
		}
		if err != nil {
			return err
		}
	default:
		return fmt.Errorf("RUNTIME=%s: use rt or runc", os.Getenv("RUNTIME"))
	}
	// ctrupdate is a module of its own (it needs containerd's client).
	ctrUpdate = filepath.Join(dir, "ctrupdate")
	if err := runIn(filepath.Join(repo, "tests/engines/ctrupdate"), "env", "GOEXPERIMENT=", "go", "build", "-o", ctrUpdate, "."); err != nil {
		return err
	}
	env, err = Setup(Options{
		Dir:        filepath.Join(dir, "env"),
		Repo:       repo,
		Runtimes:   map[string]string{runtimeName: runtimeBin},
		Containerd: true,
	})
	return err
}

func runIn(dir string, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

// result is what a command printed and how it exited.
type result struct {
	cmd    string
	stdout string
	stderr string
	code   int
}

func (r result) String() string {
	return fmt.Sprintf("%s: exit %d\nstdout: %s\nstderr: %s", r.cmd, r.code, r.stdout, r.stderr)
}

func execute(t *testing.T, cmd *exec.Cmd) result {
	t.Helper()
	var out, errb bytes.Buffer
	if cmd.Stdout == nil {
		cmd.Stdout = &out
	}
	if cmd.Stderr == nil {
		cmd.Stderr = &errb
	}
	r := result{cmd: strings.Join(cmd.Args, " ")}
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("%s: %v", r.cmd, err)
	}
	r.stdout, r.stderr = out.String(), errb.String()
	return r
}

// ok runs cmd and fails the test unless it exits 0; it returns stdout.
func ok(t *testing.T, cmd *exec.Cmd) string {
	t.Helper()
	r := execute(t, cmd)
	if r.code != 0 {
		t.Fatalf("%v", r)
	}
	return r.stdout
}

// podman runs podman with the runtime under test.
func podman(args ...string) *exec.Cmd {
	return env.Podman(append([]string{"--runtime", runtimeName}, args...)...)
}

// podmanRun is `podman run` with the suite's cgroup parent and no network.
func podmanRun(args ...string) *exec.Cmd {
	return podman(append(append([]string{"run"}, env.PodmanRunFlags()...), args...)...)
}

// ctrRun is `ctr run` with the runtime under test: ID and args follow the image.
func ctrRun(flags []string, id string, args ...string) *exec.Cmd {
	a := append([]string{"run"}, env.CtrRunFlags(runtimeBin, id)...)
	a = append(a, flags...)
	a = append(a, Image, id)
	return env.Ctr(append(a, args...)...)
}

// inTerminal runs a shell command line under script(1), which gives it a
// pty as its controlling terminal (for -t), with the window size set first.
func inTerminal(dir string, environ []string, line string) *exec.Cmd {
	cmd := exec.Command("script", "-qec", "stty cols 91 rows 23; "+line, "/dev/null")
	cmd.Dir = dir
	cmd.Env = environ
	return cmd
}

// shellQuote quotes words for a sh command line.
func shellQuote(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}

// eventually retries f until it returns nil or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v (after %v)", what, err, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cgroupFile reads a v1 controller file of a cgroup path (absolute).
func cgroupFile(controller, cgroup, file string) (string, error) {
	b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup", controller, cgroup, file))
	return strings.TrimSpace(string(b)), err
}

// noCgroup checks that the cgroup is gone from every v1 hierarchy.
func noCgroup(t *testing.T, cgroup string) {
	t.Helper()
	for _, c := range []string{"memory", "pids", "cpu", "freezer", "devices"} {
		if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", c, cgroup)); err == nil {
			t.Errorf("cgroup %s still exists in %s", cgroup, c)
		}
	}
}

// runtimeState runs `RUNTIME [--root ROOT] state ID`.
func runtimeState(t *testing.T, root, id string) result {
	var args []string
	if root != "" {
		args = append(args, "--root", root)
	}
	return execute(t, exec.Command(runtimeBin, append(args, "state", id)...))
}

// nsOf reads /proc/PID/ns/NAME.
func nsOf(pid, name string) string {
	s, _ := os.Readlink("/proc/" + pid + "/ns/" + name)
	return s
}

// checkExecNamespaces runs script's output check for an exec'd process that
// printed its pid/mnt/net/ipc/uts/cgroup namespaces, then "hi", then exited 3:
// they must be init's.
func checkExecNamespaces(t *testing.T, r result, initPid string) {
	t.Helper()
	if r.code != 3 {
		t.Fatalf("want exit 3; got %v", r)
	}
	var want []string
	for _, n := range []string{"pid", "mnt", "net", "ipc", "uts", "cgroup"} {
		want = append(want, nsOf(initPid, n))
	}
	want = append(want, "hi")
	if got := strings.Fields(r.stdout); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("exec'd process namespaces:\n got %v\nwant %v", got, want)
	}
}

// nsScript prints the namespaces checkExecNamespaces compares.
const nsScript = "for n in pid mnt net ipc uts cgroup; do readlink /proc/self/ns/$n; done; echo hi; exit 3"
