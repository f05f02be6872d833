package rootfs

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// Pivot makes the prepared rootfs the root: pivot_root, or with NoPivot an
// MS_MOVE onto "/" and chroot. It then applies linux.rootfsPropagation to
// the new "/" and ends with cwd "/".
func Pivot(c *Config) error {
	if c.NoPivot {
		if err := moveRoot(c.Rootfs); err != nil {
			return err
		}
	} else if err := pivotRoot(c.Rootfs); err != nil {
		return err
	}
	prop, err := ParsePropagation(c.Propagation)
	if err != nil {
		return err
	}
	// Only now: on the host side this flag would reach the host's mounts.
	if prop != 0 {
		if err := sys.Mount("", "/", "", prop, ""); err != nil {
			return fmt.Errorf("linux.rootfsPropagation %s on /: %w", c.Propagation, err)
		}
	}
	return nil
}

// pivotRoot uses pivot_root(".", ".") (runc): the old root ends up stacked
// on the new one and is detached without needing a directory for it.
func pivotRoot(rootfs string) error {
	oldroot, err := unix.Open("/", unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open old root: %w", err)
	}
	defer unix.Close(oldroot)
	newroot, err := unix.Open(rootfs, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open new root %s: %w", rootfs, err)
	}
	defer unix.Close(newroot)
	if err := sys.Fchdir(newroot); err != nil {
		return fmt.Errorf("chdir to new root: %w", err)
	}
	if err := sys.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root %s: %w", rootfs, err)
	}
	if err := sys.Fchdir(oldroot); err != nil {
		return fmt.Errorf("chdir to old root: %w", err)
	}
	// Our unmounts must not propagate to the host.
	if err := sys.Mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("make old root rslave: %w", err)
	}
	if err := sys.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach old root: %w", err)
	}
	if err := sys.Chdir("/"); err != nil {
		return fmt.Errorf("chdir /: %w", err)
	}
	return nil
}

// moveRoot is --no-pivot: move the rootfs onto "/" and chroot into it.
// The host's proc and sysfs stay in the namespace under the chroot; like
// runc we detach them first, so the container cannot use them to make
// new proc or sysfs mounts that would show everything.
func moveRoot(rootfs string) error {
	if err := hideHostProcSys(rootfs); err != nil {
		return err
	}
	if err := sys.Chdir(rootfs); err != nil {
		return fmt.Errorf("chdir %s: %w", rootfs, err)
	}
	if err := sys.Mount(rootfs, "/", "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("move rootfs %s to /: %w", rootfs, err)
	}
	if err := sys.Chroot("."); err != nil {
		return fmt.Errorf("chroot: %w", err)
	}
	if err := sys.Chdir("/"); err != nil {
		return fmt.Errorf("chdir /: %w", err)
	}
	return nil
}

func hideHostProcSys(rootfs string) error {
	mounts, err := getMounts(mountinfo.FSTypeFilter("proc", "sysfs"))
	if err != nil {
		return fmt.Errorf("read mountinfo: %w", err)
	}
	root, err := filepath.EvalSymlinks(rootfs)
	if err != nil {
		return fmt.Errorf("root.path %s: %w", rootfs, err)
	}
	var gone []string
	under := func(p, dir string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }
	for _, m := range mounts {
		if under(m.Mountpoint, root) || slices.ContainsFunc(gone, func(g string) bool { return under(m.Mountpoint, g) }) {
			continue
		}
		if err := sys.Unmount(m.Mountpoint, unix.MNT_DETACH); err == nil {
			gone = append(gone, m.Mountpoint)
			continue
		}
		// Busy or locked: cover it with an empty read-only tmpfs instead.
		if err := sys.Mount("tmpfs", m.Mountpoint, "tmpfs", unix.MS_RDONLY, ""); err != nil {
			return fmt.Errorf("hide host %s at %s: %w", m.FSType, m.Mountpoint, err)
		}
	}
	return nil
}
