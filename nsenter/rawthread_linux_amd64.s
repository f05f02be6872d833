#include "textflag.h"

#define SYS_rt_sigprocmask 14
#define SYS_clone 56
#define SYS_exit 60
#define SIG_SETMASK 2
// CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM|
// CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID
#define RAW_CLONE_FLAGS 0x00350f00
#define RECSIZE 64

// func rawThreadClone(stack uintptr, tid *uint32, msg *byte, ran *uint64) int64
//
// Starts a thread of this process that runs msg's records (see
// TrampolineMsg: each a system call number, six arguments and a mask of
// arguments that are offsets into msg) up to the terminator or the first
// that fails, writes each record's result over its mask word and the
// number it ran to *ran, and exits. It has stack as its stack, runs no Go
// and no C, and has every signal blocked from its first instruction (the
// caller's thread blocks them around the clone, and the new thread keeps
// the mask it was cloned with). The kernel writes the thread's id to *tid
// before the clone returns and zero when the thread is gone, waking a
// futex there. Returns the id, or -errno.
TEXT ·rawThreadClone(SB),NOSPLIT,$16-40
	MOVQ	$-1, 0(SP)		// every signal
	MOVL	$SIG_SETMASK, DI
	LEAQ	0(SP), SI
	LEAQ	8(SP), DX		// the caller's mask, restored below
	MOVL	$8, R10
	MOVL	$SYS_rt_sigprocmask, AX
	SYSCALL
	// Everything the thread needs goes in registers first: it starts
	// with the caller's registers but on its own stack, where no
	// argument of this function is.
	MOVQ	msg+16(FP), R12
	MOVQ	ran+24(FP), R14
	MOVL	$RAW_CLONE_FLAGS, DI
	MOVQ	stack+0(FP), SI
	MOVQ	tid+8(FP), DX		// parent_tid
	MOVQ	DX, R10			// child_tid: cleared at exit
	XORL	R8, R8			// tls (unused: CLONE_SETTLS is not set)
	MOVL	$SYS_clone, AX
	SYSCALL
	TESTQ	AX, AX
	JEQ	rawchild
	MOVQ	AX, R13
	MOVL	$SIG_SETMASK, DI
	LEAQ	8(SP), SI
	XORL	DX, DX
	MOVL	$8, R10
	MOVL	$SYS_rt_sigprocmask, AX
	SYSCALL
	MOVQ	R13, ret+32(FP)
	RET

rawchild:
	MOVQ	R12, R15
	XORL	R13, R13		// records run
rawloop:
	MOVQ	0(R15), AX
	CMPQ	AX, $-1
	JEQ	rawdone
	MOVQ	56(R15), CX
	MOVQ	8(R15), DI
	TESTQ	$1, CX
	JZ	rawa1
	ADDQ	R12, DI
rawa1:
	MOVQ	16(R15), SI
	TESTQ	$2, CX
	JZ	rawa2
	ADDQ	R12, SI
rawa2:
	MOVQ	24(R15), DX
	TESTQ	$4, CX
	JZ	rawa3
	ADDQ	R12, DX
rawa3:
	MOVQ	32(R15), R10
	TESTQ	$8, CX
	JZ	rawa4
	ADDQ	R12, R10
rawa4:
	MOVQ	40(R15), R8
	TESTQ	$16, CX
	JZ	rawa5
	ADDQ	R12, R8
rawa5:
	MOVQ	48(R15), R9
	TESTQ	$32, CX
	JZ	rawa6
	ADDQ	R12, R9
rawa6:
	MOVQ	0(R15), AX
	SYSCALL
	MOVQ	AX, 56(R15)
	INCQ	R13
	CMPQ	AX, $0xfffffffffffff001
	JCC	rawdone			// an errno: stop here
	ADDQ	$RECSIZE, R15
	JMP	rawloop
rawdone:
	MOVQ	R13, 0(R14)
	XORL	DI, DI
	MOVL	$SYS_exit, AX		// this thread only
	SYSCALL
	JMP	rawdone			// not reached
