package libcontainer

// The parent (rt create/run) and the container's init talk over one
// SOCK_SEQPACKET socketpair; every packet is one JSON syncMsg. The sequence
// is fixed, and each side rejects a message that arrives out of order:
//
//	parent                                  init
//	------                                  ----
//	start child (clone flags, id maps)      nsenter entry stage (user/time/mnt joins)
//	put child in its cgroups
//	msgConfig{initConfig}            --->   (waits for this before anything else)
//	                                 <---   msgPid{pid}, only with ForkForPid: init unshared
//	                                        the namespaces, forked the real init and exits;
//	msgConfig again, to the new init --->   the rest goes on with the new init
//	                                        unshare cgroup/time ns, hostname, rootfs.Prepare
//	                                 <---   msgHooks  (mounts done, before pivot_root)
//	prestart + createRuntime hooks
//	msgHooksDone{host pid, seccomp}  --->   (the BPF program, compiled meanwhile)
//	(this round trip only when there are such hooks or a filter: else
//	the config says NoHooksStep and carries the host pid)
//	                                        createContainer hooks, pivot_root, console,
//	                                        masked/readonly paths, sysctl, process setup
//	                                 <---   msgSeccompFd+fd, only with a seccomp listener:
//	send state + fd to listenerPath         init loaded the filter with a notify fd
//	msgSeccompDone                   --->
//	                                 <---   msgReady  (init now blocks in accept on exec.sock)
//	write state.json, pid file; exit
//
// With StartNow (run, which starts the container at once) there is no
// exec.sock: after msgReady init waits on this socket for msgStart (the
// parent has put the state and pid file in place), runs the
// startContainer hooks, sends msgStarting (or msgError) and execs, which
// closes the socket.
//
// The msgConfig of a container with a new network namespace that the
// parent made (nsPlan.lateNet) carries it (SCM_RIGHTS), and the final
// state.json and pid file are written ahead under temporary names while
// init works, and renamed into place at msgReady.
//
// At any point init may send msgLog (a log line to re-emit in the parent) or,
// instead of the next expected message, msgError{step, error}: create then
// fails with "<step>: <error>" and cleans up. A closed socket without
// msgError means init died; the parent reports how (exit status or signal).
//
// `rt start` then connects to <state>/exec.sock: init runs the startContainer
// hooks, writes one zero byte and execs the user program (the connection is
// close-on-exec, so start sees EOF exactly when exec succeeded); on failure
// init writes the error text instead and exits.

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	specjson "github.com/rtrun/rt/libcontainer/specjson"
)

type msgType string

const (
	msgConfig    msgType = "config"
	msgHooks     msgType = "hooks"
	msgHooksDone msgType = "hooks-done"
	msgReady     msgType = "ready"
	msgError     msgType = "error"
	msgLog       msgType = "log"
	msgPid       msgType = "pid"
	// msgStart: StartNow's parent has put the state in place: go on.
	// msgStarting: StartNow's init execs the user program next.
	msgStart    msgType = "start"
	msgStarting msgType = "starting"
	// msgSeccompFd carries the seccomp notify fd (SCM_RIGHTS) for the
	// parent to pass to linux.seccomp.listenerPath; msgSeccompDone answers.
	msgSeccompFd   msgType = "seccomp-fd"
	msgSeccompDone msgType = "seccomp-done"
)

// syncMsg is one packet of the parent<->init protocol.
type syncMsg struct {
	Type   msgType     `json:"type"`
	Config *initConfig `json:"config,omitempty"`
	Step   string      `json:"step,omitempty"`
	Error  string      `json:"error,omitempty"`
	Level  string      `json:"level,omitempty"`
	Msg    string      `json:"msg,omitempty"`
	Pid    int         `json:"pid,omitempty"` // msgHooksDone: init's pid as the host sees it
	// msgHooksDone: the seccomp BPF program the parent compiled while init
	// built the root filesystem, and its seccomp(2) flags.
	Seccomp      []byte `json:"seccomp,omitempty"`
	SeccompFlags uint   `json:"seccomp_flags,omitempty"`
	// SeccompNotify: load with a notify fd and send it up (listenerPath).
	SeccompNotify bool `json:"seccomp_notify,omitempty"`
	// fd is a file descriptor that came with the message (SCM_RIGHTS), or -1.
	fd int
}

