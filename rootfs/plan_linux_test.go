package rootfs

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/moby/sys/mountinfo"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// recorder is a fake syscalls that records each call with paths shown
// relative to the rootfs ("R/dev/null"), so the order of operations can be
// checked without root. Lookups and directory creation still happen for
// real in the temporary rootfs.
type recorder struct {
	rootfs  string
	ops     []string
	reopens int // IsMountRoot calls: handles re-opened after a mount
}

func (r *recorder) path(p string) string {
	if strings.HasPrefix(p, "/proc/self/fd/") {
		if t, err := os.Readlink(p); err == nil {
			p = t
		}
	}
	if p == r.rootfs {
		return "R"
	}
	if strings.HasPrefix(p, r.rootfs+"/") {
		return "R" + strings.TrimPrefix(p, r.rootfs)
	}
	return p
}

func (r *recorder) at(dirfd int, name string) string {
	dir := r.path(fmt.Sprintf("/proc/self/fd/%d", dirfd))
	if name == "" {
		return dir
	}
	return dir + "/" + name
}

func (r *recorder) add(format string, args ...any) {
	r.ops = append(r.ops, fmt.Sprintf(format, args...))
}

var msNames = []struct {
	f    uintptr
	name string
}{
	{unix.MS_RDONLY, "RDONLY"}, {unix.MS_NOSUID, "NOSUID"}, {unix.MS_NODEV, "NODEV"},
	{unix.MS_NOEXEC, "NOEXEC"}, {unix.MS_SYNCHRONOUS, "SYNC"}, {unix.MS_REMOUNT, "REMOUNT"},
	{unix.MS_NOATIME, "NOATIME"}, {unix.MS_BIND, "BIND"}, {unix.MS_MOVE, "MOVE"},
	{unix.MS_PRIVATE, "PRIVATE"}, {unix.MS_SLAVE, "SLAVE"}, {unix.MS_SHARED, "SHARED"},
	{unix.MS_UNBINDABLE, "UNBINDABLE"}, {unix.MS_RELATIME, "RELATIME"}, {unix.MS_STRICTATIME, "STRICTATIME"},
	{unix.MS_REC, "REC"},
}

func flagNames(f uintptr) string {
	var n []string
	for _, m := range msNames {
		if f&m.f != 0 {
			n = append(n, m.name)
			f &^= m.f
		}
	}
	if f != 0 || len(n) == 0 {
		n = append(n, fmt.Sprintf("%#x", f))
	}
	return strings.Join(n, "|")
}

func (r *recorder) Mount(source, target, fstype string, flags uintptr, data string) error {
	if fstype == "" {
		fstype = "-"
	}
	if source == "" {
		source = "-"
	}
	op := fmt.Sprintf("mount %s %s %s %s", r.path(source), r.path(target), fstype, flagNames(flags))
	if data != "" {
		op += " " + data
	}
	r.ops = append(r.ops, op)
	return nil
}
func (r *recorder) Unmount(target string, flags int) error {
	r.add("umount %s %#x", r.path(target), flags)
	return nil
}
func (r *recorder) MountSetattr(dirfd int, path string, flags uint, attr *unix.MountAttr) error {
	r.add("mount_setattr %s %#x set=%#x clr=%#x", r.at(dirfd, path), flags, attr.Attr_set, attr.Attr_clr)
	return nil
}
func (r *recorder) Mknodat(dirfd int, name string, mode uint32, dev int) error {
	r.add("mknod %s %o %d:%d", r.at(dirfd, name), mode, unix.Major(uint64(dev)), unix.Minor(uint64(dev)))
	return nil
}
func (r *recorder) Fchownat(dirfd int, name string, uid, gid, flags int) error {
	r.add("chown %s %d:%d", r.at(dirfd, name), uid, gid)
	return nil
}
func (r *recorder) Symlinkat(target string, dirfd int, name string) error {
	r.add("symlink %s -> %s", r.at(dirfd, name), target)
	return nil
}
func (r *recorder) Unlinkat(dirfd int, name string, flags int) error {
	r.add("unlink %s", r.at(dirfd, name))
	return nil
}
func (r *recorder) PivotRoot(newroot, putold string) error {
	r.add("pivot_root %s %s", newroot, putold)
	return nil
}
func (r *recorder) Chroot(path string) error { r.add("chroot %s", path); return nil }
func (r *recorder) Chdir(path string) error  { r.add("chdir %s", r.path(path)); return nil }
func (r *recorder) Fchdir(fd int) error {
	r.add("fchdir %s", r.path(fmt.Sprintf("/proc/self/fd/%d", fd)))
	return nil
}
func (r *recorder) Umask(mask int) int            { r.add("umask %o", mask); return 0o22 }
func (r *recorder) IsMountRoot(int) (bool, error) { r.reopens++; return true, nil }

