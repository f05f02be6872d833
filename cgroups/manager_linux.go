package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
)

// New returns the manager for the host's layout (pure v1, hybrid or pure
// v2). cgroupsPath is linux.cgroupsPath ("" = the relative path
// containerID, as runc's fs driver). Nothing is created until Apply.
func New(cgroupsPath, containerID string, opts Options) (Manager, error) {
	if opts.Systemd {
		if _, err := os.Stat("/run/systemd/system"); err != nil {
			return nil, errors.New("systemd cgroup driver: no systemd running")
		}
		return nil, fmt.Errorf("systemd cgroup driver: %w by rt yet (use the default cgroupfs driver)", ErrNotSupported)
	}
	inner, err := InnerPath(cgroupsPath, containerID)
	if err != nil {
		return nil, err
	}
	if opts.Root != "" {
		return &v2Manager{root: opts.Root, dir: filepath.Join(opts.Root, inner)}, nil
	}
	l, err := detectLayout()
	if err != nil {
		return nil, err
	}
	var own map[string]string
	if !filepath.IsAbs(inner) {
		if own, err = ownCgroups(); err != nil {
			return nil, err
		}
	}
	if l.pureV2() {
		dir, err := unifiedDir(l.unified, own, inner)
		if err != nil {
			return nil, err
		}
		return &v2Manager{root: l.unified.mountpoint, dir: dir}, nil
	}
	return newV1(l, own, inner)
}

// unifiedDir places inner in the cgroup2 hierarchy h. A relative path goes
// below the parent of our own cgroup, as in runc: our own cgroup holds
// processes, so v2 would refuse to enable controllers in it.
func unifiedDir(h *hierarchy, own map[string]string, inner string) (string, error) {
	o := own[UnifiedKey]
	if !filepath.IsAbs(inner) && o == "" {
		return "", errors.New("no cgroup2 entry in /proc/self/cgroup")
	}
	return resolveDir(h.mountpoint, h.root, path.Dir(o), inner)
}

// newV1 builds the manager of a v1 or hybrid host.
func newV1(l *layout, own map[string]string, inner string) (*v1Manager, error) {
	m := &v1Manager{paths: make(map[string]string)}
	for c, h := range l.v1 {
		o := own[c]
		if !filepath.IsAbs(inner) && o == "" {
			return nil, fmt.Errorf("no %s entry in /proc/self/cgroup", c)
		}
		dir, err := resolveDir(h.mountpoint, h.root, o, inner)
		if err != nil {
			return nil, err
		}
		m.paths[c] = dir
	}
	// Without the devices hierarchy a container would get every device.
	if _, ok := m.paths["devices"]; !ok {
		return nil, errors.New("the devices cgroup controller is not mounted")
	}
	if l.unified != nil {
		dir, err := unifiedDir(l.unified, own, inner)
		if err != nil {
			return nil, err
		}
		m.paths[UnifiedKey] = dir
		m.unifiedRoot = l.unified.mountpoint
	}
	return m, nil
}

// Load re-creates a manager for an existing container from the paths saved
// in its state (Manager.Paths): only the UnifiedKey means pure v2.
func Load(paths map[string]string) (Manager, error) {
	if len(paths) == 0 {
		return nil, errors.New("load cgroup manager: no cgroup paths in the container state")
	}
	for c, p := range paths {
		if !filepath.IsAbs(p) || filepath.Clean(p) != p {
			return nil, fmt.Errorf("load cgroup manager: path %q for %q is not a clean absolute path", p, c)
		}
	}
	if dir, ok := paths[UnifiedKey]; ok && len(paths) == 1 {
		return &v2Manager{dir: dir, lazyRoot: true}, nil
	}
	m := &v1Manager{paths: make(map[string]string, len(paths))}
	for c, p := range paths {
		m.paths[c] = p
	}
	// unifiedRoot is looked up when needed (unifiedRootDir): reading
	// mountinfo costs every command on an existing container otherwise.
	m.lazyUnified = true
	return m, nil
}
