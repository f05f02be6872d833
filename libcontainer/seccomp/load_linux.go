package seccomp

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Load installs a BPF program compiled by Compile on the calling thread
// (the one that will exec the user program), with seccomp(2) flags.
func Load(prog []byte, flags uint) error {
	if len(prog) == 0 || len(prog)%8 != 0 {
		return fmt.Errorf("seccomp: bad program length %d", len(prog))
	}
	fprog := unix.SockFprog{
		Len:    uint16(len(prog) / 8),
		Filter: (*unix.SockFilter)(unsafe.Pointer(&prog[0])),
	}
	_, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, uintptr(flags), uintptr(unsafe.Pointer(&fprog)))
	if errno != 0 {
		return fmt.Errorf("seccomp(SECCOMP_SET_MODE_FILTER): %w", errno)
	}
	return nil
}

// LoadListener installs the filter with SECCOMP_FILTER_FLAG_NEW_LISTENER
// and returns the notify fd (close-on-exec).
func LoadListener(prog []byte, flags uint) (int, error) {
	if len(prog) == 0 || len(prog)%8 != 0 {
		return -1, fmt.Errorf("seccomp: bad program length %d", len(prog))
	}
	fprog := unix.SockFprog{Len: uint16(len(prog) / 8), Filter: (*unix.SockFilter)(unsafe.Pointer(&prog[0]))}
	const newListener = 8 // SECCOMP_FILTER_FLAG_NEW_LISTENER
	fd, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, uintptr(flags|newListener), uintptr(unsafe.Pointer(&fprog)))
	if errno != 0 {
		return -1, fmt.Errorf("seccomp(SECCOMP_SET_MODE_FILTER, NEW_LISTENER): %w", errno)
	}
	return int(fd), nil
}

// SupportedFlags are the Flags this kernel accepts: seccomp(2) with a NULL
// program fails with EFAULT for a known flag and EINVAL for an unknown one
// (the check runc uses).
func SupportedFlags() []string {
	var out []string
	for _, name := range Flags {
		bit, _ := flagBit(specsFlag(name))
		if name == "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV" {
			bit |= 8 // only valid with NEW_LISTENER, which rt sets for listenerPath
		}
		_, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, uintptr(bit), 0)
		if errno == unix.EFAULT {
			out = append(out, name)
		}
	}
	return out
}
