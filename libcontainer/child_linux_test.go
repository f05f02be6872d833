package libcontainer

import (
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestChild: a child started with startChild is held by a pidfd, reaped
// once (later Waits repeat the status), and a signal after that is a
// no-op rather than a kill of whatever took the pid.
func TestChild(t *testing.T) {
	files := []*os.File{os.Stdin, os.Stdout, os.Stderr}
	p, err := startChild("/bin/sh", []string{"sh", "-c", "exit 3"}, nil, files, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.pidfd < 0 {
		t.Errorf("no pidfd from clone")
	}
	ws, err := p.Wait()
	if err != nil || shellStatus(ws) != 3 {
		t.Fatalf("Wait = %v, %v; want exit 3", ws, err)
	}
	if again, err := p.Wait(); err != nil || again != ws {
		t.Errorf("second Wait = %v, %v; want %v", again, err, ws)
	}
	if err := p.Signal(unix.SIGKILL); err != nil {
		t.Errorf("Signal after reaping: %v", err)
	}
	if d := describeExit(ws); d != "exit status 3" {
		t.Errorf("describeExit = %q", d)
	}

	p, err = startChild("/bin/sleep", []string{"sleep", "60"}, nil, files, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	ws, err = p.Wait()
	if err != nil || shellStatus(ws) != 128+9 || !strings.Contains(describeExit(ws), "killed by signal killed") {
		t.Fatalf("killed child: %v (%q), %v", ws, describeExit(ws), err)
	}

	q, err := startChild("/bin/sleep", []string{"sleep", "60"}, nil, files, nil)
	if err != nil {
		t.Fatal(err)
	}
	held := openChild(q.Pid)
	held.Kill()
	if ws, err := held.Wait(); err != nil || !ws.Signaled() {
		t.Fatalf("openChild's Wait: %v, %v", ws, err)
	}
	unix.Close(q.pidfd)
}
