package caps

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

const childEnv = "RT_CAPS_TEST_CHILD"

// childReq is what the test passes to the re-executed test binary.
type childReq struct {
	UID  int                      `json:"uid"`
	Caps *specs.LinuxCapabilities `json:"caps"`
	// HideProc covers /proc with an empty tmpfs (in the child's own mount
	// namespace) before Apply, as in a container without a mount namespace
	// whose chroot has an empty /proc; the child then prints its thread's
	// status through a /proc fd opened beforehand, without exec.
	HideProc bool `json:"hideProc"`
}

func TestMain(m *testing.M) {
	if v := os.Getenv(childEnv); v != "" {
		runChild(v)
		return
	}
	os.Exit(m.Run())
}

// runChild follows the sequence documented on Apply, then execs cat so the
// test sees the capabilities the container's program would get.
func runChild(arg string) {
	runtime.LockOSThread()
	var req childReq
	if err := json.Unmarshal([]byte(arg), &req); err != nil {
		fail("decode: %v", err)
	}
	if req.UID != 0 {
		if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
			fail("keepcaps: %v", err)
		}
		// Raw syscalls: this thread only.
		if _, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, 0, 0, 0); e != 0 {
			fail("setgroups: %v", e)
		}
		id := uintptr(req.UID)
		if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, id, id, id); e != 0 {
			fail("setresgid: %v", e)
		}
		if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, id, id, id); e != 0 {
			fail("setresuid: %v", e)
		}
		if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 0, 0, 0, 0); err != nil {
			fail("clear keepcaps: %v", err)
		}
	}
	procfd := -1
	if req.HideProc {
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			fail("private /: %v", err)
		}
		fd, err := unix.Open("/proc", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			fail("open /proc: %v", err)
		}
		procfd = fd
		if err := unix.Mount("tmpfs", "/proc", "tmpfs", 0, "size=4k"); err != nil {
			fail("hide /proc: %v", err)
		}
	}
	if err := Apply(req.Caps); err != nil {
		fail("apply: %v", err)
	}
	if procfd >= 0 {
		fd, err := unix.Openat(procfd, "thread-self/status", unix.O_RDONLY, 0)
		if err != nil {
			fail("open status: %v", err)
		}
		b := make([]byte, 64<<10)
		n, _ := unix.Read(fd, b)
		os.Stdout.Write(b[:n])
		os.Exit(0)
	}
	err := syscall.Exec("/bin/cat", []string{"cat", "/proc/self/status"}, []string{})
	fail("exec: %v", err)
}

func fail(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "child: "+format+"\n", a...)
	os.Exit(3)
}

func mask(names ...string) uint64 {
	var m uint64
	for _, n := range names {
		c, ok := Parse(n)
		if !ok {
			panic(n)
		}
		m |= 1 << uint(c)
	}
	return m
}

// runApply re-executes the test binary to apply c as uid and returns the
// Cap* lines of the exec'd program's /proc/self/status, and stderr.
func runApply(t *testing.T, uid int, c *specs.LinuxCapabilities) (map[string]uint64, string, error) {
	t.Helper()
	return runChildReq(t, childReq{UID: uid, Caps: c})
}

func runChildReq(t *testing.T, req childReq) (map[string]uint64, string, error) {
	t.Helper()
	arg, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if req.HideProc {
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS}
	}
	cmd.Env = append(os.Environ(), childEnv+"="+string(arg))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, stderr.String(), err
	}
	got := make(map[string]uint64)
	for _, line := range strings.Split(string(out), "\n") {
		k, v, ok := strings.Cut(line, ":\t")
		if !ok || !strings.HasPrefix(k, "Cap") {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		if err != nil {
			t.Fatalf("parse %q: %v", line, err)
		}
		got[k] = n
	}
	return got, stderr.String(), nil
}

