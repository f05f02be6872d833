package libcontainer

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/rtrun/rt/cgroups"
	"github.com/rtrun/rt/libcontainer/seccomp"
	"github.com/rtrun/rt/libcontainer/validate"
	"github.com/rtrun/rt/nsenter"
	"github.com/rtrun/rt/rootfs"
)

// CreateOpts are the create (and run) flags.
type CreateOpts struct {
	ID            string
	Bundle        string
	PidFile       string
	ConsoleSocket string
	NoPivot       bool
	NoNewKeyring  bool
	PreserveFDs   int
	// Console, when set, receives the pty master instead of ConsoleSocket
	// (run in the foreground with a terminal).
	Console *os.File
	// Timing logs how long each phase took, at debug level.
	Timing bool
	// NoSubreaper (run --no-subreaper): never become a child subreaper.
	// Foreground: run waits for init, so it must be able to reap it.
	NoSubreaper, Foreground bool
	// Spec, when set, is the bundle's config.json already loaded (run
	// reads it first); it is validated here all the same.
	Spec *specs.Spec
	// WhileInit, when set, runs once init has its config, while this
	// process only waits for it to build the root filesystem.
	WhileInit func()
	// StartNow: the caller starts the container right after create (run
	// without a terminal or NOTIFY_SOCKET, which need steps in between):
	// there is no exec.sock; once ready, init waits for msgStart on the
	// sync socket, which Start sends, and execs the user program.
	StartNow bool
}

// Create creates a container: everything but the user program runs. On any
// error, everything made so far is undone.
func (r *Runtime) Create(o CreateOpts) (c *Container, err error) {
	t := newTimer(o.Timing)
	if err := ValidateID(o.ID); err != nil {
		return nil, err
	}
	bundle, err := filepath.Abs(o.Bundle)
	if err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	spec := o.Spec
	if spec == nil {
		if spec, err = validate.Load(bundle); err != nil {
			return nil, err
		}
	}
	if err := validate.Spec(spec, bundle); err != nil {
		return nil, err
	}
	resolveBindSources(spec, bundle)
	t.mark("load+validate config")
	terminal := spec.Process != nil && spec.Process.Terminal
	if terminal && o.ConsoleSocket == "" && o.Console == nil {
		return nil, errors.New("process.terminal is true but --console-socket was not given")
	}
	if !terminal && o.ConsoleSocket != "" {
		return nil, errors.New("--console-socket given but process.terminal is false")
	}

	// Namespaces first: a path that does not open fails create before it
	// made anything.
	ns, err := planNamespaces(spec)
	if err != nil {
		return nil, err
	}
	defer ns.close()

	if err := os.MkdirAll(r.Root, 0o700); err != nil {
		return nil, fmt.Errorf("create state root: %w", err)
	}
	dir := r.dir(o.ID)
	if err := os.Mkdir(dir, 0o700); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("container %q already exists", o.ID)
		}
		return nil, fmt.Errorf("create state dir: %w", err)
	}
	var undo cleanups
	defer func() {
		if err != nil {
			undo.run()
		}
	}()
	undo.add(func() { os.RemoveAll(dir) })
	// A new network namespace is on its way while create does the rest.
	ns.startNet()
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	defer lock.Close()
	if err := setupNotify(spec, dir); err != nil {
		return nil, err
	}
	t.mark("state directory")

	rootfs := spec.Root.Path
	if !filepath.IsAbs(rootfs) {
		rootfs = filepath.Join(bundle, rootfs)
	}
	var cgPath string
	if spec.Linux != nil {
		cgPath = spec.Linux.CgroupsPath
	}
	mgr, err := cgroups.New(cgPath, o.ID, cgroups.Options{})
	if err != nil {
		return nil, fmt.Errorf("linux.cgroupsPath: %w", err)
	}
	// Delete never undoes what create did not make: a cgroup that already
	// holds processes belongs to someone else, and must never be recorded
	// (delete -f would kill them).
	if pids, _ := mgr.GetPids(); len(pids) > 0 {
		return nil, fmt.Errorf("linux.cgroupsPath %q: the cgroup already holds processes %v; refusing to share it", cgPath, pids)
	}
	t.mark("cgroup paths")
	// The cgroups are recorded before they exist, so that if this process
	// dies half-way, `delete -f` still finds everything to remove.
	st := &State{
		ID:          o.ID,
		Bundle:      bundle,
		Rootfs:      rootfs,
		Created:     time.Now().UTC(),
		Owner:       ownerName(),
		CgroupPaths: mgr.Paths(),
		Config:      spec,
		Creating:    true,
	}
	if err := st.save(dir); err != nil {
		return nil, err
	}
	t.mark("first state")
	c = &Container{rt: r, dir: dir, state: st}

	p, err := c.startInit(o, spec, ns, mgr, t, &undo)
	if err != nil {
		return nil, fmt.Errorf("create container %s: %w", o.ID, err)
	}
	c.init = p
	return c, nil
}

