package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// cleanDest makes a mount destination absolute inside the container; the
// spec (1.3) treats a relative destination as relative to "/".
func cleanDest(dest string) string { return filepath.Clean("/" + dest) }

// openDest opens the destination inside root, creating it (a directory, or
// an empty file when file is set) when missing. Nothing is created through
// a symlink that leaves the rootfs: all lookups are scoped to root.
func openDest(root *rootDir, dest string, file bool) (int, error) {
	if dest == "/" {
		return -1, errors.New("destination is the rootfs itself")
	}
	fd, err := root.open(dest, 0)
	if err == nil {
		// A symlink such as /a -> / makes "/a" the rootfs itself.
		if sameFile(fd, root.fd) {
			unix.Close(fd)
			return -1, fmt.Errorf("destination %s resolves to the rootfs itself", dest)
		}
		return fd, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return -1, fmt.Errorf("open %s in rootfs: %w", dest, err)
	}
	if !file {
		d, err := root.mkdirMissing(dest)
		if err != nil {
			return -1, fmt.Errorf("mkdir %s in rootfs: %w", dest, err)
		}
		return d, nil
	}
	dir, err := root.mkdirAll(filepath.Dir(dest))
	if err != nil {
		return -1, fmt.Errorf("mkdir %s in rootfs: %w", filepath.Dir(dest), err)
	}
	defer unix.Close(dir)
	if err := createFileAt(dir, filepath.Base(dest)); err != nil {
		return -1, fmt.Errorf("create %s in rootfs: %w", dest, err)
	}
	fd, err = root.open(dest, 0)
	if err != nil {
		return -1, fmt.Errorf("open %s in rootfs: %w", dest, err)
	}
	return fd, nil
}

// noSymlinks checks that dest resolves inside root without any symlink, to
// the directory dst already names.
func noSymlinks(root *rootDir, dest string, dst int) error {
	fd, err := openat2(root.fd, dest, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC | unix.O_DIRECTORY,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_SYMLINKS,
	})
	if err == unix.ENOSYS {
		return nil // no openat2 (before 5.6): openDest's scoped lookup is all there is
	}
	if err != nil {
		if err == unix.ELOOP {
			return fmt.Errorf("%s goes through a symlink", dest)
		}
		return fmt.Errorf("%s: %w", dest, err)
	}
	defer unix.Close(fd)
	if !sameFile(fd, dst) {
		return fmt.Errorf("%s changed while it was being resolved", dest)
	}
	return nil
}

// sameFile reports whether two fds name the same inode.
func sameFile(a, b int) bool {
	var sa, sb unix.Stat_t
	return unix.Fstat(a, &sa) == nil && unix.Fstat(b, &sb) == nil && sa.Dev == sb.Dev && sa.Ino == sb.Ino
}

// createFileAt creates an empty mountpoint file; O_NOFOLLOW|O_EXCL refuses
// to write through a symlink planted at name.
func createFileAt(dir int, name string) error {
	fd, err := unix.Openat(dir, name, unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_RDONLY|unix.O_CLOEXEC, 0o644)
	if errors.Is(err, unix.EEXIST) {
		return nil
	}
	if err != nil {
		return err
	}
	return unix.Close(fd)
}

