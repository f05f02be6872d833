package libcontainer

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/rtrun/rt/cgroups"
)

// Start runs the user program of a created container, then the poststart
// hooks.
func (c *Container) Start() error {
	if c.startNow != nil {
		return c.startedNow()
	}
	if c.direct != nil {
		return c.startDirectInit()
	}
	lock, err := c.lock()
	if err != nil {
		return err
	}
	defer lock.Close()
	if s := c.Status(); s != Created {
		return fmt.Errorf("cannot start container %s in state %q: only a created container can be started", c.ID(), s)
	}
	notify, err := c.bindNotify()
	if err != nil {
		return fmt.Errorf("start container %s: %w", c.ID(), err)
	}
	if err := c.release(); err != nil {
		if notify != nil {
			unix.Close(notify.fd)
		}
		return fmt.Errorf("start container %s: %w", c.ID(), err)
	}
	c.notify = notify
	return c.poststart(notify)
}

// poststart runs the poststart hooks once the user program runs.
func (c *Container) poststart(notify *notifyRelay) error {
	if h := c.state.Config.Hooks; h != nil && len(h.Poststart) > 0 {
		if err := runHooks("poststart", h.Poststart, c.hookState(Running)); err != nil {
			// Spec 1.3: a failed poststart hook is an error and the container stops.
			c.signalAll(unix.SIGKILL)
			if notify != nil {
				unix.Close(notify.fd)
				c.notify = nil
			}
			return fmt.Errorf("start container %s: %w", c.ID(), err)
		}
	}
	return nil
}

// startedNow is Start for an init created with StartNow (by this process,
// which kept the sync socket): msgStart lets init go on; it reports
// msgStarting and execs, which closes the socket; then the poststart hooks
// run.
func (c *Container) startedNow() error {
	conn := c.startNow
	c.startNow = nil
	defer conn.f.Close()
	err := func() error {
		if err := conn.send(syncMsg{Type: msgStart}); err != nil {
			return fmt.Errorf("container init is not waiting (dead?): %w", err)
		}
		if _, err := conn.expect(msgStarting, nil); err != nil {
			if errors.Is(err, errEOF) {
				return errors.New("container init exited before starting the process")
			}
			return err
		}
		m, err := conn.recv(nil)
		switch {
		case errors.Is(err, errEOF):
			return nil // the exec closed it
		case err != nil:
			return err
		case m.Type == msgError:
			return &stepError{Step: m.Step, Err: errors.New(m.Error)}
		}
		return fmt.Errorf("sync protocol: got message %q after %q", m.Type, msgStarting)
	}()
	if err != nil {
		return fmt.Errorf("start container %s: %w", c.ID(), err)
	}
	return c.poststart(nil)
}

// release connects to init's exec socket: init runs the startContainer hooks
// and execs the user program. EOF after a zero byte means the exec happened.
func (c *Container) release() error {
	d, err := os.Open(c.dir)
	if err != nil {
		return err
	}
	defer d.Close()
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	sock := filepath.Join(c.dir, execSockName)
	err = unix.Connect(fd, &unix.SockaddrUnix{Name: fmt.Sprintf("/proc/self/fd/%d/%s", d.Fd(), execSockName)})
	// Whatever happens now, the container is no longer "created".
	os.Remove(sock)
	if err != nil {
		return fmt.Errorf("container init is not waiting (dead?): %w", err)
	}
	f := os.NewFile(uintptr(fd), "exec-conn")
	b, err := io.ReadAll(f)
	if err != nil {
		return fmt.Errorf("read from init: %w", err)
	}
	switch {
	case len(b) == 1 && b[0] == 0:
		return nil
	case len(b) == 0:
		return errors.New("container init exited before starting the process")
	case b[0] == 0:
		return errors.New(string(b[1:]))
	default:
		return errors.New(string(b))
	}
}

// Signal sends sig to the init process, or with all to every process in the
// container's cgroup.
func (c *Container) Signal(sig unix.Signal, all bool) error {
	s := c.Status()
	if s == Stopped {
		return fmt.Errorf("cannot kill container %s: container is stopped", c.ID())
	}
	if s == Creating {
		return fmt.Errorf("cannot kill container %s: container is still being created", c.ID())
	}
	if all {
		return c.signalAll(sig)
	}
	return c.signalInit(sig)
}

// signalInit signals init through a pidfd after checking the pid still
// belongs to it, so a recycled pid is never hit.
func (c *Container) signalInit(sig unix.Signal) error {
	pidfd, err := unix.PidfdOpen(c.state.InitPid, 0)
	if err != nil {
		if errors.Is(err, unix.ESRCH) {
			return nil
		}
		return fmt.Errorf("pidfd_open %d: %w", c.state.InitPid, err)
	}
	defer unix.Close(pidfd)
	if st, err := readProcStat(c.state.InitPid); err != nil || st.StartTime != c.state.InitStartTime {
		return nil // init is gone; the pid was reused
	}
	if err := unix.PidfdSendSignal(pidfd, sig, nil, 0); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("signal %s to init %d: %w", sig, c.state.InitPid, err)
	}
	return nil
}

// signalAll freezes the cgroup, signals every process in it and thaws it, so
// nothing forks away meanwhile.
func (c *Container) signalAll(sig unix.Signal) error {
	mgr, err := cgroups.Load(c.state.CgroupPaths)
	if err != nil || !mgr.Exists() {
		return c.signalInit(sig)
	}
	// Thaw what we froze, so a paused container stays paused - except
	// after SIGKILL: a frozen process cannot die (runc thaws too).
	wasFrozen, _ := mgr.Frozen()
	froze := !wasFrozen && mgr.Freeze() == nil
	pids, err := mgr.GetPids()
	for _, p := range pids {
		unix.Kill(p, sig)
	}
	if froze || (wasFrozen && sig == unix.SIGKILL) {
		mgr.Thaw()
	}
	if err != nil {
		return fmt.Errorf("list container processes: %w", err)
	}
	return c.signalInit(sig)
}