// startInit starts the init process and walks it through the sync protocol.
func (c *Container) startInit(o CreateOpts, spec *specs.Spec, ns *nsPlan, mgr cgroups.Manager, t *timer, undo *cleanups) (*child, error) {
	st := c.state
	// The sealed binary: a detached read-only clone of our own executable, so
	// nothing in the container can ever write the host's rt (CVE-2019-5736).
	exe, err := sealedSelf()
	if err != nil {
		return nil, fmt.Errorf("seal rt binary: %w", err)
	}
	defer exe.Close()
	t.mark("seal binary")

	parentSync, childSync, err := newSyncPair()
	if err != nil {
		return nil, err
	}
	keepSync := false
	defer func() {
		if !keepSync {
			parentSync.f.Close()
		}
	}()
	defer childSync.Close()

	var listener *os.File
	if !o.StartNow {
		if listener, err = listenExecSock(c.dir); err != nil {
			return nil, err
		}
		defer listener.Close()
	}

	listenFDs := socketActivationFDs()
	passed := listenFDs + o.PreserveFDs
	var extra []*os.File
	for i := 0; i < passed; i++ {
		f, err := inheritedFile(3 + i)
		if err != nil {
			return nil, fmt.Errorf("--preserve-fds %d (with LISTEN_FDS %d): %w", o.PreserveFDs, listenFDs, err)
		}
		extra = append(extra, f)
	}
	childFD := func(f *os.File) int {
		extra = append(extra, f)
		return 2 + len(extra)
	}
	syncFD := childFD(childSync)
	cfg := &initConfig{
		ID:           st.ID,
		Bundle:       st.Bundle,
		Rootfs:       st.Rootfs,
		Spec:         spec,
		NoPivot:      o.NoPivot,
		NoNewKeyring: o.NoNewKeyring,
		ExecListenFD: -1,
		StartNow:     o.StartNow,
		ConsoleFD:    -1,
		PassedFDs:    passed,
		ListenFDs:    listenFDs,
	}
	if listener != nil {
		cfg.ExecListenFD = childFD(listener)
	}
	if spec.Process != nil && spec.Process.Terminal {
		con := o.Console
		if con == nil {
			con, err = dialConsoleSocket(o.ConsoleSocket)
			if err != nil {
				return nil, err
			}
			defer con.Close()
		}
		cfg.ConsoleFD = childFD(con)
	}

	cfg.Unshare = ns.unshare
	cfg.ForkForPid = ns.forkForPid
	cfg.NewUserNS = ns.newUser
	cfg.NewCgroup = ns.newCgroup

	sys := &syscall.SysProcAttr{Cloneflags: ns.cloneFlags, Setsid: true}
	if ns.cloneFlags&unix.CLONE_NEWUSER != 0 {
		sys.UidMappings = idMaps(spec.Linux.UIDMappings)
		sys.GidMappings = idMaps(spec.Linux.GIDMappings)
		sys.GidMappingsEnableSetgroups = true
		// Without a credential the child would exec as the overflow uid and
		// lose every capability in its new user namespace.
		sys.Credential = &syscall.Credential{Uid: 0, Gid: 0, NoSetGroups: true}
	}
	if ns.forkForPid && o.NoSubreaper && o.Foreground {
		return nil, errors.New("--no-subreaper: this container joins a user namespace and creates a pid namespace, " +
			"so its init is a grandchild of rt, which a foreground run can only wait for as its subreaper (use --detach)")
	}
	if ns.forkForPid && !o.NoSubreaper {
		// The real init will be a grandchild: make it reparent to us when
		// the first child exits, so we can reap it (and `run` can wait).
		// This is the only case where rt becomes a subreaper.
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			return nil, fmt.Errorf("become child subreaper: %w", err)
		}
	}
	// The child is in its cgroups before it runs anything: the entry stage
	// joins the v1 ones and it is cloned into the cgroup2 one (see
	// placement). Create checked they hold no process.
	undo.add(func() { mgr.Destroy() })
	if err := mgr.Apply(-1); err != nil {
		return nil, fmt.Errorf("apply cgroups: %w", err)
	}
	place, err := openPlacement(mgr.Paths())
	if err != nil {
		return nil, fmt.Errorf("apply cgroups: %w", err)
	}
	defer place.close()
	t.mark("cgroup directories")
	if ok, why := directInitOK(o, spec, ns, passed, mgr.Paths()); ok {
		proc, fallback, err := c.startInitDirect(o, spec, mgr, ns, place, exe, t, undo)
		if err == nil || !fallback {
			return proc, err
		}
		logrus.Debugf("run: direct init failed before the container ran (%v); init re-exec path", err)
	} else if o.StartNow {
		logrus.Debugf("run: init re-exec path (%s)", why)
	}
	proc, err := spawnInit(exe, extra, syncFD, ns, sys, place)
	if err != nil {
		return nil, fmt.Errorf("start init: %w", err)
	}
	t.mark("start init")
	first := proc
	undo.add(func() {
		first.Kill()
		first.Wait()
	})
	netFD := -1
	if ns.lateNet {
		netns, err := ns.netNS()
		if err != nil {
			return nil, err
		}
		netFD, cfg.JoinNet = int(netns.Fd()), true
		t.mark("network namespace")
	}
	childSync.Close()
	if listener != nil {
		listener.Close()
	}
	if err := c.recordInit(proc.Pid, mgr.Paths()); err != nil {
		return nil, err
	}
	// Where the entry stage or clone3 could not place it, move it now: it
	// waits for msgConfig, which is sent only afterwards.
	if place.tasks == nil {
		if err := mgr.Apply(proc.Pid); err != nil {
			return nil, fmt.Errorf("apply cgroups: %w", err)
		}
	} else if place.cgroup2 != nil && !place.cloned {
		if err := cgroups.WriteProcs(place.cgroup2.Name(), proc.Pid); err != nil {
			return nil, fmt.Errorf("apply cgroups: join %s: %w", place.cgroup2.Name(), err)
		}
	}
	if err := setResources(mgr, spec); err != nil {
		return nil, err
	}
	if err := delegateCgroup(spec, st.CgroupPaths); err != nil {
		return nil, err
	}
	cfg.CgroupPaths = st.CgroupPaths
	// Our mount table is init's only when its mount namespace is a new
	// one (a copy of ours); in one joined by path init reads its own.
	if (ns.cloneFlags|ns.unshare)&unix.CLONE_NEWNS != 0 {
		cfg.Hierarchies = hostHierarchies(spec)
	}
	t.mark("cgroups")

	fail := func(err error) (*child, error) {
		if errors.Is(err, errEOF) || errors.Is(err, syscall.ECONNRESET) {
			return nil, fmt.Errorf("container init died: %s", waitDescription(proc))
		}
		return nil, err
	}
	onLog := func(level, msg string) {
		lvl, err := logrus.ParseLevel(level)
		if err != nil {
			lvl = logrus.InfoLevel
		}
		logrus.WithField("from", "init").Log(lvl, msg)
	}
	// Without hooks for this process to run or a seccomp filter to hand
	// over, init goes from its mounts to pivot_root without a round trip.
	hooksStep := spec.Linux != nil && spec.Linux.Seccomp != nil
	if h := spec.Hooks; h != nil && (len(h.Prestart) > 0 || len(h.CreateRuntime) > 0) { //nolint:staticcheck // Prestart: deprecated but still part of the spec
		hooksStep = true
	}
	cfg.NoHooksStep, cfg.HostPid = !hooksStep, proc.Pid
	if err := parentSync.sendFD(syncMsg{Type: msgConfig, Config: cfg}, netFD); err != nil {
		return fail(fmt.Errorf("send config to init: %w", err))
	}
	if cfg.ForkForPid {
		m, err := parentSync.expect(msgPid, onLog)
		if err != nil {
			return fail(err)
		}
		// The first child is gone (reaped here); the real init is its child,
		// reparented to the nearest subreaper. From here on it is "proc".
		first.Wait()
		proc = openChild(m.Pid)
		undo.add(func() {
			proc.Kill()
			proc.Wait()
		})
		if err := c.recordInit(proc.Pid, st.CgroupPaths); err != nil {
			return nil, err
		}
		cfg.Unshare, cfg.ForkForPid, cfg.HostPid = 0, false, proc.Pid
		if err := parentSync.send(syncMsg{Type: msgConfig, Config: cfg}); err != nil {
			return fail(fmt.Errorf("send config to init: %w", err))
		}
	}
	// init runs the sealed binary now and keeps it alive; dropping our
	// handle dissolves the detached mount, which waits for an expedited RCU
	// grace period (~75 µs here): wait for it while init starts, not later
	// on the way to ready.
	exe.Close()
	if o.WhileInit != nil {
		o.WhileInit()
	}
	if hooksStep {
		if err := c.hooksStep(parentSync, spec, proc, onLog); err != nil {
			return fail(err)
		}
		t.mark("init: namespaces and mounts")
	}
	// The final state and the pid file are written now, while init sets
	// up the rest, and renamed into place once it is ready.
	final, err := st.prepareCreated(c.dir)
	if err != nil {
		return nil, err
	}
	defer final.file.abort()
	var pidFile *pendingFile
	if o.PidFile != "" {
		if pidFile, err = pendingPidFile(o.PidFile, proc.Pid); err != nil {
			return nil, err
		}
		defer pidFile.abort()
	}
	listen := func(fd int) error {
		return sendToListener(spec.Linux.Seccomp, proc.Pid, c.hookState(Creating), fd)
	}
	if err := awaitReady(parentSync, onLog, listen); err != nil {
		return fail(err)
	}
	if hooksStep {
		t.mark("init: rootfs, process setup")
	} else {
		t.mark("init: its start, mounts, rootfs, process setup")
	}

	if err := final.commit(); err != nil {
		return nil, err
	}
	if pidFile != nil {
		if err := pidFile.commit(); err != nil {
			return nil, fmt.Errorf("write pid file %s: %w", o.PidFile, err)
		}
		undo.add(func() { os.Remove(pidFile.path) })
	}
	if o.StartNow {
		c.startNow, keepSync = parentSync, true
	}
	t.mark("write state")
	return proc, nil
}

