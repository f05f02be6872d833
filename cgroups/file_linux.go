package cgroups

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// writeFile writes value to the existing cgroup file dir/file. Errors read
// "set memory.limit_in_bytes=4194304 in /sys/fs/cgroup/memory/x: device or
// resource busy" and wrap the errno.
func writeFile(dir, file, value string) error {
	f, err := os.OpenFile(filepath.Join(dir, file), os.O_WRONLY|os.O_TRUNC|unix.O_CLOEXEC, 0)
	if err == nil {
		_, err = f.WriteString(value)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return fmt.Errorf("set %s=%s in %s: %w", file, value, dir, bareErr(err))
	}
	return nil
}

// set writes value to dir/file for the config field; the error names the
// field, the file, the value and the directory.
func set(field, dir, file, value string) error {
	if err := writeFile(dir, file, value); err != nil {
		return fmt.Errorf("linux.resources.%s: %w", field, err)
	}
	return nil
}

// fileWrite is one value for a cgroup file; "" means not set.
type fileWrite struct{ field, file, value string }

// setOrdered writes inter-dependent files (CFS quota, period and burst; the
// realtime pair) the way runc does: a value the kernel refuses with EINVAL
// while a later one is still to come (a shorter period while the old quota
// exceeds the parent's bandwidth, a burst above the old quota) is retried
// once the others are in.
func setOrdered(dir string, ws ...fileWrite) error {
	var retry []fileWrite
	for i, w := range ws {
		if w.value == "" {
			continue
		}
		if err := set(w.field, dir, w.file, w.value); err != nil {
			later := slices.ContainsFunc(ws[i+1:], func(l fileWrite) bool { return l.value != "" })
			if !errors.Is(err, unix.EINVAL) || !later {
				return err
			}
			retry = append(retry, w)
		}
	}
	for _, w := range retry {
		if err := set(w.field, dir, w.file, w.value); err != nil {
			return err
		}
	}
	return nil
}

// firstExisting returns the first of the "|"-separated alternatives that
// exists in dir, "" if none does.
func firstExisting(dir, alternatives string) string {
	for _, f := range strings.Split(alternatives, "|") {
		if exists(filepath.Join(dir, f)) {
			return f
		}
	}
	return ""
}

// readFile returns the trimmed content of dir/file.
func readFile(dir, file string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		return "", fmt.Errorf("read %s in %s: %w", file, dir, bareErr(err))
	}
	return strings.TrimSpace(string(b)), nil
}

func readUint(dir, file string) (uint64, error) {
	s, err := readFile(dir, file)
	if err != nil {
		return 0, err
	}
	if s == "max" {
		return ^uint64(0), nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("read %s in %s: %w", file, dir, err)
	}
	return v, nil
}

// bareErr drops the *PathError wrapper so messages name the file once.
func bareErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// errPidZero: writing 0 to cgroup.procs would move the caller itself.
var errPidZero = errors.New("apply cgroup: pid 0 is not a process (use a negative pid to only create the cgroup)")

// WriteProcs moves process pid into the cgroup at dir (cgroup.procs).
func WriteProcs(dir string, pid int) error { return writeProcs(dir, pid) }

// writeProcs moves pid into the cgroup at dir.
func writeProcs(dir string, pid int) error {
	var err error
	for i := 0; i < 5; i++ {
		err = writeFile(dir, "cgroup.procs", strconv.Itoa(pid))
		// EINVAL: the task may still be in TASK_NEW (mid-fork); retry.
		if err == nil || !errors.Is(err, unix.EINVAL) {
			break
		}
		time.Sleep(30 * time.Millisecond)
	}
	return err
}

// pidsIn collects the processes of the cgroups at and below dir into set.
// Cgroups that vanish while we walk are skipped.
func pidsIn(dir string, set map[int]struct{}) error {
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(filepath.Join(p, "cgroup.procs"))
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		for _, f := range strings.Fields(string(b)) {
			pid, err := strconv.Atoi(f)
			if err != nil {
				return fmt.Errorf("parse %s/cgroup.procs: %w", p, err)
			}
			set[pid] = struct{}{}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("list processes in %s: %w", dir, err)
	}
	return nil
}

