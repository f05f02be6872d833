package libcontainer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/containerd/console"
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
// forks it. So rt exec prepares one locked OS thread (never the main one,
// which main locks for itself) as the container process would be, forks from
// it and lets the thread die. The child execs the sealed copy of rt as an
// exec trampoline (nsenter.TrampolineArg0: Go assembly, no Go runtime, no
// libc), which makes itself non-dumpable and waits while the parent, as host
// root, moves it into the cgroup2 cgroup and sets its final affinity, then
// applies the rlimits and execs the program. No second rt process starts:
// that start (Go runtime, C library) was most of exec's time.
//
// What cannot be done this way takes the re-exec path (startExec): joining
// a user or time namespace (the kernel wants a single-threaded caller), a
// container without a mount namespace (chroot), a paused container (the
// thread would freeze on joining), a cgroup2 device policy (an eBPF program
// that would not cover the thread's opens: only v1 devices cgroups, which
// the thread joins first, do), seccomp listeners or TSYNC, seccomp profiles
// with actions other than allow/log/errno or that restrict what the Go
// runtime needs, and rlimits that raise a hard limit.

// directExecOK says whether the direct path can run o.
func (c *Container) directExecOK(o ExecOpts) (bool, string) {
	spec := c.state.Config
	if !nsenter.StageRan() {
		return false, "binary not built by hack/build-rt.sh (no exec trampoline)"
	}
	if spec.Linux == nil {
		return false, "no linux section"
	}
	if st := c.Status(); st != Created && st != Running {
		return false, "container not created or running"
	}
	if paths := c.state.CgroupPaths; len(paths) > 0 {
		_, unified := paths[cgroups.UnifiedKey]
		if _, v1 := paths["devices"]; unified && !v1 {
			return false, "cgroup2 device policy"
		}
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
	rl, err := rlimits.Parse(o.Process.Rlimits)
	if err != nil {
		return false, "rlimits"
	}
	for _, l := range rl {
		// The trampoline runs with the exec's capabilities: it can lower
		// limits, not raise hard ones.
		var cur unix.Rlimit
		if unix.Prlimit(0, l.Type, nil, &cur) != nil || l.Hard > cur.Max {
			return false, l.Name + " raises a hard limit"
		}
		if l.Type == unix.RLIMIT_NPROC {
			// The re-exec path sets it before the user switch, so that
			// execve checks the user's process count against it.
			return false, l.Name
		}
	}
	if sch := o.Process.Scheduler; sch != nil {
		for _, f := range sch.Flags {
			if f == specs.SchedFlagResetOnFork {
				// The thread forks the trampoline: it would lose the policy.
				return false, "scheduler flag " + string(f)
			}
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
// after the filter is loaded, whose failure is fatal to rt: with a default
// errno action they must be allowed without conditions. Other refusals
// (fork+exec's, the trampoline's) fail the direct path before the program
// ran, and the re-exec path runs instead.
var goNeeds = []string{"futex", "mmap", "munmap", "madvise", "mprotect", "rt_sigprocmask",
	"rt_sigreturn", "rt_sigaction", "sigaltstack", "nanosleep", "sched_yield", "getpid",
	"gettid", "tgkill", "exit", "exit_group", "read", "write", "close", "clock_gettime",
	"epoll_pwait",
	// The trampoline's, after the pty master was sent: a refusal there has
	// no way back to the re-exec path.
	"prctl", "fcntl", "prlimit64", "execve"}

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
	// A filter that kills, traps or traces must never be loaded on a
	// thread of rt: only allow, log and errno.
	denyList := allow(s.DefaultAction)
	if !denyList && s.DefaultAction != specs.ActErrno {
		return "seccomp default action " + string(s.DefaultAction)
	}
	unconditional, denied := map[string]bool{}, map[string]bool{}
	for _, r := range s.Syscalls {
		if !allow(r.Action) && r.Action != specs.ActErrno {
			return "seccomp action " + string(r.Action)
		}
		for _, n := range r.Names {
			switch {
			case !allow(r.Action):
				denied[n] = true
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
	return ""
}

// clone3Allowed reports whether the filter s (loaded on the thread before
// it forks) lets clone3 through: an errno rule would make the clone into
// the cgroup fail, or with errno 0 look like a child to the parent.
func clone3Allowed(s *specs.LinuxSeccomp) bool {
	if s == nil {
		return true
	}
	allow := func(a specs.LinuxSeccompAction) bool { return a == specs.ActAllow || a == specs.ActLog }
	unconditional := false
	for _, r := range s.Syscalls {
		if !slices.Contains(r.Names, "clone3") {
			continue
		}
		if !allow(r.Action) || len(r.Args) > 0 {
			return false
		}
		unconditional = true
	}
	return unconditional || allow(s.DefaultAction)
}

// startDirect runs o from a prepared thread. fallback reports an error that
// happened before the program could run: the re-exec path may still work.
func (c *Container) startDirect(o ExecOpts) (proc *child, fallback bool, err error) {
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
	// Out of reach of the fds the child's fork+exec dup's into place.
	exePath, closeExe, err := execPath(exe, 2*(len(files)+2))
	if err != nil {
		return nil, false, err
	}
	defer closeExe()
	// cgroup2: the trampoline is cloned into the cgroup (CLONE_INTO_CGROUP)
	// or, where clone3 may not do that, moved there by a write to
	// cgroup.procs before it execs.
	var procs *os.File
	cgFD := -1
	if dir, ok := paths[cgroups.UnifiedKey]; ok {
		if procs, err = os.OpenFile(dir+"/cgroup.procs", os.O_WRONLY, 0); err != nil {
			return nil, false, fmt.Errorf("join the container's cgroups: %w", err)
		}
		defer procs.Close()
		if clone3Allowed(spec.Linux.Seccomp) {
			if cgFD, err = unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
				return nil, false, fmt.Errorf("join the container's cgroups: %w", err)
			}
			defer unix.Close(cgFD)
		}
	}
	// Raw socket pairs, made before any filter is loaded, never in Go's
	// poller; unlike pipes they cannot be reopened through /proc/PID/fd by
	// a process of the container while the trampoline still runs as rt.
	// SEQPACKET: the rlimit message arrives whole.
	var errP, syncP [2]int
	if errP, err = unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0); err != nil {
		return nil, true, err
	}
	defer unix.Close(errP[0])
	if syncP, err = unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0); err != nil {
		unix.Close(errP[1])
		return nil, true, err
	}
	defer unix.Close(syncP[1])
	// rt exec's memory image, which the vfork child shares until it execs,
	// must not be open to the container through /proc/PID (CVE-2019-5736).
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		unix.Close(errP[1])
		unix.Close(syncP[0])
		return nil, true, err
	}
	t.mark("exec: seal binary, fds, cgroup")

	type result struct {
		pid      int
		placed   bool // cloned into the cgroup2 cgroup
		master   console.Console
		slave    *os.File
		fallback bool
		err      error
	}
	// The thread ends when directExec returns, and with it the namespaces,
	// credentials and filter it took on.
	var r result
	nsenter.OnDiscardedThread(func() error {
		pid, placed, master, slave, fb, err := directExec(p, spec, joins, paths, cgFD, files, con != nil, prog, flags, exePath, errP[1], syncP[0])
		r = result{pid, placed, master, slave, fb, err}
		return nil
	})
	unix.Close(errP[1])
	unix.Close(syncP[0])
	t.mark("exec: prepared thread, fork+exec")
	if r.master != nil {
		defer r.master.Close()
		defer r.slave.Close()
	}
	if r.err != nil {
		return nil, r.fallback, r.err
	}
	// The trampoline waits on syncP: no code of the container's ran yet.
	kill := func() {
		unix.Kill(r.pid, unix.SIGKILL)
		var ws unix.WaitStatus
		unix.Wait4(r.pid, &ws, 0, nil)
	}
	if procs != nil && !r.placed {
		if _, err := procs.WriteString(strconv.Itoa(r.pid)); err != nil {
			kill()
			return nil, true, &stepError{Step: "join the container's cgroups", Err: fmt.Errorf("%s: %w", procs.Name(), err)}
		}
	}
	if a := p.ExecCPUAffinity; a != nil && a.Final != "" {
		// After the cgroup move, which resets it to the cgroup's cpuset.
		set, err := cpuSet(a.Final)
		if err == nil {
			err = unix.SchedSetaffinity(r.pid, set)
		}
		if err != nil {
			kill()
			return nil, false, &stepError{Step: "process.execCPUAffinity.final", Err: err}
		}
	}
	if r.master != nil {
		// Only now: a fallback before this point sends a master of its own.
		if err := unix.Sendmsg(int(con.Fd()), []byte("/dev/ptmx"), unix.UnixRights(int(r.master.Fd())), nil, 0); err != nil {
			kill()
			return nil, false, &stepError{Step: "set up console", Err: fmt.Errorf("send pty master over console socket: %w", err)}
		}
	}
	var msg nsenter.TrampolineMsg
	addRlimits(&msg, rl)
	b, err := msg.Encode("", nil)
	if err == nil {
		_, err = unix.Write(syncP[1], b)
	}
	if err != nil {
		kill()
		return nil, false, &stepError{Step: "exec", Err: err}
	}
	var report [8]byte
	if n, _ := readFull(errP[0], report[:]); n == len(report) {
		var ws unix.WaitStatus
		unix.Wait4(r.pid, &ws, 0, nil)
		return nil, false, trampolineError(&msg, report[:], p.Args[0])
	}
	t.mark("exec: cgroup2, release")
	proc = openChild(r.pid)
	if o.PidFile != "" {
		if err := writePidFile(o.PidFile, r.pid); err != nil {
			proc.Kill()
			proc.Wait()
			return nil, false, err
		}
	}
	return proc, false, nil
}

// addRlimits has the trampoline set rl on itself (prlimit64: what C
// libraries use, so seccomp profiles allow it).
func addRlimits(m *nsenter.TrampolineMsg, rl []rlimits.Rlimit) {
	for _, l := range rl {
		var lim [16]byte
		binary.NativeEndian.PutUint64(lim[:8], l.Soft)
		binary.NativeEndian.PutUint64(lim[8:], l.Hard)
		m.Syscall("process.rlimits "+l.Name, unix.SYS_PRLIMIT64, nsenter.Val(0), nsenter.Val(uintptr(l.Type)), nsenter.Bytes(lim[:]), nsenter.Val(0))
	}
}

// trampolineError is the error of the trampoline's report: a record's
// step, or the exec of arg0.
func trampolineError(m *nsenter.TrampolineMsg, report []byte, arg0 string) error {
	step, errno := m.Failure(report)
	switch step {
	case "":
		return &stepError{Step: "exec", Err: fmt.Errorf("exec rt's trampoline: %w", errno)}
	case "exec":
		return &stepError{Step: "exec", Err: fmt.Errorf("exec %s: %w", arg0, errno)}
	}
	return &stepError{Step: step, Err: errno}
}

// readFull reads into b until it is full or EOF.
func readFull(fd int, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := unix.Read(fd, b[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil || m == 0 {
			return n, err
		}
		n += m
	}
	return n, nil
}

// directExec runs on a locked thread that is discarded afterwards. It
// returns the trampoline's pid, waiting on syncFD, and whether it was
// cloned into the cgroup2 cgroup at cgFD (if cgFD >= 0).
func directExec(p *specs.Process, spec *specs.Spec, joins *nsPlan, paths map[string]string, cgFD int, files []*os.File,
	tty bool, prog []byte, flags uint, exePath string, errFD, syncFD int) (pid int, placed bool, master console.Console, slave *os.File, fallback bool, err error) {
	step := func(s string, err error) error { return &stepError{Step: s, Err: err} }
	if unix.Gettid() == unix.Getpid() {
		// The main thread never exits; it must never take this on.
		return 0, false, nil, nil, true, step("exec", errors.New("direct exec on the main thread"))
	}
	if err := unix.Unshare(unix.CLONE_FS); err != nil {
		return 0, false, nil, nil, true, step("unshare fs", err)
	}
	if a := p.ExecCPUAffinity; a != nil && a.Initial != "" {
		set, err := cpuSet(a.Initial)
		if err == nil {
			err = unix.SchedSetaffinity(0, set)
		}
		if err != nil {
			return 0, false, nil, nil, false, step("process.execCPUAffinity.initial", err)
		}
	}
	// v1: only this thread joins, before it opens anything of the
	// container's (the devices cgroup applies to its opens); its children
	// inherit. cgroup2, where a process's threads cannot be split, is
	// joined by the trampoline at clone, or by the parent.
	for ctrl, dir := range paths {
		if ctrl == cgroups.UnifiedKey {
			continue
		}
		if err := writeTasks(dir); err != nil {
			return 0, false, nil, nil, true, step("join the container's cgroups", err)
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
			return 0, false, nil, nil, true, step("join the "+ns.typ+" namespace", err)
		}
	}
	if mnt != nil {
		if err := nsenter.JoinThread(mnt.f, mnt.typ); err != nil {
			return 0, false, nil, nil, true, step("join the mount namespace", err)
		}
	}
	if tty {
		if master, slave, err = openPty(p.ConsoleSize); err != nil {
			return 0, false, nil, nil, false, step("set up console", err)
		}
		files[0], files[1], files[2] = slave, slave, slave
	}
	var pers *specs.LinuxPersonality
	if spec.Linux != nil {
		pers = spec.Linux.Personality
	}
	if err := applyAttrs(p, pers); err != nil {
		return 0, false, master, slave, false, step("process attributes", err)
	}
	env := withHome(p.Env, p.User.UID)
	if err := setUser(p.User); err != nil {
		return 0, false, master, slave, false, step("process.user", err)
	}
	// A credential change resets dumpable to fs.suid_dumpable.
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return 0, false, master, slave, false, step("process.user", err)
	}
	cwd := p.Cwd
	if cwd == "" {
		cwd = "/"
	}
	if err := chdirInside(cwd); err != nil {
		return 0, false, master, slave, false, step("process.cwd", err)
	}
	if prog != nil && !p.NoNewPrivileges {
		// As in init: before the capabilities drop CAP_SYS_ADMIN.
		if err := loadPrivileged(prog, flags); err != nil {
			return 0, false, master, slave, false, step("linux.seccomp", err)
		}
		prog = nil
	}
	c := p.Capabilities
	if c == nil {
		c = &specs.LinuxCapabilities{}
	}
	if err := caps.Apply(c); err != nil {
		return 0, false, master, slave, false, step("process.capabilities", err)
	}
	if p.NoNewPrivileges {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return 0, false, master, slave, false, step("process.noNewPrivileges", err)
		}
	}
	// A name without a slash is looked up in PATH here, as the user; a path
	// is left to the trampoline's execve, where /proc/self is that process.
	path := p.Args[0]
	if !strings.Contains(path, "/") {
		if path, err = lookPath(path, env); err != nil {
			return 0, false, master, slave, false, step("process.args[0]", err)
		}
	}
	// Everything fork+exec needs is built before the filter (little is
	// allocated, and no fcntl runs, under it).
	sys := &syscall.SysProcAttr{}
	if tty {
		sys.Setsid, sys.Setctty, sys.Ctty = true, true, 0
	}
	fds := append(fdsOf(files), uintptr(errFD), uintptr(syncFD))
	// errFD and syncFD land at len(files) and len(files)+1 in the child.
	argv := append([]string{nsenter.TrampolineArg0, strconv.Itoa(len(files)), path}, p.Args...)
	attr := &syscall.ProcAttr{Env: env, Files: fds, Sys: sys}
	if prog != nil {
		if err := seccomp.Load(prog, flags); err != nil {
			return 0, false, master, slave, false, step("linux.seccomp", err)
		}
	}
	if cgFD >= 0 {
		// Needs clone3, which a seccomp filter may refuse, and write
		// access to the common ancestor's cgroup.procs as the process's
		// user: failing that, a plain fork, and the parent moves it.
		sys.UseCgroupFD, sys.CgroupFD = true, cgFD
		if pid, err = forkExec(exePath, argv, attr); err == nil {
			return pid, true, master, slave, false, nil
		}
		sys.UseCgroupFD = false
	}
	pid, err = forkExec(exePath, argv, attr)
	if err != nil {
		// A filter or a missing /proc may refuse what this needs; the
		// re-exec path repeats every check and says what is wrong.
		return 0, false, master, slave, true, step("exec", fmt.Errorf("exec rt's trampoline: %w", err))
	}
	return pid, false, master, slave, false, nil
}

func fdsOf(files []*os.File) []uintptr {
	fds := make([]uintptr, len(files))
	for i, f := range files {
		fds[i] = f.Fd()
	}
	return fds
}

// writeTasks moves the calling thread into the v1 cgroup dir. It writes
// "0", not its tid: the kernel then moves the thread without taking the
// global threadgroup lock for writing, which waits for an RCU grace period
// (5-15 ms on this VM) whenever no migration happened in the last few ms.
func writeTasks(dir string) error {
	f, err := os.OpenFile(dir+"/tasks", os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.WriteString("0"); err != nil {
		return fmt.Errorf("write %s/tasks: %w", dir, err)
	}
	return nil
}

// execDirect tries the direct path and falls back to the re-exec path.
func (c *Container) execDirect(o ExecOpts) (*child, error) {
	if o.Process.Terminal && o.Console == nil {
		// One connection for whichever path runs: a console socket
		// receiver takes one connection and one pty master.
		con, err := dialConsoleSocket(o.ConsoleSocket)
		if err != nil {
			return nil, err
		}
		defer con.Close()
		o.Console = con
	}
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