// SeccompCacheDir holds compiled seccomp programs (see
// seccomp.CompileCached); it is a cache, not container state.
var SeccompCacheDir = "/var/cache/rt/seccomp"

// recordInit notes init's pid, start time and cgroups in the state, which
// create writes ahead and puts in place when init is ready. It is not saved
// here: if create dies before, init dies of the closed sync socket, or
// (once ready) waits for start in the cgroups the first save recorded,
// where `delete -f` finds and kills it; each save costs ~0.2 ms of every
// create on ext4.
func (c *Container) recordInit(pid int, cgroupPaths map[string]string) error {
	pst, err := readProcStat(pid)
	if err != nil {
		return fmt.Errorf("read init start time: %w", err)
	}
	c.state.InitPid, c.state.InitStartTime, c.state.CgroupPaths = pid, pst.StartTime, cgroupPaths
	return nil
}

// inherited lists the fds >= 3 rt was started with that are not
// close-on-exec: only those may be passed on with --preserve-fds or
// LISTEN_FDS (the Go runtime opens fds of its own at low numbers, and they
// must never reach a container). Files are kept here for the process's life
// so no finalizer closes them. Made by NoteInheritedFDs when there are any.
var inherited map[int]*os.File

// NoteInheritedFDs records the fds the caller passed to rt; main calls it
// before marking every inherited fd close-on-exec. Only --preserve-fds and
// LISTEN_FDS ever hand them on: without either, nothing is recorded (and
// /proc/self/fd is not read on every command).
func NoteInheritedFDs() {
	if !mayPassFDs(os.Args[1:], os.Getenv("LISTEN_FDS")) {
		return
	}
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd < 3 {
			continue
		}
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err != nil || flags&unix.FD_CLOEXEC != 0 {
			continue
		}
		if inherited == nil {
			inherited = make(map[int]*os.File)
		}
		inherited[fd] = os.NewFile(uintptr(fd), "inherited-fd-"+e.Name())
	}
}

