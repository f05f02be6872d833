package cgroups

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// oomCounter reads one counter of a flat keyed file, failing when the
// kernel does not have it.
func oomCounter(dir, file, key string) (uint64, error) {
	kv, err := keyValues(dir, file)
	if err != nil {
		return 0, err
	}
	if kv == nil {
		if !exists(dir) {
			return 0, errNoCgroup
		}
		return 0, fmt.Errorf("no %s in %s (is the memory controller enabled?)", file, dir)
	}
	n, ok := kv[key]
	if !ok {
		return 0, fmt.Errorf("no %s counter in %s (kernel older than 4.13?)", key, filepath.Join(dir, file))
	}
	return n, nil
}

func (m *v1Manager) memoryDir() (string, error) {
	dir, ok := m.paths["memory"]
	if !ok {
		return "", errors.New("the memory cgroup controller is not mounted")
	}
	return dir, nil
}

// OOMKillCount reads the oom_kill counter of memory.oom_control (Linux
// 4.13+): the processes of the cgroup and its sub-cgroups the OOM killer
// has killed.
func (m *v1Manager) OOMKillCount() (uint64, error) {
	dir, err := m.memoryDir()
	if err != nil {
		return 0, err
	}
	return oomCounter(dir, "memory.oom_control", "oom_kill")
}

// OOMKillCount reads the oom_kill counter of memory.events, which counts
// sub-cgroups too.
func (m *v2Manager) OOMKillCount() (uint64, error) {
	return oomCounter(m.dir, "memory.events", "oom_kill")
}

// send delivers an event without blocking: events that arrive while one is
// still unread merge into it.
func send(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// WaitOOM registers an eventfd for OOM notifications of the memory cgroup
// (cgroup.event_control on memory.oom_control). The kernel signals it for
// each OOM in the cgroup, and once more when the cgroup is removed, which
// closes the channel.
func (m *v1Manager) WaitOOM(ctx context.Context) (<-chan struct{}, error) {
	dir, err := m.memoryDir()
	if err != nil {
		return nil, err
	}
	ctl, err := os.Open(filepath.Join(dir, "memory.oom_control"))
	if err != nil {
		return nil, fmt.Errorf("wait for OOM: %w", err)
	}
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		ctl.Close()
		return nil, fmt.Errorf("wait for OOM: eventfd: %w", err)
	}
	// Non-blocking, so reads go through Go's poller and Close ends them.
	ev := os.NewFile(uintptr(efd), "oom-eventfd")
	if err := writeFile(dir, "cgroup.event_control", strconv.Itoa(efd)+" "+strconv.Itoa(int(ctl.Fd()))); err != nil {
		ev.Close()
		ctl.Close()
		return nil, fmt.Errorf("wait for OOM: %w", err)
	}
	ch := make(chan struct{}, 1)
	go func() {
		defer close(ch)
		defer ctl.Close()
		stop := context.AfterFunc(ctx, func() { ev.Close() })
		defer func() {
			if stop() {
				ev.Close()
			}
		}()
		buf := make([]byte, 8)
		for {
			if _, err := ev.Read(buf); err != nil {
				return
			}
			if !exists(filepath.Join(dir, "cgroup.event_control")) {
				return // the signal of the cgroup's removal
			}
			send(ch)
		}
	}()
	return ch, nil
}

// WaitOOM watches memory.events with inotify and sends when its oom or
// oom_kill counter grows. The channel is closed when ctx ends, when the
// cgroup is removed, or when it has no processes left (cgroup.events
// "populated 0"): no OOM can follow.
func (m *v2Manager) WaitOOM(ctx context.Context) (<-chan struct{}, error) {
	read := func() (oom, kill uint64, err error) {
		kv, err := keyValues(m.dir, "memory.events")
		if err == nil && kv == nil {
			err = fmt.Errorf("no memory.events in %s (is the memory controller enabled?)", m.dir)
		}
		return kv["oom"], kv["oom_kill"], err
	}
	oom, kill, err := read()
	if err != nil {
		return nil, fmt.Errorf("wait for OOM: %w", err)
	}
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("wait for OOM: inotify: %w", err)
	}
	in := os.NewFile(uintptr(fd), "oom-inotify")
	for _, f := range []string{"memory.events", "cgroup.events"} {
		if _, err := unix.InotifyAddWatch(fd, filepath.Join(m.dir, f), unix.IN_MODIFY); err != nil {
			in.Close()
			return nil, fmt.Errorf("wait for OOM: watch %s: %w", filepath.Join(m.dir, f), err)
		}
	}
	ch := make(chan struct{}, 1)
	// An OOM between the first read and the watches would be missed.
	if o, k, err := read(); err == nil && (o > oom || k > kill) {
		oom, kill = o, k
		send(ch)
	}
	go func() {
		defer close(ch)
		stop := context.AfterFunc(ctx, func() { in.Close() })
		defer func() {
			if stop() {
				in.Close()
			}
		}()
		buf := make([]byte, 4096)
		for {
			if _, err := in.Read(buf); err != nil {
				return
			}
			o, k, err := read()
			if err != nil {
				return // removed
			}
			if o > oom || k > kill {
				oom, kill = o, k
				send(ch)
			}
			if ev, err := keyValues(m.dir, "cgroup.events"); err != nil || ev["populated"] == 0 {
				return
			}
		}
	}()
	return ch, nil
}
