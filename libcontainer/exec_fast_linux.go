package libcontainer

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
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

// The direct exec path. Most of what makes a process "inside" a container is
// per thread in Linux: namespaces joined with setns (the mount namespace
// after unshare(CLONE_FS)), v1 cgroup membership through the `tasks` file,
// credentials set with raw syscalls, capabilities, no_new_privs, a seccomp
// filter loaded without TSYNC, personality, scheduler, I/O priority, CPU
// affinity, cwd and umask. A child inherits all of them from the thread that
// forks it. So rt exec prepares one locked OS thread of its own as the
// container process would be, forks and execs the program from that thread
// (os/exec's fork+exec, no Go code in the child), and lets the thread die.
// No second rt process starts: that start (Go runtime, C library) was most
// of exec's time.
//
// What cannot be done per thread takes the re-exec path (startExec): joining
// a user or time namespace (the kernel wants a single-threaded caller), a
// container without a mount namespace (chroot), a paused container (the
// thread would freeze on joining), a seccomp listener or TSYNC, rlimits that
// could starve rt itself (AS, DATA), and seccomp profiles that might forbid
// what the Go runtime and fork+exec need on the prepared thread.

// directExecOK says whether the direct path can run o.
func (c *Container) directExecOK(o ExecOpts) (bool, string) {
	spec := c.state.Config
	if !nsenter.StageRan() {
		return false, "binary not built by hack/build-rt.sh (no exec trampoline)"
	}
	if spec.Linux == nil {
		return false, "no linux section"
	}
	if c.Status() != Created && c.Status() != Running {
		return false, "container not created or running"
	}
	mnt := false
	for _, n := range spec.Linux.Namespaces {
		switch n.Type {
		case specs.UserNamespace, specs.TimeNamespace:
			return false, string(n.Type) + " namespace"
		case specs.MountNamespace:
			mnt = true
		}
	}
	if !mnt {
		return false, "no mount namespace"
	}
	for _, r := range o.Process.Rlimits {
		if r.Type == "RLIMIT_AS" || r.Type == "RLIMIT_DATA" {
			return false, r.Type
		}
	}
	if s := spec.Linux.Seccomp; s != nil {
		if why := directSeccompOK(s); why != "" {
			return false, why
		}
	}
	return true, ""
}

// goNeeds are the syscalls the Go runtime may make on the prepared thread
// after the filter is loaded, whose failure is fatal to rt: they must be
// allowed without conditions. forkNeeds are what fork+exec and the
// trampoline call: refused with an errno, the direct path fails before
// anything ran and the re-exec path runs instead; but a filter that kills or
// traps on them must not be loaded on a thread of rt.
var (
	goNeeds = []string{"futex", "mmap", "munmap", "madvise", "mprotect", "rt_sigprocmask",
		"rt_sigreturn", "rt_sigaction", "sigaltstack", "nanosleep", "sched_yield", "getpid",
		"gettid", "tgkill", "exit", "exit_group", "read", "write", "close"}
	forkNeeds = []string{"pipe2", "clone", "clone3", "execve", "dup3", "dup2", "fcntl", "wait4",
		"waitid", "setsid", "ioctl", "prctl", "pidfd_open", "pidfd_send_signal"}
)

func directSeccompOK(s *specs.LinuxSeccomp) string {
	if seccomp.NeedsListener(s) {
		return "seccomp listener"
	}
	for _, f := range s.Flags {
		if f == "SECCOMP_FILTER_FLAG_TSYNC" {
			return "seccomp TSYNC"
		}
	}
	allow := func(a specs.LinuxSeccompAction) bool {
		return a == specs.ActAllow || a == specs.ActLog
	}
	denyList := allow(s.DefaultAction)
	if !denyList && s.DefaultAction != specs.ActErrno {
		return "seccomp default action " + string(s.DefaultAction)
	}
	// unconditional[name]: an ALLOW/LOG rule without args; denied[name]:
	// a rule with another action; fatal[name]: one that is not ERRNO.
	unconditional, denied, fatal := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, r := range s.Syscalls {
		for _, n := range r.Names {
			switch {
			case !allow(r.Action):
				denied[n] = true
				if r.Action != specs.ActErrno {
					fatal[n] = true
				}
			case len(r.Args) == 0:
				unconditional[n] = true
			}
		}
	}
	for _, n := range goNeeds {
		switch {
		case denied[n]:
			return "seccomp profile restricts " + n
		case !denyList && !unconditional[n]:
			return "seccomp profile does not allow " + n + " unconditionally"
		}
	}
	for _, n := range forkNeeds {
		if fatal[n] {
			return "seccomp profile kills or traps on " + n
		}
	}
	return ""
}

