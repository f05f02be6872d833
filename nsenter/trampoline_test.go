package nsenter

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// The encoding the stage reads: 64-byte records, relocated arguments as
// offsets from the message's start, the terminator with the path's offset,
// then the data.
func TestTrampolineMsgEncode(t *testing.T) {
	var m TrampolineMsg
	m.Syscall("one", 302, Val(0), Val(7), Bytes([]byte{1, 2, 3}), Val(0))
	m.Syscall("two", 80, String("/x"))
	b, err := m.Encode("/bin/prog", []string{"A=1", "HOME=/h"})
	if err != nil {
		t.Fatal(err)
	}
	u := func(off int) uint64 { return binary.NativeEndian.Uint64(b[off:]) }
	base := uint64(3 * 64)
	if u(0) != 302 || u(8) != 0 || u(16) != 7 || u(24) != base || u(56) != 1<<2 {
		t.Errorf("record 0: % x", b[:64])
	}
	if got := b[u(24) : u(24)+3]; !bytes.Equal(got, []byte{1, 2, 3}) {
		t.Errorf("record 0 data %v", got)
	}
	if u(64) != 80 || u(64+56) != 1 || string(b[u(72):u(72)+3]) != "/x\x00" || u(72)%8 != 0 {
		t.Errorf("record 1: % x", b[64:128])
	}
	if u(128) != ^uint64(0) || string(b[u(136):u(136)+10]) != "/bin/prog\x00" {
		t.Errorf("terminator: % x", b[128:192])
	}
	env := int(u(144))
	if env%8 != 0 || string(b[u(env):u(env)+4]) != "A=1\x00" || string(b[u(env+8):u(env+8)+7]) != "HOME=/h" || u(env+16) != 0 {
		t.Errorf("environment at %d: % x", env, b[env:])
	}
	if b, _ := m.Encode("", nil); binary.NativeEndian.Uint64(b[136:]) != 0 || binary.NativeEndian.Uint64(b[144:]) != 0 {
		t.Error("no path, no environment: the terminator's offsets must be 0")
	}
	big := TrampolineMsg{}
	big.Syscall("big", 1, Bytes(make([]byte, trampolineMsgMax)))
	if _, err := big.Encode("", nil); err == nil {
		t.Error("a message larger than the stage's buffer was encoded")
	}
}

func TestTrampolineMsgFailure(t *testing.T) {
	var m TrampolineMsg
	m.Syscall("first", 1)
	m.Syscall("second", 2)
	report := func(errno syscall.Errno, idx uint32) []byte {
		b := binary.NativeEndian.AppendUint32(nil, uint32(errno))
		return binary.NativeEndian.AppendUint32(b, idx)
	}
	for _, tt := range []struct {
		idx  uint32
		step string
	}{{0, "first"}, {1, "second"}, {2, "exec"}, {TrampolineNoRecord, ""}} {
		step, errno := m.Failure(report(syscall.EPERM, tt.idx))
		if step != tt.step || errno != syscall.EPERM {
			t.Errorf("index %d: %q %v, want %q EPERM", tt.idx, step, errno, tt.step)
		}
	}
}

// RunOnThread makes the ThreadSyscall records on the calling thread, in
// order, skips the others, and names the step of one that fails.
func TestTrampolineMsgRunOnThread(t *testing.T) {
	var m TrampolineMsg
	name := "rt-thread-test"
	m.Syscall("not on the thread", unix.SYS_EXIT, Val(7)) // would end the thread
	m.ThreadSyscall("name", unix.SYS_PRCTL, Val(unix.PR_SET_NAME), String(name))
	m.ThreadSyscall("bad prctl", unix.SYS_PRCTL, Val(0xdead))
	var comm string
	var step string
	var err error
	OnDiscardedThread(func() error {
		step, err = m.RunOnThread()
		b, _ := os.ReadFile("/proc/thread-self/comm")
		comm = strings.TrimSpace(string(b))
		return nil
	})
	if comm != name {
		t.Errorf("thread name %q, want %q (the record before the failing one ran)", comm, name)
	}
	if step != "bad prctl" || err != unix.EINVAL {
		t.Errorf("RunOnThread: step %q, error %v; want \"bad prctl\", EINVAL", step, err)
	}
}

