package rootfs

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/moby/sys/mountinfo"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

const hostCgroupRoot = "/sys/fs/cgroup"

// Hierarchy is one cgroup filesystem mounted on the host under
// /sys/fs/cgroup. The parent finds them (HierarchiesFrom) in the mount
// table it reads anyway, so init need not read it again.
type Hierarchy struct {
	Name        string   `json:"name"`                  // directory under /sys/fs/cgroup ("memory", "cpu,cpuacct", "unified")
	Controllers []string `json:"controllers,omitempty"` // v1 controllers or "name=systemd"; empty for cgroup2
	V2          bool     `json:"v2,omitempty"`
	Mountpoint  string   `json:"mountpoint"`
	Root        string   `json:"root"` // root of the mount inside the hierarchy
}

// knownController reports whether o is the name of a cgroup controller. A
// switch, not a map: a map literal is built at the start of every rt
// process, the container's init included.
func knownController(o string) bool {
	switch o {
	case "cpuset", "cpu", "cpuacct", "blkio", "io", "memory", "devices", "freezer",
		"net_cls", "net_prio", "perf_event", "hugetlb", "pids", "rdma", "misc", "debug":
		return true
	}
	return false
}

// hostHierarchies lists the cgroup mounts directly below /sys/fs/cgroup
// (a v1 or hybrid host): the ones the parent sent in c, else from our
// mountinfo.
func hostHierarchies(c *Config) ([]Hierarchy, error) {
	if c.Hierarchies != nil {
		return c.Hierarchies, nil
	}
	mounts, err := getMounts(mountinfo.FSTypeFilter("cgroup", "cgroup2"))
	if err != nil {
		return nil, fmt.Errorf("read mountinfo: %w", err)
	}
	return HierarchiesFrom(mounts), nil
}

// HierarchiesFrom picks the hierarchies mounted directly below
// /sys/fs/cgroup from the cgroup and cgroup2 mounts of a mount table (in
// its order; never nil).
func HierarchiesFrom(mounts []*mountinfo.Info) []Hierarchy {
	hs := []Hierarchy{}
	seen := map[string]bool{}
	for _, m := range mounts {
		if filepath.Dir(m.Mountpoint) != hostCgroupRoot || seen[m.Mountpoint] {
			continue
		}
		seen[m.Mountpoint] = true
		if m.FSType != "cgroup" && m.FSType != "cgroup2" {
			continue
		}
		h := Hierarchy{Name: filepath.Base(m.Mountpoint), V2: m.FSType == "cgroup2", Mountpoint: m.Mountpoint, Root: m.Root}
		for _, o := range strings.Split(m.VFSOptions, ",") {
			if knownController(o) || strings.HasPrefix(o, "name=") {
				h.Controllers = append(h.Controllers, o)
			}
		}
		hs = append(hs, h)
	}
	return hs
}

// ownCgroups parses /proc/self/cgroup: controllers field -> path.
func ownCgroups() (map[string]string, error) {
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	res := map[string]string{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		parts := strings.SplitN(s.Text(), ":", 3)
		if len(parts) == 3 {
			res[parts[1]] = parts[2]
		}
	}
	return res, s.Err()
}

// hostDir returns the container's directory in hierarchy h: from
// CgroupPaths when the caller set it, else the init's own cgroup.
func (h *Hierarchy) hostDir(paths map[string]string, own map[string]string) (string, error) {
	keys := append([]string{h.Name, strings.Join(h.Controllers, ",")}, h.Controllers...)
	if h.V2 {
		keys = append(keys, "", "unified")
	}
	for _, k := range keys {
		if k == "" && !h.V2 {
			continue
		}
		if p, ok := paths[k]; ok && p != "" {
			if !filepath.IsAbs(p) {
				return "", fmt.Errorf("cgroup path %q for %s is not absolute", p, h.Name)
			}
			return p, nil
		}
	}
	field := strings.Join(h.Controllers, ",")
	p, ok := own[field]
	if !ok {
		return "", fmt.Errorf("no cgroup of ours in hierarchy %s", h.Name)
	}
	rel, err := filepath.Rel(h.Root, p)
	if err != nil || strings.HasPrefix(rel, "..") {
		return "", fmt.Errorf("our cgroup %s is outside the %s mount (root %s)", p, h.Name, h.Root)
	}
	return filepath.Join(h.Mountpoint, rel), nil
}

func isCgroup2Host() bool {
	var s unix.Statfs_t
	return unix.Statfs(hostCgroupRoot, &s) == nil && s.Type == unix.CGROUP2_SUPER_MAGIC
}

