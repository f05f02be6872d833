package earlyinit

import (
	"os"
	"runtime"
	"testing"
	"unsafe"
)

var stackMoved bool

// TestMain runs on the main goroutine, whose stack init grew: a call
// needing 16 KiB of stack, rt's deepest, must not move it.
func TestMain(m *testing.M) {
	var here byte
	before := uintptr(unsafe.Pointer(&here))
	use(16 << 10)
	stackMoved = uintptr(unsafe.Pointer(&here)) != before
	os.Exit(m.Run())
}

// use recurses until it has used about n bytes of stack.
//
//go:noinline
func use(n int) byte {
	var frame [256]byte
	frame[n%256] = byte(n)
	if n <= len(frame) {
		return frame[0]
	}
	return use(n-len(frame)) + frame[n%256]
}

func TestStackGrownOnce(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("grow is a no-op off amd64")
	}
	if stackMoved {
		t.Error("the main goroutine's stack moved during a 16 KiB call: init did not grow it")
	}
}
