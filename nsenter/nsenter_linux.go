package nsenter

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/rtrun/rt/internal/earlyinit"
)

// Join is one namespace to join: its runtime-spec type, the open namespace
// file in this process (for JoinThread and RunInNamespaces) and the fd number
// the child will hold it at (for EntryEnv; the caller places File there with
// exec.Cmd.ExtraFiles: ExtraFiles[i] becomes fd 3+i).
type Join struct {
	Type    string
	File    *os.File
	ChildFD int
}

// nsEntry is a runtime-spec namespace type, its CLONE_NEW* flag and its
// entry stage letter (0: the entry stage cannot join it).
type nsEntry struct {
	name   string
	flag   uintptr
	letter byte
}

// nsTypes is a table rather than a map: a map literal is built at the start
// of every rt process, the container's init included.
var nsTypes = []nsEntry{
	{"pid", unix.CLONE_NEWPID, 0},
	{"network", unix.CLONE_NEWNET, 'n'},
	{"mount", unix.CLONE_NEWNS, 'm'},
	{"ipc", unix.CLONE_NEWIPC, 'i'},
	{"uts", unix.CLONE_NEWUTS, 'h'},
	{"user", unix.CLONE_NEWUSER, 'u'},
	{"cgroup", unix.CLONE_NEWCGROUP, 'c'},
	{"time", unix.CLONE_NEWTIME, 't'},
}

// lookupNSType returns the entry of nsTypes for a runtime-spec type.
func lookupNSType(name string) (nsEntry, bool) {
	for _, t := range nsTypes {
		if t.name == name {
			return t, true
		}
	}
	return nsEntry{}, false
}

// CloneFlag returns the CLONE_NEW* flag of a runtime-spec namespace type.
func CloneFlag(nsType string) (uintptr, error) {
	t, ok := lookupNSType(nsType)
	if !ok {
		return 0, fmt.Errorf("unknown namespace type %q", nsType)
	}
	return t.flag, nil
}

// typeName is the inverse of CloneFlag, for error messages.
func typeName(flag uintptr) string {
	for _, t := range nsTypes {
		if t.flag == flag {
			return t.name
		}
	}
	return fmt.Sprintf("unknown (%#x)", flag)
}

// OpenNamespace opens a namespace file (linux.namespaces[].path) and checks
// with ioctl(NS_GET_NSTYPE) that it is a namespace of type nsType, as the
// runtime spec requires. The file is close-on-exec.
func OpenNamespace(path, nsType string) (*os.File, error) {
	want, err := CloneFlag(nsType)
	if err != nil {
		return nil, fmt.Errorf("namespace path %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s namespace: %w", nsType, err)
	}
	got, err := unix.IoctlRetInt(int(f.Fd()), unix.NS_GET_NSTYPE)
	if err != nil {
		f.Close()
		if errors.Is(err, unix.ENOTTY) {
			return nil, fmt.Errorf("namespace path %s is not a namespace file (want a namespace of type %s)", path, nsType)
		}
		return nil, fmt.Errorf("namespace path %s: ioctl NS_GET_NSTYPE: %w", path, err)
	}
	if uintptr(got) != want {
		f.Close()
		return nil, fmt.Errorf("namespace path %s is a namespace of type %s, not %s", path, typeName(uintptr(got)), nsType)
	}
	return f, nil
}

// JoinThread joins the calling OS thread to the namespace f of type nsType.
// The caller must have called runtime.LockOSThread and must never unlock the
// thread, which is in namespaces no other goroutine expects. user and time
// namespaces cannot be joined this way (the kernel requires a single-threaded
// process): pass them to the child's entry stage with EntryEnv. Joining a pid
// namespace only affects children started from this thread.
func JoinThread(f *os.File, nsType string) error {
	flag, err := CloneFlag(nsType)
	if err != nil {
		return err
	}
	if flag == unix.CLONE_NEWUSER || flag == unix.CLONE_NEWTIME {
		return fmt.Errorf("join %s namespace %s from a thread: the kernel allows it only in a single-threaded process; use the child's entry stage (EntryEnv)", nsType, f.Name())
	}
	if flag == unix.CLONE_NEWNS {
		// setns(CLONE_NEWNS) fails with EINVAL while the thread shares its
		// root and cwd with the rest of the process.
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			return fmt.Errorf("join mount namespace %s: unshare CLONE_FS: %w", f.Name(), err)
		}
	}
	if err := unix.Setns(int(f.Fd()), int(flag)); err != nil {
		return fmt.Errorf("join %s namespace %s: setns: %w", nsType, f.Name(), err)
	}
	return nil
}

