package rootfs

import (
	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// syscalls is the seam under every state-changing system call of this
// package, so the order of operations can be unit-tested without root
// (youki's Syscall trait). Paths of the form /proc/self/fd/N refer to
// handles resolved inside the rootfs.
type syscalls interface {
	Mount(source, target, fstype string, flags uintptr, data string) error
	Unmount(target string, flags int) error
	MountSetattr(dirfd int, path string, flags uint, attr *unix.MountAttr) error
	Mknodat(dirfd int, name string, mode uint32, dev int) error
	Fchownat(dirfd int, name string, uid, gid, flags int) error
	Symlinkat(target string, dirfd int, name string) error
	Unlinkat(dirfd int, name string, flags int) error
	PivotRoot(newroot, putold string) error
	Chroot(path string) error
	Chdir(path string) error
	Fchdir(fd int) error
	Umask(mask int) int
	// IsMountRoot reports whether fd is the root of a mount: used to check
	// that a handle re-opened after a mount refers to the new mount.
	IsMountRoot(fd int) (bool, error)
}

// sys is replaced by a recorder in tests.
var sys syscalls = realSyscalls{}

type realSyscalls struct{}

func (realSyscalls) Mount(source, target, fstype string, flags uintptr, data string) error {
	return unix.Mount(source, target, fstype, flags, data)
}
func (realSyscalls) Unmount(target string, flags int) error { return unix.Unmount(target, flags) }
func (realSyscalls) MountSetattr(dirfd int, path string, flags uint, attr *unix.MountAttr) error {
	return unix.MountSetattr(dirfd, path, flags, attr)
}
func (realSyscalls) Mknodat(dirfd int, name string, mode uint32, dev int) error {
	return unix.Mknodat(dirfd, name, mode, dev)
}
func (realSyscalls) Fchownat(dirfd int, name string, uid, gid, flags int) error {
	return unix.Fchownat(dirfd, name, uid, gid, flags)
}
func (realSyscalls) Symlinkat(target string, dirfd int, name string) error {
	return unix.Symlinkat(target, dirfd, name)
}
func (realSyscalls) Unlinkat(dirfd int, name string, flags int) error {
	return unix.Unlinkat(dirfd, name, flags)
}
func (realSyscalls) PivotRoot(newroot, putold string) error { return unix.PivotRoot(newroot, putold) }
func (realSyscalls) Chroot(path string) error               { return unix.Chroot(path) }
func (realSyscalls) Chdir(path string) error                { return unix.Chdir(path) }
func (realSyscalls) Fchdir(fd int) error                    { return unix.Fchdir(fd) }
func (realSyscalls) Umask(mask int) int                     { return unix.Umask(mask) }
func (realSyscalls) IsMountRoot(fd int) (bool, error) {
	var st unix.Statx_t
	if err := unix.Statx(fd, "", unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW, unix.STATX_BASIC_STATS, &st); err != nil {
		return false, err
	}
	if st.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT == 0 {
		return true, nil // kernel cannot tell (< 5.8); trust the lookup
	}
	return st.Attributes&unix.STATX_ATTR_MOUNT_ROOT != 0, nil
}

// Seams for reading host state and for the root after Pivot, replaced in
// tests.
var (
	getMounts = mountinfo.GetMounts
	newRoot   = "/"
)
