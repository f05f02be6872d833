package cgroups

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// InnerPath validates linux.cgroupsPath and returns the cleaned path of the
// container's cgroup below a hierarchy: absolute ("/a/b", below the
// hierarchy's root) or relative ("a/b", below the runtime's own cgroup). An
// empty cgroupsPath gives the relative path containerID, as runc's fs driver
// does. ".." that would climb above the starting point is an error (runc
// silently clamps it; we would rather say so).
func InnerPath(cgroupsPath, containerID string) (string, error) {
	p := cgroupsPath
	if p == "" {
		if containerID == "" || strings.ContainsRune(containerID, '/') || containerID == "." || containerID == ".." {
			return "", fmt.Errorf("default cgroup path: invalid container id %q", containerID)
		}
		return containerID, nil
	}
	if looksSystemd(p) {
		return "", fmt.Errorf("linux.cgroupsPath %q has the systemd form slice:prefix:name, but the systemd cgroup driver is not in use (use a path such as \"/%s\")",
			p, strings.ReplaceAll(p, ":", "-"))
	}
	if strings.ContainsRune(p, 0) {
		return "", fmt.Errorf("linux.cgroupsPath %q contains a NUL byte", p)
	}
	depth := 0
	for _, el := range strings.Split(p, "/") {
		switch el {
		case "", ".":
		case "..":
			depth--
			if depth < 0 {
				return "", fmt.Errorf("linux.cgroupsPath %q: \"..\" leaves the cgroup root", p)
			}
		default:
			depth++
		}
	}
	if depth == 0 {
		// The root cgroup (or our own) is shared with everything else on
		// the host: Destroy would try to remove it and limits would hit
		// every process.
		return "", fmt.Errorf("linux.cgroupsPath %q names the root of the hierarchy, not a cgroup of its own", p)
	}
	return filepath.Clean(p), nil
}

// looksSystemd reports whether p has the "slice:prefix:name" form that only
// the systemd driver understands (e.g. "system.slice:docker:abc").
func looksSystemd(p string) bool {
	return !strings.ContainsRune(p, '/') && strings.Count(p, ":") == 2
}

// errNotBelow means the runtime's own cgroup is outside the mounted part of
// a hierarchy (a cgroup namespace or bind mount hides it).
var errNotBelow = errors.New("own cgroup is not visible below the mount")

// resolveDir returns the host directory of the cgroup inner (from InnerPath)
// in a hierarchy mounted at mountpoint whose mount shows the hierarchy's
// mountRoot (field 4 of mountinfo). A relative inner is placed below own,
// the runtime's cgroup in that hierarchy (from /proc/self/cgroup).
func resolveDir(mountpoint, mountRoot, own, inner string) (string, error) {
	if filepath.IsAbs(inner) {
		return filepath.Join(mountpoint, inner), nil
	}
	rel, err := filepath.Rel(mountRoot, own)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", fmt.Errorf("cgroup %s in the hierarchy at %s (mount root %s): %w", own, mountpoint, mountRoot, errNotBelow)
	}
	return filepath.Join(mountpoint, rel, inner), nil
}