// useRecorder installs a recorder and a fake mount table for one test.
func useRecorder(t *testing.T, rootfs string, mounts []*mountinfo.Info) *recorder {
	rec := &recorder{rootfs: rootfs}
	oldSys, oldGet, oldRoot := sys, getMounts, newRoot
	sys = rec
	getMounts = func(f mountinfo.FilterFunc) ([]*mountinfo.Info, error) {
		var res []*mountinfo.Info
		for _, m := range mounts {
			if skip, _ := f(m); !skip {
				res = append(res, m)
			}
		}
		return res, nil
	}
	t.Cleanup(func() { sys, getMounts, newRoot = oldSys, oldGet, oldRoot })
	return rec
}

func typicalConfig(rootfs, bindSrc string) *Config {
	mode := os.FileMode(0o600)
	uid, gid := uint32(1000), uint32(1001)
	return &Config{
		Rootfs: rootfs,
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
			{Destination: "data", Source: bindSrc, Options: []string{"rbind", "ro", "rprivate", "rnosuid"}},
		},
		Devices: []specs.LinuxDevice{
			{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229, FileMode: &mode, UID: &uid, GID: &gid},
			{Path: "/dev/null", Type: "c", Major: 1, Minor: 3}, // overrides the default
		},
	}
}

func TestPreparePlan(t *testing.T) {
	rootfs := t.TempDir()
	bindSrc := t.TempDir()
	// A stale table: after rslave no mount is shared, so Prepare must not
	// even read it.
	rec := useRecorder(t, rootfs, []*mountinfo.Info{{Mountpoint: "/", Optional: "shared:1"}})
	if err := Prepare(typicalConfig(rootfs, bindSrc)); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"mount - / - SLAVE|REC",
		"mount R R - BIND|REC",
		"mount proc R/proc proc 0x0",
		"mount tmpfs R/dev tmpfs NOSUID|STRICTATIME mode=755,size=65536k",
		"mount devpts R/dev/pts devpts NOSUID|NOEXEC newinstance,ptmxmode=0666,mode=0620,gid=5",
		"mount shm R/dev/shm tmpfs NOSUID|NODEV|NOEXEC mode=1777,size=65536k",
		"mount sysfs R/sys sysfs RDONLY|NOSUID|NODEV|NOEXEC",
		"mount " + bindSrc + " R/data - BIND|REC",
		"mount - R/data - RDONLY|REMOUNT|BIND",
		"mount - R/data - PRIVATE|REC",
		fmt.Sprintf("mount_setattr R/data %#x set=0x2 clr=0x0", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE),
		"umask 0",
		"mknod R/dev/zero 20666 1:5", "chown R/dev/zero 0:0",
		"mknod R/dev/full 20666 1:7", "chown R/dev/full 0:0",
		"mknod R/dev/random 20666 1:8", "chown R/dev/random 0:0",
		"mknod R/dev/urandom 20666 1:9", "chown R/dev/urandom 0:0",
		"mknod R/dev/tty 20666 5:0", "chown R/dev/tty 0:0",
		"mknod R/dev/fuse 20600 10:229", "chown R/dev/fuse 1000:1001",
		"mknod R/dev/null 20666 1:3", "chown R/dev/null 0:0",
		"umask 22",
		"unlink R/dev/ptmx",
		"symlink R/dev/ptmx -> pts/ptmx",
		"symlink R/dev/fd -> /proc/self/fd",
		"symlink R/dev/stdin -> /proc/self/fd/0",
		"symlink R/dev/stdout -> /proc/self/fd/1",
		"symlink R/dev/stderr -> /proc/self/fd/2",
	}
	if _, err := os.Stat("/proc/kcore"); err == nil {
		want = append(want, "symlink R/dev/core -> /proc/kcore")
	}
	if !reflect.DeepEqual(rec.ops, want) {
		t.Errorf("plan:\n%s\nwant:\n%s", strings.Join(rec.ops, "\n"), strings.Join(want, "\n"))
	}
	// mount(2) takes every flag of the filesystems; only the bind needs its
	// new mount re-opened (remount, propagation, mount_setattr).
	if rec.reopens != 1 {
		t.Errorf("%d handles re-opened after mounting, want 1 (R/data)", rec.reopens)
	}
}