// OnDiscardedThread returns once its thread is gone, not merely done.
func TestOnDiscardedThreadWaitsForExit(t *testing.T) {
	for i := 0; i < 20; i++ {
		var tid int
		OnDiscardedThread(func() error {
			tid = unix.Gettid()
			return nil
		})
		if _, err := os.Stat("/proc/self/task/" + strconv.Itoa(tid)); !os.IsNotExist(err) {
			t.Fatalf("thread %d still there after OnDiscardedThread returned (%v)", tid, err)
		}
	}
}

// A raw thread makes its records while the caller goes on; what it opens
// is the process's; a failure names its step.
func TestRawThread(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("raw threads are written for amd64 only")
	}
	var m TrampolineMsg
	m.Syscall("unshare", unix.SYS_UNSHARE, Val(unix.CLONE_NEWUTS))
	m.Syscall("sethostname", unix.SYS_SETHOSTNAME, String("raw"), Val(3))
	cwd := unix.AT_FDCWD
	m.Syscall("open uts", unix.SYS_OPENAT, Val(uintptr(cwd)), String("/proc/thread-self/ns/uts"), Val(unix.O_RDONLY|unix.O_CLOEXEC))
	m.Syscall("gettid", unix.SYS_GETTID)
	th, err := m.StartThread()
	if err != nil {
		t.Fatal(err)
	}
	res, err := th.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 4 || res[0] != 0 || res[1] != 0 {
		t.Fatalf("results %v", res)
	}
	ns := os.NewFile(res[2], "uts")
	defer ns.Close()
	if tid := int(res[3]); tid == unix.Gettid() || tid == os.Getpid() {
		t.Errorf("records made on thread %d, the caller's", tid)
	}
	// The namespace it made lives on through the fd, with its hostname.
	host, _ := os.Hostname()
	var got string
	err = RunInNamespaces([]Join{{Type: "uts", File: ns}}, func() (err error) {
		got, err = os.Hostname()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got != "raw" || host == "raw" {
		t.Errorf("hostname in the thread's uts namespace %q (host %q)", got, host)
	}

	var bad TrampolineMsg
	bad.Syscall("first", unix.SYS_GETPID)
	bad.Syscall("bad fd", unix.SYS_CLOSE, Val(1<<30))
	bad.Syscall("never", unix.SYS_GETPID)
	th, err = bad.StartThread()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := th.Wait(); err == nil || !strings.Contains(err.Error(), "bad fd") || !errors.Is(err, unix.EBADF) {
		t.Errorf("failure: %v", err)
	}
}

// Size is the length Encode returns; Fits refuses what the stage cannot take.
func TestTrampolineMsgSize(t *testing.T) {
	var m TrampolineMsg
	m.Syscall("one", 302, Val(0), Val(7), Bytes([]byte{1, 2, 3}), Val(0))
	m.Syscall("two", 80, String("/x"))
	for _, c := range []struct {
		path string
		env  []string
	}{{"", nil}, {"/bin/prog", nil}, {"", []string{}}, {"/p", []string{"A=1", "HOME=/h", ""}}, {"/bin/sh", []string{"X=" + strings.Repeat("y", 13)}}} {
		b, err := m.Encode(c.path, c.env)
		if err != nil {
			t.Fatal(err)
		}
		var lens []int
		if c.env != nil {
			lens = []int{}
			for _, e := range c.env {
				lens = append(lens, len(e))
			}
		}
		if got := m.Size(len(c.path), lens); got != len(b) {
			t.Errorf("path %q env %q: Size %d, Encode %d bytes", c.path, c.env, got, len(b))
		}
	}
	if err := m.Fits(trampolineMsgMax, nil); err == nil {
		t.Error("a message larger than the stage's buffer fits")
	}
	if err := m.Fits(4096, []int{4096}); err != nil {
		t.Error(err)
	}
}
