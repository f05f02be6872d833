package nsenter

import "runtime"

// entryStage is the ELF entry point of binaries built by hack/build-rt.sh
// (see stage_linux_amd64.s). It must never be called from Go.
func entryStage()

// unpatchedDelta marks entryDelta in a binary hack/elfentry has not patched.
// Non-zero so that entryDelta lives in the file's data section, where the
// patcher can write it.
const unpatchedDelta = 0x7274_6e73_656e_7472

// entryDelta is the original ELF entry address minus entryStage's address,
// written by hack/elfentry. A difference rather than an address works for
// position-independent binaries too.
var entryDelta int64 = unpatchedDelta

// memProfileRate is &runtime.MemProfileRate, which the stage sets to 0
// (assembly may not name the runtime's variables; the linker writes this
// address into the data section).
var memProfileRate = &runtime.MemProfileRate

// keepEntry keeps entryStage (and entryDelta) in the binary: the linker drops
// functions nothing reachable refers to, and the patcher then fails to find it.
var keepEntry func()

func init() {
	// The condition is never true; it only stops the compiler from turning the
	// assignment into static data that the linker could discard.
	if entryDelta == 0 {
		keepEntry = entryStage
	}
}