// startDirect runs o from a prepared thread. fallback reports an error that
// happened before the program could run: the re-exec path may still work.
func (c *Container) startDirect(o ExecOpts) (proc *os.Process, fallback bool, err error) {
	spec := c.state.Config
	p := o.Process
	t := newTimer(o.Timing)
	rl, err := rlimits.Parse(p.Rlimits)
	if err != nil {
		return nil, false, fmt.Errorf("process.%w", err)
	}
	var prog []byte
	var flags uint
	if s := spec.Linux.Seccomp; s != nil {
		if prog, err = seccomp.CompileCached(s, SeccompCacheDir); err != nil {
			return nil, false, err
		}
		if flags, err = seccomp.FlagBits(s.Flags); err != nil {
			return nil, false, err
		}
	}
	t.mark("exec: load seccomp, rlimits")
	joins, err := execJoins(c.state.InitPid, spec)
	if err != nil {
		return nil, false, err
	}
	defer joins.close()
	t.mark("exec: open namespaces")
	// The namespaces were opened through /proc/PID: make sure PID was
	// still the container's init then, not a recycled pid.
	if c.Status() == Stopped {
		return nil, false, fmt.Errorf("container %s stopped", c.ID())
	}
	paths := c.state.CgroupPaths
	if len(paths) > 0 {
		if paths, err = subCgroupPaths(paths, o.SubCgroups); err != nil {
			return nil, false, err
		}
	}
	files := []*os.File{os.Stdin, os.Stdout, os.Stderr}
	for i := 0; i < o.PreserveFDs; i++ {
		f, err := inheritedFile(3 + i)
		if err != nil {
			return nil, false, fmt.Errorf("--preserve-fds %d: %w", o.PreserveFDs, err)
		}
		files = append(files, f)
	}
	var con *os.File
	if p.Terminal {
		if con = o.Console; con == nil {
			if con, err = dialConsoleSocket(o.ConsoleSocket); err != nil {
				return nil, false, err
			}
			defer con.Close()
		}
	}
	exe, err := sealedSelf()
	if err != nil {
		return nil, false, fmt.Errorf("seal rt binary: %w", err)
	}
	defer exe.Close()
	// The trampoline moves itself into the cgroup2 hierarchy through this.
	var procs *os.File
	if dir, ok := paths[cgroups.UnifiedKey]; ok {
		if procs, err = os.OpenFile(dir+"/cgroup.procs", os.O_WRONLY, 0); err != nil {
			return nil, false, fmt.Errorf("join the container's cgroups: %w", err)
		}
		defer procs.Close()
	}

	t.mark("exec: seal binary, fds, cgroup")
	type result struct {
		pid      int
		fallback bool
		err      error
	}
	done := make(chan result, 1)
	go func() {
		// Never unlocked: the thread ends with this goroutine, and with it
		// the namespaces, credentials and filter it took on.
		runtime.LockOSThread()
		pid, fb, err := directExec(p, spec, joins, paths, procs, files, con, rl, prog, flags, exe)
		done <- result{pid, fb, err}
	}()
	r := <-done
	t.mark("exec: prepared thread, fork+exec")
	if r.err != nil {
		return nil, r.fallback, r.err
	}
	proc, err = os.FindProcess(r.pid)
	if err != nil {
		return nil, false, err
	}
	if a := p.ExecCPUAffinity; a != nil && a.Final != "" {
		// Already set on the thread; repeat in case joining the cpuset
		// cgroup of the unified hierarchy changed it.
		if set, err := cpuSet(a.Final); err == nil {
			unix.SchedSetaffinity(r.pid, set)
		}
	}
	if o.PidFile != "" {
		if err := writePidFile(o.PidFile, r.pid); err != nil {
			proc.Kill()
			proc.Wait()
			return nil, false, err
		}
	}
	return proc, false, nil
}

