package libcontainer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/rtrun/rt/cgroups"
	"github.com/rtrun/rt/libcontainer/caps"
	"github.com/rtrun/rt/libcontainer/rlimits"
	"github.com/rtrun/rt/nsenter"
	"github.com/rtrun/rt/rootfs"
)

// run's direct init. A `run` that starts at once (StartNow: no terminal,
// no NOTIFY_SOCKET) has nothing for an init process of rt to wait for, so
// it need not start one: that process's Go runtime start and its exec
// teardown were ~2.5 ms of `run` here. Instead a discarded thread of rt
// does what init would, and the container's PID 1 is the exec trampoline
// (nsenter.TrampolineArg0), a sealed copy of rt that runs no Go:
//
//  1. The thread unshares its fs, mount, uts and ipc namespaces, joins the
//     new network namespace (made by a raw thread while create did the
//     rest, see netNS), joins the v1 cgroups (writing 0 to `tasks`), unshares the
//     pid namespace for its children and forks the trampoline: cloned
//     into the cgroup2 cgroup and into a new cgroup namespace (rooted
//     there; that needs CAP_SYS_ADMIN at the clone, so the trampoline
//     starts as root with all capabilities), it is the namespace's PID 1
//     and waits.
//  2. The thread joins that cgroup namespace and builds the root
//     filesystem with rootfs's code, as init does, except that proc is
//     mounted with procfs's pidns option (a thread outside the pid
//     namespace cannot mount(2) its proc) and that the sysctls (written
//     through the container's /proc, resolved inside its root), masked
//     and read-only paths and root.readonly come before pivot_root: after
//     it, the container's /proc does not know the thread, and rootfs names
//     its handles as /proc/self/fd/N. pivot_root moves the trampoline's
//     root too.
//  3. The thread takes on the process's credentials, capabilities, umask
//     and cwd with the very system calls the trampoline will make
//     (initRecords; caps.NewPlan for the capabilities), then checks the
//     cwd and resolves the program as that user, as init does.
//  4. run's signal.Notify (~0.5 ms here, a round trip to the runtime's
//     signal thread per signal) comes after, with nothing left to hide it
//     behind; then the state, and at start the trampoline gets the
//     records, makes them and execs the program.
//
// Anything else takes the re-exec path (directInitOK says why): joined or
// user/time namespaces, hooks that run before start, seccomp, a scheduler
// or I/O priority, --preserve-fds and LISTEN_FDS, --no-pivot, a pure
// cgroup2 device policy, a kernel whose procfs lacks the pidns option,
// and a rt whose permitted capabilities are not its bounding set.
// tests/direct_test.go checks that both paths give the container the same
// process and the same mounts.

// keyringsOK: the kernel has keyrings (init ignores ENOSYS from keyctl).
func keyringsOK() bool {
	_, err := unix.KeyctlGetKeyringID(unix.KEY_SPEC_SESSION_KEYRING, false)
	return !errors.Is(err, unix.ENOSYS)
}

// directInitOK says whether the container can take the direct path.
func directInitOK(o CreateOpts, spec *specs.Spec, ns *nsPlan, passed int, paths map[string]string) (bool, string) {
	switch {
	case !nsenter.StageRan():
		return false, "binary not built by hack/build-rt.sh (no trampoline)"
	case !o.StartNow:
		return false, "not started at once"
	case spec.Process == nil || spec.Linux == nil:
		return false, "no process or linux section"
	case spec.Process.Terminal:
		return false, "terminal"
	case passed > 0:
		return false, "--preserve-fds or LISTEN_FDS"
	case o.NoPivot:
		return false, "--no-pivot"
	case len(ns.parent) > 0 || len(ns.entry) > 0 || ns.newUser || ns.forkForPid:
		return false, "joined or user namespaces"
	case ns.unshare&unix.CLONE_NEWTIME != 0:
		return false, "time namespace"
	case ns.cloneFlags&unix.CLONE_NEWNS == 0 || ns.cloneFlags&unix.CLONE_NEWPID == 0:
		return false, "no new mount and pid namespaces"
	case spec.Linux.Seccomp != nil:
		return false, "seccomp"
	case spec.Process.Scheduler != nil || spec.Process.IOPriority != nil:
		return false, "scheduler or I/O priority"
	}
	if h := spec.Hooks; h != nil && (len(h.Prestart) > 0 || len(h.CreateRuntime) > 0 || //nolint:staticcheck // Prestart: deprecated but still part of the spec
		len(h.CreateContainer) > 0 || len(h.StartContainer) > 0) {
		return false, "hooks before start"
	}
	if _, unified := paths[cgroups.UnifiedKey]; unified {
		if _, v1 := paths["devices"]; !v1 {
			return false, "cgroup2 device policy"
		}
	}
	procs := false
	for _, m := range spec.Mounts {
		if m.Type == "proc" {
			procs = true
			opts, err := rootfs.ParseMountOptions(m.Options)
			if err != nil || !rootfs.ProcFlagsOK(opts.Flags) {
				return false, "proc mount options"
			}
		}
	}
	if procs && !rootfs.ProcPidNSSupported() {
		return false, "procfs without the pidns option (Linux < 6.18)"
	}
	return true, ""
}

