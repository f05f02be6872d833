package rootfs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// fdTarget is where a handle points on the host.
func fdTarget(t *testing.T, fd int) string {
	t.Helper()
	p, err := os.Readlink(fdPath(fd))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// resolverRoot makes a rootfs with an escaping symlink, a dangling one
// and a file, and opens it with the openat2 resolver or, with legacy set,
// the pathrs-lite fallback.
func resolverRoot(t *testing.T, legacy bool) (string, *rootDir) {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{"etc", "a/b"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{"out": "/etc", "up": "../../..", "dangling": "/nowhere/x"} {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	root, err := openRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	root.legacy = legacy
	t.Cleanup(func() { root.Close() })
	return dir, root
}

func TestRootDirOpen(t *testing.T) {
	for _, legacy := range []bool{false, true} {
		dir, root := resolverRoot(t, legacy)
		for path, want := range map[string]string{
			"/a/b":      "/a/b",
			"/out":      "/etc", // an absolute symlink stays in the root
			"/up/a":     "/a",   // so does ".."
			"/out/../a": "/a",
		} {
			fd, err := root.open(path, 0)
			if err != nil {
				t.Errorf("legacy=%v: open %s: %v", legacy, path, err)
				continue
			}
			if got := fdTarget(t, fd); got != dir+want {
				t.Errorf("legacy=%v: open %s = %s, want %s", legacy, path, got, dir+want)
			}
			unix.Close(fd)
		}
		if _, err := root.open("/missing", 0); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("legacy=%v: open of a missing path: %v, want ENOENT", legacy, err)
		}
		if _, err := root.open("/file", unix.O_DIRECTORY); !errors.Is(err, unix.ENOTDIR) {
			t.Errorf("legacy=%v: open of a file as a directory: %v, want ENOTDIR", legacy, err)
		}
	}
}

func TestRootDirMkdirAll(t *testing.T) {
	for _, legacy := range []bool{false, true} {
		dir, root := resolverRoot(t, legacy)
		for path, want := range map[string]string{
			"/a/b":        "/a/b",       // exists
			"/a/b/c/d":    "/a/b/c/d",   // two new levels
			"/new":        "/new",       // below the root itself
			"/out/x/y":    "/etc/x/y",   // through a symlink, inside the root
			"/up/up/z":    "/z",         // ".." cannot climb out
			"/a/../a/b/e": "/a/b/e",     // resolved, not created, ".."
			"/dangling":   "/nowhere/x", // never created: checked below
		} {
			fd, err := root.mkdirAll(path)
			if path == "/dangling" {
				// The symlink stays; pathrs-lite refuses it too.
				if err == nil {
					t.Errorf("legacy=%v: mkdirAll through a dangling symlink worked: %s", legacy, fdTarget(t, fd))
					unix.Close(fd)
				}
				if _, err := os.Lstat(dir + want); err == nil {
					t.Errorf("legacy=%v: created %s outside the root's tree", legacy, want)
				}
				continue
			}
			if err != nil {
				t.Errorf("legacy=%v: mkdirAll %s: %v", legacy, path, err)
				continue
			}
			if got := fdTarget(t, fd); got != dir+want {
				t.Errorf("legacy=%v: mkdirAll %s = %s, want %s", legacy, path, got, dir+want)
			}
			if st, err := os.Stat(dir + want); err != nil || !st.IsDir() {
				t.Errorf("legacy=%v: %s is not a directory: %v", legacy, want, err)
			}
			unix.Close(fd)
		}
		if _, err := root.mkdirAll("/file/sub"); err == nil {
			t.Errorf("legacy=%v: mkdirAll below a file worked", legacy)
		}
	}
}

// mkdirAt refuses a symlink where it expected its new directory (a swap
// between mkdirat and open).
func TestMkdirAtRefusesSymlink(t *testing.T) {
	dir := t.TempDir()
	if err := os.Symlink("/tmp", filepath.Join(dir, "l")); err != nil {
		t.Fatal(err)
	}
	d, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(d)
	if fd, err := mkdirAt(d, "l"); err == nil {
		unix.Close(fd)
		t.Fatal("mkdirAt opened a symlink")
	}
	for _, bad := range []string{"", ".", "..", "a/b"} {
		if fd, err := mkdirAt(d, bad); err == nil || !strings.Contains(err.Error(), "invalid") {
			if err == nil {
				unix.Close(fd)
			}
			t.Errorf("mkdirAt(%q) = %v, want an invalid component error", bad, err)
		}
	}
}

// The device directories are resolved once per Prepare, not per device.
func TestDirCache(t *testing.T) {
	dir, root := resolverRoot(t, false)
	dirs := newDirCache(root)
	a, err := dirs.get("/dev/net")
	if err != nil {
		t.Fatal(err)
	}
	b, err := dirs.get("/dev/net")
	if err != nil {
		t.Fatal(err)
	}
	if a != b || fdTarget(t, a) != dir+"/dev/net" {
		t.Errorf("second get = fd %d (%s), want the cached fd %d", b, fdTarget(t, b), a)
	}
	dirs.Close()
	if _, err := unix.FcntlInt(uintptr(a), unix.F_GETFD, 0); err == nil {
		t.Errorf("fd %d still open after Close", a)
	}
}

// copyUp reads the O_PATH handle of the directory (no procfs reopen).
func TestCopyUpFromHandles(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	if err := os.MkdirAll(filepath.Join(src, "d/e"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "d/f"), []byte("hi"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("d/f", filepath.Join(src, "l")); err != nil {
		t.Fatal(err)
	}
	open := func(p string) int {
		fd, err := unix.Open(p, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Close(fd) })
		return fd
	}
	if err := copyUp(open(src), open(dst)); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dst, "d/f")); err != nil || string(b) != "hi" {
		t.Errorf("d/f = %q, %v", b, err)
	}
	if l, err := os.Readlink(filepath.Join(dst, "l")); err != nil || l != "d/f" {
		t.Errorf("l -> %q, %v", l, err)
	}
	if st, err := os.Stat(filepath.Join(dst, "d/e")); err != nil || st.Mode().Perm() != 0o750 {
		t.Errorf("d/e: %v, %v", st, err)
	}
}