// directExec runs on a locked thread that is discarded afterwards.
func directExec(p *specs.Process, spec *specs.Spec, joins *nsPlan, paths map[string]string, procs *os.File,
	files []*os.File, con *os.File, rl []rlimits.Rlimit, prog []byte, flags uint, exe *os.File) (pid int, fallback bool, err error) {
	step := func(s string, err error) error { return &stepError{Step: s, Err: err} }
	if err := unix.Unshare(unix.CLONE_FS); err != nil {
		return 0, true, step("unshare fs", err)
	}
	if a := p.ExecCPUAffinity; a != nil && a.Initial != "" {
		set, err := cpuSet(a.Initial)
		if err == nil {
			err = unix.SchedSetaffinity(0, set)
		}
		if err != nil {
			return 0, false, step("process.execCPUAffinity.initial", err)
		}
	}
	// v1: only this thread joins (its children inherit); the cgroup2
	// hierarchy, where threads of a process cannot be split, is joined by
	// the trampoline before its execve.
	tid := unix.Gettid()
	for ctrl, dir := range paths {
		if ctrl == cgroups.UnifiedKey {
			continue
		}
		if err := writeTasks(dir, tid); err != nil {
			return 0, true, step("join the container's cgroups", err)
		}
	}
	// The mount namespace last: after it, paths are the container's.
	var mnt *nsFile
	for _, ns := range append(append([]nsFile{}, joins.parent...), joins.entry...) {
		if ns.typ == string(specs.MountNamespace) {
			n := ns
			mnt = &n
			continue
		}
		if err := nsenter.JoinThread(ns.f, ns.typ); err != nil {
			return 0, true, step("join the "+ns.typ+" namespace", err)
		}
	}
	if mnt != nil {
		if err := nsenter.JoinThread(mnt.f, mnt.typ); err != nil {
			return 0, true, step("join the mount namespace", err)
		}
	}
	if a := p.ExecCPUAffinity; a != nil && a.Final != "" {
		set, err := cpuSet(a.Final)
		if err == nil {
			err = unix.SchedSetaffinity(0, set)
		}
		if err != nil {
			return 0, false, step("process.execCPUAffinity.final", err)
		}
	}
	var tty *os.File
	if con != nil {
		master, slave, err := openPty(p.ConsoleSize)
		if err != nil {
			return 0, false, step("set up console", err)
		}
		defer master.Close()
		defer slave.Close()
		if err := unix.Sendmsg(int(con.Fd()), []byte("/dev/ptmx"), unix.UnixRights(int(master.Fd())), nil, 0); err != nil {
			return 0, false, step("set up console", fmt.Errorf("send pty master over console socket: %w", err))
		}
		tty = slave
		files[0], files[1], files[2] = slave, slave, slave
	}
	if err := rlimits.Apply(rl); err != nil {
		return 0, false, step("apply process.rlimits", err)
	}
	for _, l := range rl {
		if l.Type == unix.RLIMIT_NOFILE {
			// Through syscall, so that fork+exec does not restore Go's
			// saved limit in the child.
			syscall.Setrlimit(unix.RLIMIT_NOFILE, &syscall.Rlimit{Cur: l.Soft, Max: l.Hard})
		}
	}
	var pers *specs.LinuxPersonality
	if spec.Linux != nil {
		pers = spec.Linux.Personality
	}
	if err := applyAttrs(p, pers); err != nil {
		return 0, false, step("process attributes", err)
	}
	env := withHome(p.Env, p.User.UID)
	if err := setUserThread(p.User); err != nil {
		return 0, false, step("process.user", err)
	}
	cwd := p.Cwd
	if cwd == "" {
		cwd = "/"
	}
	if err := chdirInside(cwd); err != nil {
		return 0, false, step("process.cwd", err)
	}
	if prog != nil && !p.NoNewPrivileges {
		// As in init: before the capabilities drop CAP_SYS_ADMIN.
		if err := loadPrivileged(prog, flags); err != nil {
			return 0, false, step("linux.seccomp", err)
		}
		prog = nil
	}
	c := p.Capabilities
	if c == nil {
		c = &specs.LinuxCapabilities{}
	}
	if err := caps.Apply(c); err != nil {
		return 0, false, step("process.capabilities", err)
	}
	if p.NoNewPrivileges {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return 0, false, step("process.noNewPrivileges", err)
		}
	}
	// A name without a slash is looked up in PATH here, as the user; a path
	// is left to the trampoline's execve, where /proc/self is that process.
	path := p.Args[0]
	if !strings.Contains(path, "/") {
		if path, err = lookPath(path, env); err != nil {
			return 0, false, step("process.args[0]", err)
		}
	}
	if prog != nil {
		if err := seccomp.Load(prog, flags); err != nil {
			return 0, false, step("linux.seccomp", err)
		}
	}
	sys := &syscall.SysProcAttr{}
	if tty != nil {
		sys.Setsid, sys.Setctty, sys.Ctty = true, true, 0
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		return 0, true, step("exec", err)
	}
	defer errR.Close()
	fds := append(fdsOf(files), errW.Fd())
	cgFD := ""
	if procs != nil {
		cgFD = strconv.Itoa(len(fds))
		fds = append(fds, procs.Fd())
	}
	argv := append([]string{nsenter.TrampolineArg0, strconv.Itoa(len(files)), cgFD, path}, p.Args...)
	pid, err = syscall.ForkExec(fmt.Sprintf("/proc/self/fd/%d", exe.Fd()), argv, &syscall.ProcAttr{
		Env:   env,
		Files: fds,
		Sys:   sys,
	})
	errW.Close()
	if err != nil {
		// A filter, an rlimit or a missing /proc may refuse what this
		// needs; the re-exec path repeats every check and says what is wrong.
		return 0, true, step("exec", fmt.Errorf("exec rt's trampoline: %w", err))
	}
	var errno [4]byte
	if n, _ := io.ReadFull(errR, errno[:]); n == 4 {
		var ws syscall.WaitStatus
		syscall.Wait4(pid, &ws, 0, nil)
		e := syscall.Errno(binary.NativeEndian.Uint32(errno[:]))
		// The cgroup move or the execve failed (the stage does not say
		// which; a cgroup that vanished means the container is going).
		return 0, false, step("process.args[0]", fmt.Errorf("exec %s: %w", p.Args[0], e))
	}
	return pid, false, nil
}

