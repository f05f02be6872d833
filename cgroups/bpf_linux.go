package cgroups

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The few bpf(2) commands the cgroup v2 device filter needs, and an
// encoder for the dozen instructions it is made of. cilium/ebpf does all
// of this and more, but linking it costs every rt command ~20 package
// initialisers (BTF, ELF, zstd, go/format, ...) and ~0.6 MiB of resident
// binary, for one program load at create. The tests load and run the
// programs built here with cilium/ebpf.

// bpfInsn is struct bpf_insn. Pointers in the attribute structs below are
// unsafe.Pointer, not integers, so that the buffers they point to stay
// valid (and are moved with the stack) until the call.
type bpfInsn struct {
	code uint8
	regs uint8 // dst in the low nibble, src in the high one
	off  int16
	imm  int32
}

const (
	r0 uint8 = iota
	r1
	r2
	r3
	r4
	r5
)

// Opcodes (class | operation | source), from linux/bpf_common.h and bpf.h.
const (
	opLdxW     = unix.BPF_LDX | unix.BPF_MEM | unix.BPF_W
	opAnd32K   = unix.BPF_ALU | unix.BPF_AND | unix.BPF_K
	opRsh32K   = unix.BPF_ALU | unix.BPF_RSH | unix.BPF_K
	opMov32K   = unix.BPF_ALU | unix.BPF_MOV | unix.BPF_K
	opMov32X   = unix.BPF_ALU | unix.BPF_MOV | unix.BPF_X
	opJeq32K   = unix.BPF_JMP32 | unix.BPF_JEQ | unix.BPF_K
	opJne32K   = unix.BPF_JMP32 | unix.BPF_JNE | unix.BPF_K
	opJne32X   = unix.BPF_JMP32 | unix.BPF_JNE | unix.BPF_X
	opExit     = unix.BPF_JMP | unix.BPF_EXIT
	bpfInsnLen = 8
)

func ldxW(dst, src uint8, off int16) bpfInsn {
	return bpfInsn{code: opLdxW, regs: dst | src<<4, off: off}
}
func and32Imm(dst uint8, imm int32) bpfInsn { return bpfInsn{code: opAnd32K, regs: dst, imm: imm} }
func rsh32Imm(dst uint8, imm int32) bpfInsn { return bpfInsn{code: opRsh32K, regs: dst, imm: imm} }
func mov32Imm(dst uint8, imm int32) bpfInsn { return bpfInsn{code: opMov32K, regs: dst, imm: imm} }
func mov32Reg(dst, src uint8) bpfInsn       { return bpfInsn{code: opMov32X, regs: dst | src<<4} }
func exit() bpfInsn                         { return bpfInsn{code: opExit} }

// Jumps: the offset (in instructions, from the next one) is set by the caller.
func jeq32Imm(dst uint8, imm int32) bpfInsn { return bpfInsn{code: opJeq32K, regs: dst, imm: imm} }
func jne32Imm(dst uint8, imm int32) bpfInsn { return bpfInsn{code: opJne32K, regs: dst, imm: imm} }
func jne32Reg(dst, src uint8) bpfInsn       { return bpfInsn{code: opJne32X, regs: dst | src<<4} }

// marshalInsns encodes insts in the host's (little-endian) byte order.
func marshalInsns(insts []bpfInsn) []byte {
	b := make([]byte, 0, len(insts)*bpfInsnLen)
	for _, in := range insts {
		b = append(b, in.code, in.regs, byte(uint16(in.off)), byte(uint16(in.off)>>8),
			byte(uint32(in.imm)), byte(uint32(in.imm)>>8), byte(uint32(in.imm)>>16), byte(uint32(in.imm)>>24))
	}
	return b
}

// attrTail ends every attribute struct with zeros, passed to the kernel as
// part of it: newer kernels write some results back into union bpf_attr at
// fixed offsets past the fields rt sets (BPF_PROG_QUERY's revision,
// BPF_PROG_LOAD's log_true_size), and those writes must land in rt's memory
// for the call, not beyond it. The kernel accepts a longer attr whose tail
// is zero.
type attrTail [256]byte

// verifierLogSize is the verifier log rt asks for on a refused program. A
// variable, so the buffer is allocated on the heap: a constant 64 KiB would
// go on the stack and make every load grow the goroutine's stack.
var verifierLogSize = 64 << 10

func bpf(cmd int, attr unsafe.Pointer, size uintptr) (int, error) {
	r, _, errno := unix.Syscall(unix.SYS_BPF, uintptr(cmd), uintptr(attr), size)
	if errno != 0 {
		return -1, errno
	}
	return int(r), nil
}