func TestApply(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	std := []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
	tests := []struct {
		name     string
		uid      int
		caps     *specs.LinuxCapabilities
		want     map[string]uint64
		stderrRe string // substring expected on stderr
	}{
		{
			name: "root, runc default sets",
			uid:  0,
			caps: &specs.LinuxCapabilities{Bounding: std, Effective: std, Permitted: std},
			want: map[string]uint64{"CapBnd": mask(std...), "CapPrm": mask(std...), "CapEff": mask(std...), "CapInh": 0, "CapAmb": 0},
		},
		{
			// CVE-2022-29162: nothing inheritable unless asked, so a non-root
			// program gets no capabilities at all.
			name: "non-root, no inheritable: nothing leaks",
			uid:  1000,
			caps: &specs.LinuxCapabilities{Bounding: std, Effective: std, Permitted: std},
			want: map[string]uint64{"CapBnd": mask(std...), "CapPrm": 0, "CapEff": 0, "CapInh": 0, "CapAmb": 0},
		},
		{
			name: "non-root, explicit inheritable is applied exactly",
			uid:  1000,
			caps: &specs.LinuxCapabilities{Bounding: std, Effective: std, Permitted: std, Inheritable: []string{"CAP_KILL"}},
			want: map[string]uint64{"CapBnd": mask(std...), "CapPrm": 0, "CapEff": 0, "CapInh": mask("CAP_KILL"), "CapAmb": 0},
		},
		{
			name: "non-root, ambient gives the program its capability",
			uid:  1000,
			caps: &specs.LinuxCapabilities{
				Bounding: std, Effective: std, Permitted: std,
				Inheritable: []string{"CAP_NET_BIND_SERVICE"}, Ambient: []string{"CAP_NET_BIND_SERVICE"},
			},
			want: map[string]uint64{
				"CapBnd": mask(std...), "CapPrm": mask("CAP_NET_BIND_SERVICE"), "CapEff": mask("CAP_NET_BIND_SERVICE"),
				"CapInh": mask("CAP_NET_BIND_SERVICE"), "CapAmb": mask("CAP_NET_BIND_SERVICE"),
			},
		},
		{
			name:     "ambient without inheritable is a warning",
			uid:      1000,
			caps:     &specs.LinuxCapabilities{Bounding: std, Permitted: std, Ambient: []string{"CAP_KILL"}},
			want:     map[string]uint64{"CapBnd": mask(std...), "CapPrm": 0, "CapEff": 0, "CapInh": 0, "CapAmb": 0},
			stderrRe: "ambient capabilities not granted",
		},
		{
			name:     "capability missing from the host bounding set is a warning",
			uid:      0,
			caps:     &specs.LinuxCapabilities{Bounding: []string{"CAP_KILL", "CAP_SYS_RESOURCE"}, Permitted: []string{"CAP_KILL", "CAP_SYS_RESOURCE"}, Effective: []string{"CAP_KILL"}},
			want:     map[string]uint64{"CapBnd": mask("CAP_KILL"), "CapPrm": mask("CAP_KILL"), "CapEff": mask("CAP_KILL"), "CapInh": 0, "CapAmb": 0},
			stderrRe: "CAP_SYS_RESOURCE",
		},
		{
			name: "empty sets drop everything",
			uid:  0,
			caps: &specs.LinuxCapabilities{},
			want: map[string]uint64{"CapBnd": 0, "CapPrm": 0, "CapEff": 0, "CapInh": 0, "CapAmb": 0},
		},
	}
	hostHasSysResource, _ := capability.GetBound(capability.CAP_SYS_RESOURCE)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if strings.Contains(tt.stderrRe, "SYS_RESOURCE") && hostHasSysResource {
				t.Skip("host bounding set has CAP_SYS_RESOURCE")
			}
			got, stderr, err := runApply(t, tt.uid, tt.caps)
			if err != nil {
				t.Fatalf("child: %v: %s", err, stderr)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %016x, want %016x", k, got[k], v)
				}
			}
			if tt.stderrRe != "" && !strings.Contains(stderr, tt.stderrRe) {
				t.Errorf("stderr %q lacks %q", stderr, tt.stderrRe)
			}
		})
	}
}

func TestApplyUnknownIsError(t *testing.T) {
	_, stderr, err := runApply(t, 0, &specs.LinuxCapabilities{Bounding: []string{"CAP_FOO"}})
	if err == nil || !strings.Contains(stderr, `bounding[0]: unknown capability "CAP_FOO"`) {
		t.Fatalf("err = %v, stderr = %q", err, stderr)
	}
}

// A container without a mount namespace is chrooted into a rootfs whose /proc
// is empty (linux_ns_itype in the OCI validation suite): Apply must not need
// /proc/self/status.
func TestApplyWithoutProc(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	std := []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
	got, stderr, err := runChildReq(t, childReq{
		Caps:     &specs.LinuxCapabilities{Bounding: std, Effective: std, Permitted: std},
		HideProc: true,
	})
	if err != nil {
		t.Fatalf("child: %v: %s", err, stderr)
	}
	for _, k := range []string{"CapBnd", "CapPrm", "CapEff"} {
		if got[k] != mask(std...) {
			t.Errorf("%s = %016x, want %016x", k, got[k], mask(std...))
		}
	}
	if got["CapInh"] != 0 || got["CapAmb"] != 0 {
		t.Errorf("CapInh %x CapAmb %x, want 0", got["CapInh"], got["CapAmb"])
	}
}
