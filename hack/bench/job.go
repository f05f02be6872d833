package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// A job is what a launcher runs: commands in order (or all at once), each
// timed from fork to wait4 by the process that starts it. Jobs are plain
// data so that the crun helper, in its own mount namespace, can run them
// with the same code as the harness and send the results back.
type job struct {
	Steps    []step        `json:"steps"`
	Parallel bool          `json:"parallel,omitempty"` // start every step at once (Args steps only)
	Timeout  time.Duration `json:"timeout"`            // per step; the process group is killed after it
	Spawner  string        `json:"spawner"`            // hack/bench/spawn, for Spawn steps
}

// step is one command, or a wait for a container's init.
type step struct {
	Args []string `json:"args,omitempty"`
	// WaitPidFile waits until the process whose pid is in this file (written
	// by create --pid-file) has exited, and reaps it: we are its subreaper,
	// as containerd's shim is.
	WaitPidFile string `json:"waitPidFile,omitempty"`
	// Reap collects every exited child without waiting (cleanup only: it
	// would steal the status of a running step).
	Reap    bool `json:"reap,omitempty"`
	MayFail bool `json:"mayFail,omitempty"` // go on with the next step if this one fails
	// Spawn runs Args through the spawner, for a ru_maxrss that is the
	// command's own (see spawn.go). Time is then taken by the spawner.
	Spawn bool `json:"spawn,omitempty"`
	// Pause sleeps this long, untimed: the host's cgroups see no task move
	// meanwhile (see measureIdle).
	Pause time.Duration `json:"pause,omitempty"`
}

type stepResult struct {
	Dur    time.Duration `json:"dur"`
	MaxRSS int64         `json:"maxrss"` // KiB: ru_maxrss from wait4, of Spawn steps only
	Stdout string        `json:"stdout,omitempty"`
	Err    string        `json:"err,omitempty"`
}

type jobResult struct {
	Wall  time.Duration `json:"wall"`
	Steps []stepResult  `json:"steps"`
}

// err is the first failed step that was not allowed to fail.
func (r jobResult) err(j job) error {
	for i, s := range r.Steps {
		if s.Err != "" && !j.Steps[i].MayFail {
			return fmt.Errorf("%s: %s", j.Steps[i], s.Err)
		}
	}
	return nil
}

func (s step) String() string {
	switch {
	case s.WaitPidFile != "":
		return "wait for the pid in " + s.WaitPidFile
	case s.Reap:
		return "reap children"
	case s.Pause > 0:
		return "pause " + s.Pause.String()
	}
	return strings.Join(s.Args, " ")
}

// execJob runs j. A sequential job stops at the first step that fails and
// may not.
func execJob(j job) jobResult {
	res := jobResult{Steps: make([]stepResult, len(j.Steps))}
	t0 := time.Now()
	if j.Parallel {
		var wg sync.WaitGroup
		for i, s := range j.Steps {
			wg.Go(func() { res.Steps[i] = runStep(s, j) })
		}
		wg.Wait()
	} else {
		for i, s := range j.Steps {
			res.Steps[i] = runStep(s, j)
			if res.Steps[i].Err != "" && !s.MayFail {
				res.Steps = res.Steps[:i+1]
				break
			}
		}
	}
	res.Wall = time.Since(t0)
	return res
}

