package tests

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/console"
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

// TestRunForegroundTerminal: `run` with terminal true and no console socket
// gives the container a pty of its own and proxies it to the runtime's
// terminal, passing on the window size and the exit status.
func TestRunForegroundTerminal(t *testing.T) {
	master, slavePath, err := console.NewPty()
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	if err := master.Resize(console.WinSize{Height: 33, Width: 99}); err != nil {
		t.Fatal(err)
	}
	slave, err := os.OpenFile(slavePath, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer slave.Close()
	b := newBundle(t, shell(`tty; stty size; read line; echo "got:$line"; exit 7`), func(s *specs.Spec) {
		s.Process.Terminal = true
	})
	cmd, _, _ := rtCommand(t, cmdOpts{stdin: slave, stdout: slave, stderr: slave}, "run", "--bundle", b.Dir, b.ID)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	var out bytes.Buffer
	done := make(chan struct{})
	go func() {
		io.Copy(&out, master) // ends with EIO when the runtime exits
		close(done)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "33 99") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	io.WriteString(master, "hello-through-the-pty\r")
	err = cmd.Wait()
	<-done
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 7 {
		t.Errorf("run exited with %v, want status 7\noutput:\n%s", err, out.String())
	}
	for _, want := range []string{"/dev/pts/", "33 99", "got:hello-through-the-pty"} {
		mustContain(t, "output through the proxied pty", out.String(), want)
	}
}

// TestListenFDs: socket activation — with LISTEN_FDS set for it, the runtime
// passes those fds to the container and sets LISTEN_FDS and LISTEN_PID=1.
func TestListenFDs(t *testing.T) {
	skipOnRunc(t, "runc needs LISTEN_PID to match and this test sets it through a shell")
	f, err := os.CreateTemp(baseDir, "listen-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	fmt.Fprint(f, "activated-socket-stand-in")
	f.Seek(0, 0)
	b := newBundle(t, shell(`echo "fds=$LISTEN_FDS pid=$LISTEN_PID"; cat <&3`))
	// LISTEN_PID names the process the fds are for: the runtime, which the
	// shell becomes with exec.
	cmd, outF, errF := rtCommand(t, cmdOpts{extra: []*os.File{f}}, "run", "--bundle", b.Dir, b.ID)
	rtArgs := cmd.Args[1:]
	cmd.Args = append([]string{"sh", "-c", `LISTEN_FDS=1 LISTEN_PID=$$ exec "$0" "$@"`, cmd.Path}, rtArgs...)
	cmd.Path = "/bin/sh"
	r := finish(t, cmd, cmd.Run(), outF, errF).mustOK(t)
	mustContain(t, "container output", r.stdout, "fds=1 pid=1")
	mustContain(t, "container output", r.stdout, "activated-socket-stand-in")

	// LISTEN_FDS meant for another process is ignored.
	b2 := newBundle(t, shell(`echo "fds=${LISTEN_FDS:-none}"; cat <&3 2>/dev/null || echo no-fd3`))
	cmd, outF, errF = rtCommand(t, cmdOpts{extra: []*os.File{f}}, "run", "--bundle", b2.Dir, b2.ID)
	cmd.Env = append(os.Environ(), "LISTEN_FDS=1", "LISTEN_PID=1")
	r = finish(t, cmd, cmd.Run(), outF, errF).mustOK(t)
	mustContain(t, "container output", r.stdout, "fds=none")
	mustContain(t, "container output", r.stdout, "no-fd3")
}