// mayPassFDs: the command line could hold --preserve-fds (or a value
// that merely contains the word, which costs only the scan), or the
// environment sets LISTEN_FDS.
func mayPassFDs(args []string, listenFDs string) bool {
	if listenFDs != "" {
		return true
	}
	for _, a := range args {
		if strings.Contains(a, "preserve-fds") {
			return true
		}
	}
	return false
}

func inheritedFile(fd int) (*os.File, error) {
	if f, ok := inherited[fd]; ok {
		return f, nil
	}
	return nil, fmt.Errorf("fd %d was not passed to rt", fd)
}

// socketActivationFDs is LISTEN_FDS when the fds are meant for us (systemd
// sets LISTEN_PID to the receiving process), else 0.
func socketActivationFDs() int {
	n, err := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	if err != nil || n <= 0 {
		return 0
	}
	if p := os.Getenv("LISTEN_PID"); p != "" && p != strconv.Itoa(os.Getpid()) {
		return 0
	}
	return n
}

// waitDescription reaps a dead init and says how it ended.
func waitDescription(p *child) string {
	ws, err := p.Wait()
	if err != nil {
		return err.Error()
	}
	return describeExit(ws)
}

// delegateCgroup hands the container's cgroup2 directory to its root when it
// runs in a new user namespace and mounts its cgroup writable: it can then
// manage its own subtree (delegation). Not on v1, which has no delegation
// model.
func delegateCgroup(spec *specs.Spec, paths map[string]string) error {
	dir, ok := paths[cgroups.UnifiedKey]
	if !ok || len(paths) != 1 || spec.Linux == nil || len(spec.Linux.UIDMappings) == 0 {
		return nil
	}
	writable := false
	for _, m := range spec.Mounts {
		if m.Type == "cgroup" || m.Type == "cgroup2" {
			writable = true
			for _, o := range m.Options {
				if o == "ro" {
					writable = false
				}
			}
		}
	}
	if !writable {
		return nil
	}
	uid, gid := rootHostID(spec.Linux.UIDMappings), rootHostID(spec.Linux.GIDMappings)
	if uid < 0 || gid < 0 {
		return nil // root of the container is not mapped: nobody to delegate to
	}
	if err := cgroups.Delegate(dir, uid, gid); err != nil {
		return fmt.Errorf("linux.cgroupsPath: %w", err)
	}
	return nil
}

