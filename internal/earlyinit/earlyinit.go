// Package earlyinit grows the main goroutine's stack to 32 KiB at the very
// start of package initialisation, while the stack holds only a few
// frames. main imports it for that effect alone. It imports nothing, so the
// linker's init order (the first ready package by import path) runs its
// initialiser first of all but a few of the runtime's own; TestEarlyInit
// checks that it comes before internal/godebug, urfave/cli and rt's
// packages.
//
// A goroutine starts with 2 KiB of stack, and every time it outgrows it
// the runtime copies it and walks every frame, reading each function's
// unwind and stack-map tables in the binary's pclntab. rt's main goroutine
// otherwise grows four times (in internal/godebug's and urfave/cli's
// initialisers, and deep in create), and those walks touch pclntab pages
// all over its 2.4 MiB; the kernel maps 64 KiB around each touch, all of
// it counted in the RSS. Every intermediate size also takes a fresh 32 KiB
// span of the runtime's stack pool, which it writes whole. The deepest
// command, run, needs 16 KiB, and no GC cycle (the other stack walker)
// happens in a command's life.
package earlyinit

import "runtime"

// frameSize is the frame grow asks for; the runtime doubles the stack
// from 2 KiB until the frame fits (32 KiB). The frame is never written.
const frameSize = 24 << 10

func init() {
	grow()
	// No heap profile is ever written, and each sampled allocation (one
	// per 512 KiB on average) unwinds its stack through pclntab the same
	// way.
	runtime.MemProfileRate = 0
}

// largeFrameSize makes Grown's stack 64 KiB.
const largeFrameSize = 56 << 10

// Grown grows the stack to 64 KiB, then runs fn: the entry of a goroutine
// that will go deep (rt's discarded threads, run's direct init among
// them), `go earlyinit.Grown(f)`. The stack grows while it holds only this
// package's frames and goexit's, whose unwind tables the main goroutine's
// growth at init has already read.
func Grown(fn func()) {
	growLarge()
	fn()
}
