package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// hostSnapshot is what existed before the suite, so the leak check only
// blames the suite for what it added.
type hostSnapshot struct {
	mounts map[string]bool
}

func snapshotHost() hostSnapshot {
	s := hostSnapshot{mounts: map[string]bool{}}
	for _, m := range mountpoints() {
		s.mounts[m] = true
	}
	return s
}

// checkLeaks lists (and then removes) everything the suite left behind:
// mounts under its temp dir or /run/rt*, cgroups under its cgroup parent,
// state dirs in its --root, and processes that are its children or live in
// a pid namespace one of its containers had.
func checkLeaks(before hostSnapshot) []string {
	var leaks []string

	// Processes first: they can pin mounts and cgroups.
	self := strconv.Itoa(os.Getpid())
	pidNamespaces.Lock()
	nss := pidNamespaces.m
	pidNamespaces.Unlock()
	for _, pid := range allPids() {
		st, err := readProcStatus(pid)
		if err != nil {
			continue
		}
		ns, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid))
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		desc := fmt.Sprintf("process %d %q (state %s)", pid,
			strings.TrimSpace(strings.ReplaceAll(string(cmdline), "\x00", " ")), st["State"])
		switch {
		case st["PPid"] == self && strings.HasPrefix(st["State"], "Z"):
			leaks = append(leaks, desc+": unreaped child of the test (an orphan of the runtime)")
		case st["PPid"] == self:
			leaks = append(leaks, desc+": still running, child of the test")
			unix.Kill(pid, unix.SIGKILL)
		case nss[ns]:
			leaks = append(leaks, desc+": still running in container pid namespace "+ns)
			unix.Kill(pid, unix.SIGKILL)
		default:
			continue
		}
		reapGone(pid, 5*time.Second)
	}

	if cgroupParent != "" {
		for _, h := range cgroupHierarchies() {
			dir := cgroupDir(h, cgroupParent)
			entries, err := os.ReadDir(dir)
			if err != nil {
				continue
			}
			for _, e := range entries {
				if e.IsDir() {
					leaks = append(leaks, "cgroup "+filepath.Join(dir, e.Name()))
				}
			}
			rmdirTree(dir)
			if _, err := os.Stat(dir); err == nil {
				leaks = append(leaks, "cgroup "+dir+" could not be removed")
			}
		}
	}

	if stateRoot != "" {
		entries, _ := os.ReadDir(stateRoot)
		for _, e := range entries {
			leaks = append(leaks, "state entry "+filepath.Join(stateRoot, e.Name()))
		}
	}

	var added []string
	for _, m := range mountpoints() {
		if before.mounts[m] {
			continue
		}
		if (baseDir != "" && under(m, baseDir)) || strings.HasPrefix(m, "/run/rt") {
			added = append(added, m)
		}
	}
	for _, m := range unmountAll(added) {
		leaks = append(leaks, "mount "+m)
	}
	return leaks
}
