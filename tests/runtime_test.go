package tests

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// cmdTimeout bounds every runtime command so a hang fails one test, not the suite.
const cmdTimeout = 60 * time.Second

// result is what one runtime command did.
type result struct {
	args   []string
	stdout string
	stderr string
	code   int // exit status; -1 when it did not exit normally
}

func (r result) ok() bool { return r.code == 0 }

func (r result) String() string {
	return fmt.Sprintf("%s %s: exit %d\nstdout: %s\nstderr: %s",
		runtimeName, strings.Join(r.args, " "), r.code, r.stdout, r.stderr)
}

// mustOK fails the test unless the command succeeded.
func (r result) mustOK(t testing.TB) result {
	t.Helper()
	if !r.ok() {
		t.Fatalf("command failed: %s", r)
	}
	return r
}

// mustFail fails the test unless the command exited non-zero with a message
// containing one of wants (case-insensitive) on stderr or stdout.
func (r result) mustFail(t testing.TB, wants ...string) {
	t.Helper()
	if r.ok() {
		t.Fatalf("command succeeded but must fail: %s", r)
	}
	if r.code < 0 {
		t.Fatalf("command did not exit normally: %s", r)
	}
	msg := strings.ToLower(r.stderr + r.stdout)
	if len(wants) == 0 {
		return
	}
	for _, w := range wants {
		if strings.Contains(msg, strings.ToLower(w)) {
			return
		}
	}
	t.Fatalf("error message names none of %q: %s", wants, r)
}

// cmdOpts adjusts how a runtime command is started.
type cmdOpts struct {
	stdin  *os.File   // default /dev/null
	stdout *os.File   // default: captured into result.stdout
	stderr *os.File   // default: captured into result.stderr
	extra  []*os.File // become fds 3, 4, ... (for --preserve-fds)
	env    []string   // added to the runtime's environment
	// timerSlack, if set, is the timer slack (ns) the runtime starts with
	// (inherited from the thread that forks it).
	timerSlack uint64
}

// rt runs the runtime with the suite's --root and args.
func rt(t testing.TB, args ...string) result {
	t.Helper()
	return rtWith(t, cmdOpts{}, args...)
}

// rtWith runs the runtime like rt, with stdio chosen by o. Output is captured
// through files, not pipes: a detached container inherits the runtime's stdio
// and would otherwise keep a pipe open after the runtime exited.
func rtWith(t testing.TB, o cmdOpts, args ...string) result {
	t.Helper()
	cmd, outF, errF := rtCommand(t, o, args...)
	err := startWithSlack(cmd, o.timerSlack)
	if err == nil {
		err = cmd.Wait()
	}
	return finish(t, cmd, err, outF, errF)
}

// startWithSlack starts cmd from a thread whose timer slack is slack for
// the moment (0: as it is), which cmd's process inherits.
func startWithSlack(cmd *exec.Cmd, slack uint64) error {
	if slack == 0 {
		return cmd.Start()
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	old, err := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0)
	if err != nil {
		return err
	}
	if err := unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(slack), 0, 0, 0); err != nil {
		return err
	}
	defer unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(old), 0, 0, 0)
	return cmd.Start()
}

// rtCommand prepares (but does not start) a runtime command; finish collects it.
func rtCommand(t testing.TB, o cmdOpts, args ...string) (cmd *exec.Cmd, outF, errF *os.File) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	t.Cleanup(cancel)
	full := append([]string{"--root", stateRoot}, args...)
	cmd = exec.CommandContext(ctx, runtimeBin, full...)
	cmd.WaitDelay = 5 * time.Second
	cmd.Stdin = o.stdin
	cmd.ExtraFiles = o.extra
	if o.env != nil {
		cmd.Env = append(os.Environ(), o.env...)
	}
	var err error
	if o.stdout != nil {
		cmd.Stdout = o.stdout
	} else {
		if outF, err = os.CreateTemp(baseDir+"/io", "out-"); err != nil {
			t.Fatal(err)
		}
		cmd.Stdout = outF
	}
	if o.stderr != nil {
		cmd.Stderr = o.stderr
	} else {
		if errF, err = os.CreateTemp(baseDir+"/io", "err-"); err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = errF
	}
	return cmd, outF, errF
}

// finish turns a finished command into a result and removes its capture files.
func finish(t testing.TB, cmd *exec.Cmd, err error, outF, errF *os.File) result {
	t.Helper()
	r := result{args: cmd.Args[3:], code: cmd.ProcessState.ExitCode()}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		r.code = -1
		r.stderr = err.Error() + "\n"
	}
	for _, c := range []struct {
		f   *os.File
		dst *string
	}{{outF, &r.stdout}, {errF, &r.stderr}} {
		if c.f == nil {
			continue
		}
		data, rerr := os.ReadFile(c.f.Name())
		if rerr != nil {
			t.Fatal(rerr)
		}
		*c.dst += string(data)
		c.f.Close()
		os.Remove(c.f.Name())
	}
	return r
}

// skipOnRunc skips a test that encodes a spec rule runc 1.1.5 does not follow.
func skipOnRunc(t testing.TB, why string) {
	t.Helper()
	if runtimeName == "runc" {
		t.Skip("runc 1.1.5 differs from the spec here: " + why)
	}
}

// mustContain fails the test unless s (described by what) contains want.
func mustContain(t testing.TB, what, s, want string) {
	t.Helper()
	if !strings.Contains(s, want) {
		t.Fatalf("%s: want %q in:\n%s", what, want, s)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func mustRead(t testing.TB, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func oneOf(s string, set []string) bool {
	for _, x := range set {
		if s == x {
			return true
		}
	}
	return false
}

func containsLine(s, line string) bool {
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) == line {
			return true
		}
	}
	return false
}
