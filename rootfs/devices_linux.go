package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

var defaultMode = os.FileMode(0o666)

// DefaultDevices are the devices every container gets (runtime-spec
// config-linux.md); /dev/ptmx is a symlink and /dev/console comes from
// MountConsole.
var DefaultDevices = []specs.LinuxDevice{
	{Path: "/dev/null", Type: "c", Major: 1, Minor: 3, FileMode: &defaultMode},
	{Path: "/dev/zero", Type: "c", Major: 1, Minor: 5, FileMode: &defaultMode},
	{Path: "/dev/full", Type: "c", Major: 1, Minor: 7, FileMode: &defaultMode},
	{Path: "/dev/random", Type: "c", Major: 1, Minor: 8, FileMode: &defaultMode},
	{Path: "/dev/urandom", Type: "c", Major: 1, Minor: 9, FileMode: &defaultMode},
	{Path: "/dev/tty", Type: "c", Major: 5, Minor: 0, FileMode: &defaultMode},
}

// needsSetupDev follows runc: devices are created unless /dev is a bind
// mount from the config.
func needsSetupDev(c *Config) bool {
	for _, m := range c.Mounts {
		opts, _ := ParseMountOptions(m.Options)
		if (opts.IsBind() || m.Type == "bind") && cleanDest(m.Destination) == "/dev" {
			return false
		}
	}
	return true
}

// deviceList merges the defaults with linux.devices; a config device with
// the same path replaces the default one. The label names the config field.
func deviceList(c *Config) (devs []specs.LinuxDevice, labels []string) {
	override := map[string]bool{}
	for _, d := range c.Devices {
		override[filepath.Clean(d.Path)] = true
	}
	for _, d := range DefaultDevices {
		if !override[d.Path] {
			devs = append(devs, d)
			labels = append(labels, "default device "+d.Path)
		}
	}
	for i, d := range c.Devices {
		devs = append(devs, d)
		labels = append(labels, fmt.Sprintf("linux.devices[%d] %s", i, d.Path))
	}
	return devs, labels
}

// deviceMode returns the mknod mode (type | permissions) and device number.
func deviceMode(d *specs.LinuxDevice) (uint32, int, error) {
	var typ uint32
	switch d.Type {
	case "c", "u":
		typ = unix.S_IFCHR
	case "b":
		typ = unix.S_IFBLK
	case "p":
		typ = unix.S_IFIFO
	default:
		return 0, 0, fmt.Errorf("type %q: want c, b, u or p", d.Type)
	}
	perm := uint32(0o666)
	if d.FileMode != nil {
		fm := *d.FileMode
		perm = uint32(fm.Perm())
		if fm&os.ModeSetuid != 0 {
			perm |= unix.S_ISUID
		}
		if fm&os.ModeSetgid != 0 {
			perm |= unix.S_ISGID
		}
		if fm&os.ModeSticky != 0 {
			perm |= unix.S_ISVTX
		}
	}
	if typ == unix.S_IFIFO {
		return typ | perm, 0, nil
	}
	return typ | perm, int(unix.Mkdev(uint32(d.Major), uint32(d.Minor))), nil
}

// dirCache keeps the directories devices go into open, so the six
// default devices and the /dev links resolve /dev once, not once each.
type dirCache struct {
	root *rootDir
	fds  map[string]int
}

func newDirCache(root *rootDir) *dirCache { return &dirCache{root: root, fds: map[string]int{}} }

// get opens (creating it when missing) the directory path in the root.
func (d *dirCache) get(path string) (int, error) {
	if fd, ok := d.fds[path]; ok {
		return fd, nil
	}
	fd, err := d.root.mkdirAll(path)
	if err != nil {
		return -1, fmt.Errorf("mkdir %s in rootfs: %w", path, err)
	}
	d.fds[path] = fd
	return fd, nil
}

func (d *dirCache) Close() {
	for _, fd := range d.fds {
		unix.Close(fd)
	}
	clear(d.fds)
}

func createDevices(c *Config, dirs *dirCache) error {
	devs, labels := deviceList(c)
	// Modes must be exact; umask is per process and restored after.
	old := sys.Umask(0)
	defer sys.Umask(old)
	for i := range devs {
		if err := createDevice(dirs, &devs[i], c.UserNS); err != nil {
			return fmt.Errorf("%s: %w", labels[i], err)
		}
	}
	return nil
}

