package nsenter

import (
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// RawThread is a thread that makes a message's system calls while the Go
// code that started it goes on (see StartThread).
type RawThread struct {
	tid   uint32 // the kernel's: the thread's id, zero once it is gone
	ran   uint64 // records it made, the last one failed if it has an errno
	msg   []byte // the records, each result over its mask word
	stack []byte
	steps []string
}

// futexWait is FUTEX_WAIT (linux/futex.h), which x/sys/unix lacks.
const futexWait = 0

// A result above maxErrnoResult is -errno.
const maxErrnoResult = ^uintptr(4095)

// running holds every RawThread until Wait.
var running sync.Map

// rawThreadStack is the new thread's stack: it makes system calls and
// takes no signal, so it never writes to it.
const rawThreadStack = 1024

// StartThread starts a thread that makes m's records in order, up to the
// first that fails, then exits. It is a clone of the calling thread that
// the Go runtime does not know of: it runs no Go code, has every signal
// blocked, and shares the process's memory, fd table and filesystem
// context. Its system calls run in parallel with the caller's work, on the
// other CPU if one is idle, and what it does to itself (the namespaces it
// unshares, say) outlives it only through fds (which it opens in the
// process's table). Wait for it before using what it made.
func (m *TrampolineMsg) StartThread() (*RawThread, error) {
	b, err := m.Encode("", nil)
	if err != nil {
		return nil, err
	}
	t := &RawThread{msg: b, stack: make([]byte, rawThreadStack), steps: m.steps}
	top := uintptr(unsafe.Pointer(&t.stack[len(t.stack)-1])) &^ 15
	// Held until Wait: the thread uses msg and stack, and the kernel
	// writes tid, whatever the caller keeps.
	running.Store(t, nil)
	if r := rawThreadClone(top, &t.tid, &t.msg[0], &t.ran); r < 0 {
		running.Delete(t)
		return nil, fmt.Errorf("clone: %w", syscall.Errno(-r))
	}
	return t, nil
}

// Wait waits until the thread is gone and returns the results of all of
// its records (the fds of openat, say), or an error naming the step that
// failed. Call it exactly once, from one goroutine (the kernel wakes one
// waiter); a thread nobody waits for keeps its message and what it
// opened.
func (t *RawThread) Wait() ([]uintptr, error) {
	for {
		v := atomic.LoadUint32(&t.tid)
		if v == 0 {
			break
		}
		// FUTEX_WAIT, not the private one: the kernel's wake-up at the
		// thread's exit is shared.
		_, _, e := unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(&t.tid)), futexWait, uintptr(v), 0, 0, 0)
		if e != 0 && e != unix.EAGAIN && e != unix.EINTR {
			// Never return while the thread may still write: poll.
			time.Sleep(50 * time.Microsecond)
		}
	}
	running.Delete(t)
	res := make([]uintptr, t.ran)
	for i := range res {
		res[i] = uintptr(binary.NativeEndian.Uint64(t.msg[i*trampolineRecSize+56:]))
	}
	if n := len(res); n > 0 && res[n-1] > maxErrnoResult {
		return nil, fmt.Errorf("%s: %w", t.steps[n-1], syscall.Errno(-res[n-1]))
	} else if n < len(t.steps) {
		return nil, fmt.Errorf("%s: not made", t.steps[n])
	}
	return res, nil
}