func sortedPids(set map[int]struct{}) []int {
	out := make([]int, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	sort.Ints(out)
	return out
}

// removeCgroups removes each dir and every cgroup below it, deepest first.
// Only directories are removed (cgroupfs files go with them). While the
// kernel answers EBUSY (a just-killed task leaves its cgroup a little after
// it is reaped) all remaining dirs are retried together for about 300 ms;
// a process that stays inside keeps the error: nothing is killed.
func removeCgroups(dirs []string) error {
	delay := 10 * time.Millisecond
	for i := 0; ; i++ {
		var busy []string
		var errs []error
		for _, d := range dirs {
			if err := removeTree(d); err != nil {
				if errors.Is(err, unix.EBUSY) && i < 5 {
					busy = append(busy, d)
					continue
				}
				errs = append(errs, err)
			}
		}
		if len(busy) == 0 {
			return errors.Join(errs...)
		}
		if len(errs) > 0 {
			return errors.Join(errs...)
		}
		time.Sleep(delay)
		delay *= 2
		dirs = busy
	}
}

// removeTree makes one attempt at removing dir and its sub-cgroups. It
// tries rmdir first: a cgroup directory holds ~30 files, and listing it
// only pays where there may be sub-cgroups (EBUSY).
func removeTree(dir string) error {
	err := unix.Rmdir(dir)
	if err == nil || errors.Is(err, unix.ENOENT) {
		return nil
	}
	if !errors.Is(err, unix.EBUSY) {
		return fmt.Errorf("remove cgroup %s: %w", dir, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("remove cgroup %s: %w", dir, bareErr(err))
	}
	var errs []error
	for _, e := range entries {
		if e.IsDir() {
			if err := removeTree(filepath.Join(dir, e.Name())); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if err := unix.Rmdir(dir); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("remove cgroup %s: %w", dir, err)
	}
	return nil
}

// enableControllers makes each of want available in dir by enabling it in
// cgroup.subtree_control of every cgroup from root (a cgroup2 mountpoint)
// down to dir's parent, where it is not enabled already. Controllers the
// root does not offer are skipped; the caller checks dir/cgroup.controllers
// for the ones it really needs, which gives the clearer error.
func enableControllers(root, dir string, want []string) error {
	if len(want) == 0 {
		return nil
	}
	rel, err := filepath.Rel(root, dir)
	if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
		return fmt.Errorf("cgroup %s is not below the cgroup2 mount %s", dir, root)
	}
	cur := root
	for _, el := range strings.Split(rel, "/") {
		avail, err := readFile(cur, "cgroup.controllers")
		if err != nil {
			return err
		}
		enabled, err := readFile(cur, "cgroup.subtree_control")
		if err != nil {
			return err
		}
		var add []string
		for _, c := range want {
			if hasWord(avail, c) && !hasWord(enabled, c) {
				add = append(add, "+"+c)
			}
		}
		if len(add) > 0 {
			if err := writeFile(cur, "cgroup.subtree_control", strings.Join(add, " ")); err != nil {
				// One refusal (e.g. cpu while the parent has RT tasks) must
				// not cost the others: retry one by one, report the first.
				var first error
				for _, a := range add {
					if err := writeFile(cur, "cgroup.subtree_control", a); err != nil && first == nil {
						first = err
					}
				}
				if first != nil {
					return first
				}
			}
		}
		cur = filepath.Join(cur, el)
	}
	return nil
}

// mkdirCgroup makes dir and any missing parents. Usually only dir is
// missing: one mkdir, instead of MkdirAll's stat of dir and of its parent
// first.
func mkdirCgroup(dir string) error {
	err := unix.Mkdir(dir, 0o755)
	switch {
	case err == nil || errors.Is(err, unix.EEXIST):
		return nil
	case errors.Is(err, unix.ENOENT):
		return os.MkdirAll(dir, 0o755)
	}
	return &os.PathError{Op: "mkdir", Path: dir, Err: err}
}