// maxSyncMsg bounds one packet; the config (a whole spec) must fit.
const maxSyncMsg = 4 << 20

// syncConn is one end of the socketpair.
type syncConn struct {
	f *os.File
}

// sendFD sends m with fd attached (SCM_RIGHTS); with fd -1, alone.
func (s *syncConn) sendFD(m syncMsg, fd int) error {
	b, err := specjson.Marshal(&m, appendSyncMsg)
	if err != nil {
		return err
	}
	if len(b) > maxSyncMsg {
		return fmt.Errorf("sync message %s too large (%d bytes)", m.Type, len(b))
	}
	if fd < 0 {
		_, err = s.f.Write(b)
		return err
	}
	return unix.Sendmsg(int(s.f.Fd()), b, unix.UnixRights(fd), nil, 0)
}

func (s *syncConn) send(m syncMsg) error { return s.sendFD(m, -1) }

// recv reads one message. Log messages are handed to onLog and skipped.
func (s *syncConn) recv(onLog func(level, msg string)) (syncMsg, error) {
	for {
		// Peek at the packet's size first: a fixed maximal buffer per
		// message would cost megabytes of memory and a GC cycle.
		size, _, err := unix.Recvfrom(int(s.f.Fd()), nil, unix.MSG_PEEK|unix.MSG_TRUNC)
		if err != nil {
			return syncMsg{}, err
		}
		if size == 0 {
			return syncMsg{}, errEOF
		}
		if size > maxSyncMsg {
			return syncMsg{}, fmt.Errorf("sync message too large (%d bytes)", size)
		}
		buf := make([]byte, size)
		oob := make([]byte, unix.CmsgSpace(4))
		n, oobn, _, _, err := unix.Recvmsg(int(s.f.Fd()), buf, oob, unix.MSG_CMSG_CLOEXEC)
		if n == 0 && err == nil {
			return syncMsg{}, errEOF
		}
		if err != nil {
			return syncMsg{}, err
		}
		var m syncMsg
		if err := specjson.Unmarshal(buf[:n], &m, readSyncMsg); err != nil {
			return syncMsg{}, fmt.Errorf("decode sync message: %w", err)
		}
		m.fd = -1
		if oobn > 0 {
			if cmsgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil && len(cmsgs) == 1 {
				if fds, err := unix.ParseUnixRights(&cmsgs[0]); err == nil && len(fds) == 1 {
					m.fd = fds[0]
				}
			}
		}
		if m.Type == msgLog {
			if onLog != nil {
				onLog(m.Level, m.Msg)
			}
			continue
		}
		return m, nil
	}
}

// expect receives the next message and checks it is the wanted one; an
// msgError from the peer becomes a *stepError.
func (s *syncConn) expect(want msgType, onLog func(level, msg string)) (syncMsg, error) {
	m, err := s.recv(onLog)
	if err != nil {
		return m, err
	}
	if m.Type == msgError {
		return m, &stepError{Step: m.Step, Err: errors.New(m.Error)}
	}
	if m.Type != want {
		return m, fmt.Errorf("sync protocol: got message %q, want %q", m.Type, want)
	}
	return m, nil
}

var errEOF = errors.New("peer closed the sync socket")

// stepError is an error from a named step of container creation.
type stepError struct {
	Step string
	Err  error
}

func (e *stepError) Error() string { return e.Step + ": " + e.Err.Error() }
func (e *stepError) Unwrap() error { return e.Err }

// newSyncPair returns (parent end, child end).
func newSyncPair() (*syncConn, *os.File, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("socketpair: %w", err)
	}
	return &syncConn{f: os.NewFile(uintptr(fds[0]), "sync-parent")}, os.NewFile(uintptr(fds[1]), "sync-child"), nil
}
