package libcontainer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/rtrun/rt/libcontainer/caps"
	"github.com/rtrun/rt/libcontainer/rlimits"
	"github.com/rtrun/rt/libcontainer/seccomp"
	"github.com/rtrun/rt/nsenter"
	"github.com/rtrun/rt/rootfs"
)

// IsInit reports whether this process was started as a container init.
func IsInit() bool { return os.Getenv("_RT_INIT_SYNC") != "" }

// Init is the container's init stage. It runs on the main OS thread (locked
// by the caller in an init function), never returns, and ends by exec'ing the
// user program or exiting non-zero after reporting the failed step.
func Init() {
	runtime.LockOSThread()
	// Not dumpable: nothing in the container may ptrace init or open its
	// /proc files while it still holds host-side privileges and fds. The
	// final exec resets it for the user program.
	unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
	// A readable name in ps (it would be the sealed binary's fd number).
	unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&[]byte("rt:init\x00")[0])), 0, 0, 0)
	fd, err := strconv.Atoi(os.Getenv("_RT_INIT_SYNC"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "rt init: bad _RT_INIT_SYNC")
		os.Exit(1)
	}
	os.Unsetenv("_RT_INIT_SYNC")
	os.Unsetenv("GOMAXPROCS") // set by create for this process only
	conn := &syncConn{f: os.NewFile(uintptr(fd), "sync")}
	unix.CloseOnExec(fd)
	logrus.SetOutput(discard{})
	logrus.AddHook(&syncLogHook{conn: conn})

	in := &initProc{conn: conn}
	if err := nsenter.StageError(); err != nil {
		in.fatal("join namespaces", err)
	}
	m, err := conn.expect(msgConfig, nil)
	if err != nil {
		os.Exit(1) // the parent is gone or confused; nobody to tell
	}
	in.cfg = m.Config
	if in.cfg.JoinNet {
		// First, on the thread that does everything and execs the program
		// (the runtime's other threads stay where they were; they make no
		// network calls).
		if m.fd < 0 {
			in.fatal("join network namespace", errors.New("the config came without it"))
		}
		in.must("join network namespace", unix.Setns(m.fd, unix.CLONE_NEWNET))
		unix.Close(m.fd)
	} else if m.fd >= 0 {
		unix.Close(m.fd)
	}
	if in.cfg.Exec {
		unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
		in.runExec() // never returns
	}
	// Hooks init starts must not inherit the control fds, nor the fds meant
	// for the container (closeFDsFrom hands those back just before exec).
	unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	in.run()
}

type initProc struct {
	conn    *syncConn
	cfg     *initConfig
	hostPid int
	// The compiled seccomp filter, loaded just before the user program.
	seccomp       []byte
	seccompFlags  uint
	seccompNotify bool
}

// hookState is the state given to the hooks init runs (createContainer,
// startContainer), with init's pid as the host sees it.
func (in *initProc) hookState() *specs.State {
	return &specs.State{Version: specs.Version, ID: in.cfg.ID, Status: specs.StateCreated, Pid: in.hostPid, Bundle: in.cfg.Bundle, Annotations: in.cfg.Spec.Annotations}
}

func (in *initProc) fatal(step string, err error) {
	if in.conn != nil {
		in.conn.send(syncMsg{Type: msgError, Step: step, Error: err.Error()})
	}
	os.Exit(1)
}

// must runs one named step; a failure is reported to the parent.
func (in *initProc) must(step string, err error) {
	if err != nil {
		in.fatal(step, err)
	}
}