func (c *Container) frozen() bool {
	if len(c.state.CgroupPaths) == 0 {
		return false
	}
	mgr, err := cgroups.Load(c.state.CgroupPaths)
	if err != nil {
		return false
	}
	f, err := mgr.Frozen()
	return err == nil && f
}

// Delete removes a stopped container, or with force any container, and runs
// the poststop hooks.
func (c *Container) Delete(force bool) error {
	lock, err := c.lock()
	if err != nil {
		return err
	}
	defer lock.Close()
	// Holding the lock, "creating" means the create that held it died.
	s := c.Status()
	if s != Stopped {
		if !force {
			hint := "stop it first or use --force"
			if s == Creating {
				hint = "its create was interrupted; use --force"
			}
			return fmt.Errorf("cannot delete container %s in state %q: %s", c.ID(), s, hint)
		}
		c.signalAll(unix.SIGKILL)
		if err := c.waitStopped(5 * time.Second); err != nil {
			return err
		}
	} else if c.init != nil {
		// Ours (run) and dead, maybe not reaped yet: a start that failed.
		// Reaping an init that run already waited for does nothing.
		c.init.Wait()
	}
	var errs []error
	if len(c.state.CgroupPaths) > 0 {
		mgr, err := cgroups.Load(c.state.CgroupPaths)
		if err == nil {
			// Processes left by a container without a pid namespace of its
			// own die here. With one, the kernel killed the rest of it with
			// init: a cgroup still busy holds one of those on its way out,
			// or a process put there from outside.
			if ownPidNS(c.state.Config) {
				if err = mgr.Remove(); errors.Is(err, unix.EBUSY) {
					c.signalAll(unix.SIGKILL)
					err = mgr.Destroy()
				}
			} else {
				if pids, _ := mgr.GetPids(); len(pids) > 0 {
					c.signalAll(unix.SIGKILL)
				}
				err = mgr.Destroy()
			}
		}
		if err != nil {
			// Keep the state so that delete can be retried.
			return fmt.Errorf("delete container %s: remove cgroups: %w", c.ID(), err)
		}
	}
	if err := removeStateDir(c.dir); err != nil {
		errs = append(errs, fmt.Errorf("remove state: %w", err))
	}
	if h := c.state.Config.Hooks; h != nil && len(h.Poststop) > 0 {
		if err := runHooksAll("poststop", h.Poststop, c.hookState(Stopped)); err != nil {
			logrus.Warnf("%v", err)
		}
	}
	return errors.Join(errs...)
}

// waitStopped waits until init is gone or a zombie. It is not our child, so
// it cannot be reaped here.
func (c *Container) waitStopped(timeout time.Duration) error {
	if c.state.InitPid == 0 {
		return nil // create died before starting init
	}
	if c.init != nil {
		c.init.Wait()
		return nil
	}
	// The pidfd says when init has exited; but a pid namespace's init in
	// exit waits for its reaper to reap the rest of the namespace, and is
	// already stopped for us (PF_EXITING): re-check the status meanwhile.
	pidfd, err := unix.PidfdOpen(c.state.InitPid, 0)
	if err == nil {
		defer unix.Close(pidfd)
	}
	deadline := time.Now().Add(timeout)
	for c.Status() != Stopped && time.Now().Before(deadline) {
		if pidfd >= 0 && err == nil {
			unix.Poll([]unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}, 5)
		} else {
			time.Sleep(5 * time.Millisecond)
		}
	}
	if c.Status() != Stopped {
		return fmt.Errorf("container %s: init %d did not die after SIGKILL", c.ID(), c.state.InitPid)
	}
	return nil
}

// Wait waits for the init this process started (run in the foreground) and
// returns its exit status the shell way: 128+signal when killed.
func (c *Container) Wait() (int, error) {
	if c.init == nil {
		return -1, errors.New("container init is not a child of this process")
	}
	ws, err := c.init.Wait()
	if err != nil {
		return -1, err
	}
	return shellStatus(ws), nil
}

// SignalChild signals the init this process started (run in the
// foreground); after init was reaped it does nothing.
func (c *Container) SignalChild(s os.Signal) {
	if sig, ok := s.(syscall.Signal); ok && c.init != nil {
		c.init.Signal(sig)
	}
}

// Pid returns init's pid.
func (c *Container) Pid() int { return c.state.InitPid }

// ownPidNS reports whether spec gives the container a new pid namespace.
func ownPidNS(spec *specs.Spec) bool {
	if spec == nil || spec.Linux == nil {
		return false
	}
	for _, ns := range spec.Linux.Namespaces {
		if ns.Type == specs.PIDNamespace {
			return ns.Path == ""
		}
	}
	return false
}

// removeStateDir removes a container's state directory: usually it holds
// state.json alone, which goes first, then the directory; anything else
// there (the notify socket, a temporary file of a create that died) is
// found by RemoveAll.
func removeStateDir(dir string) error {
	if err := unix.Unlink(filepath.Join(dir, stateFile)); err != nil && !errors.Is(err, unix.ENOENT) {
		return os.RemoveAll(dir)
	}
	if err := unix.Rmdir(dir); err == nil || errors.Is(err, unix.ENOENT) {
		return nil
	}
	return os.RemoveAll(dir)
}