func TestPreparePlanUserNSAndBindDev(t *testing.T) {
	rootfs := t.TempDir()
	rec := useRecorder(t, rootfs, nil)
	c := &Config{
		Rootfs:      rootfs,
		UserNS:      true,
		Propagation: "rprivate",
		Mounts:      []specs.Mount{{Destination: "/dev", Type: "tmpfs", Source: "tmpfs"}},
		Devices:     []specs.LinuxDevice{{Path: "/dev/fifo", Type: "p"}},
	}
	if err := Prepare(c); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(rec.ops, "\n")
	for _, w := range []string{
		"mount - / - PRIVATE|REC",           // rootfsPropagation replaces the rslave default
		"mount /dev/null R/dev/null - BIND", // host node bound, not mknod
		"mknod R/dev/fifo 10666 0:0",        // fifos need no privilege
	} {
		if !strings.Contains(got, w) {
			t.Errorf("missing %q in plan:\n%s", w, got)
		}
	}
	if strings.Contains(got, "mknod R/dev/null") {
		t.Errorf("mknod of a device in a user namespace:\n%s", got)
	}

	// /dev bind-mounted from the config: no devices at all (runc).
	rec.ops = nil
	c = &Config{Rootfs: rootfs, Mounts: []specs.Mount{{Destination: "/dev", Source: "/dev", Options: []string{"rbind"}}}}
	if err := Prepare(c); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(rec.ops, "\n"); strings.Contains(got, "mknod") || strings.Contains(got, "symlink") {
		t.Errorf("devices created over a bind-mounted /dev:\n%s", got)
	}
}

// A shared rootfsPropagation keeps the host's "/" shared (a systemd host),
// and pivot_root refuses a new root whose parent mount is shared.
func TestPreparePlanSharedParent(t *testing.T) {
	rootfs := t.TempDir()
	rec := useRecorder(t, rootfs, []*mountinfo.Info{{Mountpoint: "/", Optional: "shared:1"}})
	if err := Prepare(&Config{Rootfs: rootfs, Propagation: "rshared"}); err != nil {
		t.Fatal(err)
	}
	want := []string{"mount - / - SHARED|REC", "mount - / - PRIVATE", "mount R R - BIND|REC"}
	if len(rec.ops) < 3 || !reflect.DeepEqual(rec.ops[:3], want) {
		t.Errorf("plan starts %q, want %q", rec.ops, want)
	}
}