func (in *initProc) run() {
	cfg := in.cfg
	spec := cfg.Spec
	linux := spec.Linux
	if linux == nil {
		linux = &specs.Linux{}
	}
	if cfg.Unshare != 0 {
		// Namespaces are per thread; this one execs the user program.
		in.must("unshare namespaces", unix.Unshare(int(cfg.Unshare)|unshareFSIfMount(cfg.Unshare)))
	}
	if cfg.Unshare&unix.CLONE_NEWTIME != 0 && len(linux.TimeOffsets) > 0 {
		in.must("write linux.timeOffsets", writeTimeOffsets(linux.TimeOffsets))
	}
	if cfg.ForkForPid {
		in.forkInit() // never returns
	}
	if !cfg.NoNewKeyring {
		// A fresh session keyring keeps the host's keys out of the container.
		if _, err := unix.KeyctlJoinSessionKeyring("_ses." + cfg.ID); err != nil && !errors.Is(err, unix.ENOSYS) {
			in.fatal("join session keyring", err)
		}
	}
	if p := spec.Process; p != nil && p.OOMScoreAdj != nil {
		in.must("write process.oomScoreAdj", os.WriteFile("/proc/self/oom_score_adj", []byte(strconv.Itoa(*p.OOMScoreAdj)), 0))
	}
	if spec.Hostname != "" {
		in.must("set hostname", unix.Sethostname([]byte(spec.Hostname)))
	}
	if spec.Domainname != "" {
		in.must("set domainname", unix.Setdomainname([]byte(spec.Domainname)))
	}

	rc := rootfsConfig(spec, cfg.Rootfs, cfg.CgroupPaths)
	rc.NoPivot = cfg.NoPivot
	rc.UserNS = cfg.NewUserNS || hasNamespace(linux, specs.UserNamespace)
	rc.Hierarchies = cfg.Hierarchies
	mountNS := hasNamespace(linux, specs.MountNamespace)
	if mountNS {
		in.must("prepare rootfs", rootfs.Prepare(rc))
	}

	if cfg.NoHooksStep {
		in.hostPid = cfg.HostPid
	} else {
		// prestart and createRuntime hooks run in the parent now.
		in.must("sync", in.conn.send(syncMsg{Type: msgHooks}))
		done, err := in.conn.expect(msgHooksDone, nil)
		if err != nil {
			os.Exit(1) // the parent failed and reported it
		}
		in.hostPid = done.Pid
		in.seccomp, in.seccompFlags, in.seccompNotify = done.Seccomp, done.SeccompFlags, done.SeccompNotify
	}
	if spec.Hooks != nil && len(spec.Hooks.CreateContainer) > 0 {
		in.must("createContainer hook", runHooks("createContainer", spec.Hooks.CreateContainer, in.hookState()))
	}
	if mountNS {
		in.must("pivot root", rootfs.Pivot(rc))
	} else {
		// No mount namespace: chroot, without touching the host's mounts.
		if len(spec.Mounts) > 0 || len(linux.MaskedPaths) > 0 || len(linux.ReadonlyPaths) > 0 || rc.Readonly {
			logrus.Warn("no mount namespace: mounts, maskedPaths, readonlyPaths and root.readonly are not applied (they would land on the host)")
		}
		in.must("chroot", chrootNoMountNS(cfg.Rootfs))
	}
	if cfg.ConsoleFD >= 0 {
		in.must("set up console", setupConsole(cfg.ConsoleFD, spec.Process.ConsoleSize))
	}
	if p := spec.Process; p != nil && p.Cwd != "" {
		// Like runc, create a missing cwd, as root and before the root may
		// become read-only; chdirInside checks it later as the user.
		if err := os.MkdirAll(p.Cwd, 0o755); err != nil {
			logrus.Debugf("create process.cwd %s: %v", p.Cwd, err)
		}
	}
	// Sysctls before rootfs.Finish: readonlyPaths usually makes /proc/sys
	// read-only.
	for k, v := range linux.Sysctl {
		in.must("linux.sysctl", writeSysctl(k, v))
	}
	if mountNS {
		in.must("finish rootfs", rootfs.Finish(rc))
	}
	in.setupProcess()
}

// setupProcess applies the process settings, tells the parent create is done,
// then waits for start.
func (in *initProc) setupProcess() {
	cfg := in.cfg
	p := cfg.Spec.Process
	var path string
	var env []string
	if p != nil {
		path, env = in.prepareProcess(p)
	}
	in.must("sync", in.conn.send(syncMsg{Type: msgReady}))
	if cfg.StartNow {
		in.startNow(path, env)
	}
	in.conn.f.Close()
	in.conn = nil

	// Created: wait for `rt start` to connect.
	nfd, _, err := unix.Accept4(cfg.ExecListenFD, unix.SOCK_CLOEXEC)
	if err != nil {
		os.Exit(1)
	}
	unix.Close(cfg.ExecListenFD)
	startFail := func(msg string) {
		unix.Write(nfd, []byte(msg))
		os.Exit(1)
	}
	if p == nil {
		startFail("config has no process to start")
	}
	spec := cfg.Spec
	if spec.Hooks != nil && len(spec.Hooks.StartContainer) > 0 {
		if err := runHooks("startContainer", spec.Hooks.StartContainer, in.hookState()); err != nil {
			startFail("startContainer hook: " + err.Error())
		}
	}
	if in.seccomp != nil {
		// As late as possible: the last syscalls of init are the write
		// below and execve.
		if err := seccomp.Load(in.seccomp, in.seccompFlags); err != nil {
			startFail("linux.seccomp: " + err.Error())
		}
	}
	if _, err := unix.Write(nfd, []byte{0}); err != nil {
		os.Exit(1)
	}
	err = unix.Exec(path, p.Args, env)
	startFail(fmt.Sprintf("exec %s: %v", p.Args[0], err))
}

