package nsenter

// rawThreadClone is in rawthread_linux_amd64.s. tid, msg and ran are
// written after it returns (StartThread keeps them alive).
func rawThreadClone(stack uintptr, tid *uint32, msg *byte, ran *uint64) int64
