package cgroups

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestDelegate(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chown needs root")
	}
	dir := t.TempDir()
	for _, f := range []string{"cgroup.procs", "cgroup.threads", "cgroup.subtree_control", "memory.max", "cgroup.type"} {
		os.WriteFile(filepath.Join(dir, f), nil, 0o644)
	}
	if err := Delegate(dir, 100000, 100001); err != nil {
		t.Fatal(err)
	}
	owner := func(p string) (uint32, uint32) {
		var st syscall.Stat_t
		syscall.Stat(p, &st)
		return st.Uid, st.Gid
	}
	if u, g := owner(dir); u != 100000 || g != 100001 {
		t.Errorf("dir owned by %d:%d", u, g)
	}
	for _, f := range []string{"cgroup.procs", "cgroup.threads", "cgroup.subtree_control"} {
		if u, _ := owner(filepath.Join(dir, f)); u != 100000 {
			t.Errorf("%s not delegated (uid %d)", f, u)
		}
	}
	// Limits stay the host's.
	if u, _ := owner(filepath.Join(dir, "memory.max")); u != 0 {
		t.Errorf("memory.max was given away (uid %d)", u)
	}
}
