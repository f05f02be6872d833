package nsenter

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The trampoline's message (see TrampolineArg0): records of 64 bytes, each
// a system call number and six arguments and a mask whose bit i makes
// argument i an offset into the message; a terminator (number all ones)
// whose first argument is the offset of the path to exec, or 0 for the
// PATH of argv, and whose second is the offset of an environment (an array
// of offsets of strings, ending in 0), or 0 for the trampoline's own; then
// the data the offsets point into.
const (
	trampolineMsgMax  = 32768 // the stage's buffer (stage_linux_amd64.s)
	trampolineRecSize = 64
	trampolineEnd     = ^uint64(0)
)

// TrampolineNoRecord is the record index of a failure before the message.
const TrampolineNoRecord = 0xffffffff

// TrampolineMsg builds the trampoline's message.
type TrampolineMsg struct {
	recs  []trampolineRec
	data  []byte
	steps []string
}

type trampolineRec struct {
	nr     uint64
	args   [6]uint64
	rel    uint64 // bit i: args[i] is an offset into data
	thread bool   // RunOnThread makes it too
}

// Arg is an argument of a record: a number, or bytes stored in the message
// and passed by address.
type Arg struct {
	val   uint64
	bytes []byte
	isPtr bool
}

// Val is a number argument.
func Val(v uintptr) Arg { return Arg{val: uint64(v)} }

// Bytes is an argument passed as the address of a copy of b.
func Bytes(b []byte) Arg { return Arg{bytes: b, isPtr: true} }

// String is an argument passed as the address of a NUL-terminated copy of s.
func String(s string) Arg { return Bytes(append([]byte(s), 0)) }

// Syscall appends a record; step names it in errors.
func (m *TrampolineMsg) Syscall(step string, nr uintptr, args ...Arg) {
	m.add(step, false, nr, args)
}

// ThreadSyscall appends a record that RunOnThread makes as well: one whose
// effect is the calling thread's own (credentials, capabilities, cwd).
func (m *TrampolineMsg) ThreadSyscall(step string, nr uintptr, args ...Arg) {
	m.add(step, true, nr, args)
}

func (m *TrampolineMsg) add(step string, thread bool, nr uintptr, args []Arg) {
	if len(args) > 6 {
		panic("nsenter: more than six system call arguments")
	}
	r := trampolineRec{nr: uint64(nr), thread: thread}
	for i, a := range args {
		if !a.isPtr {
			r.args[i] = a.val
			continue
		}
		// 8-byte aligned, for the kernel's structs.
		for len(m.data)%8 != 0 {
			m.data = append(m.data, 0)
		}
		r.args[i] = uint64(len(m.data))
		r.rel |= 1 << i
		m.data = append(m.data, a.bytes...)
	}
	m.recs = append(m.recs, r)
	m.steps = append(m.steps, step)
}

// RunOnThread makes the ThreadSyscall records, in order, on the calling
// thread (which must be locked to its goroutine, and is usually discarded
// afterwards), so that a preparing thread takes on what the trampoline
// will. It returns the step of the first that fails.
func (m *TrampolineMsg) RunOnThread() (step string, err error) {
	for i, r := range m.recs {
		if !r.thread {
			continue
		}
		var a [6]uintptr
		for j, v := range r.args {
			if r.rel&(1<<j) != 0 {
				a[j] = uintptr(unsafe.Pointer(&m.data[v]))
			} else {
				a[j] = uintptr(v)
			}
		}
		if _, _, e := unix.RawSyscall6(uintptr(r.nr), a[0], a[1], a[2], a[3], a[4], a[5]); e != 0 {
			runtime.KeepAlive(m.data)
			return m.steps[i], e
		}
	}
	runtime.KeepAlive(m.data)
	return "", nil
}

// Len is the number of records.
func (m *TrampolineMsg) Len() int { return len(m.recs) }

// Encode returns the message, ending in an exec of path ("" for argv's
// PATH) with the environment env (nil for the trampoline's own).
func (m *TrampolineMsg) Encode(path string, env []string) ([]byte, error) {
	data := m.data
	align := func() {
		for len(data)%8 != 0 {
			data = append(data, 0)
		}
	}
	var pathOff, envOff uint64
	if path != "" {
		align()
		pathOff = uint64(len(data))
		data = append(data, path...)
		data = append(data, 0)
	}
	base := uint64((len(m.recs) + 1) * trampolineRecSize)
	if env != nil {
		// The strings, then the array of their offsets (the stage adds
		// the message's address to each in place).
		offs := make([]uint64, 0, len(env)+1)
		for _, e := range env {
			offs = append(offs, base+uint64(len(data)))
			data = append(data, e...)
			data = append(data, 0)
		}
		align()
		envOff = uint64(len(data))
		for _, o := range append(offs, 0) {
			data = binary.NativeEndian.AppendUint64(data, o)
		}
	}
	b := make([]byte, 0, int(base)+len(data))
	for _, r := range m.recs {
		b = binary.NativeEndian.AppendUint64(b, r.nr)
		for i, a := range r.args {
			if r.rel&(1<<i) != 0 {
				a += base
			}
			b = binary.NativeEndian.AppendUint64(b, a)
		}
		b = binary.NativeEndian.AppendUint64(b, r.rel)
	}
	b = binary.NativeEndian.AppendUint64(b, trampolineEnd)
	if path != "" {
		pathOff += base
	}
	if env != nil {
		envOff += base
	}
	b = binary.NativeEndian.AppendUint64(b, pathOff)
	b = binary.NativeEndian.AppendUint64(b, envOff)
	b = append(b, make([]byte, trampolineRecSize-24)...)
	b = append(b, data...)
	if len(b) > trampolineMsgMax {
		return nil, fmt.Errorf("trampoline message of %d bytes: more than %d", len(b), trampolineMsgMax)
	}
	return b, nil
}

// Size is the length of the message Encode would return for a path of
// pathLen bytes (0 for argv's PATH) and an environment whose entries have
// the lengths envLens (nil for the trampoline's own), without building it.
func (m *TrampolineMsg) Size(pathLen int, envLens []int) int {
	n := len(m.data)
	align := func() { n = (n + 7) &^ 7 }
	if pathLen > 0 {
		align()
		n += pathLen + 1
	}
	if envLens != nil {
		for _, l := range envLens {
			n += l + 1
		}
		align()
		n += 8 * (len(envLens) + 1)
	}
	return (len(m.recs)+1)*trampolineRecSize + n
}

// Fits returns an error if the message Encode would build (see Size) is
// larger than the trampoline takes.
func (m *TrampolineMsg) Fits(pathLen int, envLens []int) error {
	if n := m.Size(pathLen, envLens); n > trampolineMsgMax {
		return fmt.Errorf("trampoline message of %d bytes: more than %d", n, trampolineMsgMax)
	}
	return nil
}

// Failure decodes the trampoline's 8-byte error report: the errno and the
// step of the record that failed ("exec" for the final execve, "" before
// the message).
func (m *TrampolineMsg) Failure(report []byte) (step string, errno syscall.Errno) {
	errno = syscall.Errno(binary.NativeEndian.Uint32(report[:4]))
	idx := binary.NativeEndian.Uint32(report[4:8])
	switch {
	case idx == TrampolineNoRecord:
		return "", errno
	case int(idx) < len(m.steps):
		return m.steps[idx], errno
	}
	return "exec", errno
}
