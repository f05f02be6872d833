package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cgroupName is the runner's own cgroup in every hierarchy; tests run in its
// leaf cgroup leafName. Relative cgroupsPath values (testdir/cgrouptest/…)
// and default cgroups then land below it, never below the caller's cgroup:
// on v1 below the leaf, on v2 below the leaf's parent (runc and rt place a
// relative v2 path next to their own cgroup, which holds processes).
const (
	cgroupName = "rt-conformance"
	leafName   = "run"
)

// suiteCgroups are the fixed cgroups the suite uses: absolute /cgrouptest, and
// testdir, where a runtime may put the relative testdir/cgrouptest/… on cgroup2
// (runc 1.1 does, in this hybrid layout).
var suiteCgroups = []string{"cgrouptest", "testdir"}

// uuidName matches the container ids the suite generates; a runtime that
// puts containers without cgroupsPath at /<id> leaves such cgroups.
var uuidName = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

type env struct {
	scratch, work, tmp, state, logs string
	suite                           string // the test binaries
	wrapper                         string
	hierarchies                     []string // cgroup mount points
	before                          map[string]bool
	// defaultRoot is the runtime's default state dir when it did not
	// exist before the run (crun creates /run/crun even with --root).
	defaultRoot string
}

// newEnv prepares the scratch directory, the runtime wrapper and the
// runner's cgroups.
func newEnv(scratch, runtime, suite, rootfs string) (*env, error) {
	e := &env{
		scratch: scratch,
		work:    filepath.Join(scratch, "work"),
		tmp:     filepath.Join(scratch, "tmp"),
		state:   filepath.Join(scratch, "state"),
		logs:    filepath.Join(scratch, "logs"),
		wrapper: filepath.Join(scratch, "runtime"),
	}
	var err error
	if e.suite, err = filepath.Abs(suite); err != nil {
		return nil, err
	}
	// A previous run that was killed may have left mounts in tmp.
	e.unmountUnder(e.tmp)
	if err := os.RemoveAll(scratch); err != nil {
		return nil, fmt.Errorf("clear scratch dir: %w", err)
	}
	for _, d := range []string{e.work, e.tmp, e.state, e.logs} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	if err := copyFile(filepath.Join(suite, "runtimetest"), filepath.Join(e.work, "runtimetest"), 0o755); err != nil {
		return nil, fmt.Errorf("runtimetest: %w", err)
	}
	if err := copyFile(rootfs, filepath.Join(e.work, "rootfs-amd64.tar.gz"), 0o644); err != nil {
		return nil, fmt.Errorf("rootfs tarball: %w", err)
	}
	if err := os.WriteFile(e.wrapper, []byte(wrapperScript(runtime, e.state)), 0o755); err != nil {
		return nil, err
	}
	if d := filepath.Join("/run", filepath.Base(runtime)); !exists(d) {
		e.defaultRoot = d
	}

	hs, err := cgroupHierarchies()
	if err != nil {
		return nil, err
	}
	e.hierarchies = hs
	for _, h := range hs {
		for _, name := range suiteCgroups {
			// Empty leftovers of an earlier run go; anything in use is someone's.
			if p := filepath.Join(h, name); exists(p) && removeTree(p) != nil {
				return nil, fmt.Errorf("%s exists and is in use: another run of the suite? remove it first", p)
			}
		}
	}
	e.before = e.topLevelCgroups()
	for _, h := range hs {
		own := filepath.Join(h, cgroupName)
		for _, dir := range []string{own, filepath.Join(own, leafName)} {
			if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
				e.teardown()
				return nil, fmt.Errorf("create cgroup: %w", err)
			}
			// cpuset children start empty; a task cannot join an empty cpuset.
			for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
				if b, err := os.ReadFile(filepath.Join(filepath.Dir(dir), f)); err == nil {
					if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
						e.teardown()
						return nil, fmt.Errorf("%s/%s: %w", dir, f, err)
					}
				}
			}
		}
	}
	return e, nil
}