func fdsOf(files []*os.File) []uintptr {
	fds := make([]uintptr, len(files))
	for i, f := range files {
		fds[i] = f.Fd()
	}
	return fds
}

// writeTasks moves thread tid into the v1 cgroup dir.
func writeTasks(dir string, tid int) error {
	f, err := os.OpenFile(dir+"/tasks", os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.WriteString(fmt.Sprint(tid)); err != nil {
		return fmt.Errorf("write %s/tasks: %w", dir, err)
	}
	return nil
}

// setUserThread is setUser for one thread of a multi-threaded process:
// setgroups, setresgid and setresuid as raw syscalls, which change only the
// calling thread (Go's and libc's wrappers change every thread).
func setUserThread(u specs.User) error {
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("keep capabilities: %w", err)
	}
	// unix.Setgroups is the raw syscall (per thread).
	groups := make([]int, 0, len(u.AdditionalGids))
	for _, g := range u.AdditionalGids {
		groups = append(groups, int(g))
	}
	if err := unix.Setgroups(groups); err != nil {
		return fmt.Errorf("setgroups %v (user.additionalGids): %w", groups, err)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(u.GID), uintptr(u.GID), uintptr(u.GID)); e != 0 {
		return fmt.Errorf("setresgid %d (user.gid): %w", u.GID, e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(u.UID), uintptr(u.UID), uintptr(u.UID)); e != 0 {
		return fmt.Errorf("setresuid %d (user.uid): %w", u.UID, e)
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("reset keep capabilities: %w", err)
	}
	umask := 0o022
	if u.Umask != nil {
		umask = int(*u.Umask)
	}
	unix.Umask(umask)
	return nil
}

// execDirect tries the direct path and falls back to the re-exec path.
func (c *Container) execDirect(o ExecOpts) (*os.Process, error) {
	ok, why := c.directExecOK(o)
	if !ok {
		logrus.Debugf("exec: re-exec path (%s)", why)
		return c.startExec(o)
	}
	proc, fallback, err := c.startDirect(o)
	if err != nil && fallback {
		logrus.Debugf("exec: direct path failed (%v); re-exec path", err)
		return c.startExec(o)
	}
	return proc, err
}
