package cgroups

import (
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/moby/sys/mountinfo"
)

// hierarchy is one mounted cgroup hierarchy.
type hierarchy struct {
	mountpoint string
	root       string // the hierarchy's cgroup shown at mountpoint (mountinfo field 4)
}

// layout is the host's cgroup layout as seen in our mount namespace.
type layout struct {
	v1      map[string]hierarchy // controller -> mount; cpu and cpuacct share one when co-mounted
	unified *hierarchy           // the cgroup2 mount, if any
	mounts  []*mountinfo.Info    // every cgroup and cgroup2 mount, in mountinfo's order
}

// Mounts returns the cgroup and cgroup2 mounts of our mount table, read
// once per process (see detectLayout). Callers must not modify them.
func Mounts() ([]*mountinfo.Info, error) {
	l, err := detectLayout()
	if err != nil {
		return nil, err
	}
	return l.mounts, nil
}

// pureV2 reports a host without v1 controller hierarchies.
func (l *layout) pureV2() bool {
	for c := range l.v1 {
		if !strings.HasPrefix(c, "name=") {
			return false
		}
	}
	return l.unified != nil
}

// detectLayout reads /proc/self/mountinfo once per process (a command may
// need the layout several times; the mount table does not change under it).
// The result is shared: callers must not modify it.
var detectLayout = sync.OnceValues(readLayout)

// readLayout reads /proc/self/mountinfo. The first mount of each
// hierarchy wins; for cgroup2, /sys/fs/cgroup and then
// /sys/fs/cgroup/unified are preferred over other (bind) mounts.
func readLayout() (*layout, error) {
	mounts, err := mountinfo.GetMounts(mountinfo.FSTypeFilter("cgroup", "cgroup2"))
	if err != nil {
		return nil, fmt.Errorf("find cgroup mounts: %w", err)
	}
	l := &layout{v1: make(map[string]hierarchy), mounts: mounts}
	rank := func(mp string) int {
		switch mp {
		case "/sys/fs/cgroup":
			return 0
		case "/sys/fs/cgroup/unified":
			return 1
		}
		return 2
	}
	for _, m := range mounts {
		h := hierarchy{mountpoint: m.Mountpoint, root: m.Root}
		if m.FSType == "cgroup2" {
			if l.unified == nil || rank(m.Mountpoint) < rank(l.unified.mountpoint) {
				l.unified = &h
			}
			continue
		}
		for _, opt := range strings.Split(m.VFSOptions, ",") {
			if isV1Controller(opt) {
				if _, ok := l.v1[opt]; !ok {
					l.v1[opt] = h
				}
			}
		}
	}
	if len(l.v1) == 0 && l.unified == nil {
		return nil, fmt.Errorf("no cgroup hierarchy is mounted")
	}
	return l, nil
}

// ownCgroups returns this process's cgroup per controller.
func ownCgroups() (map[string]string, error) {
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	own, err := parseProcCgroup(f)
	if err != nil {
		return nil, fmt.Errorf("parse /proc/self/cgroup: %w", err)
	}
	return own, nil
}

// unifiedRootFor returns the mountpoint of the cgroup2 hierarchy holding
// dir, or "" when the host has none that does.
func unifiedRootFor(dir string) string {
	l, err := detectLayout()
	if err != nil || l.unified == nil {
		return ""
	}
	mp := l.unified.mountpoint
	if dir == mp || strings.HasPrefix(dir, mp+"/") {
		return mp
	}
	return ""
}
