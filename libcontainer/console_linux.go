package libcontainer

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/containerd/console"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rtrun/rt/rootfs"
)

// dialConsoleSocket connects to --console-socket; the connection is handed to
// init, which sends the pty master over it. Raw syscalls keep the net
// package (and its start-up cost) out of rt.
func dialConsoleSocket(path string) (*os.File, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("--console-socket %s: %w", path, err)
	}
	addr := path
	if len(addr) >= 108 {
		// sun_path is 108 bytes: reach long paths through the directory's fd.
		d, err := os.Open(filepath.Dir(path))
		if err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("--console-socket %s: %w", path, err)
		}
		defer d.Close()
		addr = fmt.Sprintf("/proc/self/fd/%d/%s", d.Fd(), filepath.Base(path))
	}
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: addr}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("--console-socket %s: %w", path, err)
	}
	return os.NewFile(uintptr(fd), "console-socket"), nil
}

// setupConsole runs in init after pivot_root: it makes a pty on the
// container's devpts, binds the slave onto /dev/console, sends the master
// over the console socket and makes the slave init's stdio and controlling
// terminal.
func setupConsole(sockFD int, size *specs.Box) error {
	defer unix.Close(sockFD)
	master, slave, err := openPty(size)
	if err != nil {
		return err
	}
	defer master.Close()
	defer slave.Close()
	if err := rootfs.MountConsole(slave.Name()); err != nil {
		return fmt.Errorf("mount /dev/console: %w", err)
	}
	return attachPty(sockFD, master, slave)
}

// setupExecConsole gives an exec'd process a pty of the container's devpts
// as its stdio and controlling terminal (no /dev/console for it) and sends
// the master over the console socket.
func setupExecConsole(sockFD int, size *specs.Box) error {
	defer unix.Close(sockFD)
	if _, err := unix.Setsid(); err != nil {
		return fmt.Errorf("setsid: %w", err)
	}
	master, slave, err := openPty(size)
	if err != nil {
		return err
	}
	defer master.Close()
	defer slave.Close()
	return attachPty(sockFD, master, slave)
}

// openPty opens a pty on the container's /dev/ptmx, checking that it really
// is the pty multiplexer: the container controls /dev/ptmx
// (CVE-2025-52565 replaced it with a symlink elsewhere). The slave's Name
// is its path.
func openPty(size *specs.Box) (console.Console, *os.File, error) {
	master, slavePath, err := console.NewPty()
	if err != nil {
		return nil, nil, fmt.Errorf("open /dev/ptmx: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(master.Fd()), &st); err != nil {
		master.Close()
		return nil, nil, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || unix.Major(st.Rdev) != 5 || unix.Minor(st.Rdev) != 2 {
		master.Close()
		return nil, nil, fmt.Errorf("/dev/ptmx is not the pty multiplexer (device %d:%d)", unix.Major(st.Rdev), unix.Minor(st.Rdev))
	}
	slave, err := os.OpenFile(slavePath, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("open pty slave %s: %w", slavePath, err)
	}
	if size != nil {
		if err := master.Resize(console.WinSize{Height: uint16(size.Height), Width: uint16(size.Width)}); err != nil {
			master.Close()
			slave.Close()
			return nil, nil, fmt.Errorf("process.consoleSize: %w", err)
		}
	}
	return master, slave, nil
}

// attachPty sends the master over the console socket and makes the slave
// this process's stdio and controlling terminal.
func attachPty(sockFD int, master console.Console, slave *os.File) error {
	if err := unix.Sendmsg(sockFD, []byte("/dev/ptmx"), unix.UnixRights(int(master.Fd())), nil, 0); err != nil {
		return fmt.Errorf("send pty master over console socket: %w", err)
	}
	for i := 0; i <= 2; i++ {
		if err := unix.Dup3(int(slave.Fd()), i, 0); err != nil {
			return fmt.Errorf("dup pty slave to fd %d: %w", i, err)
		}
	}
	if err := unix.IoctlSetInt(0, unix.TIOCSCTTY, 0); err != nil {
		return fmt.Errorf("set controlling terminal: %w", err)
	}
	return nil
}

// recvFD receives one fd sent with SCM_RIGHTS.
func recvFD(f *os.File) (*os.File, error) {
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := unix.Recvmsg(int(f.Fd()), buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return nil, err
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return nil, err
	}
	if len(msgs) != 1 {
		return nil, errors.New("no fd received")
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return nil, fmt.Errorf("bad fd message: %v", err)
	}
	return os.NewFile(uintptr(fds[0]), string(buf[:n])), nil
}

// ConsolePair is used by `run` in the foreground with a terminal: rt keeps one
// end and receives the pty master there.
type ConsolePair struct {
	Ours, Theirs *os.File
}

// NewConsolePair makes the socketpair standing in for --console-socket.
func NewConsolePair() (*ConsolePair, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return &ConsolePair{Ours: os.NewFile(uintptr(fds[0]), "console-ours"), Theirs: os.NewFile(uintptr(fds[1]), "console-theirs")}, nil
}

// Proxy receives the pty master and copies between it and rt's stdio, with
// rt's terminal in raw mode and window size changes passed on. It returns a
// function that restores the terminal and waits for output to drain.
func (p *ConsolePair) Proxy() (func(), error) {
	p.Theirs.Close()
	mf, err := recvFD(p.Ours)
	p.Ours.Close()
	if err != nil {
		return nil, fmt.Errorf("receive pty master: %w", err)
	}
	master, err := console.ConsoleFromFile(mf)
	if err != nil {
		return nil, err
	}
	var cur console.Console
	if c, err := console.ConsoleFromFile(os.Stdin); err == nil {
		cur = c
		if ws, err := cur.Size(); err == nil {
			master.Resize(ws)
		}
		cur.SetRaw()
	}
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, unix.SIGWINCH)
	go func() {
		for range winch {
			if cur != nil {
				if ws, err := cur.Size(); err == nil {
					master.Resize(ws)
				}
			}
		}
	}()
	go io.Copy(master, os.Stdin)
	done := make(chan struct{})
	go func() {
		io.Copy(os.Stdout, master)
		close(done)
	}()
	return func() {
		signal.Stop(winch)
		// Output drains until the last holder of the pty slave exits; do
		// not hang on one that outlived init (no pid namespace).
		select {
		case <-done:
		case <-time.After(time.Second):
		}
		if cur != nil {
			cur.Reset()
		}
		master.Close()
	}, nil
}