// mountCgroup handles a mount of type cgroup (or cgroup2). On a cgroup2
// host, or for an explicit cgroup2 type, one cgroup2 mount; on v1/hybrid,
// a tmpfs with one mount per hierarchy (runc's layout).
func mountCgroup(c *Config, root *rootDir, m specs.Mount, dest string, opts *MountOptions) error {
	// Our own cgroups are only needed to bind them (no cgroup namespace and
	// no CgroupPaths entry).
	var own map[string]string
	if !c.CgroupNS {
		var err error
		if own, err = ownCgroups(); err != nil {
			return fmt.Errorf("read /proc/self/cgroup: %w", err)
		}
	}
	v2host := isCgroup2Host()
	if m.Type == "cgroup2" || v2host {
		h := Hierarchy{Name: "unified", V2: true, Mountpoint: hostCgroupRoot, Root: "/"}
		if !v2host {
			hs, err := hostHierarchies(c)
			if err != nil {
				return err
			}
			i := slices.IndexFunc(hs, func(h Hierarchy) bool { return h.V2 })
			if i < 0 {
				return fmt.Errorf("no cgroup2 hierarchy on the host")
			}
			h = hs[i]
		}
		dst, err := openDest(root, dest, false)
		if err != nil {
			return err
		}
		defer unix.Close(dst)
		reopen := func() (int, error) { return reopenMounted(root, dest) }
		return mountHierarchy(c, dst, reopen, &h, opts.Flags, own)
	}
	hs, err := hostHierarchies(c)
	if err != nil {
		return err
	}
	dst, err := openDest(root, dest, false)
	if err != nil {
		return err
	}
	defer unix.Close(dst)
	tmpfsFlags := uintptr(unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC)
	if err := sys.Mount("tmpfs", fdPath(dst), "tmpfs", tmpfsFlags, "mode=755"); err != nil {
		return fmt.Errorf("mount tmpfs for cgroup v1: %w", err)
	}
	tm, err := reopenMounted(root, dest)
	if err != nil {
		return err
	}
	defer unix.Close(tm)
	for i := range hs {
		h := &hs[i]
		if err := mountHierarchyIn(c, tm, dest, h, opts.Flags, own); err != nil {
			return fmt.Errorf("cgroup %s: %w", h.Name, err)
		}
		// Comounted controllers get symlinks, e.g. cpu -> cpu,cpuacct.
		for _, ctl := range h.Controllers {
			if ctl == h.Name || strings.HasPrefix(ctl, "name=") {
				continue
			}
			if err := sys.Symlinkat(h.Name, tm, ctl); err != nil && err != unix.EEXIST {
				return fmt.Errorf("symlink cgroup %s -> %s: %w", ctl, h.Name, err)
			}
		}
	}
	if opts.Flags&unix.MS_RDONLY != 0 {
		if err := remountBind(tm, unix.MS_RDONLY|tmpfsFlags); err != nil {
			return fmt.Errorf("cgroup tmpfs: %w", err)
		}
	}
	return applyAfter(tm, opts)
}

// mountHierarchyIn mounts hierarchy h at h.Name in the cgroup v1 tmpfs tm,
// which we have just mounted and hold: the directory is made and opened
// relative to tm, one component and no symlinks, instead of resolving the
// whole destination from the rootfs again.
func mountHierarchyIn(c *Config, tm int, dest string, h *Hierarchy, flags uintptr, own map[string]string) error {
	dst, err := mkdirAt(tm, h.Name)
	if err != nil {
		return fmt.Errorf("mkdir %s/%s: %w", dest, h.Name, err)
	}
	defer unix.Close(dst)
	reopen := func() (int, error) { return reopenMountedAt(tm, h.Name, dest+"/"+h.Name) }
	return mountHierarchy(c, dst, reopen, h, flags, own)
}

// mountHierarchy mounts one hierarchy on dst: a real cgroup filesystem
// when the container has a cgroup namespace (it then sees its own cgroup as
// the root), else a bind mount of the container's cgroup directory, which
// reopen finds again to apply flags.
func mountHierarchy(c *Config, dst int, reopen func() (int, error), h *Hierarchy, flags uintptr, own map[string]string) error {
	flags &^= unix.MS_BIND | unix.MS_REC | unix.MS_REMOUNT
	if c.CgroupNS {
		typ, data := "cgroup", strings.Join(h.Controllers, ",")
		if h.V2 {
			typ, data = "cgroup2", ""
		}
		if err := sys.Mount(typ, fdPath(dst), typ, flags, data); err != nil {
			return fmt.Errorf("mount %s %q: %w", typ, data, err)
		}
		return nil
	}
	dir, err := h.hostDir(c.CgroupPaths, own)
	if err != nil {
		return err
	}
	src, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open container cgroup %s: %w", dir, err)
	}
	defer unix.Close(src)
	if err := sys.Mount(fdPath(src), fdPath(dst), "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind %s: %w", dir, err)
	}
	if flags == 0 {
		return nil
	}
	mnt, err := reopen()
	if err != nil {
		return err
	}
	defer unix.Close(mnt)
	return remountBind(mnt, flags)
}
