package nsenter

// rawThreadClone is in rawthread_linux_amd64.s.
//
//go:noescape
func rawThreadClone(stack uintptr, tid *uint32, msg *byte, ran *uint64) int64
