package cgroups

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// delegateFiles are the files of a cgroup2 directory its delegatee must own
// (the kernel lists them in /sys/kernel/cgroup/delegate; these are the
// ones every kernel with cgroup2 has).
var delegateFiles = []string{"cgroup.procs", "cgroup.threads", "cgroup.subtree_control"}

// Delegate gives a cgroup2 directory to uid:gid (the host ids of the
// container's root): the directory itself and its delegation files, so that
// a container in its own user namespace can manage its cgroup subtree
// through a writable cgroup mount (cgroup-v2.rst, "Delegation").
func Delegate(dir string, uid, gid int) error {
	files := delegateFiles
	if b, err := os.ReadFile("/sys/kernel/cgroup/delegate"); err == nil {
		files = strings.Fields(string(b))
	}
	if err := os.Chown(dir, uid, gid); err != nil {
		return fmt.Errorf("delegate %s: %w", dir, err)
	}
	for _, f := range files {
		p := filepath.Join(dir, f)
		if err := os.Chown(p, uid, gid); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("delegate %s: %w", p, err)
		}
	}
	return nil
}