// directStart is what Start needs of a direct init: the trampoline waits
// on sync for the message, and reports on errs.
type directStart struct {
	sync, errs int
	msg        *nsenter.TrampolineMsg
	b          []byte // msg, encoded
	arg0       string
}

func (d *directStart) close() {
	unix.Close(d.sync)
	unix.Close(d.errs)
}

// startInitDirect is startInit's direct path (see above). fallback: the
// error came before anything of the container ran; the re-exec path may
// still work.
func (c *Container) startInitDirect(o CreateOpts, spec *specs.Spec, mgr cgroups.Manager, ns *nsPlan, place *placement,
	exe *os.File, t *timer, undo *cleanups) (proc *child, fallback bool, err error) {
	st := c.state
	p := spec.Process
	linux := spec.Linux
	rl, err := rlimits.Parse(p.Rlimits)
	if err != nil {
		return nil, false, fmt.Errorf("process.%w", err)
	}
	plan, err := caps.NewPlan(p.Capabilities)
	if err != nil {
		return nil, false, &stepError{Step: "process.capabilities", Err: err}
	}
	if plan.CurPermitted != plan.CurBounding {
		// The thread could not take on what the trampoline, root after
		// its exec, starts with.
		return nil, true, errors.New("rt's permitted capabilities are not its bounding set")
	}
	// Limits before anything runs in the cgroups (init sets them while its
	// runtime starts).
	if err := setResources(mgr, spec); err != nil {
		return nil, false, err
	}
	if err := delegateCgroup(spec, st.CgroupPaths); err != nil {
		return nil, false, err
	}
	t.mark("direct init: cgroup limits")
	rc := rootfsConfig(spec, st.Rootfs, st.CgroupPaths)
	rc.Hierarchies = hostHierarchies(spec)
	exePath, closeExe, err := execPath(exe, 2*(5+2))
	if err != nil {
		return nil, true, err
	}
	defer closeExe()
	// Socket pairs, as for rt exec's trampoline: SEQPACKET, so the message
	// arrives whole; never reopenable through /proc/PID/fd.
	var errP, syncP [2]int
	if errP, err = unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0); err != nil {
		return nil, true, err
	}
	if syncP, err = unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0); err != nil {
		unix.Close(errP[0])
		unix.Close(errP[1])
		return nil, true, err
	}
	ds := &directStart{sync: syncP[1], errs: errP[0], arg0: p.Args[0]}
	defer func() {
		if err != nil {
			ds.close()
		}
	}()
	t.mark("direct init: plan")

	ds.msg = initRecords(c.ID(), o.NoNewKeyring || !keyringsOK(), p, linux.Personality, rl, plan)
	// The longest message the thread's results can make (a path and a
	// HOME of PATH_MAX bytes) must fit.
	envLens := make([]int, 0, len(p.Env)+1)
	for _, e := range p.Env {
		envLens = append(envLens, len(e))
	}
	if err := ds.msg.Fits(unix.PathMax, append(envLens, len("HOME=")+unix.PathMax)); err != nil {
		return nil, true, err
	}
	d := &directThread{t: t, spec: spec, ns: ns, msg: ds.msg, place: place, rc: rc, exePath: exePath,
		files: []*os.File{os.Stdin, os.Stdout, os.Stderr, os.NewFile(uintptr(errP[1]), "trampoline-err"), os.NewFile(uintptr(syncP[0]), "trampoline-sync")}}
	if ns.lateNet {
		if d.netns, err = ns.netNS(); err != nil {
			return nil, true, err
		}
	}
	nsenter.OnDiscardedThread(func() error {
		d.run()
		return nil
	})
	d.files[3].Close()
	d.files[4].Close()
	if tramp := d.proc; tramp != nil {
		undo.add(func() {
			tramp.Kill()
			tramp.Wait()
		})
	}
	if d.err != nil {
		return nil, d.fallback && d.proc == nil, d.err
	}
	proc = d.proc
	t.mark("direct init: user, cwd, program")
	// The trampoline holds the sealed binary now (see startInit).
	exe.Close()
	if o.WhileInit != nil {
		o.WhileInit()
		t.mark("direct init: signals to forward")
	}
	if err := c.recordInit(proc.Pid, st.CgroupPaths); err != nil {
		return nil, false, err
	}
	if a := p.OOMScoreAdj; a != nil {
		if err := os.WriteFile(fmt.Sprintf("/proc/%d/oom_score_adj", proc.Pid), []byte(strconv.Itoa(*a)), 0); err != nil {
			return nil, false, &stepError{Step: "write process.oomScoreAdj", Err: err}
		}
	}
	if ds.b, err = ds.msg.Encode(d.path, d.env); err != nil {
		return nil, false, &stepError{Step: "start init", Err: err}
	}
	final, err := st.prepareCreated(c.dir)
	if err != nil {
		return nil, false, err
	}
	defer final.file.abort()
	if err := final.commit(); err != nil {
		return nil, false, err
	}
	if o.PidFile != "" {
		if err := writePidFile(o.PidFile, proc.Pid); err != nil {
			return nil, false, err
		}
		undo.add(func() { os.Remove(o.PidFile) })
	}
	c.direct = ds
	t.mark("write state")
	return proc, false, nil
}

