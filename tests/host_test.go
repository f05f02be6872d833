// Helpers that inspect and clean the host: processes, cgroups, mounts.

package tests

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// readProcStatus returns the fields of /proc/PID/status.
func readProcStatus(pid int) (map[string]string, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	return parseStatus(string(data)), nil
}

// parseStatus parses "Key:\tvalue" lines (as in /proc/PID/status).
func parseStatus(s string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok {
			m[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return m
}

// reapGone waits until pid no longer exists, reaping it if it is our child
// (we are the subreaper of detached containers).
func reapGone(pid int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		st, err := readProcStatus(pid)
		if err != nil {
			return nil // gone
		}
		if st["PPid"] == strconv.Itoa(os.Getpid()) && strings.HasPrefix(st["State"], "Z") {
			var ws unix.WaitStatus
			unix.Wait4(pid, &ws, unix.WNOHANG, nil)
			continue
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("process %d (%s, state %s) still exists", pid, st["Name"], st["State"])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// reapOrphans reaps the test's zombie children (orphans of the runtime that
// were reparented to us, the subreaper) and, if live too, kills and reaps its
// live children. It describes each.
func reapOrphans(live bool) []string {
	var found []string
	self := strconv.Itoa(os.Getpid())
	for _, pid := range allPids() {
		st, err := readProcStatus(pid)
		if err != nil || st["PPid"] != self {
			continue
		}
		zombie := strings.HasPrefix(st["State"], "Z")
		if !zombie && !live {
			continue
		}
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		found = append(found, fmt.Sprintf("process %d %s %q (state %s)", pid, st["Name"],
			strings.TrimSpace(strings.ReplaceAll(string(cmdline), "\x00", " ")), st["State"]))
		if !zombie {
			unix.Kill(pid, unix.SIGKILL)
		}
		reapGone(pid, 5*time.Second)
	}
	return found
}

// pidNamespaces holds the pid namespaces of the suite's containers, so the
// leak check can find any process still living in one.
var pidNamespaces = struct {
	sync.Mutex
	m map[string]bool
}{m: map[string]bool{}}

func registerContainerPid(pid int) {
	ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid))
	if err != nil {
		return
	}
	if self, _ := os.Readlink("/proc/self/ns/pid"); ns == self {
		return
	}
	pidNamespaces.Lock()
	pidNamespaces.m[ns] = true
	pidNamespaces.Unlock()
}

// cgroupHierarchies lists the mounted cgroup hierarchies (v1 controllers and
// the unified one), e.g. /sys/fs/cgroup/memory.
func cgroupHierarchies() []string {
	var dirs []string
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	for _, line := range strings.Split(string(data), "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		if fs := strings.Fields(post); len(fs) > 0 && (fs[0] == "cgroup" || fs[0] == "cgroup2") {
			dirs = append(dirs, unescapeMount(strings.Fields(pre)[4]))
		}
	}
	return dirs
}

// cgroupDir is where cgroup path p lives in hierarchy h (a controller name
// like "memory", or a mountpoint).
func cgroupDir(h, p string) string {
	if !strings.HasPrefix(h, "/") {
		h = "/sys/fs/cgroup/" + h
	}
	return filepath.Join(h, p)
}

// removeCgroup removes cgroup path p (and below) in every hierarchy,
// returning the directories that existed.
func removeCgroup(p string) []string {
	var found []string
	for _, h := range cgroupHierarchies() {
		dir := cgroupDir(h, p)
		if _, err := os.Stat(dir); err != nil {
			continue
		}
		found = append(found, dir)
		rmdirTree(dir)
	}
	return found
}

// rmdirTree removes a cgroup directory tree deepest first (cgroup dirs can
// only be rmdir'ed, and only once empty of processes).
func rmdirTree(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.IsDir() {
			rmdirTree(filepath.Join(dir, e.Name()))
		}
	}
	for i := 0; i < 50; i++ {
		if err := unix.Rmdir(dir); err == nil || errors.Is(err, unix.ENOENT) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func allPids() []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// mountpoints lists the mount points of the test's mount namespace.
func mountpoints() []string {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var mps []string
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 4 {
			mps = append(mps, unescapeMount(f[4]))
		}
	}
	return mps
}

// unescapeMount undoes mountinfo's octal escapes (\040 for space, ...).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func under(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, dir+"/")
}

// unmountAll lazily unmounts mps, deepest first, returning them deduplicated.
func unmountAll(mps []string) []string {
	seen := map[string]bool{}
	var uniq []string
	for _, m := range mps {
		if !seen[m] {
			seen[m] = true
			uniq = append(uniq, m)
		}
	}
	sort.Slice(uniq, func(i, j int) bool { return len(uniq[i]) > len(uniq[j]) })
	for _, m := range uniq {
		for unix.Unmount(m, unix.MNT_DETACH) == nil {
		}
	}
	return uniq
}

// removeAllNoMounts removes dir, but first unmounts anything mounted below it
// so that RemoveAll never deletes through a leaked bind mount into host files.
func removeAllNoMounts(dir string) error {
	var inside []string
	for _, m := range mountpoints() {
		if under(m, dir) {
			inside = append(inside, m)
		}
	}
	unmountAll(inside)
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if len(inside) > 0 {
		return fmt.Errorf("mounts left under %s: %v", dir, inside)
	}
	return nil
}
