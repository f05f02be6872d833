// Command elfentry makes nsenter's assembly entry stage the ELF entry point of
// a linked Go binary, in place.
//
// Usage: elfentry BINARY
//
// It stores (original entry - stage address) in nsenter.entryDelta, which the
// stage adds to its own address to jump on, and sets e_entry to the stage.
// Patching after the link works with any link mode: with external linking
// (the default once a cgo package such as libseccomp-golang is linked in) Go
// symbols are local to the object and `-Wl,-e` cannot name them, and
// `-ldflags=-E` would force internal linking. Running it twice is harmless.
// The binary must keep its symbol table (no -ldflags=-s).
package main

import (
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
)

const (
	pkg       = "github.com/rtrun/rt/nsenter"
	stageSym  = pkg + ".entryStage"
	deltaSym  = pkg + ".entryDelta"
	unpatched = 0x7274_6e73_656e_7472 // nsenter.unpatchedDelta
	eEntryOff = 24                    // offset of e_entry in an ELF64 header
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: elfentry BINARY")
		os.Exit(2)
	}
	if err := patch(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "elfentry:", err)
		os.Exit(1)
	}
}

func patch(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if f.Class != elf.ELFCLASS64 || f.Machine != elf.EM_X86_64 || f.Data != elf.ELFDATA2LSB {
		return fmt.Errorf("%s: not an x86-64 ELF binary (the entry stage is amd64 only)", path)
	}
	syms, err := f.Symbols()
	if err != nil {
		return fmt.Errorf("%s: read symbol table (built with -ldflags=-s?): %w", path, err)
	}
	var stage, wrapper, delta *elf.Symbol
	for i := range syms {
		switch syms[i].Name {
		case stageSym + ".abi0": // the assembly itself, once Go code takes its address
			stage = &syms[i]
		case stageSym: // the ABIInternal wrapper then, or the assembly if there is no wrapper
			wrapper = &syms[i]
		case deltaSym:
			delta = &syms[i]
		}
	}
	if stage == nil {
		stage = wrapper
	}
	if stage == nil || delta == nil {
		return fmt.Errorf("%s: symbols %s and %s not found: the main package must import %s", path, stageSym, deltaSym, pkg)
	}
	off, err := fileOffset(f, delta.Value)
	if err != nil {
		return fmt.Errorf("%s: %s: %w", path, deltaSym, err)
	}
	if f.Entry == stage.Value {
		return nil // already patched
	}

	w, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer w.Close()
	var cur [8]byte
	if _, err := w.ReadAt(cur[:], off); err != nil {
		return fmt.Errorf("%s: read %s: %w", path, deltaSym, err)
	}
	if v := binary.LittleEndian.Uint64(cur[:]); v != unpatched {
		return fmt.Errorf("%s: %s holds %#x, not the unpatched marker: wrong offset or a changed nsenter package", path, deltaSym, v)
	}
	var buf [8]byte
	binary.LittleEndian.PutUint64(buf[:], f.Entry-stage.Value) // wraps like the stage's ADDQ
	if _, err := w.WriteAt(buf[:], off); err != nil {
		return err
	}
	binary.LittleEndian.PutUint64(buf[:], stage.Value)
	if _, err := w.WriteAt(buf[:], eEntryOff); err != nil {
		return err
	}
	return w.Close()
}

// fileOffset finds where the initialised data at virtual address addr is stored.
func fileOffset(f *elf.File, addr uint64) (int64, error) {
	for _, s := range f.Sections {
		if s.Type == elf.SHT_PROGBITS && s.Flags&elf.SHF_ALLOC != 0 && addr >= s.Addr && addr+8 <= s.Addr+s.Size {
			return int64(s.Offset + addr - s.Addr), nil
		}
	}
	return 0, errors.New("not in an initialised data section")
}