// wrapperScript is the RUNTIME the tests call: the runtime with a --root of
// the run's own. crun gets two more arrangements, for comparison only:
// crun 1.8 refuses this host's hybrid cgroup layout, so it runs in a private
// mount namespace with an empty tmpfs over the cgroup2 mount (machine.md);
// and it knows runtime-spec only up to 1.1, so the suite's configs (1.3.0)
// are presented to it as 1.1.0.
func wrapperScript(runtime, state string) string {
	q := func(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
	if filepath.Base(runtime) == "crun" {
		return fmt.Sprintf(crunWrapper, q(runtime), q(state))
	}
	return fmt.Sprintf("#!/bin/sh\nexec %s --root %s \"$@\"\n", q(runtime), q(state))
}

const crunWrapper = `#!/bin/sh
prev=
for a; do
	case $prev in --bundle | -b) sed -i 's/"ociVersion": *"1\.[2-9][.0-9]*"/"ociVersion": "1.1.0"/' "$a/config.json" 2>/dev/null ;; esac
	prev=$a
done
exec unshare -m --propagation private sh -c 'mount -t tmpfs -o size=4k rt-conformance /sys/fs/cgroup/unified && exec "$0" "$@"' %s --root %s "$@"
`

// cgroupHierarchies returns the mount points of the host's cgroup
// hierarchies (v1 and v2), one per hierarchy.
func cgroupHierarchies() ([]string, error) {
	mounts, err := mountinfo()
	if err != nil {
		return nil, err
	}
	var hs []string
	for _, m := range mounts {
		if (m.fstype == "cgroup" || m.fstype == "cgroup2") && m.root == "/" {
			hs = append(hs, m.point)
		}
	}
	if len(hs) == 0 {
		return nil, errors.New("no cgroup hierarchy is mounted")
	}
	return hs, nil
}

// procsFiles lists the cgroup.procs files of the runner's cgroups.
func (e *env) procsFiles() []string {
	var fs []string
	for _, h := range e.hierarchies {
		fs = append(fs, filepath.Join(h, cgroupName, leafName, "cgroup.procs"))
	}
	return fs
}

// shim moves itself into the runner's cgroups, then execs the test: the
// runner itself never leaves the caller's cgroup.
const shim = `for p in $RTC_PROCS; do echo $$ > "$p" || exit 125; done; unset RTC_PROCS; exec "$@"`

// runTest runs one validation binary; stop reports an interrupt.
func (e *env) runTest(name string, timeout time.Duration, interrupted <-chan os.Signal) (res outcome, stop bool) {
	res = outcome{name: name, exit: -1}
	tmp := filepath.Join(e.tmp, name)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		res.setupErr = err
		return res, false
	}
	res.tapFile = filepath.Join(e.logs, name+".tap")
	res.errFile = filepath.Join(e.logs, name+".stderr")
	stdout, err1 := os.Create(res.tapFile)
	stderr, err2 := os.Create(res.errFile)
	if err := errors.Join(err1, err2); err != nil {
		res.setupErr = err
		return res, false
	}
	defer stdout.Close()
	defer stderr.Close()

	cmd := exec.Command("/bin/sh", "-c", shim, "sh", filepath.Join(e.suite, name))
	cmd.Dir = e.work
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.Env = append(cleanEnv(), "RUNTIME="+e.wrapper, "TMPDIR="+tmp, "RTC_PROCS="+strings.Join(e.procsFiles(), " "))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	begin := time.Now()
	if err := cmd.Start(); err != nil {
		res.setupErr = err
		return res, false
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var err error
	select {
	case err = <-done:
	case <-timer.C:
		res.timedOut = true
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		err = <-done
	case <-interrupted:
		stop = true
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		err = <-done
	}
	res.dur = time.Since(begin)
	res.exit = cmd.ProcessState.ExitCode()
	if err != nil && res.exit == 125 {
		res.setupErr = fmt.Errorf("could not join the runner's cgroup: %s", tail(res.errFile, 1))
	}
	out, _ := os.ReadFile(res.tapFile)
	res.tap = parseTAP(string(out))
	return res, stop
}

// cleanEnv is the runner's environment without variables the suite reads.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "RUNTIME", "TMPDIR", "RTC_PROCS":
			continue
		}
		out = append(out, kv)
	}
	return out
}

