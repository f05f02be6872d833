package libcontainer

import (
	"encoding/json"
	"errors"
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// awaitReady receives init's messages until msgReady, passing a seccomp
// notify fd (msgSeccompFd) to listen and answering msgSeccompDone.
func awaitReady(conn *syncConn, onLog func(level, msg string), listen func(fd int) error) error {
	for {
		m, err := conn.recv(onLog)
		if err != nil {
			return err
		}
		switch m.Type {
		case msgReady:
			return nil
		case msgError:
			return &stepError{Step: m.Step, Err: errors.New(m.Error)}
		case msgSeccompFd:
			if m.fd < 0 {
				return errors.New("sync protocol: seccomp-fd without a file descriptor")
			}
			err := listen(m.fd)
			unix.Close(m.fd)
			if err != nil {
				conn.send(syncMsg{Type: msgError, Step: "linux.seccomp.listenerPath", Error: err.Error()})
				return err
			}
			if err := conn.send(syncMsg{Type: msgSeccompDone}); err != nil {
				return err
			}
		default:
			return fmt.Errorf("sync protocol: got message %q, want %q", m.Type, msgReady)
		}
	}
}

// sendToListener connects to linux.seccomp.listenerPath and sends the
// container process state with the notify fd (SCM_RIGHTS), as the spec's
// seccomp notify section describes.
func sendToListener(s *specs.LinuxSeccomp, pid int, state *specs.State, fd int) error {
	cps := specs.ContainerProcessState{
		Version:  specs.Version,
		Fds:      []string{specs.SeccompFdName},
		Pid:      pid,
		Metadata: s.ListenerMetadata,
		State:    *state,
	}
	b, err := json.Marshal(cps)
	if err != nil {
		return err
	}
	conn, err := dialConsoleSocket(s.ListenerPath)
	if err != nil {
		return fmt.Errorf("linux.seccomp.listenerPath %s: %w", s.ListenerPath, err)
	}
	defer conn.Close()
	if err := unix.Sendmsg(int(conn.Fd()), b, unix.UnixRights(fd), nil, 0); err != nil {
		return fmt.Errorf("linux.seccomp.listenerPath %s: send: %w", s.ListenerPath, err)
	}
	return nil
}