// rootHostID is the host id that container id 0 maps to, or -1.
func rootHostID(m []specs.LinuxIDMapping) int {
	for _, e := range m {
		if e.ContainerID == 0 && e.Size > 0 {
			return int(e.HostID)
		}
	}
	return -1
}

// resolveBindSources makes relative bind-mount sources relative to the bundle.
func resolveBindSources(spec *specs.Spec, bundle string) {
	for i := range spec.Mounts {
		m := &spec.Mounts[i]
		if m.Source == "" || filepath.IsAbs(m.Source) || !isBind(m) {
			continue
		}
		m.Source = filepath.Join(bundle, m.Source)
	}
}

func isBind(m *specs.Mount) bool {
	if m.Type == "bind" {
		return true
	}
	for _, o := range m.Options {
		if o == "bind" || o == "rbind" {
			return true
		}
	}
	return false
}

func idMaps(m []specs.LinuxIDMapping) []syscall.SysProcIDMap {
	out := make([]syscall.SysProcIDMap, 0, len(m))
	for _, e := range m {
		out = append(out, syscall.SysProcIDMap{ContainerID: int(e.ContainerID), HostID: int(e.HostID), Size: int(e.Size)})
	}
	return out
}

func writePidFile(path string, pid int) error {
	f, err := pendingPidFile(path, pid)
	if err != nil {
		return err
	}
	if err := f.commit(); err != nil {
		return fmt.Errorf("write pid file %s: %w", path, err)
	}
	return nil
}