// cleanAfterTest removes what one test left: containers, mounts under its
// TMPDIR, processes and cgroups. It returns what it found.
func (e *env) cleanAfterTest() []string {
	var found []string
	found = append(found, e.deleteContainers()...)
	found = append(found, e.unmountUnder(e.tmp)...)
	found = append(found, e.clearCgroups(false)...)
	ents, _ := os.ReadDir(e.tmp)
	for _, ent := range ents {
		p := filepath.Join(e.tmp, ent.Name())
		if err := os.RemoveAll(p); err != nil {
			found = append(found, fmt.Sprintf("cannot remove %s: %v", p, err))
		}
	}
	return found
}

// deleteContainers force-deletes every container in the run's state root.
func (e *env) deleteContainers() []string {
	var found []string
	out, err := exec.Command(e.wrapper, "list", "-q").Output()
	if err != nil {
		found = append(found, fmt.Sprintf("list containers: %v", err))
	}
	for _, id := range strings.Fields(string(out)) {
		msg := "container " + id
		if b, err := exec.Command(e.wrapper, "delete", "--force", id).CombinedOutput(); err != nil {
			msg += fmt.Sprintf(" (delete --force failed: %v: %s)", err, strings.TrimSpace(string(b)))
		}
		found = append(found, msg)
	}
	return found
}

// unmountUnder detaches every mount at or below dir, deepest first.
func (e *env) unmountUnder(dir string) []string {
	var found []string
	for pass := 0; pass < 5; pass++ {
		mounts, err := mountinfo()
		if err != nil {
			return append(found, err.Error())
		}
		var points []string
		for _, m := range mounts {
			if m.point == dir || strings.HasPrefix(m.point, dir+"/") {
				points = append(points, m.point)
			}
		}
		if len(points) == 0 {
			break
		}
		sort.Slice(points, func(i, j int) bool { return len(points[i]) > len(points[j]) })
		for _, p := range points {
			if err := syscall.Unmount(p, syscall.MNT_DETACH); err == nil && pass == 0 {
				found = append(found, "mount "+p)
			}
		}
	}
	return found
}

// cgroupDirsToClear returns, per hierarchy, the cgroups the runner empties:
// everything below its own cgroup but the leaf (the whole tree when final),
// the suite's fixed absolute cgroups and uuid-named top-level cgroups that
// appeared during the run.
func (e *env) cgroupDirsToClear(final bool) []string {
	var dirs []string
	for _, h := range e.hierarchies {
		own := filepath.Join(h, cgroupName)
		if final {
			dirs = append(dirs, own)
			continue
		}
		for _, parent := range []string{own, filepath.Join(own, leafName)} {
			ents, _ := os.ReadDir(parent)
			for _, ent := range ents {
				if ent.IsDir() && !(parent == own && ent.Name() == leafName) {
					dirs = append(dirs, filepath.Join(parent, ent.Name()))
				}
			}
		}
		// Whatever still runs in the leaf is a leftover too.
		dirs = append(dirs, filepath.Join(own, leafName))
	}
	for _, h := range e.hierarchies {
		for _, name := range suiteCgroups {
			if p := filepath.Join(h, name); exists(p) {
				dirs = append(dirs, p)
			}
		}
	}
	for p := range e.topLevelCgroups() {
		if !e.before[p] && uuidName.MatchString(filepath.Base(p)) {
			dirs = append(dirs, p)
		}
	}
	return dirs
}

