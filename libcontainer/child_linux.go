package libcontainer

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/rtrun/rt/nsenter"
)

// child is a process this one started, or one reparented to it (rt as a
// subreaper), held by a pidfd where the kernel gives one. os.Process would
// do the same, but the os package's first use of pidfds forks a throwaway
// child to check that clone(CLONE_PIDFD) works: ~0.3 ms of every create
// and exec here. Nothing in rt's parent path uses os.StartProcess or
// os.FindProcess for that reason (hooks do, when there are any).
type child struct {
	Pid int

	mu     sync.Mutex // guards pidfd and reaped against Signal during Wait
	pidfd  int        // -1: none (use the pid, ours until reaped)
	reaped bool

	waitMu sync.Mutex // one Wait at a time; later ones return the status
	status unix.WaitStatus
}

func newChild(pid, pidfd int) *child { return &child{Pid: pid, pidfd: pidfd} }

// openChild holds pid, a child of ours, by a pidfd if it can have one
// (without, by the pid, which stays ours until we reap it). It cannot
// fail: the caller may hold a process that already runs the user's
// program, which must not be left behind unheld.
func openChild(pid int) *child {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		fd = -1
	}
	return newChild(pid, fd)
}

// startChild forks and execs path with files as fds 0, 1, 2, ... (sys may
// be nil), and holds the child by the pidfd clone returns.
func startChild(path string, args, env []string, files []*os.File, sys *syscall.SysProcAttr) (*child, error) {
	fds := make([]uintptr, len(files))
	for i, f := range files {
		fds[i] = f.Fd()
	}
	pidfd := -1
	var attr syscall.SysProcAttr
	if sys != nil {
		attr = *sys
	}
	attr.PidFD = &pidfd
	var pid int
	err := nsenter.WithCallerTimerSlack(func() (err error) {
		pid, _, err = syscall.StartProcess(path, args, &syscall.ProcAttr{Env: env, Files: fds, Sys: &attr})
		return err
	})
	for _, f := range files {
		runtime.KeepAlive(f)
	}
	if err != nil {
		return nil, &os.PathError{Op: "fork/exec", Path: path, Err: err}
	}
	return newChild(pid, pidfd), nil
}

// forkExec is syscall.ForkExec for a process that gets rt's caller's timer
// slack.
func forkExec(path string, args []string, attr *syscall.ProcAttr) (pid int, err error) {
	err = nsenter.WithCallerTimerSlack(func() error {
		pid, err = syscall.ForkExec(path, args, attr)
		return err
	})
	return pid, err
}

// Wait reaps the child and returns its status; after the first call it
// returns the same status again.
func (p *child) Wait() (unix.WaitStatus, error) {
	p.waitMu.Lock()
	defer p.waitMu.Unlock()
	p.mu.Lock()
	reaped := p.reaped
	p.mu.Unlock()
	if reaped {
		return p.status, nil
	}
	// Wait for the exit without reaping, so that Signal, which holds mu,
	// never meets a pid the child no longer owns; then reap under mu.
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PID, p.Pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err == nil || !errors.Is(err, unix.EINTR) {
			break // a real error shows again in wait4
		}
	}
	p.mu.Lock()
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(p.Pid, &ws, 0, nil)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EINTR) {
			p.mu.Unlock()
			return 0, fmt.Errorf("wait for %d: %w", p.Pid, err)
		}
	}
	p.status, p.reaped = ws, true
	if p.pidfd >= 0 {
		unix.Close(p.pidfd)
		p.pidfd = -1
	}
	p.mu.Unlock()
	return ws, nil
}

// Reaped reports whether Wait has reaped the child.
func (p *child) Reaped() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.reaped
}

// Signal sends sig unless the child was reaped already.
func (p *child) Signal(sig unix.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.reaped:
		return nil
	case p.pidfd >= 0:
		return unix.PidfdSendSignal(p.pidfd, sig, nil, 0)
	}
	return unix.Kill(p.Pid, sig)
}

// Kill sends SIGKILL.
func (p *child) Kill() error { return p.Signal(unix.SIGKILL) }

// describeExit says how a child ended, for errors.
func describeExit(ws unix.WaitStatus) string {
	switch {
	case ws.Signaled():
		hint := ""
		if ws.Signal() == unix.SIGKILL {
			hint = " (OOM-killed? check the memory limit)"
		}
		return fmt.Sprintf("killed by signal %s%s", ws.Signal(), hint)
	case ws.Exited() && ws.ExitStatus() == 0:
		return "exited with status 0"
	}
	return fmt.Sprintf("exit status %d", ws.ExitStatus())
}

// shellStatus is a status the shell way: 128+signal when killed.
func shellStatus(ws unix.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}