// directThread is the work of the discarded thread.
type directThread struct {
	t       *timer
	spec    *specs.Spec
	ns      *nsPlan
	place   *placement
	rc      *rootfs.Config
	exePath string
	env     []string
	msg     *nsenter.TrampolineMsg
	files   []*os.File // stdio, the trampoline's error and sync sockets
	netns   *os.File   // the new network namespace to join, or nil

	proc     *child
	path     string
	fallback bool
	err      error
}

func (d *directThread) fail(step string, err error, fallback bool) {
	d.err, d.fallback = &stepError{Step: step, Err: err}, fallback
}

func (d *directThread) run() {
	spec, p := d.spec, d.spec.Process
	if unix.Gettid() == unix.Getpid() {
		d.fail("start init", errors.New("direct init on the main thread"), true)
		return
	}
	flags := unix.CLONE_FS | int(d.ns.cloneFlags&(unix.CLONE_NEWNS|unix.CLONE_NEWUTS|unix.CLONE_NEWIPC))
	if err := unix.Unshare(flags); err != nil {
		d.fail("unshare namespaces", err, true)
		return
	}
	if d.netns != nil {
		if err := unix.Setns(int(d.netns.Fd()), unix.CLONE_NEWNET); err != nil {
			d.fail("join the new network namespace", err, true)
			return
		}
	}
	// The trampoline starts in "/", which pivot_root moves into the new
	// root: never in rt's own cwd, a host directory, until its chdir.
	if err := unix.Chdir("/"); err != nil {
		d.fail("unshare namespaces", err, true)
		return
	}
	// v1: this thread joins, before it opens anything of the container's
	// (the devices cgroup applies to its mknods); the trampoline inherits.
	for _, f := range d.place.tasks {
		if _, err := f.WriteString("0"); err != nil {
			d.fail("join the container's cgroups", fmt.Errorf("%s: %w", f.Name(), err), true)
			return
		}
	}
	if err := unix.Unshare(unix.CLONE_NEWPID); err != nil {
		d.fail("unshare namespaces", err, true)
		return
	}
	d.t.mark("direct init: namespaces, v1 cgroups")
	sys := &syscall.SysProcAttr{Setsid: true}
	if d.place.cgroup2 != nil {
		sys.UseCgroupFD, sys.CgroupFD = true, int(d.place.cgroup2.Fd())
	}
	if d.ns.newCgroup {
		// Rooted at the cgroups the clone puts it in.
		sys.Cloneflags = unix.CLONE_NEWCGROUP
	}
	argv := append([]string{nsenter.TrampolineArg0, "3", ""}, p.Args...)
	// No environment yet: the program's comes with the message.
	proc, err := startChild(d.exePath, argv, nil, d.files, sys)
	if err != nil {
		d.fail("start init", fmt.Errorf("exec rt's trampoline: %w", err), true)
		return
	}
	d.proc = proc
	d.t.mark("direct init: namespaces, trampoline")
	if d.ns.newCgroup {
		ns, err := nsenter.OpenNamespace(fmt.Sprintf("/proc/%d/ns/cgroup", proc.Pid), string(specs.CgroupNamespace))
		if err == nil {
			err = nsenter.JoinThread(ns, string(specs.CgroupNamespace))
			ns.Close()
		}
		if err != nil {
			d.fail("join the cgroup namespace", err, false)
			return
		}
	}
	pidns, err := os.Open(fmt.Sprintf("/proc/%d/ns/pid", proc.Pid))
	if err != nil {
		d.fail("open the pid namespace", err, false)
		return
	}
	defer pidns.Close()
	d.rc.ProcPidNS = pidns
	if spec.Hostname != "" {
		if err := unix.Sethostname([]byte(spec.Hostname)); err != nil {
			d.fail("set hostname", err, false)
			return
		}
	}
	if spec.Domainname != "" {
		if err := unix.Setdomainname([]byte(spec.Domainname)); err != nil {
			d.fail("set domainname", err, false)
			return
		}
	}
	if err := rootfs.Prepare(d.rc); err != nil {
		d.fail("prepare rootfs", err, false)
		return
	}
	d.t.mark("direct init: mounts")
	cwd := p.Cwd
	if cwd == "" {
		cwd = "/"
	}
	// Like init: a missing cwd is created, as root, before the root may
	// become read-only; it is checked as the user below.
	if err := rootfs.MkdirIn(d.rc.Rootfs, cwd); err != nil {
		logrus.Debugf("create process.cwd %s: %v", cwd, err)
	}
	for k, v := range spec.Linux.Sysctl {
		if err := writeSysctlIn(d.rc.Rootfs, k, v); err != nil {
			d.fail("linux.sysctl", err, false)
			return
		}
	}
	if err := rootfs.FinishIn(d.rc, d.rc.Rootfs); err != nil {
		d.fail("finish rootfs", err, false)
		return
	}
	if err := rootfs.Pivot(d.rc); err != nil {
		d.fail("pivot root", err, false)
		return
	}
	d.t.mark("direct init: sysctls, finish, pivot")
	// As init: HOME from the container's /etc/passwd, as root.
	d.env = withHome(p.Env, p.User.UID)
	// This thread, which then ends, takes on the process's credentials,
	// capabilities and cwd with the very calls the trampoline will make,
	// and checks the cwd and resolves the program as that user, as init
	// does.
	if step, err := d.msg.RunOnThread(); err != nil {
		d.fail(step, err, false)
		return
	}
	if err := cwdInside(cwd); err != nil {
		d.fail("process.cwd", err, false)
		return
	}
	if d.path, err = lookPath(p.Args[0], d.env); err != nil {
		d.fail("process.args[0]", err, false)
		return
	}
}