func createDevice(dirs *dirCache, d *specs.LinuxDevice, userNS bool) error {
	if !filepath.IsAbs(d.Path) {
		return fmt.Errorf("path %q is not absolute", d.Path)
	}
	path := filepath.Clean(d.Path)
	if path == "/" {
		return errors.New("path is the rootfs itself")
	}
	mode, dev, err := deviceMode(d)
	if err != nil {
		return err
	}
	dir, err := dirs.get(filepath.Dir(path))
	if err != nil {
		return err
	}
	name := filepath.Base(path)
	if userNS && mode&unix.S_IFMT != unix.S_IFIFO {
		return bindDevice(dir, name, d, mode, dev)
	}
	// mknodat never follows a symlink at name: an existing entry is EEXIST.
	err = sys.Mknodat(dir, name, mode, dev)
	switch {
	case errors.Is(err, unix.EEXIST):
		return nil // like runc, keep what the rootfs or an earlier mount has
	case errors.Is(err, unix.EPERM) && mode&unix.S_IFMT != unix.S_IFIFO:
		return bindDevice(dir, name, d, mode, dev)
	case err != nil:
		return fmt.Errorf("mknod: %w", err)
	}
	uid, gid := 0, 0
	if d.UID != nil {
		uid = int(*d.UID)
	}
	if d.GID != nil {
		gid = int(*d.GID)
	}
	if err := sys.Fchownat(dir, name, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("chown: %w", err)
	}
	return nil
}

// bindDevice bind-mounts the host's node (same path) when mknod is not
// allowed (user namespace). The host node must be the device asked for.
func bindDevice(dir int, name string, d *specs.LinuxDevice, mode uint32, dev int) error {
	src, err := unix.Open(d.Path, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open host device %s for bind: %w", d.Path, err)
	}
	defer unix.Close(src)
	var st unix.Stat_t
	if err := unix.Fstat(src, &st); err != nil {
		return fmt.Errorf("stat host device: %w", err)
	}
	if st.Mode&unix.S_IFMT != mode&unix.S_IFMT || int(st.Rdev) != dev {
		return fmt.Errorf("host %s is not device %s %d:%d", d.Path, d.Type, d.Major, d.Minor)
	}
	if err := createFileAt(dir, name); err != nil {
		return fmt.Errorf("create mountpoint: %w", err)
	}
	dst, _, err := openNoFollow(dir, name)
	if err != nil {
		return err
	}
	defer unix.Close(dst)
	if err := sys.Mount(fdPath(src), fdPath(dst), "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind host device: %w", err)
	}
	return nil
}

// openNoFollow opens name in dir as O_PATH and refuses a symlink. It
// returns the stat it checked with.
func openNoFollow(dir int, name string) (int, *unix.Stat_t, error) {
	fd, err := unix.Openat(dir, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, nil, fmt.Errorf("open %s: %w", name, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, nil, fmt.Errorf("stat %s: %w", name, err)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		unix.Close(fd)
		return -1, nil, fmt.Errorf("%s is a symlink", name)
	}
	return fd, &st, nil
}

// setupDevLinks makes /dev/ptmx point into the container's devpts and
// adds the /proc/self/fd links (and /dev/core when the kernel has kcore).
func setupDevLinks(dirs *dirCache) error {
	dfd, err := dirs.get("/dev")
	if err != nil {
		return err
	}
	if err := sys.Unlinkat(dfd, "ptmx", 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("remove /dev/ptmx: %w", err)
	}
	if err := sys.Symlinkat("pts/ptmx", dfd, "ptmx"); err != nil {
		return fmt.Errorf("symlink /dev/ptmx: %w", err)
	}
	links := [][2]string{
		{"/proc/self/fd", "fd"},
		{"/proc/self/fd/0", "stdin"},
		{"/proc/self/fd/1", "stdout"},
		{"/proc/self/fd/2", "stderr"},
	}
	if _, err := os.Stat("/proc/kcore"); err == nil {
		links = append(links, [2]string{"/proc/kcore", "core"})
	}
	for _, l := range links {
		if err := sys.Symlinkat(l[0], dfd, l[1]); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("symlink /dev/%s: %w", l[1], err)
		}
	}
	return nil
}