// linux.rootfsPropagation "unbindable" would forbid binding the rootfs onto
// itself: Prepare stays private and leaves unbindable to Pivot.
func TestPreparePlanUnbindable(t *testing.T) {
	for _, tc := range []struct{ prop, first, pivot string }{
		{"unbindable", "mount - / - PRIVATE", "mount - / - UNBINDABLE"},
		{"runbindable", "mount - / - PRIVATE|REC", "mount - / - UNBINDABLE|REC"},
	} {
		rootfs := t.TempDir()
		rec := useRecorder(t, rootfs, nil)
		c := &Config{Rootfs: rootfs, Propagation: tc.prop}
		if err := Prepare(c); err != nil {
			t.Fatal(err)
		}
		if len(rec.ops) < 2 || rec.ops[0] != tc.first || rec.ops[1] != "mount R R - BIND|REC" {
			t.Errorf("%s: plan starts %q, want %q then the rootfs bind", tc.prop, rec.ops, tc.first)
		}
		rec.ops = nil
		if err := Pivot(c); err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(rec.ops, "\n"); !strings.HasSuffix(got, tc.pivot) {
			t.Errorf("%s: pivot plan does not end with %q:\n%s", tc.prop, tc.pivot, got)
		}
	}
}

func TestPivotPlan(t *testing.T) {
	rootfs := t.TempDir()
	rec := useRecorder(t, rootfs, []*mountinfo.Info{
		{Mountpoint: "/proc", FSType: "proc"},
		{Mountpoint: "/proc/sys/fs/binfmt_misc", FSType: "proc"}, // gone with /proc
		{Mountpoint: "/sys", FSType: "sysfs"},
		{Mountpoint: rootfs + "/proc", FSType: "proc"}, // the container's own
	})
	if err := Pivot(&Config{Rootfs: rootfs, Propagation: "rshared"}); err != nil {
		t.Fatal(err)
	}
	// cwd is restored by the fake only on paper; the real chdir never ran.
	want := []string{
		"fchdir R", "pivot_root . .", "fchdir /", "mount - . - SLAVE|REC",
		fmt.Sprintf("umount . %#x", unix.MNT_DETACH), "chdir /", "mount - / - SHARED|REC",
	}
	if !reflect.DeepEqual(rec.ops, want) {
		t.Errorf("pivot plan:\n%s", strings.Join(rec.ops, "\n"))
	}
	rec.ops = nil
	if err := Pivot(&Config{Rootfs: rootfs, NoPivot: true}); err != nil {
		t.Fatal(err)
	}
	want = []string{
		fmt.Sprintf("umount /proc %#x", unix.MNT_DETACH), fmt.Sprintf("umount /sys %#x", unix.MNT_DETACH),
		"chdir R", "mount R / - MOVE", "chroot .", "chdir /",
	}
	if !reflect.DeepEqual(rec.ops, want) {
		t.Errorf("no-pivot plan:\n%s", strings.Join(rec.ops, "\n"))
	}
}

func TestFinishPlan(t *testing.T) {
	rootfs := t.TempDir()
	for _, d := range []string{"proc/sys", "proc/acpi", "dev"} {
		if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(rootfs, "proc/kcore"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mknod(filepath.Join(rootfs, "dev/null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		t.Skipf("mknod needs root: %v", err)
	}
	rec := useRecorder(t, rootfs, nil)
	newRoot = rootfs
	c := &Config{
		Rootfs:        rootfs,
		Readonly:      true,
		Mounts:        []specs.Mount{{Destination: "/dev", Type: "tmpfs", Options: []string{"ro", "nosuid"}}},
		ReadonlyPaths: []string{"/proc/sys", "/missing"},
		MaskedPaths:   []string{"/proc/kcore", "/proc/acpi", "/nope"},
	}
	if err := Finish(c); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"mount R/proc/sys R/proc/sys - BIND|REC",
		fmt.Sprintf("mount_setattr R/proc/sys %#x set=0x1 clr=0x0", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE),
		"mount R/dev/null R/proc/kcore - BIND",
		"mount tmpfs R/proc/acpi tmpfs RDONLY|NOSUID|NODEV|NOEXEC",
		"mount - R/dev - RDONLY|NOSUID|REMOUNT|BIND",
		"mount - R - RDONLY|REMOUNT|BIND",
	}
	if !reflect.DeepEqual(rec.ops, want) {
		t.Errorf("finish plan:\n%s", strings.Join(rec.ops, "\n"))
	}
}