// RunInNamespaces runs fn on a fresh OS thread that has joined joins in order
// (with JoinThread) and returns fn's error, or the first join's error without
// running fn. Processes fn starts inherit the namespaces (for pid, they are
// started in it). The thread is discarded afterwards, never reused.
func RunInNamespaces(joins []Join, fn func() error) error {
	return OnDiscardedThread(func() error {
		for _, j := range joins {
			if err := JoinThread(j.File, j.Type); err != nil {
				return err
			}
		}
		return fn()
	})
}

// OnDiscardedThread runs fn on a locked OS thread that the Go runtime ends
// when fn returns, never returning it, in foreign namespaces or with
// foreign credentials, to the pool. That thread is never the main thread:
// Go does not end the main thread (it parks it forever), so changes to it
// would stay with the process. If the goroutine starts on the main thread,
// it keeps that thread while a second goroutine, necessarily on another
// thread, runs fn.
//
// It returns once that thread is gone, not only done: until then the
// thread is still in whatever cgroups fn joined, where a `delete -f` of
// that container would find this process and kill it, or freeze the
// thread mid-exit with a runtime lock held.
//
// The goroutines start with their stack grown to 64 KiB (earlyinit.Grown):
// fn may go deep, and growing later would walk its frames through pclntab,
// which costs RSS (see internal/earlyinit).
func OnDiscardedThread(fn func() error) error {
	type result struct {
		err   error
		pidfd int // the thread's (PIDFD_THREAD), readable once it exited
	}
	res := make(chan result, 1)
	work := func() {
		err := fn()
		fd, perr := unix.PidfdOpen(unix.Gettid(), unix.PIDFD_THREAD)
		if perr != nil {
			fd = -1 // Linux < 6.9: the exit is not waited for
		}
		res <- result{err, fd}
	}
	go earlyinit.Grown(func() {
		runtime.LockOSThread()
		if unix.Gettid() != unix.Getpid() {
			work() // never unlocked: the thread ends with this goroutine
			return
		}
		inner := make(chan struct{})
		go earlyinit.Grown(func() {
			runtime.LockOSThread()
			defer close(inner)
			work()
		})
		<-inner
		runtime.UnlockOSThread()
	})
	r := <-res
	if r.pidfd >= 0 {
		pfd := []unix.PollFd{{Fd: int32(r.pidfd), Events: unix.POLLIN}}
		for {
			if _, err := unix.Poll(pfd, -1); err != unix.EINTR {
				break
			}
		}
		unix.Close(r.pidfd)
	}
	return r.err
}

// CgroupTasks is a Join type that is no namespace: File is a cgroup v1
// "tasks" file (opened for writing by the parent), and the entry stage
// writes "0" to it. That moves the child's only thread, and so the child,
// into the cgroup before any of its code runs, and without the kernel's
// threadgroup lock, which a move by pid takes for writing: that waits for
// an RCU grace period (5-15 ms here) unless another move happened just
// before. Put these first, before a user namespace is joined.
const CgroupTasks = "cgroup tasks"

// EntryEnv returns the "NAME=value" environment entry that makes the child's
// entry stage join joins in order, each from its ChildFD. Order matters: a
// namespace owned by a user namespace is best joined after that user
// namespace, one owned by the host before it. pid cannot be joined there.
func EntryEnv(joins []Join) (string, error) {
	var b strings.Builder
	b.WriteString(EnvName + "=")
	for _, j := range joins {
		t, ok := lookupNSType(j.Type)
		if j.Type == CgroupTasks {
			t, ok = nsEntry{name: CgroupTasks, letter: 'g'}, true
		}
		if !ok {
			return "", fmt.Errorf("unknown namespace type %q", j.Type)
		}
		if t.letter == 0 {
			return "", fmt.Errorf("%s namespace cannot be joined by the child's entry stage; join it in the parent (RunInNamespaces)", j.Type)
		}
		if j.ChildFD < 0 || j.ChildFD > 9_999_999 {
			return "", fmt.Errorf("join %s namespace: child fd %d out of range", j.Type, j.ChildFD)
		}
		b.WriteByte(t.letter)
		b.WriteString(strconv.Itoa(j.ChildFD))
	}
	return b.String(), nil
}