// pendingPidFile writes the pid file under a temporary name next to it.
func pendingPidFile(path string, pid int) (*pendingFile, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	f, err := writePending(abs, []byte(strconv.Itoa(pid)), 0o644)
	if err != nil {
		return nil, fmt.Errorf("write pid file %s: %w", path, err)
	}
	return f, nil
}

// ownerName is the user running rt, from the host's /etc/passwd (read
// directly: os/user would pull in cgo's resolver for one lookup).
func ownerName() string {
	uid := uint32(os.Getuid())
	if name := passwdField("/etc/passwd", uid, 0); name != "" {
		return name
	}
	return "#" + strconv.Itoa(int(uid))
}

// listenExecSock binds <dir>/exec.sock. Binding through /proc/self/fd keeps
// the path short whatever the root (sun_path holds 108 bytes).
func listenExecSock(dir string) (*os.File, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("exec socket: %w", err)
	}
	addr := &unix.SockaddrUnix{Name: fmt.Sprintf("/proc/self/fd/%d/%s", d.Fd(), execSockName)}
	if err := unix.Bind(fd, addr); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind exec socket: %w", err)
	}
	if err := unix.Listen(fd, 1); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("listen exec socket: %w", err)
	}
	return os.NewFile(uintptr(fd), "exec-listener"), nil
}

// sealedSelf returns an O_PATH handle on a detached, read-only bind mount of
// our own executable; exec'ing it through /proc/self/fd costs ~20µs, unlike
// copying the binary into a memfd.
func sealedSelf() (*os.File, error) {
	fd, err := unix.OpenTree(unix.AT_FDCWD, "/proc/self/exe", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("open_tree /proc/self/exe: %w", err)
	}
	attr := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV}
	if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, attr); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("make sealed binary read-only: %w", err)
	}
	return os.NewFile(uintptr(fd), "rt-sealed"), nil
}

// spawnInit starts rt's init stage from the sealed binary: extra become
// fds 3.., the namespaces the plan has for the entry stage follow them
// (described in its environment variable), and the ones the plan has for
// the parent are joined on the locked thread the child is forked from.
func spawnInit(exe *os.File, extra []*os.File, syncFD int, plan *nsPlan, sys *syscall.SysProcAttr, place *placement) (*child, error) {
	// GOMAXPROCS=1: the init does its work on one thread (see main); set
	// here, the runtime starts with one P instead of changing it later
	// with a stop-the-world.
	env := []string{"_RT_INIT_SYNC=" + strconv.Itoa(syncFD), "GOMAXPROCS=1"}
	// The cgroups first: they belong to the host, not to a user namespace
	// the child may join.
	var joins []nsenter.Join
	for _, f := range place.tasks {
		extra = append(extra, f)
		joins = append(joins, nsenter.Join{Type: nsenter.CgroupTasks, File: f, ChildFD: 2 + len(extra)})
	}
	for _, j := range plan.entry {
		extra = append(extra, j.f)
		joins = append(joins, nsenter.Join{Type: j.typ, File: j.f, ChildFD: 2 + len(extra)})
	}
	if len(joins) > 0 {
		e, err := nsenter.EntryEnv(joins)
		if err != nil {
			return nil, err
		}
		env = append(env, e)
	}
	// Out of reach of the fds the child's fork+exec dup's into place (it
	// moves those below their target up, from 3+len(extra) on).
	path, closeExe, err := execPath(exe, 2*(len(extra)+3))
	if err != nil {
		return nil, err
	}
	defer closeExe() // Start returns once the child has exec'd
	files := append([]*os.File{os.Stdin, os.Stdout, os.Stderr}, extra...)
	start := func() (*child, error) {
		var p *child
		run := func() (err error) {
			p, err = startChild(path, []string{"rt", "init"}, env, files, sys)
			return err
		}
		var err error
		if len(plan.parent) > 0 {
			err = nsenter.RunInNamespaces(plan.parentJoins(), run)
		} else {
			err = run()
		}
		return p, err
	}
	if place.cgroup2 != nil {
		// CLONE_INTO_CGROUP needs clone3 and a kernel of 5.7 or later;
		// without, a plain clone, and the caller moves the child.
		sys.UseCgroupFD, sys.CgroupFD = true, int(place.cgroup2.Fd())
		p, err := start()
		sys.UseCgroupFD = false
		if err == nil {
			place.cloned = true
			return p, nil
		}
		logrus.Debugf("create: clone into %s: %v; moving init there after a plain clone", place.cgroup2.Name(), err)
	}
	return start()
}