// reopenMounted re-resolves dest after a mount: the old handle still points
// below the new mount, and remounts or propagation changes must reach the
// new one.
func reopenMounted(root *rootDir, dest string) (int, error) {
	fd, err := root.open(dest, 0)
	if err != nil {
		return -1, fmt.Errorf("reopen %s after mount: %w", dest, err)
	}
	if err := checkMountRoot(fd, dest); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// reopenMountedAt is reopenMounted for one component in a directory we
// hold (a cgroup tmpfs we just mounted): no symlink is followed.
func reopenMountedAt(dir int, name, dest string) (int, error) {
	fd, err := unix.Openat(dir, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("reopen %s after mount: %w", dest, err)
	}
	if err := checkMountRoot(fd, dest); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

func checkMountRoot(fd int, dest string) error {
	ok, err := sys.IsMountRoot(fd)
	if err != nil {
		return fmt.Errorf("statx %s after mount: %w", dest, err)
	}
	if !ok {
		return fmt.Errorf("%s is not a mount point after mounting (raced with a rename?)", dest)
	}
	return nil
}

// mountEntry applies one entry of the config's mounts list.
func mountEntry(c *Config, root *rootDir, m specs.Mount) error {
	if m.Destination == "" {
		return errors.New("destination is empty")
	}
	opts, err := ParseMountOptions(m.Options)
	if err != nil {
		return err
	}
	if opts.Idmap || opts.Ridmap {
		return errors.New("idmap mounts are not supported")
	}
	dest := cleanDest(m.Destination)
	if m.Type == "bind" {
		opts.Flags |= unix.MS_BIND
	}
	switch {
	case opts.Flags&unix.MS_REMOUNT != 0:
		return remountEntry(root, m, dest, &opts)
	case opts.IsBind():
		return mountBind(c, root, m.Source, dest, &opts)
	case m.Type == "cgroup" || m.Type == "cgroup2":
		return mountCgroup(c, root, m, dest, &opts)
	default:
		return mountFS(c, root, m, dest, &opts)
	}
}

// remountEntry changes an existing mount ("remount" in the options).
func remountEntry(root *rootDir, m specs.Mount, dest string, opts *MountOptions) error {
	fd, err := root.open(dest, 0)
	if err != nil {
		return fmt.Errorf("open %s in rootfs: %w", dest, err)
	}
	defer unix.Close(fd)
	if err := sys.Mount(m.Source, fdPath(fd), m.Type, opts.Flags, opts.Data); err != nil {
		return fmt.Errorf("remount: %w", err)
	}
	return applyAfter(fd, opts)
}

func mountBind(c *Config, root *rootDir, source, dest string, opts *MountOptions) error {
	if !filepath.IsAbs(source) {
		return fmt.Errorf("bind source %q is not absolute (resolve it against the bundle first)", source)
	}
	src, err := unix.Open(source, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open bind source: %w", &os.PathError{Op: "open", Path: source, Err: err})
	}
	defer unix.Close(src)
	var st unix.Stat_t
	if err := unix.Fstat(src, &st); err != nil {
		return fmt.Errorf("stat bind source: %w", err)
	}
	dst, err := openDest(root, dest, st.Mode&unix.S_IFMT != unix.S_IFDIR)
	if err != nil {
		return err
	}
	defer unix.Close(dst)
	if err := sys.Mount(fdPath(src), fdPath(dst), "", unix.MS_BIND|opts.Flags&unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind %s: %w", source, err)
	}
	// A bind mount ignores every flag but MS_REC; a remount applies them.
	remount := opts.Flags&^(unix.MS_BIND|unix.MS_REC|unix.MS_REMOUNT) != 0
	if !remount && !opts.needsAfter() {
		return nil
	}
	mnt, err := reopenMounted(root, dest)
	if err != nil {
		return err
	}
	defer unix.Close(mnt)
	if remount {
		if err := remountBind(mnt, opts.Flags&^unix.MS_REC); err != nil {
			return err
		}
	}
	return applyAfter(mnt, opts)
}

// remountBind applies flags to a bind mount. In a user namespace the kernel
// refuses to clear flags that are locked on the source (nodev, nosuid, ...)
// with EPERM, so like runc we retry keeping the source's flags.
func remountBind(mnt int, flags uintptr) error {
	flags |= unix.MS_BIND | unix.MS_REMOUNT
	err := sys.Mount("", fdPath(mnt), "", flags, "")
	if !errors.Is(err, unix.EPERM) {
		if err != nil {
			return fmt.Errorf("remount bind with flags %#x: %w", flags, err)
		}
		return nil
	}
	var s unix.Statfs_t
	if err := unix.Fstatfs(mnt, &s); err != nil {
		return fmt.Errorf("statfs for locked flags: %w", err)
	}
	flags |= lockedFlags(uintptr(s.Flags), flags)
	if err := sys.Mount("", fdPath(mnt), "", flags, ""); err != nil {
		return fmt.Errorf("remount bind with flags %#x (kept locked flags of the source): %w", flags, err)
	}
	return nil
}

// lockedFlags returns the statfs flags of a source that a remount must keep:
// nodev/nosuid/noexec/ro, and its atime mode unless the caller chose one.
func lockedFlags(st, want uintptr) uintptr {
	keep := st & (unix.ST_NODEV | unix.ST_NOSUID | unix.ST_NOEXEC | unix.ST_RDONLY)
	const atime = unix.MS_NOATIME | unix.MS_RELATIME | unix.MS_STRICTATIME
	if want&atime == 0 {
		keep |= st & (unix.ST_NOATIME | unix.ST_RELATIME)
	}
	if want&unix.MS_NODIRATIME == 0 {
		keep |= st & unix.ST_NODIRATIME
	}
	return keep
}

// needsAfter reports whether applyAfter has anything to do, so a mount
// that needs nothing more is not re-opened.
func (o *MountOptions) needsAfter() bool { return len(o.Propagation) > 0 || o.HasRecAttr() }

// applyAfter sets propagation (one mount(2) call each) and the recursive
// attributes on a freshly made mount.
func applyAfter(mnt int, opts *MountOptions) error {
	for _, p := range opts.Propagation {
		if err := sys.Mount("", fdPath(mnt), "", p, ""); err != nil {
			return fmt.Errorf("set propagation %#x: %w", p, err)
		}
	}
	if opts.HasRecAttr() {
		attr := unix.MountAttr{Attr_set: opts.RecAttrSet, Attr_clr: opts.RecAttrClr}
		if err := sys.MountSetattr(mnt, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &attr); err != nil {
			return fmt.Errorf("mount_setattr(set=%#x, clr=%#x): %w", attr.Attr_set, attr.Attr_clr, err)
		}
	}
	return nil
}

// delayReadonly reports whether MS_RDONLY is applied in Finish instead:
// devices go into /dev and tmpfs mounts may be written first (runc).
func delayReadonly(typ, dest string) bool { return typ == "tmpfs" || dest == "/dev" }

// mountFS mounts a filesystem (proc, sysfs, tmpfs, devpts, mqueue, ...).
func mountFS(c *Config, root *rootDir, m specs.Mount, dest string, opts *MountOptions) error {
	if m.Type == "" {
		return errors.New("type is empty and options have no bind")
	}
	dst, err := openDest(root, dest, false)
	if err != nil {
		return err
	}
	defer unix.Close(dst)
	if m.Type == "proc" || m.Type == "sysfs" {
		// Like runc: on an ordinary directory only. A symlink in the
		// image could point into a volume another container swaps, and
		// the masked and read-only paths below it would then be looked up
		// in the wrong place (CVE-2025-52881, CVE-2019-16884 family).
		if err := noSymlinks(root, dest, dst); err != nil {
			return fmt.Errorf("filesystem %s must be mounted on an ordinary directory: %w", m.Type, err)
		}
	}
	flags := opts.Flags
	if delayReadonly(m.Type, dest) {
		flags &^= unix.MS_RDONLY
	}
	source := m.Source
	if source == "" {
		source = m.Type
	}
	bound := false
	if m.Type == "proc" && c.ProcPidNS != nil {
		err = mountProcPidNS(c.ProcPidNS, source, dst, flags, opts.Data)
	} else {
		err = sys.Mount(source, fdPath(dst), m.Type, flags, opts.Data)
	}
	if errors.Is(err, unix.EPERM) && c.UserNS {
		err = userNSFallback(m.Type, dst)
		bound = err == nil
	}
	if err != nil {
		return fmt.Errorf("mount %s: %w", m.Type, err)
	}
	remount := bound && flags&^unix.MS_REC != 0
	copyup := opts.Tmpcopyup && m.Type == "tmpfs"
	if !remount && !copyup && !opts.needsAfter() {
		return nil // the common case: mount(2) took every flag
	}
	mnt, err := reopenMounted(root, dest)
	if err != nil {
		return err
	}
	defer unix.Close(mnt)
	if remount {
		if err := remountBind(mnt, flags&^unix.MS_REC); err != nil {
			return err
		}
	}
	if copyup {
		// dst still refers to the directory now hidden by the tmpfs.
		if err := copyUp(dst, mnt); err != nil {
			return fmt.Errorf("tmpcopyup %s: %w", dest, err)
		}
	}
	return applyAfter(mnt, opts)
}

// userNSFallback binds the host's instance when a user namespace may not
// mount a fresh one (sysfs without a network namespace, mqueue without an
// ipc namespace), as runc does.
func userNSFallback(typ string, dst int) error {
	var host string
	switch typ {
	case "sysfs":
		host = "/sys"
	case "mqueue":
		host = "/dev/mqueue"
	default:
		return unix.EPERM
	}
	if err := sys.Mount(host, fdPath(dst), "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind host %s (user namespace fallback): %w", host, err)
	}
	return nil
}

// procAttrs are the mount(2) flags a proc mount may have, as mount
// attributes of the new mount API.
var procAttrs = [...]struct {
	flag uintptr
	attr uint64
}{
	{unix.MS_RDONLY, unix.MOUNT_ATTR_RDONLY},
	{unix.MS_NOSUID, unix.MOUNT_ATTR_NOSUID},
	{unix.MS_NODEV, unix.MOUNT_ATTR_NODEV},
	{unix.MS_NOEXEC, unix.MOUNT_ATTR_NOEXEC},
	{unix.MS_NOATIME, unix.MOUNT_ATTR_NOATIME},
	{unix.MS_STRICTATIME, unix.MOUNT_ATTR_STRICTATIME},
	{unix.MS_NODIRATIME, unix.MOUNT_ATTR_NODIRATIME},
}

// ProcFlagsOK reports whether a proc mount with these mount(2) flags can be
// made with mountProcPidNS.
func ProcFlagsOK(flags uintptr) bool {
	for _, a := range procAttrs {
		flags &^= a.flag
	}
	return flags&^(unix.MS_REC|unix.MS_SILENT|unix.MS_RELATIME) == 0
}

// ProcPidNSSupported reports whether procfs takes the pidns option (Linux
// 6.18): an fs context for proc accepts this process's own pid namespace.
func ProcPidNSSupported() bool {
	fs, err := unix.Fsopen("proc", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return false
	}
	defer unix.Close(fs)
	ns, err := unix.Open("/proc/self/ns/pid", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(ns)
	return unix.FsconfigSetFd(fs, "pidns", ns) == nil
}

// mountProcPidNS mounts a proc filesystem showing the pid namespace pidns
// onto dst, with the new mount API: mount(2) can only make one for the
// caller's own pid namespace. The options are procfs's own (hidepid=...,
// subset=...).
func mountProcPidNS(pidns *os.File, source string, dst int, flags uintptr, data string) error {
	if !ProcFlagsOK(flags) {
		return fmt.Errorf("proc mount flags %#x: not expressible as mount attributes", flags)
	}
	fs, err := unix.Fsopen("proc", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return fmt.Errorf("fsopen: %w", err)
	}
	defer unix.Close(fs)
	if err := unix.FsconfigSetString(fs, "source", source); err != nil {
		return fmt.Errorf("fsconfig source: %w", err)
	}
	if err := unix.FsconfigSetFd(fs, "pidns", int(pidns.Fd())); err != nil {
		return fmt.Errorf("fsconfig pidns: %w", err)
	}
	for _, o := range strings.Split(data, ",") {
		if o == "" {
			continue
		}
		k, v, hasValue := strings.Cut(o, "=")
		if hasValue {
			err = unix.FsconfigSetString(fs, k, v)
		} else {
			err = unix.FsconfigSetFlag(fs, k)
		}
		if err != nil {
			return fmt.Errorf("fsconfig %s: %w", o, err)
		}
	}
	if err := unix.FsconfigCreate(fs); err != nil {
		return fmt.Errorf("fsconfig create: %w", err)
	}
	var attrs uint64
	for _, a := range procAttrs {
		if flags&a.flag != 0 {
			attrs |= a.attr
		}
	}
	mnt, err := unix.Fsmount(fs, unix.FSMOUNT_CLOEXEC, int(attrs))
	if err != nil {
		return fmt.Errorf("fsmount: %w", err)
	}
	defer unix.Close(mnt)
	if err := unix.MoveMount(mnt, "", dst, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
		return fmt.Errorf("move_mount: %w", err)
	}
	return nil
}
