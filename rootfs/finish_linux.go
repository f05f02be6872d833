package rootfs

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Finish runs after Pivot and after the caller has set up the console:
// linux.readonlyPaths, linux.maskedPaths, the read-only remount of tmpfs
// and /dev mounts that asked for "ro" (delayed so they could be filled),
// and finally root.readonly.
func Finish(c *Config) error { return FinishIn(c, newRoot) }

// FinishIn is Finish for the root filesystem at dir, before pivot_root
// (run's direct init: its /proc after pivot_root is the container's, which
// the thread doing the work is not in, so "/proc/self/fd/N" would not
// resolve).
func FinishIn(c *Config, dir string) error {
	root, err := openRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	for i, p := range c.ReadonlyPaths {
		if err := readonlyPath(root, p); err != nil {
			return fmt.Errorf("linux.readonlyPaths[%d] %s: %w", i, p, err)
		}
	}
	devNull := -1
	defer func() {
		if devNull >= 0 {
			unix.Close(devNull)
		}
	}()
	for i, p := range c.MaskedPaths {
		if err := maskPath(root, &devNull, p); err != nil {
			return fmt.Errorf("linux.maskedPaths[%d] %s: %w", i, p, err)
		}
	}
	for i, m := range c.Mounts {
		opts, err := ParseMountOptions(m.Options)
		if err != nil {
			return fmt.Errorf("mounts[%d]: %w", i, err)
		}
		dest := cleanDest(m.Destination)
		if opts.IsBind() || m.Type == "bind" || opts.Flags&unix.MS_RDONLY == 0 || !delayReadonly(m.Type, dest) {
			continue
		}
		if err := remountReadonly(root, dest, opts.Flags); err != nil {
			return fmt.Errorf("mounts[%d] (%s on %s): %w", i, m.Type, m.Destination, err)
		}
	}
	if c.Readonly {
		if err := remountBind(root.fd, unix.MS_RDONLY); err != nil {
			return fmt.Errorf("root.readonly: %w", err)
		}
	}
	return nil
}

// remountReadonly makes the mount at dest read-only with a per-mount
// (MS_BIND) remount: a superblock remount of a shared superblock such as
// devtmpfs would make the host's /dev read-only too.
func remountReadonly(root *rootDir, dest string, flags uintptr) error {
	fd, err := root.open(dest, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", dest, err)
	}
	defer unix.Close(fd)
	// The remount replaces the mount's flags, so the others are passed too.
	return remountBind(fd, flags&^(unix.MS_BIND|unix.MS_REC|unix.MS_REMOUNT)|unix.MS_RDONLY)
}

// readonlyPath binds path onto itself and makes the whole subtree
// read-only; a missing path is ignored.
func readonlyPath(root *rootDir, path string) error {
	dest := cleanDest(path)
	fd, err := root.open(dest, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	defer unix.Close(fd)
	if err := sys.Mount(fdPath(fd), fdPath(fd), "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind onto itself: %w", err)
	}
	mnt, err := reopenMounted(root, dest)
	if err != nil {
		return err
	}
	defer unix.Close(mnt)
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
	err = sys.MountSetattr(mnt, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &attr)
	if errors.Is(err, unix.ENOSYS) {
		return remountBind(mnt, unix.MS_RDONLY) // kernel < 5.12: top mount only
	}
	if err != nil {
		return fmt.Errorf("mount_setattr read-only: %w", err)
	}
	return nil
}

// maskPath hides path: /dev/null over a file, an empty read-only tmpfs
// over a directory. A missing path is ignored.
func maskPath(root *rootDir, devNull *int, path string) error {
	fd, err := root.open(cleanDest(path), 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("stat: %w", err)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		if err := sys.Mount("tmpfs", fdPath(fd), "tmpfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
			return fmt.Errorf("mount read-only tmpfs: %w", err)
		}
		return nil
	}
	if *devNull < 0 {
		if *devNull, err = openDevNull(root); err != nil {
			return err
		}
	}
	if err := sys.Mount(fdPath(*devNull), fdPath(fd), "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind /dev/null: %w", err)
	}
	return nil
}

// openDevNull opens the container's /dev/null and checks it really is the
// null device: a container that replaced it (with a symlink to a procfs
// file, CVE-2025-31133) would otherwise get that file bind-mounted
// read-write over the masked paths.
func openDevNull(root *rootDir) (int, error) {
	dev, err := root.open("/dev", unix.O_DIRECTORY)
	if err != nil {
		return -1, fmt.Errorf("open /dev: %w", err)
	}
	defer unix.Close(dev)
	fd, st, err := openNoFollow(dev, "null")
	if err != nil {
		return -1, fmt.Errorf("/dev/null is not the null device, refusing to mask with it: %w", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != unix.Mkdev(1, 3) {
		unix.Close(fd)
		return -1, fmt.Errorf("/dev/null is not the null device (char 1:3), refusing to mask with it")
	}
	return fd, nil
}

const ptySlaveMajor = 136 // UNIX98_PTY_SLAVE_MAJOR; 8 majors are reserved

// MountConsole binds the pty slave at slavePath (e.g. "/dev/pts/0", in the
// container's devpts) onto /dev/console, creating the mount point. Call it
// after Pivot. The slave must be a pty on devpts and /dev/console must not
// be a symlink, so a prepared rootfs cannot redirect the bind
// (CVE-2025-52565).
func MountConsole(slavePath string) error {
	root, err := openRoot(newRoot)
	if err != nil {
		return err
	}
	defer root.Close()
	slave, err := root.open(cleanDest(slavePath), 0)
	if err != nil {
		return fmt.Errorf("open console %s: %w", slavePath, err)
	}
	defer unix.Close(slave)
	var st unix.Stat_t
	if err := unix.Fstat(slave, &st); err != nil {
		return fmt.Errorf("stat console %s: %w", slavePath, err)
	}
	var fs unix.Statfs_t
	if err := unix.Fstatfs(slave, &fs); err != nil {
		return fmt.Errorf("statfs console %s: %w", slavePath, err)
	}
	major := unix.Major(st.Rdev)
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || major < ptySlaveMajor || major >= ptySlaveMajor+8 || fs.Type != unix.DEVPTS_SUPER_MAGIC {
		return fmt.Errorf("console %s is not a pty slave on devpts", slavePath)
	}
	dev, err := root.mkdirAll("/dev")
	if err != nil {
		return fmt.Errorf("mkdir /dev: %w", err)
	}
	defer unix.Close(dev)
	if err := createFileAt(dev, "console"); err != nil {
		return fmt.Errorf("create /dev/console: %w", err)
	}
	console, _, err := openNoFollow(dev, "console")
	if err != nil {
		return fmt.Errorf("/dev/console: %w", err)
	}
	defer unix.Close(console)
	if err := sys.Mount(fdPath(slave), fdPath(console), "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind %s onto /dev/console: %w", slavePath, err)
	}
	return nil
}

// MkdirIn creates path, with any missing parents, inside the root
// filesystem at dir (before pivot_root), resolving it inside that root.
func MkdirIn(dir, path string) error {
	dest := cleanDest(path)
	if dest == "/" {
		return nil
	}
	root, err := openRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	fd, err := openDest(root, dest, false)
	if err != nil {
		return err
	}
	return unix.Close(fd)
}