// placement is how a new init gets into its cgroups before it runs: the
// entry stage writes 0 to the v1 tasks files (nsenter.CgroupTasks) and
// clone3 puts it in the cgroup2 cgroup (CLONE_INTO_CGROUP). Neither takes
// the kernel's threadgroup lock for writing, which a move by pid does and
// which waits for an RCU grace period (5-15 ms here) unless another move
// happened within the last few ms. tasks is nil where the entry stage
// cannot run (a binary not built by hack/build-rt.sh): the caller then
// moves the child by pid.
type placement struct {
	tasks   []*os.File
	cgroup2 *os.File // the cgroup2 directory, named by its path
	cloned  bool     // the child was cloned into cgroup2
}

func openPlacement(paths map[string]string) (*placement, error) {
	p := &placement{}
	if !nsenter.StageRan() {
		return p, nil
	}
	p.tasks = []*os.File{}
	seen := map[string]bool{}
	for _, key := range slices.Sorted(maps.Keys(paths)) {
		dir := paths[key]
		if seen[dir] {
			continue
		}
		seen[dir] = true
		var f *os.File
		var err error
		if key == cgroups.UnifiedKey {
			f, err = os.OpenFile(dir, os.O_RDONLY|unix.O_DIRECTORY, 0)
			p.cgroup2 = f
		} else {
			f, err = os.OpenFile(dir+"/tasks", os.O_WRONLY, 0)
			if f != nil {
				p.tasks = append(p.tasks, f)
			}
		}
		if err != nil {
			p.close()
			return nil, err
		}
	}
	return p, nil
}

func (p *placement) close() {
	for _, f := range p.tasks {
		f.Close()
	}
	if p.cgroup2 != nil {
		p.cgroup2.Close()
	}
}

// execPath returns "/proc/self/fd/N" for the sealed binary with N above
// every fd the child receives: its fork+exec moves the files into 0.. before it
// resolves the path, which would otherwise name one of them.
func execPath(exe *os.File, extra int) (string, func(), error) {
	fd, err := unix.FcntlInt(exe.Fd(), unix.F_DUPFD_CLOEXEC, 3+extra)
	if err != nil {
		return "", nil, fmt.Errorf("dup sealed binary: %w", err)
	}
	return fmt.Sprintf("/proc/self/fd/%d", fd), func() { unix.Close(fd) }, nil
}

// cleanups undoes create's steps in reverse order.
type cleanups []func()

func (c *cleanups) add(f func()) { *c = append(*c, f) }
func (c *cleanups) run() {
	for i := len(*c) - 1; i >= 0; i-- {
		(*c)[i]()
	}
}

// timer logs the duration of each phase at debug level (--debug).
type timer struct {
	on   bool
	last time.Time
	t0   time.Time
}

func newTimer(on bool) *timer { n := time.Now(); return &timer{on: on, last: n, t0: n} }
func (t *timer) mark(phase string) {
	if !t.on {
		return
	}
	n := time.Now()
	logrus.Debugf("timing: %-32s %8.3f ms (total %.3f ms)", phase, float64(n.Sub(t.last).Microseconds())/1000, float64(n.Sub(t.t0).Microseconds())/1000)
	t.last = n
}

