package tests

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// consoleSocket is the engine's side of --console-socket: a unix socket on
// which the runtime sends the pty master with SCM_RIGHTS.
type consoleSocket struct {
	path   string
	ln     *net.UnixListener
	master chan *os.File
	err    chan error
}

func newConsoleSocket(t testing.TB) *consoleSocket {
	t.Helper()
	path := filepath.Join(baseDir, fmt.Sprintf("console-%d.sock", time.Now().UnixNano()))
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	cs := &consoleSocket{path: path, ln: ln, master: make(chan *os.File, 1), err: make(chan error, 1)}
	t.Cleanup(func() { ln.Close(); os.Remove(path) })
	go cs.accept()
	return cs
}

func (cs *consoleSocket) accept() {
	conn, err := cs.ln.AcceptUnix()
	if err != nil {
		cs.err <- err
		return
	}
	defer conn.Close()
	buf := make([]byte, 4096) // runc sends the pty name as the payload
	oob := make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
	if err != nil {
		cs.err <- fmt.Errorf("read console socket: %w", err)
		return
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		cs.err <- fmt.Errorf("console socket: want one control message, got %d (%v)", len(msgs), err)
		return
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		cs.err <- fmt.Errorf("console socket: want one fd, got %v (%v)", fds, err)
		return
	}
	// Non-blocking so the os.File supports read deadlines.
	unix.SetNonblock(fds[0], true)
	cs.master <- os.NewFile(uintptr(fds[0]), "pty-master")
}

// receive waits for the pty master.
func (cs *consoleSocket) receive(t testing.TB) *os.File {
	t.Helper()
	select {
	case f := <-cs.master:
		t.Cleanup(func() { f.Close() })
		return f
	case err := <-cs.err:
		t.Fatal(err)
	case <-time.After(10 * time.Second):
		t.Fatal("no pty master arrived on the console socket")
	}
	return nil
}

// readAll reads the pty until the container side closes (EIO) or timeout.
func readAll(t testing.TB, f *os.File, timeout time.Duration) string {
	t.Helper()
	f.SetReadDeadline(time.Now().Add(timeout))
	var out bytes.Buffer
	_, err := io.Copy(&out, f)
	if err != nil && !errors.Is(err, unix.EIO) {
		t.Fatalf("read pty: %v (read so far %q)", err, out.String())
	}
	return out.String()
}

// TestTerminal: with process.terminal the container's stdio is a pty whose
// master arrives on --console-socket.
func TestTerminal(t *testing.T) {
	cs := newConsoleSocket(t)
	b := newBundle(t, shell(`tty; [ -t 0 ] && [ -t 1 ] && [ -t 2 ] && echo all-ttys; stty size; echo hello-tty`), func(s *specs.Spec) {
		s.Process.Terminal = true
		s.Process.ConsoleSize = &specs.Box{Height: 30, Width: 100}
	})
	b.create("--console-socket", cs.path).mustOK(t)
	master := cs.receive(t)
	rt(t, "start", b.ID).mustOK(t)
	out := strings.ReplaceAll(readAll(t, master, 10*time.Second), "\r\n", "\n")
	for _, want := range []string{"/dev/pts/0\n", "all-ttys\n", "30 100\n", "hello-tty\n"} {
		mustContain(t, "terminal output", out, want)
	}
	b.waitStatus("stopped")
	rt(t, "delete", b.ID).mustOK(t)
	assertGone(t, b)
}

// TestTerminalInput: what the engine writes to the master reaches the
// container's stdin.
func TestTerminalInput(t *testing.T) {
	cs := newConsoleSocket(t)
	b := newBundle(t, shell(`stty -echo; echo ready; read line; echo "got:$line"`), func(s *specs.Spec) {
		s.Process.Terminal = true
	})
	b.create("--console-socket", cs.path).mustOK(t)
	master := cs.receive(t)
	rt(t, "start", b.ID).mustOK(t)
	buf := make([]byte, 256)
	master.SetReadDeadline(time.Now().Add(10 * time.Second))
	var seen string
	for !strings.Contains(seen, "ready") {
		n, err := master.Read(buf)
		if err != nil {
			t.Fatalf("read pty: %v (so far %q)", err, seen)
		}
		seen += string(buf[:n])
	}
	if _, err := master.Write([]byte("typed-text\r")); err != nil {
		t.Fatal(err)
	}
	mustContain(t, "terminal output", readAll(t, master, 10*time.Second), "got:typed-text")
	b.waitStatus("stopped")
}

// TestTerminalNeedsSocket: create with terminal but no console socket fails.
func TestTerminalNeedsSocket(t *testing.T) {
	b := newBundle(t, func(s *specs.Spec) { s.Process.Terminal = true })
	b.create().mustFail(t, "console-socket", "console socket")
	assertNothingLeft(t, b)
}