// initRecords are the system calls the trampoline makes before it execs
// the program: what init's prepareProcess does, in its order, for a
// process that starts as root with all of the bounding set (plan).
func initRecords(id string, noKeyring bool, p *specs.Process, pers *specs.LinuxPersonality, rl []rlimits.Rlimit, plan *caps.Plan) *nsenter.TrampolineMsg {
	m := &nsenter.TrampolineMsg{}
	val := func(v uint64) nsenter.Arg { return nsenter.Val(uintptr(v)) }
	if !noKeyring {
		const keyctlJoinSessionKeyring = 1
		m.Syscall("join session keyring", unix.SYS_KEYCTL, val(keyctlJoinSessionKeyring), nsenter.String("_ses."+id))
	}
	addRlimits(m, rl)
	if pers != nil {
		if v, err := personalityValue(pers); err == nil {
			m.ThreadSyscall("linux.personality", unix.SYS_PERSONALITY, val(uint64(v)))
		}
	}
	u := p.User
	m.ThreadSyscall("process.user", unix.SYS_PRCTL, val(unix.PR_SET_KEEPCAPS), val(1))
	var gids []byte
	for _, g := range u.AdditionalGids {
		gids = binary.NativeEndian.AppendUint32(gids, g)
	}
	if len(gids) > 0 {
		m.ThreadSyscall("process.user.additionalGids", unix.SYS_SETGROUPS, val(uint64(len(u.AdditionalGids))), nsenter.Bytes(gids))
	} else {
		m.ThreadSyscall("process.user.additionalGids", unix.SYS_SETGROUPS, val(0), val(0))
	}
	m.ThreadSyscall("process.user.gid", unix.SYS_SETRESGID, val(uint64(u.GID)), val(uint64(u.GID)), val(uint64(u.GID)))
	m.ThreadSyscall("process.user.uid", unix.SYS_SETRESUID, val(uint64(u.UID)), val(uint64(u.UID)), val(uint64(u.UID)))
	m.ThreadSyscall("process.user", unix.SYS_PRCTL, val(unix.PR_SET_KEEPCAPS), val(0))
	umask := uint64(0o022)
	if u.Umask != nil {
		umask = uint64(*u.Umask)
	}
	m.ThreadSyscall("process.user.umask", unix.SYS_UMASK, val(umask))
	// A credential change resets dumpable to fs.suid_dumpable.
	m.Syscall("process.user", unix.SYS_PRCTL, val(unix.PR_SET_DUMPABLE), val(0))
	cwd := p.Cwd
	if cwd == "" {
		cwd = "/"
	}
	m.ThreadSyscall("process.cwd", unix.SYS_CHDIR, nsenter.String(cwd))
	// caps.Apply: effective raised to permitted, the bounding set shrunk,
	// the three sets, then ambient.
	m.ThreadSyscall("process.capabilities", unix.SYS_CAPSET, capHeader(), capData(plan.CurBounding, plan.CurBounding, plan.CurInheritable))
	for cp := 0; cp <= int(plan.Last); cp++ {
		if plan.CurBounding&^plan.Bounding&(1<<cp) != 0 {
			m.ThreadSyscall("process.capabilities.bounding", unix.SYS_PRCTL, val(unix.PR_CAPBSET_DROP), val(uint64(cp)))
		}
	}
	m.ThreadSyscall("process.capabilities", unix.SYS_CAPSET, capHeader(), capData(plan.Effective, plan.Permitted, plan.Inheritable))
	m.ThreadSyscall("process.capabilities.ambient", unix.SYS_PRCTL, val(unix.PR_CAP_AMBIENT), val(unix.PR_CAP_AMBIENT_CLEAR_ALL))
	for cp := 0; cp <= int(plan.Last); cp++ {
		if plan.Ambient&(1<<cp) != 0 {
			m.ThreadSyscall("process.capabilities.ambient", unix.SYS_PRCTL, val(unix.PR_CAP_AMBIENT), val(unix.PR_CAP_AMBIENT_RAISE), val(uint64(cp)))
		}
	}
	if p.NoNewPrivileges {
		m.ThreadSyscall("process.noNewPrivileges", unix.SYS_PRCTL, val(unix.PR_SET_NO_NEW_PRIVS), val(1))
	}
	// "Starting", on the sync socket (fd 4): an EOF on the error socket
	// without it is a trampoline that died, not one that exec'd.
	m.Syscall("start", unix.SYS_WRITE, val(4), nsenter.Bytes([]byte{'s'}), val(1))
	return m
}