// setResources applies linux.resources (with linux.devices' rules) to the
// container's cgroups.
func setResources(mgr cgroups.Manager, spec *specs.Spec) error {
	if spec.Linux == nil || spec.Linux.Resources == nil {
		return nil
	}
	res := *spec.Linux.Resources
	res.Devices = cgroups.DeviceRules(res.Devices, spec.Linux.Devices)
	if err := mgr.Set(&res); err != nil {
		return fmt.Errorf("set cgroup resources: %w", err)
	}
	return nil
}

// hostHierarchies is our mount table's cgroup hierarchies when the config
// mounts a cgroup filesystem (for rootfs.Config.Hierarchies), else nil.
func hostHierarchies(spec *specs.Spec) []rootfs.Hierarchy {
	if !hasCgroupMount(spec) {
		return nil
	}
	ms, err := cgroups.Mounts()
	if err != nil {
		return nil
	}
	return rootfs.HierarchiesFrom(ms)
}

// rootfsConfig is what rootfs needs of spec, with the root filesystem at
// rootfsPath and the container's cgroups; callers add what depends on how
// the container is started.
func rootfsConfig(spec *specs.Spec, rootfsPath string, cgroupPaths map[string]string) *rootfs.Config {
	linux := spec.Linux
	if linux == nil {
		linux = &specs.Linux{}
	}
	return &rootfs.Config{
		Rootfs:        rootfsPath,
		Readonly:      spec.Root != nil && spec.Root.Readonly,
		Mounts:        spec.Mounts,
		Propagation:   linux.RootfsPropagation,
		Devices:       linux.Devices,
		MaskedPaths:   linux.MaskedPaths,
		ReadonlyPaths: linux.ReadonlyPaths,
		CgroupPaths:   cgroupPaths,
		CgroupNS:      hasNamespace(linux, specs.CgroupNamespace),
		MountLabel:    linux.MountLabel,
	}
}

// hasCgroupMount: the config mounts a cgroup filesystem.
func hasCgroupMount(spec *specs.Spec) bool {
	for _, m := range spec.Mounts {
		if m.Type == "cgroup" || m.Type == "cgroup2" {
			return true
		}
	}
	return false
}

// hooksStep is the parent's part between init's mounts and its pivot_root:
// it compiles the seccomp filter meanwhile, runs the prestart and
// createRuntime hooks on init's msgHooks and answers msgHooksDone with
// init's host pid and the filter.
func (c *Container) hooksStep(parentSync *syncConn, spec *specs.Spec, proc *child, onLog func(level, msg string)) error {
	// Compile the seccomp filter while init builds the root filesystem.
	type compiled struct {
		prog []byte
		err  error
	}
	seccompc := make(chan compiled, 1)
	go func() {
		var r compiled
		if spec.Linux != nil && spec.Linux.Seccomp != nil {
			r.prog, r.err = seccomp.CompileCached(spec.Linux.Seccomp, SeccompCacheDir)
		}
		seccompc <- r
	}()
	if _, err := parentSync.expect(msgHooks, onLog); err != nil {
		return err
	}
	if spec.Hooks != nil {
		hs := c.hookState(Created)
		if err := runHooks("prestart", spec.Hooks.Prestart, hs); err != nil { //nolint:staticcheck // deprecated but still part of the spec
			parentSync.send(syncMsg{Type: msgError, Step: "prestart hook", Error: err.Error()})
			return err
		}
		if err := runHooks("createRuntime", spec.Hooks.CreateRuntime, hs); err != nil {
			parentSync.send(syncMsg{Type: msgError, Step: "createRuntime hook", Error: err.Error()})
			return err
		}
	}
	sc := <-seccompc
	if sc.err != nil {
		parentSync.send(syncMsg{Type: msgError, Step: "seccomp", Error: sc.err.Error()})
		return sc.err
	}
	done := syncMsg{Type: msgHooksDone, Pid: proc.Pid, Seccomp: sc.prog}
	if sc.prog != nil {
		done.SeccompNotify = seccomp.NeedsListener(spec.Linux.Seccomp)
		var err error
		if done.SeccompFlags, err = seccomp.FlagBits(spec.Linux.Seccomp.Flags); err != nil {
			return err
		}
	}
	if err := parentSync.send(done); err != nil {
		return fmt.Errorf("send hooks-done: %w", err)
	}
	return nil
}
