// Package earlyinit sets up every rt process to stay small. main imports
// it for that effect alone; it imports only the runtime and syscall, so the linker's init order
// (the first ready package by import path) runs its initialiser before
// those of urfave/cli and of rt's own packages. TestEarlyInit checks that.
//
// It does two things.
//
// It grows the main goroutine's stack to 32 KiB while the stack holds only
// a few frames. A goroutine starts with 2 KiB, and every time it outgrows
// its stack the runtime copies it and walks every frame, reading each
// function's unwind and stack-map tables in the binary's pclntab. rt's
// main goroutine otherwise grows three times (in urfave/cli's regexp
// compilation at init, and deep in create), and those walks touch pclntab
// pages all over its 2.4 MiB; the kernel maps 64 KiB around each touch,
// all of it counted in the RSS. The deepest command, run, needs 16 KiB,
// and no GC cycle (the other stack walker) happens in a command's life.
//
// It sets GOMAXPROCS to 1 unless the environment sets it: a second P
// means a second set of allocation spans and the threads to run it, and
// rt's commands do nothing in parallel that needs it. In a binary built by
// hack/build-rt.sh this is only a fallback: the entry stage has already put
// GOMAXPROCS=1 in the environment the runtime starts with (see
// nsenter.UnsetStageGOMAXPROCS), which saves more, and create passes it to
// the container's init.
package earlyinit

import (
	"runtime"
	"syscall"
)

// frameSize is the frame grow asks for; the runtime doubles the stack
// from 2 KiB until the frame fits (32 KiB). The frame is never written.
const frameSize = 24 << 10

func init() {
	grow()
	if _, set := syscall.Getenv("GOMAXPROCS"); !set {
		runtime.GOMAXPROCS(1)
	}
}
