package libcontainer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/rtrun/rt/cgroups"
	"github.com/rtrun/rt/libcontainer/caps"
	"github.com/rtrun/rt/libcontainer/rlimits"
	"github.com/rtrun/rt/libcontainer/seccomp"
	"github.com/rtrun/rt/nsenter"
)

// ExecOpts are the exec flags; Process is the complete process to run.
type ExecOpts struct {
	Process       *specs.Process
	ConsoleSocket string
	Console       *os.File // run in the foreground with a tty: gets the pty master
	PidFile       string
	PreserveFDs   int
	IgnorePaused  bool
	// SubCgroups are --cgroup values: "[controller[,controller...]:]path",
	// a sub-cgroup (made by the container) to run the process in.
	SubCgroups []string
	// Timing logs how long each phase of the direct path took (--debug).
	Timing bool
}

// ExecProcess is a process started by Exec.
type ExecProcess struct {
	proc *child
}

// Pid is the exec'd process's pid on the host.
func (p *ExecProcess) Pid() int { return p.proc.Pid }

// Signal passes a signal to the exec'd process (a no-op once reaped).
func (p *ExecProcess) Signal(s os.Signal) {
	if sig, ok := s.(syscall.Signal); ok {
		p.proc.Signal(sig)
	}
}

// Wait waits for the exec'd process and returns its status the shell way.
func (p *ExecProcess) Wait() (int, error) {
	ws, err := p.proc.Wait()
	if err != nil {
		return -1, err
	}
	return shellStatus(ws), nil
}

// nsName is the /proc/PID/ns entry of a namespace type. (A switch: a map
// literal is built at the start of every rt process, init's included.)
func nsName(t specs.LinuxNamespaceType) string {
	switch t {
	case specs.PIDNamespace:
		return "pid"
	case specs.NetworkNamespace:
		return "net"
	case specs.MountNamespace:
		return "mnt"
	case specs.IPCNamespace:
		return "ipc"
	case specs.UTSNamespace:
		return "uts"
	case specs.UserNamespace:
		return "user"
	case specs.CgroupNamespace:
		return "cgroup"
	case specs.TimeNamespace:
		return "time"
	}
	return ""
}

// Exec starts a process inside a created or running container: it joins
// every namespace of the container's init, is placed in its cgroups before
// it runs anything, and gets the process's user, capabilities, rlimits,
// no_new_privs, the container's seccomp filter and a cwd inside the root.
func (c *Container) Exec(o ExecOpts) (*ExecProcess, error) {
	p := o.Process
	if p == nil || len(p.Args) == 0 || p.Args[0] == "" {
		return nil, errors.New("exec: process.args: at least one argument is required")
	}
	if p.Cwd != "" && p.Cwd[0] != '/' {
		return nil, fmt.Errorf("exec: process.cwd: %q is not absolute", p.Cwd)
	}
	if err := caps.Validate(p.Capabilities); err != nil {
		return nil, fmt.Errorf("exec: process.capabilities.%w", err)
	}
	if _, err := rlimits.Parse(p.Rlimits); err != nil {
		return nil, fmt.Errorf("exec: process.%w", err)
	}
	if a := p.ExecCPUAffinity; a != nil {
		for field, list := range map[string]string{"initial": a.Initial, "final": a.Final} {
			if list != "" {
				if _, err := cpuSet(list); err != nil {
					return nil, fmt.Errorf("exec: process.execCPUAffinity.%s: %w", field, err)
				}
			}
		}
	}
	if p.ApparmorProfile != "" {
		return nil, errors.New("exec: process.apparmorProfile: AppArmor is not supported by rt yet (and not enabled in this kernel)")
	}
	if p.Terminal && o.ConsoleSocket == "" && o.Console == nil {
		return nil, errors.New("exec: a terminal (-t) needs --console-socket, or a foreground exec")
	}
	switch s := c.Status(); s {
	case Created, Running:
	case Paused:
		if !o.IgnorePaused {
			return nil, fmt.Errorf("cannot exec in container %s: it is paused (use --ignore-paused)", c.ID())
		}
	default:
		return nil, fmt.Errorf("cannot exec in container %s: it is %s", c.ID(), s)
	}
	proc, err := c.execDirect(o)
	if err != nil {
		return nil, fmt.Errorf("exec in container %s: %w", c.ID(), err)
	}
	return &ExecProcess{proc: proc}, nil
}

