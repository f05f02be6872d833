package libcontainer

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// NOTIFY_SOCKET passthrough, as runc does it: when rt runs with
// NOTIFY_SOCKET set (a systemd unit of Type=notify, or an engine passing its
// own socket), the container gets a socket of its own at
// /run/notify/notify.sock, bind-mounted read-only from the state directory,
// and NOTIFY_SOCKET pointing at it. `start` (and `run`) then wait until the
// container sends READY=… and pass that on to the host's socket, followed by
// MAINPID=<init pid>; they stop waiting when the container exits first.

const (
	notifyDir         = "notify"
	notifySockName    = "notify.sock"
	notifyInContainer = "/run/notify"
)

// setupNotify prepares the container side at create time: the directory the
// socket will be bound in, its bind mount, and the container's NOTIFY_SOCKET.
func setupNotify(spec *specs.Spec, stateDir string) error {
	if os.Getenv("NOTIFY_SOCKET") == "" || spec.Process == nil {
		return nil
	}
	dir := filepath.Join(stateDir, notifyDir)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return fmt.Errorf("NOTIFY_SOCKET: %w", err)
	}
	spec.Mounts = append(spec.Mounts, specs.Mount{
		Destination: notifyInContainer,
		Source:      dir,
		Type:        "bind",
		Options:     []string{"bind", "nosuid", "noexec", "nodev", "ro"},
	})
	env := spec.Process.Env[:0:0]
	for _, e := range spec.Process.Env {
		if !strings.HasPrefix(e, "NOTIFY_SOCKET=") {
			env = append(env, e)
		}
	}
	spec.Process.Env = append(env, "NOTIFY_SOCKET="+notifyInContainer+"/"+notifySockName)
	return nil
}

// notifyRelay is the bound container-side socket and the host's address.
type notifyRelay struct {
	fd   int
	host string
}

// bindNotify binds the container's socket before the user program runs, so
// nothing it sends is lost. It does nothing for a container created without
// NOTIFY_SOCKET or when this start has none.
func (c *Container) bindNotify() (*notifyRelay, error) {
	host := os.Getenv("NOTIFY_SOCKET")
	dir := filepath.Join(c.dir, notifyDir)
	if host == "" {
		return nil, nil
	}
	d, err := os.Open(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("NOTIFY_SOCKET: %w", err)
	}
	defer d.Close()
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	// Through the directory's fd: state paths can exceed sun_path's 108 bytes.
	at := fmt.Sprintf("/proc/self/fd/%d/%s", d.Fd(), notifySockName)
	unix.Unlink(at)
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: at}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("NOTIFY_SOCKET: bind %s: %w", filepath.Join(dir, notifySockName), err)
	}
	// Any user in the container may notify, as with systemd's own socket.
	if err := unix.Fchmodat(unix.AT_FDCWD, at, 0o777, 0); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("NOTIFY_SOCKET: %w", err)
	}
	return &notifyRelay{fd: fd, host: host}, nil
}

// Notifying reports whether WaitReady has a READY= to wait for (the
// container was created with NOTIFY_SOCKET).
func (c *Container) Notifying() bool { return c.notify != nil }

// WaitReady, after Start, waits (like runc, with no time limit) for the container's READY= and passes it on
// with MAINPID to the host's NOTIFY_SOCKET. It returns when that is done or
// when init has exited; without NOTIFY_SOCKET it returns at once.
func (c *Container) WaitReady() error {
	n := c.notify
	if n == nil {
		return nil
	}
	c.notify = nil
	defer unix.Close(n.fd)
	pid := c.state.InitPid
	buf := make([]byte, 4096)
	for {
		fds := []unix.PollFd{{Fd: int32(n.fd), Events: unix.POLLIN}}
		if _, err := unix.Poll(fds, 100); err != nil && err != unix.EINTR {
			return fmt.Errorf("NOTIFY_SOCKET: %w", err)
		}
		if fds[0].Revents&unix.POLLIN == 0 {
			if !alive(pid) {
				return nil
			}
			continue
		}
		m, _, err := unix.Recvfrom(n.fd, buf, unix.MSG_DONTWAIT)
		if err != nil {
			continue
		}
		// sd_notify sends one datagram of newline-separated assignments.
		for _, line := range bytes.Split(buf[:m], []byte{'\n'}) {
			if bytes.HasPrefix(line, []byte("READY=")) {
				msg := append(append([]byte{}, line...), '\n')
				msg = append(msg, "MAINPID="+strconv.Itoa(pid)+"\n"...)
				return sendNotify(n.host, msg)
			}
		}
	}
}

func sendNotify(host string, msg []byte) error {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrUnix{Name: host}); err != nil {
		return fmt.Errorf("NOTIFY_SOCKET: send to %s: %w", host, err)
	}
	return nil
}

// alive says whether pid is still running (a zombie or gone is not).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && b[i+2] != 'Z' && b[i+2] != 'X'
}
