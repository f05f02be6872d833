package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// A launcher runs jobs for one runtime.
type launcher interface {
	run(j job) (jobResult, error)
	close() error
}

// local runs jobs in the harness process itself.
type local struct{}

func (local) run(j job) (jobResult, error) { return execJob(j), nil }
func (local) close() error                 { return nil }

// helperArg as the first argument turns the harness binary into the helper.
const helperArg = "__bench-helper"

// helper is a long-lived copy of the harness in a private mount namespace
// with an empty tmpfs over /sys/fs/cgroup/unified, where crun 1.8.1 accepts
// this host's hybrid cgroup layout (it refuses "hybrid mode"; hiding the
// cgroup2 mount leaves it pure v1). The namespace is set up once, and the
// helper times each command with the same code as the harness, so crun's
// figures contain neither the set-up nor the round trip to the helper.
type helper struct {
	name string // for messages
	cmd  *exec.Cmd
	in   io.WriteCloser
	enc  *json.Encoder
	dec  *json.Decoder
}

type helperHello struct {
	Err string `json:"err,omitempty"`
}

func startHelper() (*helper, error) {
	h, err := startWorker("crun helper", true, helperArg)
	if err != nil {
		return nil, fmt.Errorf("start crun helper: %w", err)
	}
	var hello helperHello
	if err := h.dec.Decode(&hello); err != nil || hello.Err != "" {
		h.close()
		if err == nil {
			err = errors.New(hello.Err)
		}
		return nil, fmt.Errorf("crun helper: %w", err)
	}
	return h, nil
}

// startWorker starts this program again with args, in a process group of
// its own (a Ctrl-C on the terminal must not stop it before the harness
// has cleaned up through it) and, with newNS, in a new mount namespace;
// jobs go to its stdin and results come from its stdout.
func startWorker(name string, newNS bool, args ...string) (*helper, error) {
	// Our own binary even if build/bench/bench is rebuilt meanwhile.
	cmd := exec.Command("/proc/self/exe", args...)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if newNS {
		cmd.SysProcAttr.Cloneflags = unix.CLONE_NEWNS
	}
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &helper{name: name, cmd: cmd, in: in, enc: json.NewEncoder(in), dec: json.NewDecoder(bufio.NewReader(out))}, nil
}

func (h *helper) run(j job) (jobResult, error) {
	var r jobResult
	if err := h.enc.Encode(j); err != nil {
		return r, fmt.Errorf("send job to %s: %w", h.name, err)
	}
	if err := h.dec.Decode(&r); err != nil {
		return r, fmt.Errorf("%s: %w", h.name, err)
	}
	return r, nil
}

// close ends the helper (it exits when its stdin closes); its mount
// namespace, and the tmpfs in it, go with it.
func (h *helper) close() error {
	h.in.Close()
	return h.wait(10 * time.Second)
}

// wait waits for the process to exit; after timeout it kills its process
// group.
func (h *helper) wait(timeout time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- h.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(timeout):
		unix.Kill(-h.cmd.Process.Pid, unix.SIGKILL)
		return fmt.Errorf("%s did not exit within %v; killed: %v", h.name, timeout, <-done)
	}
}

// helperMain is the helper process: it arranges its mount namespace, says
// hello, then runs one job per line of stdin until stdin closes.
func helperMain() int {
	// Signals are the harness's business; the helper stops at EOF.
	signal.Notify(make(chan os.Signal, 1), unix.SIGINT, unix.SIGTERM, unix.SIGHUP)
	enc := json.NewEncoder(os.Stdout)
	if err := helperSetup(); err != nil {
		enc.Encode(helperHello{Err: err.Error()})
		return 1
	}
	enc.Encode(helperHello{})
	dec := json.NewDecoder(bufio.NewReader(os.Stdin))
	for {
		var j job
		if err := dec.Decode(&j); err != nil {
			if err == io.EOF {
				return 0
			}
			fmt.Fprintln(os.Stderr, "crun helper:", err)
			return 1
		}
		if err := enc.Encode(execJob(j)); err != nil {
			return 1
		}
	}
}

func helperSetup() error {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("become child subreaper: %w", err)
	}
	return privateMounts(true)
}

// privateMounts makes every mount of this (new) mount namespace private, so
// that nothing mounted here reaches the host's, and with hideUnified
// mounts an empty tmpfs over unifiedDir.
func privateMounts(hideUnified bool) error {
	// Private first, or the tmpfs would propagate to the host's namespace.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	if !hideUnified {
		return nil
	}
	if err := unix.Mount("none", unifiedDir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=0755"); err != nil {
		return fmt.Errorf("mount tmpfs over %s: %w", unifiedDir, err)
	}
	return nil
}

const unifiedDir = "/sys/fs/cgroup/unified"

// hybridCgroups reports the layout crun 1.8.1 refuses: v1 controllers
// under a tmpfs at /sys/fs/cgroup plus a cgroup2 mount at unifiedDir.
func hybridCgroups() bool {
	var root, uni unix.Statfs_t
	if unix.Statfs("/sys/fs/cgroup", &root) != nil || unix.Statfs(unifiedDir, &uni) != nil {
		return false
	}
	return root.Type == unix.TMPFS_MAGIC && uni.Type == unix.CGROUP2_SUPER_MAGIC
}