// startNow is the end of setupProcess for StartNow: no `start` will
// connect; the parent says msgStart on the sync socket once it has put the
// state in place, and init reports there too. The socket is close-on-exec:
// the parent sees msgStarting, then EOF at the exec.
func (in *initProc) startNow(path string, env []string) {
	if _, err := in.conn.expect(msgStart, nil); err != nil {
		os.Exit(1) // create failed after all and deletes the container
	}
	spec := in.cfg.Spec
	p := spec.Process
	if p == nil {
		in.fatal("start", errors.New("config has no process to start"))
	}
	if spec.Hooks != nil && len(spec.Hooks.StartContainer) > 0 {
		in.must("startContainer hook", runHooks("startContainer", spec.Hooks.StartContainer, in.hookState()))
	}
	// Quiet from here: the parent reads nothing but msgStarting, then EOF.
	logrus.SetLevel(logrus.PanicLevel)
	if in.seccomp != nil {
		// As late as possible: the last syscalls of init are the send
		// below and execve.
		in.must("linux.seccomp", seccomp.Load(in.seccomp, in.seccompFlags))
	}
	in.must("sync", in.conn.send(syncMsg{Type: msgStarting}))
	err := unix.Exec(path, p.Args, env)
	// The parent stopped reading at msgStarting's EOF check: an error now
	// is a message where it expects EOF, which it reports.
	in.fatal("exec "+p.Args[0], err)
}

func unshareFSIfMount(flags uintptr) int {
	if flags&unix.CLONE_NEWNS != 0 {
		return unix.CLONE_FS
	}
	return 0
}

func hasNamespace(l *specs.Linux, t specs.LinuxNamespaceType) bool {
	for _, n := range l.Namespaces {
		if n.Type == t {
			return true
		}
	}
	return false
}

func writeTimeOffsets(offs map[string]specs.LinuxTimeOffset) error {
	var b strings.Builder
	for clock, o := range offs {
		fmt.Fprintf(&b, "%s %d %d\n", clock, o.Secs, o.Nanosecs)
	}
	return os.WriteFile("/proc/self/timens_offsets", []byte(b.String()), 0)
}

func chrootNoMountNS(root string) error {
	if err := unix.Chdir(root); err != nil {
		return err
	}
	if err := unix.Chroot("."); err != nil {
		return err
	}
	return unix.Chdir("/")
}

// chdirInside changes to cwd and checks the result is inside the root.
func chdirInside(cwd string) error {
	if !filepath.IsAbs(cwd) {
		return fmt.Errorf("%q is not absolute", cwd)
	}
	if err := unix.Chdir(cwd); err != nil {
		return err
	}
	return cwdInside(cwd)
}

// cwdInside checks that the cwd, just changed to cwd, is inside the root.
func cwdInside(cwd string) error {
	wd, err := unix.Getwd()
	if err != nil {
		return fmt.Errorf("cwd %s is outside the container root: %w", cwd, err)
	}
	if !strings.HasPrefix(wd, "/") {
		return fmt.Errorf("cwd %s is outside the container root (%s)", cwd, wd)
	}
	return nil
}

// closeFDsFrom marks every fd >= from close-on-exec and hands fds
// 3..from-1, the ones passed to the container (--preserve-fds, LISTEN_FDS),
// back to it. Go's own fds are close-on-exec; the control fds stay usable
// until the exec.
func closeFDsFrom(from int) error {
	for fd := 3; fd < from; fd++ {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, 0); err != nil {
			return fmt.Errorf("pass fd %d: %w", fd, err)
		}
	}
	return unix.CloseRange(uint(from), ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
}

// lookPath resolves name with the container's PATH, inside the container.
func lookPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		if err := isExecutable(name); err != nil {
			return "", fmt.Errorf("%s: %w", name, err)
		}
		return name, nil
	}
	pathEnv := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, e := range env {
		if strings.HasPrefix(e, "PATH=") {
			pathEnv = e[5:]
		}
	}
	for _, dir := range filepath.SplitList(pathEnv) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		if isExecutable(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("executable file %q not found in $PATH (%s)", name, pathEnv)
}

