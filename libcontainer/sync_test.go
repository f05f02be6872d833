package libcontainer

import (
	"strings"
	"testing"
)

func TestSyncProtocol(t *testing.T) {
	parent, childF, err := newSyncPair()
	if err != nil {
		t.Fatal(err)
	}
	defer parent.f.Close()
	child := &syncConn{f: childF}
	defer childF.Close()

	// In order: delivered, log lines on the way are handed to onLog.
	child.send(syncMsg{Type: msgLog, Level: "warning", Msg: "hello"})
	child.send(syncMsg{Type: msgHooks})
	var logs []string
	if _, err := parent.expect(msgHooks, func(l, m string) { logs = append(logs, l+":"+m) }); err != nil {
		t.Fatal(err)
	}
	if len(logs) != 1 || logs[0] != "warning:hello" {
		t.Fatalf("logs: %v", logs)
	}
	// Out of order: rejected.
	child.send(syncMsg{Type: msgReady})
	if _, err := parent.expect(msgHooks, nil); err == nil || !strings.Contains(err.Error(), `got message "ready"`) {
		t.Fatalf("out-of-order message accepted: %v", err)
	}
	// An error from init names the step.
	child.send(syncMsg{Type: msgError, Step: "prepare rootfs", Error: "mount proc at /proc: permission denied"})
	_, err = parent.expect(msgReady, nil)
	if err == nil || err.Error() != "prepare rootfs: mount proc at /proc: permission denied" {
		t.Fatalf("got %v", err)
	}
	// The peer going away is errEOF.
	childF.Close()
	if _, err := parent.expect(msgReady, nil); err != errEOF {
		t.Fatalf("got %v, want errEOF", err)
	}
}
