package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// fdPath names a handle for mount(2) so the kernel uses the object we
// resolved instead of walking a path string again.
func fdPath(f *os.File) string { return "/proc/self/fd/" + strconv.Itoa(int(f.Fd())) }

func openRoot(path string) (*os.File, error) {
	f, err := os.OpenFile(path, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open rootfs: %w", err)
	}
	return f, nil
}

// cleanDest makes a mount destination absolute inside the container; the
// spec (1.3) treats a relative destination as relative to "/".
func cleanDest(dest string) string { return filepath.Clean("/" + dest) }

// openDest opens the destination inside root, creating it (a directory, or
// an empty file when file is set) when missing. Nothing is created through
// a symlink that leaves the rootfs: all lookups are scoped to root.
func openDest(root *os.File, dest string, file bool) (*os.File, error) {
	if dest == "/" {
		return nil, errors.New("destination is the rootfs itself")
	}
	f, err := pathrs.OpenatInRoot(root, dest)
	if err == nil {
		return f, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("open %s in rootfs: %w", dest, err)
	}
	if !file {
		d, err := pathrs.MkdirAllHandle(root, dest, 0o755)
		if err != nil {
			return nil, fmt.Errorf("mkdir %s in rootfs: %w", dest, err)
		}
		return d, nil
	}
	dir, err := pathrs.MkdirAllHandle(root, filepath.Dir(dest), 0o755)
	if err != nil {
		return nil, fmt.Errorf("mkdir %s in rootfs: %w", filepath.Dir(dest), err)
	}
	defer dir.Close()
	if err := createFileAt(dir, filepath.Base(dest)); err != nil {
		return nil, fmt.Errorf("create %s in rootfs: %w", dest, err)
	}
	f, err = pathrs.OpenatInRoot(root, dest)
	if err != nil {
		return nil, fmt.Errorf("open %s in rootfs: %w", dest, err)
	}
	return f, nil
}

// createFileAt creates an empty mountpoint file; O_NOFOLLOW|O_EXCL refuses
// to write through a symlink planted at name.
func createFileAt(dir *os.File, name string) error {
	fd, err := unix.Openat(int(dir.Fd()), name, unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_RDONLY|unix.O_CLOEXEC, 0o644)
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
func reopenMounted(root *os.File, dest string) (*os.File, error) {
	f, err := pathrs.OpenatInRoot(root, dest)
	if err != nil {
		return nil, fmt.Errorf("reopen %s after mount: %w", dest, err)
	}
	ok, err := sys.IsMountRoot(int(f.Fd()))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("statx %s after mount: %w", dest, err)
	}
	if !ok {
		f.Close()
		return nil, fmt.Errorf("%s is not a mount point after mounting (raced with a rename?)", dest)
	}
	return f, nil
}

// mountEntry applies one entry of the config's mounts list.
func mountEntry(c *Config, root *os.File, m specs.Mount) error {
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
func remountEntry(root *os.File, m specs.Mount, dest string, opts *MountOptions) error {
	f, err := pathrs.OpenatInRoot(root, dest)
	if err != nil {
		return fmt.Errorf("open %s in rootfs: %w", dest, err)
	}
	defer f.Close()
	if err := sys.Mount(m.Source, fdPath(f), m.Type, opts.Flags, opts.Data); err != nil {
		return fmt.Errorf("remount: %w", err)
	}
	return applyAfter(f, opts)
}

func mountBind(c *Config, root *os.File, source, dest string, opts *MountOptions) error {
	if !filepath.IsAbs(source) {
		return fmt.Errorf("bind source %q is not absolute (resolve it against the bundle first)", source)
	}
	src, err := os.OpenFile(source, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open bind source: %w", err)
	}
	defer src.Close()
	st, err := src.Stat()
	if err != nil {
		return fmt.Errorf("stat bind source: %w", err)
	}
	dst, err := openDest(root, dest, !st.IsDir())
	if err != nil {
		return err
	}
	defer dst.Close()
	if err := sys.Mount(fdPath(src), fdPath(dst), "", unix.MS_BIND|opts.Flags&unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind %s: %w", source, err)
	}
	mnt, err := reopenMounted(root, dest)
	if err != nil {
		return err
	}
	defer mnt.Close()
	// A bind mount ignores every flag but MS_REC; a remount applies them.
	if opts.Flags&^(unix.MS_BIND|unix.MS_REC|unix.MS_REMOUNT) != 0 {
		if err := remountBind(mnt, opts.Flags&^unix.MS_REC); err != nil {
			return err
		}
	}
	return applyAfter(mnt, opts)
}

// remountBind applies flags to a bind mount. In a user namespace the kernel
// refuses to clear flags that are locked on the source (nodev, nosuid, ...)
// with EPERM, so like runc we retry keeping the source's flags.
func remountBind(mnt *os.File, flags uintptr) error {
	flags |= unix.MS_BIND | unix.MS_REMOUNT
	err := sys.Mount("", fdPath(mnt), "", flags, "")
	if !errors.Is(err, unix.EPERM) {
		if err != nil {
			return fmt.Errorf("remount bind with flags %#x: %w", flags, err)
		}
		return nil
	}
	var s unix.Statfs_t
	if err := unix.Fstatfs(int(mnt.Fd()), &s); err != nil {
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

// applyAfter sets propagation (one mount(2) call each) and the recursive
// attributes on a freshly made mount.
func applyAfter(mnt *os.File, opts *MountOptions) error {
	for _, p := range opts.Propagation {
		if err := sys.Mount("", fdPath(mnt), "", p, ""); err != nil {
			return fmt.Errorf("set propagation %#x: %w", p, err)
		}
	}
	if opts.HasRecAttr() {
		attr := unix.MountAttr{Attr_set: opts.RecAttrSet, Attr_clr: opts.RecAttrClr}
		if err := sys.MountSetattr(int(mnt.Fd()), "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &attr); err != nil {
			return fmt.Errorf("mount_setattr(set=%#x, clr=%#x): %w", attr.Attr_set, attr.Attr_clr, err)
		}
	}
	return nil
}

// delayReadonly reports whether MS_RDONLY is applied in Finish instead:
// devices go into /dev and tmpfs mounts may be written first (runc).
func delayReadonly(typ, dest string) bool { return typ == "tmpfs" || dest == "/dev" }

// mountFS mounts a filesystem (proc, sysfs, tmpfs, devpts, mqueue, ...).
func mountFS(c *Config, root *os.File, m specs.Mount, dest string, opts *MountOptions) error {
	if m.Type == "" {
		return errors.New("type is empty and options have no bind")
	}
	dst, err := openDest(root, dest, false)
	if err != nil {
		return err
	}
	defer dst.Close()
	flags := opts.Flags
	if delayReadonly(m.Type, dest) {
		flags &^= unix.MS_RDONLY
	}
	source := m.Source
	if source == "" {
		source = m.Type
	}
	bound := false
	err = sys.Mount(source, fdPath(dst), m.Type, flags, opts.Data)
	if errors.Is(err, unix.EPERM) && c.UserNS {
		err = userNSFallback(m.Type, dst)
		bound = err == nil
	}
	if err != nil {
		return fmt.Errorf("mount %s: %w", m.Type, err)
	}
	mnt, err := reopenMounted(root, dest)
	if err != nil {
		return err
	}
	defer mnt.Close()
	if bound && flags&^unix.MS_REC != 0 {
		if err := remountBind(mnt, flags&^unix.MS_REC); err != nil {
			return err
		}
	}
	if opts.Tmpcopyup && m.Type == "tmpfs" {
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
func userNSFallback(typ string, dst *os.File) error {
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