func capHeader() nsenter.Arg {
	b := binary.NativeEndian.AppendUint32(nil, unix.LINUX_CAPABILITY_VERSION_3)
	return nsenter.Bytes(binary.NativeEndian.AppendUint32(b, 0))
}

// capData is capset's two __user_cap_data_struct (low and high 32 bits).
func capData(eff, perm, inh uint64) nsenter.Arg {
	var b []byte
	for _, shift := range []uint{0, 32} {
		b = binary.NativeEndian.AppendUint32(b, uint32(eff>>shift))
		b = binary.NativeEndian.AppendUint32(b, uint32(perm>>shift))
		b = binary.NativeEndian.AppendUint32(b, uint32(inh>>shift))
	}
	return nsenter.Bytes(b)
}

// startDirectInit is Start for a direct init: the trampoline gets its message,
// makes the calls and execs; the error socket's EOF says it did.
func (c *Container) startDirectInit() error {
	ds := c.direct
	c.direct = nil
	defer ds.close()
	err := func() error {
		if _, err := unix.Write(ds.sync, ds.b); err != nil {
			return fmt.Errorf("container init is not waiting (dead?): %w", err)
		}
		var report [8]byte
		if n, _ := readFull(ds.errs, report[:]); n == len(report) {
			return trampolineError(ds.msg, report[:], ds.arg0)
		}
		var starting [1]byte
		if n, _ := readFull(ds.sync, starting[:]); n != 1 {
			return errors.New("container init exited before starting the process")
		}
		return nil
	}()
	if err != nil {
		return fmt.Errorf("start container %s: %w", c.ID(), err)
	}
	return c.poststart(nil)
}
