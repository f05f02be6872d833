package tests

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// TestSeccomp: a seccomp rule really errno's the syscall inside the
// container, the default action holds for the rest, and the filter is in
// place (Seccomp: 2) with and without no_new_privs.
func TestSeccomp(t *testing.T) {
	one := uint(1) // EPERM
	for _, nnp := range []bool{true, false} {
		name := "no_new_privs"
		if !nnp {
			name = "without no_new_privs"
		}
		t.Run(name, func(t *testing.T) {
			out := newBundle(t, shell(`grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status; mkdir /tmp/x 2>&1; echo mkdir=$?; touch /tmp/y && echo touch-ok`), func(s *specs.Spec) {
				s.Root.Readonly = false
				s.Process.NoNewPrivileges = nnp
				s.Linux.Seccomp = &specs.LinuxSeccomp{
					DefaultAction: specs.ActAllow,
					Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
					Syscalls: []specs.LinuxSyscall{
						{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno, ErrnoRet: &one},
					},
				}
			}).output()
			mustContain(t, "seccomp mode", out, "Seccomp:\t2")
			mustContain(t, "mkdir under an errno rule", out, "Operation not permitted")
			mustContain(t, "mkdir exit status", out, "mkdir=1")
			mustContain(t, "an allowed syscall", out, "touch-ok")
		})
	}
	t.Run("kill_process", func(t *testing.T) {
		b := newBundle(t, shell(`echo before; exec mkdir /tmp/z; echo after`), func(s *specs.Spec) {
			s.Root.Readonly = false
			s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
				{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActKillProcess},
			}}
		})
		r := b.run()
		if r.code != 128+31 || !strings.Contains(r.stdout, "before") || strings.Contains(r.stdout, "after") {
			t.Fatalf("want the shell killed by SIGSYS (status 159) between before and after, got %s", r)
		}
	})
	t.Run("argument_condition", func(t *testing.T) {
		// personality(0xffffffff) only queries; block exactly PER_LINUX32 (8).
		out := newBundle(t, shell(`linux32 true; echo linux32=$?; true; echo plain=$?`), func(s *specs.Spec) {
			s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
				{Names: []string{"personality"}, Action: specs.ActErrno, ErrnoRet: &one,
					Args: []specs.LinuxSeccompArg{{Index: 0, Value: 8, Op: specs.OpEqualTo}}},
			}}
		}).output()
		if !strings.Contains(out, "plain=0") || strings.Contains(out, "linux32=0") {
			t.Fatalf("personality(PER_LINUX32) should fail and other calls pass:\n%s", out)
		}
	})
}

// seccompNotif and seccompNotifResp are the kernel's seccomp_notif (80
// bytes) and seccomp_notif_resp (24 bytes).
type seccompNotif struct {
	ID    uint64
	Pid   uint32
	Flags uint32
	Nr    int32
	Arch  uint32
	IP    uint64
	Args  [6]uint64
}

type seccompNotifResp struct {
	ID    uint64
	Val   int64
	Error int32
	Flags uint32
}

// TestSeccompNotify: with listenerPath, the listener gets the container
// process state and the notify fd, and answers the notified syscall.
func TestSeccompNotify(t *testing.T) {
	skipOnRunc(t, "runc 1.1.5 has no seccomp notify without its agent setup")
	path := filepath.Join(baseDir, fmt.Sprintf("notify-%d.sock", time.Now().UnixNano()))
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	defer os.Remove(path)
	type got struct {
		state specs.ContainerProcessState
		fdOK  bool
		err   error
	}
	result := make(chan got, 1)
	go func() {
		var g got
		defer func() { result <- g }()
		conn, err := ln.AcceptUnix()
		if err != nil {
			g.err = err
			return
		}
		defer conn.Close()
		buf, oob := make([]byte, 64<<10), make([]byte, unix.CmsgSpace(4))
		n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
		if err != nil {
			g.err = err
			return
		}
		if g.err = json.Unmarshal(buf[:n], &g.state); g.err != nil {
			return
		}
		cmsgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
		if len(cmsgs) != 1 {
			g.err = fmt.Errorf("no fd with the state")
			return
		}
		fds, _ := unix.ParseUnixRights(&cmsgs[0])
		fd := fds[0]
		defer unix.Close(fd)
		link, _ := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
		g.fdOK = strings.Contains(link, "seccomp")
		result <- g // report now; keep answering notifications
		var req seccompNotif
		for {
			req = seccompNotif{}
			if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SECCOMP_IOCTL_NOTIF_RECV, uintptr(unsafe.Pointer(&req))); e != 0 {
				return
			}
			resp := seccompNotifResp{ID: req.ID, Error: -int32(unix.EACCES)}
			unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SECCOMP_IOCTL_NOTIF_SEND, uintptr(unsafe.Pointer(&resp)))
		}
	}()
	b := newBundle(t, shell(`mkdir /tmp/n 2>&1; echo rc=$?; grep Seccomp: /proc/self/status`), func(s *specs.Spec) {
		s.Root.Readonly = false
		s.Linux.Seccomp = &specs.LinuxSeccomp{
			DefaultAction: specs.ActAllow, ListenerPath: path, ListenerMetadata: "rt-test-meta",
			Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActNotify}},
		}
	})
	b.create().mustOK(t)
	var g got
	select {
	case g = <-result:
	case <-time.After(10 * time.Second):
		t.Fatal("the listener got nothing")
	}
	if g.err != nil {
		t.Fatal(g.err)
	}
	st := b.mustState()
	if !g.fdOK || g.state.Fds[0] != specs.SeccompFdName || g.state.Pid != st.Pid || g.state.Metadata != "rt-test-meta" ||
		g.state.State.ID != b.ID || g.state.State.Status != "creating" {
		t.Fatalf("listener got %+v (fd is seccomp notify: %v); init pid %d", g.state, g.fdOK, st.Pid)
	}
	rt(t, "start", b.ID).mustOK(t)
	b.waitStatus("stopped")
	out := b.containerOutput()
	mustContain(t, "mkdir answered by the listener", out, "Permission denied")
	mustContain(t, "filter in place", out, "Seccomp:\t2")
}