func runStep(s step, j job) stepResult {
	switch {
	case s.WaitPidFile != "":
		t0 := time.Now()
		err := waitPidFile(s.WaitPidFile, j.Timeout)
		return stepResult{Dur: time.Since(t0), Err: errString(err)}
	case s.Reap:
		reapAll()
		return stepResult{}
	case s.Pause > 0:
		time.Sleep(s.Pause)
		return stepResult{}
	}
	return runCommand(s, j.Timeout, j.Spawner)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// runCommand forks and execs s.Args in its own process group (so a Ctrl-C
// on the terminal reaches only the harness, which then stops cleanly) and
// times it to the return of wait4. Output goes to memfds, read after the
// wait; stdin is /dev/null.
func runCommand(s step, timeout time.Duration, spawner string) stepResult {
	stdout, err1 := memfd("stdout")
	stderr, err2 := memfd("stderr")
	result, err3 := memfd("result")
	null, err4 := os.Open(os.DevNull)
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return stepResult{Err: err.Error()}
	}
	defer stdout.Close()
	defer stderr.Close()
	defer result.Close()
	defer null.Close()
	args := s.Args
	files := []uintptr{null.Fd(), stdout.Fd(), stderr.Fd()}
	if s.Spawn {
		args = append([]string{spawner}, args...)
		files = append(files, result.Fd())
	}
	attr := &syscall.ProcAttr{Env: os.Environ(), Files: files, Sys: &syscall.SysProcAttr{Setpgid: true}}

	t0 := time.Now()
	pid, err := syscall.ForkExec(args[0], args, attr)
	if err != nil {
		return stepResult{Err: fmt.Sprintf("start: %v", err)}
	}
	var timedOut atomic.Bool
	timer := time.AfterFunc(timeout, func() {
		timedOut.Store(true)
		unix.Kill(-pid, unix.SIGKILL)
	})
	var ws unix.WaitStatus
	var ru unix.Rusage
	for {
		_, err = unix.Wait4(pid, &ws, 0, &ru)
		if err != unix.EINTR {
			break
		}
	}
	dur := time.Since(t0)
	timer.Stop()

	// Our own ru_maxrss would count the harness (see spawn.go): not kept.
	r := stepResult{Dur: dur, Stdout: readAll(stdout)}
	if s.Spawn && err == nil && ws.Exited() && ws.ExitStatus() == 0 {
		var perr error
		if r.Dur, r.MaxRSS, ws, perr = parseSpawn(readAll(result)); perr != nil {
			r.Err = perr.Error()
		}
	}
	switch {
	case r.Err != "":
	case err != nil:
		r.Err = fmt.Sprintf("wait4: %v", err)
	case timedOut.Load():
		r.Err = fmt.Sprintf("killed after %v", timeout)
	case ws.Signaled():
		r.Err = fmt.Sprintf("killed by %v", ws.Signal())
	case ws.ExitStatus() != 0:
		r.Err = fmt.Sprintf("exit status %d", ws.ExitStatus())
	}
	if r.Err != "" {
		if msg := strings.TrimSpace(readAll(stderr)); msg != "" {
			r.Err += ": " + lastLines(msg, 3)
		}
	}
	return r
}

func memfd(name string) (*os.File, error) {
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	return os.NewFile(uintptr(fd), name), nil
}

func readAll(f *os.File) string {
	b, _ := io.ReadAll(io.NewSectionReader(f, 0, 1<<20))
	return string(b)
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// waitPidFile waits for the container init named in file to exit. It is
// normally our child (reparented to us, the subreaper) and is reaped here;
// if it is not, its pidfd is polled instead.
func waitPidFile(file string, timeout time.Duration) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return fmt.Errorf("%s: bad pid %q", file, b)
	}
	pfd, err := unix.PidfdOpen(pid, 0)
	if err == unix.ESRCH {
		return nil
	}
	if err != nil {
		return fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	defer unix.Close(pfd)
	fds := []unix.PollFd{{Fd: int32(pfd), Events: unix.POLLIN}}
	deadline := time.Now().Add(timeout)
	for {
		n, err := unix.Poll(fds, int(time.Until(deadline).Milliseconds()))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("poll pidfd of %d: %w", pid, err)
		}
		if n == 0 {
			return fmt.Errorf("container init %d still running after %v", pid, timeout)
		}
		break
	}
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil)
		if err != unix.EINTR {
			return nil // ECHILD: not ours, someone else reaps it
		}
	}
}

// reapAll collects exited children (container inits orphaned to us).
func reapAll() {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if err == unix.EINTR {
			continue
		}
		if pid <= 0 || err != nil {
			return
		}
	}
}
