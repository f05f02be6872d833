package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// hostNotifySocket is a systemd-style datagram socket on the host.
func hostNotifySocket(t *testing.T) (path string, fd int) {
	t.Helper()
	path = filepath.Join(baseDir, "io", fmt.Sprintf("notify-%d.sock", time.Now().UnixNano()))
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd); os.Remove(path) })
	return path, fd
}

// received returns the datagrams already queued on fd, joined.
func received(fd int) string {
	var all strings.Builder
	buf := make([]byte, 4096)
	for {
		n, _, err := unix.Recvfrom(fd, buf, unix.MSG_DONTWAIT)
		if err != nil {
			return all.String()
		}
		all.Write(buf[:n])
		if n > 0 && buf[n-1] != '\n' {
			all.WriteByte('\n')
		}
	}
}

// With NOTIFY_SOCKET set, the container gets a socket of its own; `run -d`
// returns only once the container said READY=1, which reaches the host's
// socket together with MAINPID, the container's init.
func TestNotifySocketRunDetached(t *testing.T) {
	host, fd := hostNotifySocket(t)
	b := newBundle(t, shell(`[ "$NOTIFY_SOCKET" = /run/notify/notify.sock ] || exit 9
		sleep 0.5; sdnotify STATUS=starting READY=1; sleep 100`))
	start := time.Now()
	rtWith(t, cmdOpts{env: []string{"NOTIFY_SOCKET=" + host}}, "run", "--detach", "--bundle", b.Dir, b.ID).mustOK(t)
	if d := time.Since(start); d < 400*time.Millisecond {
		t.Errorf("run -d returned after %v, before the container was ready", d)
	}
	st := b.mustState()
	b.pid = st.Pid
	got := received(fd)
	if !strings.Contains(got, "READY=1\n") || !strings.Contains(got, fmt.Sprintf("MAINPID=%d\n", st.Pid)) {
		t.Fatalf("host socket got %q; want READY=1 and MAINPID=%d", got, st.Pid)
	}
	if strings.Contains(got, "STATUS=") {
		t.Errorf("only READY is passed on, got %q", got)
	}
	// The socket is mounted read-only, like runc's.
	mi := rt(t, "exec", b.ID, "cat", "/proc/self/mountinfo").mustOK(t).stdout
	if !strings.Contains(mi, " /run/notify ro,") {
		t.Errorf("no read-only /run/notify mount:\n%s", mi)
	}
}

// create + start: start waits for READY; a container that exits without it
// does not make start hang.
func TestNotifySocketStart(t *testing.T) {
	host, fd := hostNotifySocket(t)
	e := cmdOpts{env: []string{"NOTIFY_SOCKET=" + host}}
	b := newBundle(t, shell(`sleep 0.3; sdnotify READY=1; sleep 100`))
	rtWith(t, e, "create", "--bundle", b.Dir, b.ID).mustOK(t)
	b.pid = b.mustState().Pid
	rtWith(t, e, "start", b.ID).mustOK(t)
	if got := received(fd); !strings.Contains(got, "READY=1") {
		t.Fatalf("start returned before READY reached the host: %q", got)
	}

	quitter := newBundle(t, shell(`sleep 0.2; exit 0`))
	rtWith(t, e, "create", "--bundle", quitter.Dir, quitter.ID).mustOK(t)
	quitter.pid = quitter.mustState().Pid
	// Reap init when it exits, as an engine (its parent) would.
	go reapGone(quitter.pid, 10*time.Second)
	done := make(chan result, 1)
	go func() { done <- rtWith(t, e, "start", quitter.ID) }()
	select {
	case r := <-done:
		r.mustOK(t)
	case <-time.After(10 * time.Second):
		t.Fatal("start hung on a container that exited without READY")
	}
	if got := received(fd); got != "" {
		t.Errorf("nothing should reach the host, got %q", got)
	}
}
