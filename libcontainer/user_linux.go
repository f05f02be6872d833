package libcontainer

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// setUser switches the calling thread to the configured user, keeping its
// permitted capabilities (PR_SET_KEEPCAPS is per thread, and this thread is
// the one that execs or forks the process) so caps.Apply can then set exactly
// the requested ones. setgroups, setresgid and setresuid are raw syscalls,
// which change only this thread (Go's and libc's wrappers change every
// thread): for init, whose other threads die at execve, that is the same;
// for exec's direct path it is what keeps rt exec itself root.
func setUser(u specs.User) error {
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("keep capabilities: %w", err)
	}
	groups := make([]int, 0, len(u.AdditionalGids))
	for _, g := range u.AdditionalGids {
		groups = append(groups, int(g))
	}
	if err := unix.Setgroups(groups); err != nil {
		// In a user namespace with setgroups denied, only an empty list is
		// refused in vain; report it only when groups were asked for.
		if len(groups) > 0 {
			return fmt.Errorf("setgroups %v (user.additionalGids): %w", groups, err)
		}
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(u.GID), uintptr(u.GID), uintptr(u.GID)); e != 0 {
		return fmt.Errorf("setresgid %d (user.gid): %w", u.GID, e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(u.UID), uintptr(u.UID), uintptr(u.UID)); e != 0 {
		return fmt.Errorf("setresuid %d (user.uid): %w", u.UID, e)
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("reset keep capabilities: %w", err)
	}
	umask := 0o022
	if u.Umask != nil {
		umask = int(*u.Umask)
	}
	unix.Umask(umask)
	return nil
}

// homeFor finds uid's home in the container's /etc/passwd ("/" if none), for
// a process env without HOME, like runc.
func homeFor(uid uint32) string {
	if h := passwdField("/etc/passwd", uid, 5); h != "" {
		return h
	}
	return "/"
}

// passwdField returns field n (0 name ... 5 home) of uid's entry in a
// passwd file, or "".
func passwdField(path string, uid uint32, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	want := strconv.FormatUint(uint64(uid), 10)
	s := bufio.NewScanner(f)
	for s.Scan() {
		p := strings.Split(s.Text(), ":")
		if len(p) >= 7 && p[2] == want {
			return p[n]
		}
	}
	return ""
}

func withHome(env []string, uid uint32) []string {
	for _, e := range env {
		if strings.HasPrefix(e, "HOME=") {
			return env
		}
	}
	return append(env, "HOME="+homeFor(uid))
}
