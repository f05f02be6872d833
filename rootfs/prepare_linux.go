package rootfs

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// Prepare builds the rootfs before pivot_root: it makes "/" rslave (or
// linux.rootfsPropagation) so nothing propagates to the host, binds the
// rootfs onto itself, applies the config mounts in order, then creates the
// devices, /dev/ptmx and the /dev symlinks. The caller must already be in
// the container's new mount namespace, on a locked OS thread.
func Prepare(c *Config) error {
	if !filepath.IsAbs(c.Rootfs) {
		return fmt.Errorf("root.path %q: not absolute", c.Rootfs)
	}
	prop, err := ParsePropagation(c.Propagation)
	if err != nil {
		return err
	}
	flag := uintptr(unix.MS_SLAVE | unix.MS_REC)
	if prop != 0 {
		flag = prop
	}
	// An unbindable mount cannot be bound, so the rootfs could not be bound
	// onto itself below (EINVAL). Unbindable implies private: be private
	// until Pivot applies the unbindable flag to the new "/".
	if flag&unix.MS_UNBINDABLE != 0 {
		flag = flag&^unix.MS_UNBINDABLE | unix.MS_PRIVATE
	}
	if err := sys.Mount("", "/", "", flag, ""); err != nil {
		return fmt.Errorf("set propagation %#x on / in the new mount namespace: %w", flag, err)
	}
	// Only a shared propagation leaves the parent mount shared: slave and
	// private turned every mount of the namespace non-shared.
	if flag&unix.MS_SHARED != 0 {
		if err := parentMountPrivate(c.Rootfs); err != nil {
			return err
		}
	}
	// A mount point of its own, so pivot_root works and the container's
	// mounts stay below it.
	if err := sys.Mount(c.Rootfs, c.Rootfs, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind rootfs %s onto itself: %w", c.Rootfs, err)
	}
	// Opened after the bind: a handle from before would resolve below it.
	root, err := openRoot(c.Rootfs)
	if err != nil {
		return err
	}
	defer root.Close()
	for i, m := range c.Mounts {
		if err := mountEntry(c, root, m); err != nil {
			return fmt.Errorf("mounts[%d] (%s on %s): %w", i, m.Type, m.Destination, err)
		}
	}
	if !needsSetupDev(c) {
		return nil
	}
	dirs := newDirCache(root)
	defer dirs.Close()
	if err := createDevices(c, dirs); err != nil {
		return err
	}
	return setupDevLinks(dirs)
}

// parentMountPrivate makes the mount holding the rootfs private when it is
// shared: pivot_root refuses a new root whose parent mount is shared. That
// only happens with a shared rootfsPropagation (runc does the same).
func parentMountPrivate(rootfs string) error {
	path, err := filepath.EvalSymlinks(rootfs)
	if err != nil {
		return fmt.Errorf("root.path %s: %w", rootfs, err)
	}
	mounts, err := getMounts(mountinfo.ParentsFilter(path))
	if err != nil {
		return fmt.Errorf("read mountinfo: %w", err)
	}
	var parent *mountinfo.Info
	for _, m := range mounts {
		if parent == nil || len(m.Mountpoint) > len(parent.Mountpoint) {
			parent = m
		}
	}
	if parent == nil || !strings.Contains(parent.Optional, "shared:") {
		return nil
	}
	if err := sys.Mount("", parent.Mountpoint, "", unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make parent mount %s of the rootfs private: %w", parent.Mountpoint, err)
	}
	return nil
}