func (c *Container) startExec(o ExecOpts) (*child, error) {
	spec := c.state.Config
	initPid := c.state.InitPid
	exe, err := sealedSelf()
	if err != nil {
		return nil, fmt.Errorf("seal rt binary: %w", err)
	}
	defer exe.Close()
	parentSync, childSync, err := newSyncPair()
	if err != nil {
		return nil, err
	}
	defer parentSync.f.Close()
	defer childSync.Close()

	var extra []*os.File
	for i := 0; i < o.PreserveFDs; i++ {
		f, err := inheritedFile(3 + i)
		if err != nil {
			return nil, fmt.Errorf("--preserve-fds %d: %w", o.PreserveFDs, err)
		}
		extra = append(extra, f)
	}
	childFD := func(f *os.File) int {
		extra = append(extra, f)
		return 2 + len(extra)
	}
	syncFD := childFD(childSync)
	cfg := &initConfig{
		ID:        c.state.ID,
		Bundle:    c.state.Bundle,
		Rootfs:    c.state.Rootfs,
		Spec:      &specs.Spec{Version: spec.Version, Process: o.Process, Linux: execLinux(spec)},
		Exec:      true,
		ConsoleFD: -1,
		PassedFDs: o.PreserveFDs,
	}
	if o.Process.Terminal {
		con := o.Console
		if con == nil {
			if con, err = dialConsoleSocket(o.ConsoleSocket); err != nil {
				return nil, err
			}
			defer con.Close()
		}
		cfg.ConsoleFD = childFD(con)
	}
	if spec.Linux != nil && spec.Linux.Seccomp != nil {
		if cfg.Seccomp, err = seccomp.CompileCached(spec.Linux.Seccomp, SeccompCacheDir); err != nil {
			return nil, err
		}
		if cfg.SeccompFlags, err = seccomp.FlagBits(spec.Linux.Seccomp.Flags); err != nil {
			return nil, err
		}
		cfg.SeccompNotify = seccomp.NeedsListener(spec.Linux.Seccomp)
	}

	joins, err := execJoins(initPid, spec)
	if err != nil {
		return nil, err
	}
	defer joins.close()
	// Moved into its cgroups by pid below, after the initial CPU affinity
	// is set (create places its init earlier, see placement).
	cmd, err := spawnInit(exe, extra, syncFD, joins, nil, &placement{})
	if err != nil {
		return nil, fmt.Errorf("start process: %w", err)
	}
	childSync.Close()
	ok := false
	if a := o.Process.ExecCPUAffinity; a != nil && a.Initial != "" {
		// The affinity while it joins the container's cgroup.
		set, err := cpuSet(a.Initial)
		if err == nil {
			err = unix.SchedSetaffinity(cmd.Pid, set)
		}
		if err != nil {
			cmd.Kill()
			cmd.Wait()
			return nil, fmt.Errorf("process.execCPUAffinity.initial: %w", err)
		}
	}
	defer func() {
		if !ok {
			cmd.Kill()
			cmd.Wait()
		}
	}()
	// Into the container's cgroups before it runs anything: it waits for
	// msgConfig. (v1 cannot clone into a cgroup.)
	if len(c.state.CgroupPaths) > 0 {
		paths, err := subCgroupPaths(c.state.CgroupPaths, o.SubCgroups)
		if err != nil {
			return nil, err
		}
		mgr, err := cgroups.Load(paths)
		if err != nil {
			return nil, fmt.Errorf("load cgroups: %w", err)
		}
		if err := mgr.Apply(cmd.Pid); err != nil {
			return nil, fmt.Errorf("join the container's cgroups: %w", err)
		}
	}
	if err := parentSync.send(syncMsg{Type: msgConfig, Config: cfg}); err != nil {
		return nil, fmt.Errorf("send config: %w", err)
	}
	onLog := func(level, msg string) {
		lvl, err := logrus.ParseLevel(level)
		if err != nil {
			lvl = logrus.InfoLevel
		}
		logrus.WithField("from", "exec").Log(lvl, msg)
	}
	died := func(err error) error {
		if errors.Is(err, errEOF) || errors.Is(err, syscall.ECONNRESET) {
			return fmt.Errorf("process died before exec: %s", waitDescription(cmd))
		}
		return err
	}
	listen := func(fd int) error {
		return sendToListener(spec.Linux.Seccomp, cmd.Pid, c.hookState(c.Status()), fd)
	}
	if err := awaitReady(parentSync, onLog, listen); err != nil {
		return nil, died(err)
	}
	// EOF now means execve succeeded (the socket is close-on-exec).
	if m, err := parentSync.recv(onLog); err == nil {
		if m.Type == msgError {
			return nil, &stepError{Step: m.Step, Err: errors.New(m.Error)}
		}
		return nil, fmt.Errorf("sync protocol: unexpected message %q after ready", m.Type)
	} else if !errors.Is(err, errEOF) {
		return nil, err
	}
	if o.PidFile != "" {
		if err := writePidFile(o.PidFile, cmd.Pid); err != nil {
			return nil, err
		}
	}
	ok = true
	return cmd, nil
}

