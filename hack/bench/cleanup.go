package main

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// cleanup closes the engine workspaces, deletes every container the
// runtimes may still have, stops the helper, removes the cgroups under
// cgParent (and the engines') in every hierarchy and the work directory,
// then checks that no cgroup, mount, state or process of this run is left.
// It returns what it could not clean.
func (h *harness) cleanup() []string {
	var problems []string
	// Engines first: deleteAll reaps every exited child of ours, which
	// must not include their reapers before close has waited for them.
	for _, r := range h.rts {
		if r.eng != nil {
			for _, p := range r.eng.close() {
				problems = append(problems, r.name+": "+p)
			}
			r.eng = nil
		}
	}
	for _, r := range h.rts {
		problems = append(problems, r.deleteAll()...)
	}
	if h.helper != nil {
		if err := h.helper.close(); err != nil {
			problems = append(problems, err.Error())
		}
	}
	reapAll()
	problems = append(problems, removeCgroups(h.cgParent)...)
	for _, cg := range h.engineCgroups {
		problems = append(problems, removeCgroups(cg)...)
	}
	if err := os.RemoveAll(h.work); err != nil {
		problems = append(problems, err.Error())
	}
	return append(problems, h.verify()...)
}

// deleteAll deletes -f what r lists under its root and what we created,
// reaps the inits, and reports containers that survive a second try.
func (r *runtime) deleteAll() []string {
	for try := 0; try < 2; try++ {
		ids := r.list()
		for id := range r.live {
			if !slices.Contains(ids, id) && try == 0 {
				ids = append(ids, id)
			}
		}
		if len(ids) == 0 {
			return nil
		}
		var steps []step
		for _, id := range ids {
			steps = append(steps, step{Args: r.cmd("delete", "--force", id), MayFail: true})
		}
		r.do(job{Steps: append(steps, step{Reap: true}), Timeout: 20 * time.Second})
		clear(r.live)
	}
	if ids := r.list(); len(ids) > 0 {
		return []string{fmt.Sprintf("%s: containers left under %s: %s", r.name, r.root, strings.Join(ids, " "))}
	}
	return nil
}

// list returns the ids under r's root (none if there is no root).
func (r *runtime) list() []string {
	if _, err := os.Stat(r.root); err != nil {
		return nil
	}
	res, err := r.do(job{Steps: []step{{Args: r.cmd("list", "-q")}}, Timeout: 20 * time.Second})
	if err != nil {
		return nil
	}
	return strings.Fields(res.Steps[0].Stdout)
}

// removeCgroups removes <hierarchy>/<parent> and everything below it in
// every mounted hierarchy, deepest first. Only rmdir: nothing is written.
func removeCgroups(parent string) []string {
	var problems []string
	hierarchies, _ := filepath.Glob("/sys/fs/cgroup/*")
	for _, hdir := range hierarchies {
		if err := rmdirTree(filepath.Join(hdir, parent)); err != nil {
			problems = append(problems, err.Error())
		}
	}
	return problems
}

func rmdirTree(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := rmdirTree(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	// The kernel may report EBUSY for a moment after the last task exits.
	for i := 0; ; i++ {
		err := unix.Rmdir(dir)
		if err == nil || err == unix.ENOENT {
			return nil
		}
		if err != unix.EBUSY || i == 50 {
			return fmt.Errorf("rmdir %s: %w", dir, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// verify looks for anything of this run left on the host.
func (h *harness) verify() []string {
	var problems []string
	for _, cg := range append([]string{h.cgParent}, h.engineCgroups...) {
		if left, _ := filepath.Glob("/sys/fs/cgroup/*/" + strings.TrimPrefix(cg, "/")); len(left) > 0 {
			problems = append(problems, "cgroups left: "+strings.Join(left, " "))
		}
	}
	if _, err := os.Lstat(h.work); err == nil {
		problems = append(problems, h.work+" is still there")
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	for _, line := range strings.Split(string(mi), "\n") {
		if strings.Contains(line, h.work) || strings.Contains(line, h.o.rootfs) {
			problems = append(problems, "mount left: "+line)
		}
	}
	if h.helper != nil && !hybridCgroups() {
		problems = append(problems, unifiedDir+" is no longer the host's cgroup2 mount")
	}
	if pids := processesMentioning(h.work); len(pids) > 0 {
		problems = append(problems, fmt.Sprintf("processes left: %v", pids))
	}
	return problems
}

// processesMentioning lists processes whose command line contains s.
func processesMentioning(s string) []int {
	var pids []int
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", p.Name(), "cmdline"))
		if bytes.Contains(cmdline, []byte(s)) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// cleanStale cleans up after earlier runs that were killed before they
// could: work directories and cgroup parents named after a dead pid.
func (h *harness) cleanStale(crunLauncher launcher) {
	stale := map[int]bool{}
	dirs, _ := filepath.Glob(workPrefix + "*")
	cgs, _ := filepath.Glob("/sys/fs/cgroup/*/" + cgPrefix + "*")
	for _, d := range append(dirs, cgs...) {
		pid, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(d), cgPrefix))
		if err == nil && pid != os.Getpid() && unix.Kill(pid, 0) == unix.ESRCH {
			stale[pid] = true
		}
	}
	for _, pid := range slices.Sorted(maps.Keys(stale)) {
		old := &harness{o: h.o, work: fmt.Sprintf("%s%d", workPrefix, pid), cgParent: fmt.Sprintf("%s%d", cgPrefix, pid)}
		old.rts = old.runtimes(old.work, crunLauncher)
		logf("cleaning up after an earlier run (pid %d)", pid)
		old.engineCgroups = staleEngines(old.work)
		for _, p := range old.cleanup() {
			logf("cleanup of pid %d: %s", pid, p)
		}
	}
}