// bpfProgLoad loads a program and returns its fd (close-on-exec, as every
// bpf fd is). When the verifier refuses it, the error carries the end of
// the verifier's log.
func bpfProgLoad(typ uint32, insts []bpfInsn, license, name string) (int, error) {
	code := marshalInsns(insts)
	lic := append([]byte(license), 0)
	attr := struct {
		progType, insnCnt   uint32
		insns, license      unsafe.Pointer
		logLevel, logSize   uint32
		logBuf              unsafe.Pointer
		kernVersion, flags  uint32
		name                [unix.BPF_OBJ_NAME_LEN]byte
		ifindex, attachType uint32
		_                   attrTail
	}{progType: typ, insnCnt: uint32(len(insts)), insns: unsafe.Pointer(&code[0]), license: unsafe.Pointer(&lic[0])}
	copy(attr.name[:len(attr.name)-1], name)
	fd, err := bpf(unix.BPF_PROG_LOAD, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EINVAL) {
		// Ask again with the verifier's log, for the error message.
		log := make([]byte, verifierLogSize)
		attr.logLevel, attr.logSize, attr.logBuf = 1, uint32(len(log)), unsafe.Pointer(&log[0])
		if _, err2 := bpf(unix.BPF_PROG_LOAD, unsafe.Pointer(&attr), unsafe.Sizeof(attr)); err2 != nil {
			if n := bytes.IndexByte(log, 0); n > 0 {
				lines := strings.Split(strings.TrimSpace(string(log[:n])), "\n")
				if len(lines) > 5 {
					lines = lines[len(lines)-5:]
				}
				err = fmt.Errorf("%w (verifier: %s)", err, strings.Join(lines, "; "))
			}
		}
		runtime.KeepAlive(log)
	}
	runtime.KeepAlive(code)
	runtime.KeepAlive(lic)
	return fd, err
}

// bpfProgAttach attaches prog to the cgroup fd target; with BPF_F_REPLACE
// in flags it takes the place of the program replace.
func bpfProgAttach(target, prog int, typ uint32, flags uint32, replace int) error {
	attr := struct {
		target, prog, typ, flags, replace uint32
		_                                 attrTail
	}{target: uint32(target), prog: uint32(prog), typ: typ, flags: flags}
	if replace >= 0 {
		attr.replace = uint32(replace)
	}
	_, err := bpf(unix.BPF_PROG_ATTACH, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	return err
}

func bpfProgDetach(target, prog int, typ uint32) error {
	attr := struct {
		target, prog, typ uint32
		_                 attrTail
	}{target: uint32(target), prog: uint32(prog), typ: typ}
	_, err := bpf(unix.BPF_PROG_DETACH, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	return err
}

// bpfProgQuery returns the ids of the programs of attach type typ attached
// to the cgroup fd target itself (not the ones it inherits).
func bpfProgQuery(target int, typ uint32) ([]uint32, error) {
	ids := make([]uint32, 16)
	for {
		attr := struct {
			target, typ, queryFlags, attachFlags uint32
			ids                                  unsafe.Pointer
			count, _                             uint32
			_                                    attrTail
		}{target: uint32(target), typ: typ, ids: unsafe.Pointer(&ids[0]), count: uint32(len(ids))}
		_, err := bpf(unix.BPF_PROG_QUERY, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
		runtime.KeepAlive(ids)
		if errors.Is(err, unix.ENOSPC) && int(attr.count) > len(ids) {
			ids = make([]uint32, attr.count)
			continue
		}
		if err != nil {
			return nil, err
		}
		return ids[:attr.count], nil
	}
}

func bpfProgGetFDByID(id uint32) (int, error) {
	attr := struct {
		id, next, flags uint32
		_               attrTail
	}{id: id}
	return bpf(unix.BPF_PROG_GET_FD_BY_ID, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
}

// bpfProgName returns the name the program fd was loaded with.
func bpfProgName(fd int) (string, error) {
	// struct bpf_prog_info up to and including name[16].
	var info struct {
		typ, id                 uint32
		tag                     [8]byte
		jitedLen, xlatedLen     uint32
		jited, xlated, loadTime uint64
		createdByUID, nrMapIDs  uint32
		mapIDs                  uint64
		name                    [unix.BPF_OBJ_NAME_LEN]byte
	}
	attr := struct {
		fd, infoLen uint32
		info        unsafe.Pointer
		_           attrTail
	}{fd: uint32(fd), infoLen: uint32(unsafe.Sizeof(info)), info: unsafe.Pointer(&info)}
	_, err := bpf(unix.BPF_OBJ_GET_INFO_BY_FD, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	if err != nil {
		return "", err
	}
	n := bytes.IndexByte(info.name[:], 0)
	if n < 0 {
		n = len(info.name)
	}
	return string(info.name[:n]), nil
}