// subCgroupPaths applies --cgroup values to the container's cgroup paths: a
// value without controllers names a sub-cgroup in every hierarchy, one with
// them only in those. The sub-cgroup must exist (the container makes it)
// and stay inside the container's cgroup.
func subCgroupPaths(paths map[string]string, subs []string) (map[string]string, error) {
	if len(subs) == 0 {
		return paths, nil
	}
	out := make(map[string]string, len(paths))
	for k, v := range paths {
		out[k] = v
	}
	for _, s := range subs {
		ctrls, sub, found := strings.Cut(s, ":")
		if !found {
			ctrls, sub = "", s
		}
		clean := filepath.Clean("/" + sub)
		if clean == "/" || strings.Contains(sub, "..") {
			return nil, fmt.Errorf("--cgroup %q: want [controller[,controller...]:]path, inside the container's cgroup", s)
		}
		apply := func(k string) error {
			base, ok := paths[k]
			if !ok {
				return fmt.Errorf("--cgroup %q: the container has no %q cgroup", s, k)
			}
			dir := filepath.Join(base, clean)
			if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
				return fmt.Errorf("--cgroup %q: %s does not exist (the container must create it)", s, dir)
			}
			out[k] = dir
			return nil
		}
		if ctrls == "" {
			for k := range paths {
				if err := apply(k); err != nil {
					return nil, err
				}
			}
			continue
		}
		for _, k := range strings.Split(ctrls, ",") {
			if err := apply(k); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// execLinux is what an exec'd process takes from the container's linux
// section besides namespaces, cgroups and seccomp: its personality.
func execLinux(spec *specs.Spec) *specs.Linux {
	if spec.Linux == nil || spec.Linux.Personality == nil {
		return nil
	}
	return &specs.Linux{Personality: spec.Linux.Personality}
}

// SendPidfd sends a pidfd of pid over the unix socket at path with
// SCM_RIGHTS (--pidfd-socket).
func SendPidfd(path string, pid int) error {
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return fmt.Errorf("--pidfd-socket: pidfd_open %d: %w", pid, err)
	}
	defer unix.Close(pidfd)
	conn, err := dialConsoleSocket(path)
	if err != nil {
		return fmt.Errorf("--pidfd-socket %s: %w", path, err)
	}
	defer conn.Close()
	if err := unix.Sendmsg(int(conn.Fd()), []byte("pidfd"), unix.UnixRights(pidfd), nil, 0); err != nil {
		return fmt.Errorf("--pidfd-socket %s: send: %w", path, err)
	}
	return nil
}

// execJoins opens the namespaces of the container's init. The pid
// namespace is joined by the parent (only children enter it); the others by
// the entry stage, in the order the issue sets: those not owned by the
// container's user namespace (they need host privileges), then the user
// namespace, then the rest. Namespaces rt itself is already in are skipped
// (setns into one's own user namespace fails).
func execJoins(initPid int, spec *specs.Spec) (*nsPlan, error) {
	p := &nsPlan{}
	if spec.Linux == nil {
		return p, nil
	}
	open := func(t specs.LinuxNamespaceType) (*os.File, bool, error) {
		name := nsName(t)
		f, err := nsenter.OpenNamespace(fmt.Sprintf("/proc/%d/ns/%s", initPid, name), string(t))
		if err != nil {
			return nil, false, err
		}
		var a, b unix.Stat_t
		// thread-self: the namespaces of the calling thread, not of the
		// thread group leader.
		if err := unix.Fstat(int(f.Fd()), &a); err == nil && unix.Stat("/proc/thread-self/ns/"+name, &b) == nil && a.Ino == b.Ino && a.Dev == b.Dev {
			f.Close()
			return nil, false, nil
		}
		return f, true, nil
	}
	var userIno uint64
	var user *nsFile
	var before, after []nsFile
	present := map[specs.LinuxNamespaceType]bool{}
	for _, n := range spec.Linux.Namespaces {
		present[n.Type] = true
	}
	if present[specs.UserNamespace] {
		f, ok, err := open(specs.UserNamespace)
		if err != nil {
			p.close()
			return nil, fmt.Errorf("user namespace of init %d: %w", initPid, err)
		}
		if ok {
			user = &nsFile{typ: string(specs.UserNamespace), f: f}
			var st unix.Stat_t
			unix.Fstat(int(f.Fd()), &st)
			userIno = st.Ino
		}
	}
	for _, t := range []specs.LinuxNamespaceType{specs.MountNamespace, specs.NetworkNamespace, specs.IPCNamespace,
		specs.UTSNamespace, specs.CgroupNamespace, specs.PIDNamespace, specs.TimeNamespace} {
		if !present[t] {
			continue
		}
		f, ok, err := open(t)
		if err != nil {
			p.close()
			return nil, fmt.Errorf("%s namespace of init %d: %w", t, initPid, err)
		}
		if !ok {
			continue
		}
		n := nsFile{typ: string(t), f: f}
		switch {
		case t == specs.PIDNamespace:
			p.parent = append(p.parent, n)
		case user != nil && ownedBy(f, userIno):
			after = append(after, n)
		default:
			before = append(before, n)
		}
	}
	p.entry = append(p.entry, before...)
	if user != nil {
		p.entry = append(p.entry, *user)
	}
	p.entry = append(p.entry, after...)
	return p, nil
}

// ownedBy reports whether the namespace f belongs to the user namespace
// with inode userIno (ioctl NS_GET_USERNS).
func ownedBy(f *os.File, userIno uint64) bool {
	fd, err := unix.IoctlRetInt(int(f.Fd()), unix.NS_GET_USERNS)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	return unix.Fstat(fd, &st) == nil && st.Ino == userIno
}