func isExecutable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return errors.New("is a directory")
	}
	if err := unix.Access(p, unix.X_OK); err != nil {
		return err
	}
	return nil
}

// writeSysctl writes through a handle that is checked to be on procfs
// after it was opened (no symlink followed at the end): a racing container
// cannot swap the path between the check and the write (CVE-2025-52881).
func writeSysctl(key, val string) error {
	p := filepath.Join("/proc/sys", strings.ReplaceAll(key, ".", "/"))
	fd, err := unix.Open(p, unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	defer unix.Close(fd)
	return writeProcFile(fd, p, key, val)
}

// writeSysctlIn is writeSysctl before pivot_root: the path is resolved
// inside the root filesystem at root, as it would be after it.
func writeSysctlIn(root, key, val string) error {
	dir, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	defer unix.Close(dir)
	p := filepath.Join("/proc/sys", strings.ReplaceAll(key, ".", "/"))
	fd, err := unix.Openat2(dir, p, &unix.OpenHow{
		Flags:   unix.O_WRONLY | unix.O_NOFOLLOW | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	defer unix.Close(fd)
	return writeProcFile(fd, p, key, val)
}

// writeProcFile writes val to fd (path p, sysctl key) once it is checked
// to be on procfs.
func writeProcFile(fd int, p, key, val string) error {
	var st unix.Statfs_t
	if err := unix.Fstatfs(fd, &st); err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	if st.Type != unix.PROC_SUPER_MAGIC {
		return fmt.Errorf("%s: %s is not on procfs", key, p)
	}
	if _, err := unix.Write(fd, []byte(val)); err != nil {
		return fmt.Errorf("%s=%s: %w", key, val, err)
	}
	return nil
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// syncLogHook forwards init's log lines to the parent while the sync socket
// is open.
type syncLogHook struct{ conn *syncConn }

func (h *syncLogHook) Levels() []logrus.Level { return logrus.AllLevels }
func (h *syncLogHook) Fire(e *logrus.Entry) error {
	h.conn.send(syncMsg{Type: msgLog, Level: e.Level.String(), Msg: e.Message})
	return nil
}

// forkInit starts the real init in the pid namespace this process just
// unshared (only children enter it), hands it every fd it holds, tells the
// parent its pid and exits. syscall.ForkExec, not os/exec: the os package
// probes CLONE_PIDFD by forking a throwaway child on first use, which would
// become this namespace's PID 1 and, dying, make every later fork fail.
func (in *initProc) forkInit() {
	syncFD := int(in.conn.f.Fd())
	maxFD := max(syncFD, in.cfg.ExecListenFD, in.cfg.ConsoleFD)
	files := make([]uintptr, 0, maxFD+1)
	for fd := 0; fd <= maxFD; fd++ {
		files = append(files, uintptr(fd))
	}
	// Forked from this (locked) thread, so the child inherits the
	// namespaces unshared on it.
	pid, err := forkExec("/proc/self/exe", []string{"rt", "init"}, &syscall.ProcAttr{
		Env:   []string{"_RT_INIT_SYNC=" + strconv.Itoa(syncFD), "GOMAXPROCS=1"},
		Files: files,
		Sys:   &syscall.SysProcAttr{Setsid: true},
	})
	in.must("fork init into the new pid namespace", err)
	in.must("sync", in.conn.send(syncMsg{Type: msgPid, Pid: pid}))
	os.Exit(0)
}

// loadPrivilegedListener is loadPrivileged with a notify fd.
func loadPrivilegedListener(prog []byte, flags uint) (int, error) {
	if err := raiseEffective(); err != nil {
		return -1, err
	}
	return seccomp.LoadListener(prog, flags)
}

// loadPrivileged loads a seccomp filter with the effective capabilities
// raised to the permitted ones (setresuid to a non-root user cleared them).
func loadPrivileged(prog []byte, flags uint) error {
	if err := raiseEffective(); err != nil {
		return err
	}
	return seccomp.Load(prog, flags)
}

// raiseEffective sets the effective capabilities to the permitted ones.
func raiseEffective() error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capget: %w", err)
	}
	data[0].Effective, data[1].Effective = data[0].Permitted, data[1].Permitted
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capset: %w", err)
	}
	return nil
}

// prepareProcess applies everything of p that lasts across execve, in the
// order the kernel requires, and resolves the program: shared by the
// container's init and by exec'd processes.
func (in *initProc) prepareProcess(p *specs.Process) (path string, env []string) {
	cfg := in.cfg
	// The program keeps the timer slack of the thread that execs it (this
	// one, locked), which must be rt's caller's, not rt's.
	nsenter.RestoreCallerTimerSlack()
	rl, err := rlimits.Parse(p.Rlimits)
	in.must("process.rlimits", err)
	in.must("apply process.rlimits", rlimits.Apply(rl))
	// Every fd we do not hand over is close-on-exec, and rt marked all
	// inherited fds close-on-exec at start-up, so no host directory fd
	// reaches the container; the cwd check below catches a cwd that still
	// escapes the root (CVE-2024-21626).
	in.must("close fds", closeFDsFrom(3+cfg.PassedFDs))
	var pers *specs.LinuxPersonality
	if cfg.Spec.Linux != nil {
		pers = cfg.Spec.Linux.Personality
	}
	in.must("process attributes", applyAttrs(p, pers))
	env = withHome(p.Env, p.User.UID)
	if cfg.ListenFDs > 0 {
		env = append(env, "LISTEN_FDS="+strconv.Itoa(cfg.ListenFDs), "LISTEN_PID=1")
	}
	in.must("process.user", setUser(p.User))
	// As the user, before capabilities are raised again: a cwd the
	// user cannot enter is refused, as it would be for any process.
	cwd := p.Cwd
	if cwd == "" {
		cwd = "/"
	}
	in.must("process.cwd", chdirInside(cwd))
	if in.seccomp != nil && in.seccompNotify {
		// A notify fd must reach the listener before the program runs:
		// load now and pass the fd to the parent, which sends it on.
		fd, err := loadPrivilegedListener(in.seccomp, in.seccompFlags)
		in.must("linux.seccomp", err)
		in.must("linux.seccomp.listenerPath", in.conn.sendFD(syncMsg{Type: msgSeccompFd}, fd))
		unix.Close(fd)
		if _, err := in.conn.expect(msgSeccompDone, nil); err != nil {
			os.Exit(1) // the parent failed and reported it
		}
		in.seccomp = nil
	}
	if in.seccomp != nil && !p.NoNewPrivileges {
		// Without no_new_privs, loading a filter needs CAP_SYS_ADMIN,
		// which the capability sets may drop: load it now, with the
		// effective set raised back to the permitted one for the call.
		// Only capset, prctl, the sync messages, accept, write and
		// execve come after it (a profile may well forbid getcwd).
		in.must("linux.seccomp", loadPrivileged(in.seccomp, in.seccompFlags))
		in.seccomp = nil
	}
	if p.Capabilities != nil {
		in.must("process.capabilities", caps.Apply(p.Capabilities))
	} else {
		in.must("process.capabilities", caps.Apply(&specs.LinuxCapabilities{}))
	}
	if p.NoNewPrivileges {
		in.must("process.noNewPrivileges", unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
	}
	path, err = lookPath(p.Args[0], env)
	in.must("process.args[0]", err)
	return path, env
}

// runExec is init in exec mode: the process already joined the container's
// namespaces (entry stage, and the parent for pid) and sits in its cgroup;
// set it up like the container's process and exec it. The sync socket is
// close-on-exec: the parent reads msgReady, then EOF once execve succeeded.
func (in *initProc) runExec() {
	cfg := in.cfg
	p := cfg.Spec.Process
	in.seccomp, in.seccompFlags, in.seccompNotify = cfg.Seccomp, cfg.SeccompFlags, cfg.SeccompNotify
	if a := p.ExecCPUAffinity; a != nil && a.Final != "" {
		// Now in the container's cgroup: the affinity it runs with.
		set, err := cpuSet(a.Final)
		if err == nil {
			err = unix.SchedSetaffinity(0, set)
		}
		in.must("process.execCPUAffinity.final", err)
	}
	if cfg.ConsoleFD >= 0 {
		in.must("set up console", setupExecConsole(cfg.ConsoleFD, p.ConsoleSize))
	}
	path, env := in.prepareProcess(p)
	if in.seccomp != nil {
		in.must("linux.seccomp", seccomp.Load(in.seccomp, in.seccompFlags))
	}
	in.must("sync", in.conn.send(syncMsg{Type: msgReady}))
	err := unix.Exec(path, p.Args, env)
	in.fatal("exec", fmt.Errorf("exec %s: %w", p.Args[0], err))
}
