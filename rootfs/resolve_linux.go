package rootfs

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// rootDir resolves paths inside the rootfs and hands out raw O_PATH
// descriptors (the caller closes them with unix.Close).
//
// It calls openat2(RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS) itself: that is
// the lookup pathrs-lite makes, and the kernel does the scoping. Going
// through pathrs-lite per lookup cost ~15 syscalls instead of one (an
// openat2 probe, a procfs verification and a readlink of
// /proc/thread-self/fd/N only to name the *os.File, a dup), and an
// *os.File costs an fcntl(F_GETFL) more. pathrs-lite stays the fallback
// for kernels without openat2 (< 5.6) or a seccomp filter that hides it.
type rootDir struct {
	f      *os.File // keeps fd open
	fd     int
	legacy bool // no openat2: resolve with pathrs-lite
}

func openRoot(path string) (*rootDir, error) {
	f, err := os.OpenFile(path, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open rootfs: %w", err)
	}
	return &rootDir{f: f, fd: int(f.Fd())}, nil
}

func (r *rootDir) Close() error { return r.f.Close() }

// fdPath names a handle for mount(2) so the kernel uses the object we
// resolved instead of walking a path string again.
func fdPath(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }

// openat2 retries like pathrs-lite: a scoped lookup fails with EAGAIN or
// EXDEV when a rename or mount anywhere races with "..".
func openat2(dirfd int, path string, how *unix.OpenHow) (int, error) {
	var err error
	for range 128 {
		var fd int
		fd, err = unix.Openat2(dirfd, path, how)
		if err == nil {
			return fd, nil
		}
		if err != unix.EAGAIN && err != unix.EXDEV {
			break
		}
	}
	return -1, err
}

// open resolves path (absolute, clean) inside the root as an O_PATH
// handle; symlinks are followed as if the root were "/". flags may add
// O_DIRECTORY or O_NOFOLLOW.
func (r *rootDir) open(path string, flags uint64) (int, error) {
	if !r.legacy {
		fd, err := openat2(r.fd, path, &unix.OpenHow{
			Flags:   unix.O_PATH | unix.O_CLOEXEC | flags,
			Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
		})
		if err == nil {
			return fd, nil
		}
		if err != unix.ENOSYS && err != unix.EPERM {
			return -1, &os.PathError{Op: "openat2", Path: path, Err: err}
		}
		r.legacy = true
	}
	f, err := pathrs.OpenatInRoot(r.f, path)
	if err != nil {
		return -1, err
	}
	fd, err := takeFd(f)
	if err == nil && flags&unix.O_DIRECTORY != 0 {
		var st unix.Stat_t
		if err = unix.Fstat(fd, &st); err == nil && st.Mode&unix.S_IFMT != unix.S_IFDIR {
			err = unix.ENOTDIR
		}
		if err != nil {
			unix.Close(fd)
			return -1, &os.PathError{Op: "open", Path: path, Err: err}
		}
	}
	return fd, err
}

// takeFd turns a pathrs-lite *os.File into a raw descriptor.
func takeFd(f *os.File) (int, error) {
	defer f.Close()
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("dup %s: %w", f.Name(), err)
	}
	return fd, nil
}

// mkdirAll opens the directory path (absolute, clean) inside the root,
// creating what is missing with mode 0755 (minus umask): the deepest
// existing ancestor is resolved in the root, then each new component is
// made with mkdirat and opened with O_NOFOLLOW|O_DIRECTORY, so a symlink
// planted (or raced) in its place is refused, as in pathrs-lite's
// MkdirAllHandle.
func (r *rootDir) mkdirAll(path string) (int, error) {
	fd, err := r.open(path, unix.O_DIRECTORY)
	if err == nil || !errors.Is(err, unix.ENOENT) {
		return fd, err
	}
	return r.mkdirMissing(path)
}

// mkdirMissing is mkdirAll once path was found missing.
func (r *rootDir) mkdirMissing(path string) (int, error) {
	if r.legacy {
		f, err := pathrs.MkdirAllHandle(r.f, path, 0o755)
		if err != nil {
			return -1, err
		}
		return takeFd(f)
	}
	i := len(path)
	dir := -1
	var err error
	for dir < 0 {
		i = strings.LastIndexByte(path[:i], '/')
		if i < 0 {
			return -1, fmt.Errorf("mkdir %q: not absolute", path)
		}
		prefix := path[:i]
		if i == 0 {
			prefix = "/"
		}
		dir, err = r.open(prefix, unix.O_DIRECTORY)
		if err != nil && (!errors.Is(err, unix.ENOENT) || i == 0) {
			return -1, err
		}
	}
	for _, part := range strings.Split(path[i+1:], "/") {
		next, err := mkdirAt(dir, part)
		unix.Close(dir)
		if err != nil {
			return -1, fmt.Errorf("mkdir %s: %w", path, err)
		}
		dir = next
	}
	return dir, nil
}

// mkdirAt creates the directory name in dir (an existing one is fine) and
// opens it without following a symlink.
func mkdirAt(dir int, name string) (int, error) {
	if name == "" || name == "." || name == ".." || strings.ContainsRune(name, '/') {
		return -1, fmt.Errorf("invalid path component %q", name)
	}
	if err := unix.Mkdirat(dir, name, 0o755); err != nil && err != unix.EEXIST {
		return -1, &os.PathError{Op: "mkdirat", Path: name, Err: err}
	}
	fd, err := unix.Openat(dir, name, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: name, Err: err}
	}
	return fd, nil
}
