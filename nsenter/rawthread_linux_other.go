//go:build linux && !amd64

package nsenter

import "syscall"

// rawThreadClone is written for amd64 only.
func rawThreadClone(stack uintptr, tid *uint32, msg *byte, ran *uint64) int64 {
	return -int64(syscall.ENOSYS)
}