// clearCgroups kills the processes in those cgroups (all of them were
// started by this run) and removes the cgroups.
func (e *env) clearCgroups(final bool) []string {
	var found []string
	dirs := e.cgroupDirsToClear(final)
	for attempt := 0; attempt < 50; attempt++ {
		pids := map[int]bool{}
		for _, d := range dirs {
			for _, pid := range procsBelow(d) {
				pids[pid] = true
			}
		}
		if len(pids) == 0 {
			break
		}
		if attempt == 0 {
			found = append(found, fmt.Sprintf("%d processes", len(pids)))
		}
		for pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		// A frozen cgroup holds its processes: thaw it.
		for _, d := range dirs {
			thaw(d)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, d := range dirs {
		isOwn := filepath.Base(d) == cgroupName
		isLeaf := filepath.Base(d) == leafName && filepath.Base(filepath.Dir(d)) == cgroupName
		if !exists(d) || (isLeaf && !final) {
			continue
		}
		if !isOwn && !isLeaf {
			found = append(found, "cgroup "+e.relCgroup(d))
		}
		var err error
		for try := 0; try < 20; try++ {
			if err = removeTree(d); err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			found = append(found, fmt.Sprintf("cannot remove cgroup %s: %v", d, err))
		}
	}
	return found
}

// teardown removes everything the run made and returns what it could not.
func (e *env) teardown() []string {
	e.deleteContainers()
	e.unmountUnder(e.tmp)
	e.clearCgroups(true)
	var problems []string
	if ms := e.unmountUnder(e.scratch); len(ms) > 0 {
		problems = append(problems, ms...)
	}
	for _, h := range e.hierarchies {
		for _, d := range []string{filepath.Join(h, cgroupName), filepath.Join(h, "cgrouptest")} {
			if exists(d) {
				problems = append(problems, "cgroup "+d)
			}
		}
	}
	var others []string
	for p := range e.topLevelCgroups() {
		if !e.before[p] {
			others = append(others, p)
		}
	}
	if len(others) > 0 {
		sort.Strings(others)
		fmt.Fprintf(os.Stderr, "conformance: note: cgroups that appeared during the run, left alone (not named by the suite; another user of the machine?): %s\n", strings.Join(others, " "))
	}
	for _, d := range []string{e.tmp, e.state, e.work, e.wrapper} {
		if err := os.RemoveAll(d); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if e.defaultRoot != "" {
		_ = syscall.Rmdir(e.defaultRoot) // only if empty: then it is ours
	}
	return problems
}

// relCgroup names a cgroup directory by its path below its hierarchy.
func (e *env) relCgroup(dir string) string {
	for _, h := range e.hierarchies {
		if rel, err := filepath.Rel(h, dir); err == nil && !strings.HasPrefix(rel, "..") {
			return "/" + rel
		}
	}
	return dir
}

// topLevelCgroups returns the cgroup directories directly below each
// hierarchy's root.
func (e *env) topLevelCgroups() map[string]bool {
	m := map[string]bool{}
	for _, h := range e.hierarchies {
		ents, _ := os.ReadDir(h)
		for _, ent := range ents {
			if ent.IsDir() {
				m[filepath.Join(h, ent.Name())] = true
			}
		}
	}
	return m
}

// procsBelow returns the pids in a cgroup and all its descendants.
func procsBelow(dir string) []int {
	var pids []int
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(filepath.Join(p, "cgroup.procs"))
		if err != nil {
			return nil
		}
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil {
				pids = append(pids, pid)
			}
		}
		return nil
	})
	return pids
}

// thaw unfreezes a v1 freezer cgroup tree (a no-op elsewhere).
func thaw(dir string) {
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			f := filepath.Join(p, "freezer.state")
			if exists(f) {
				os.WriteFile(f, []byte("THAWED"), 0o644)
			}
		}
		return nil
	})
}

// removeTree removes a cgroup directory and its descendants, deepest first.
func removeTree(dir string) error {
	var dirs []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	var errs []error
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := syscall.Rmdir(dirs[i]); err != nil && err != syscall.ENOENT {
			errs = append(errs, fmt.Errorf("rmdir %s: %w", dirs[i], err))
		}
	}
	return errors.Join(errs...)
}

type mount struct{ root, point, fstype string }

// mountinfo parses /proc/self/mountinfo.
func mountinfo() ([]mount, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var ms []mount
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		fs, pf := strings.Fields(pre), strings.Fields(post)
		if !ok || len(fs) < 5 || len(pf) < 1 {
			continue
		}
		ms = append(ms, mount{root: unescape(fs[3]), point: unescape(fs[4]), fstype: pf[0]})
	}
	return ms, sc.Err()
}

// unescape undoes mountinfo's octal escapes (\040 for a space).
func unescape(s string) string {
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

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

func copyFile(src, dst string, mode os.FileMode) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, mode)
}
