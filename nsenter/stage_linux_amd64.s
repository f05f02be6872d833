#include "textflag.h"

// The ELF entry point of a binary built by hack/build-rt.sh. The dynamic
// loader (or the kernel) jumps here with the process still single-threaded;
// this joins the namespaces listed in _RT_NSENTER (see doc.go), records the
// outcome in the stage* globals, adds GOMAXPROCS=1 to the environment unless
// it is set, and jumps on to the original entry (glibc's
// _start or the Go runtime's _rt0_amd64_linux). It must leave DX as it
// found it (glibc's _start reads rtld_fini from it) and SP pointing at a
// valid initial stack block (argc, argv, envp, auxv), which the C library's
// or the runtime's start reads. There is no Go stack or g here, so no calls, only SYSCALL.

DATA envPrefix<>+0(SB)/8, $"_RT_NSEN"
DATA envPrefix<>+8(SB)/4, $"TER="
GLOBL envPrefix<>(SB), RODATA|NOPTR, $12

DATA gomaxprocsEnv<>+0(SB)/8, $"GOMAXPRO"
DATA gomaxprocsEnv<>+8(SB)/4, $"CS=1"
GLOBL gomaxprocsEnv<>(SB), RODATA|NOPTR, $16	// NUL-terminated by the padding

DATA zeroText<>+0(SB)/1, $"0"
GLOBL zeroText<>(SB), RODATA|NOPTR, $1

// The trampoline's message: system-call records and their data (see
// TrampolineMsg in trampoline.go), and the 8-byte error report.
GLOBL trampMsg<>(SB), NOPTR, $32768
GLOBL trampErr<>(SB), NOPTR, $8

#define SYS_close 3
#define SYS_madvise 28
#define MADV_POPULATE_WRITE 23
#define SYS_setns 308
#define SYS_read 0
#define SYS_write 1
#define SYS_fcntl 72
#define SYS_execve 59
#define SYS_prctl 157
#define SYS_prlimit64 302
#define SYS_exit_group 231
#define PR_SET_DUMPABLE 4
#define PR_SET_TIMERSLACK 29
#define PR_GET_TIMERSLACK 30
#define RT_TIMERSLACK 1000000	// rtTimerSlack in stage_linux.go
#define F_SETFD 2
#define FD_CLOEXEC 1
#define MSGBUF 32768
#define RECSIZE 64

TEXT ·entryStage(SB),NOSPLIT|NOFRAME,$0
	// The exec trampoline (see TrampolineArg0 in stage_linux.go):
	// argv = "_RTEXEC", ERRFD, PATH, ARGV0, ARGS...; SYNCFD is ERRFD+1.
	// No Go, no libc.
	MOVQ	0(SP), BX		// argc
	CMPQ	BX, $4
	JLT	stage
	MOVQ	8(SP), R13		// argv[0]: 8 bytes are readable (more strings follow)
	MOVQ	$0x004345584554525f, AX	// "_RTEXEC" and its NUL
	CMPQ	AX, 0(R13)
	JNE	stage
	MOVQ	16(SP), R13		// argv[1]: ERRFD, in decimal
	XORL	DI, DI
	XORL	R8, R8
edigit:
	MOVBLZX	(R13), AX
	SUBL	$'0', AX
	CMPL	AX, $9
	JHI	efd
	IMULL	$10, DI
	ADDL	AX, DI
	INCQ	R13
	INCL	R8
	CMPL	R8, $7
	JGT	texit
	JMP	edigit
efd:
	TESTL	R8, R8
	JZ	texit
	MOVL	DI, R12			// ERRFD
	MOVL	$0xffffffff, R13	// no record run yet (see tfail)
	// Not dumpable first: nobody in the container may ptrace this
	// process or open its /proc/PID/fd while it holds rt's fds.
	MOVL	$PR_SET_DUMPABLE, DI
	XORL	SI, SI
	XORL	DX, DX
	XORL	R10, R10
	XORL	R8, R8
	MOVL	$SYS_prctl, AX
	SYSCALL
	CMPQ	AX, $0xfffffffffffff001
	JCC	tfail			// the program never runs after tfail
	MOVL	R12, DI
	MOVL	$F_SETFD, SI
	MOVL	$FD_CLOEXEC, DX
	MOVL	$SYS_fcntl, AX
	SYSCALL
	CMPQ	AX, $0xfffffffffffff001
	JCC	tfail
	MOVL	R12, R14		// SYNCFD is ERRFD+1
	INCL	R14
	// Wait for the parent (which may move us into the cgroup2 cgroup and
	// set the final CPU affinity meanwhile): one message of system-call
	// records, a terminator and their data (EOF first: the parent is gone;
	// give up). R13 counts the records run, for the error report.
	MOVL	R14, DI
	LEAQ	trampMsg<>(SB), SI
	MOVL	$MSGBUF, DX
	MOVL	$SYS_read, AX
	SYSCALL
	CMPQ	AX, $0
	JLE	texit
	MOVQ	AX, BX			// message length
	XORL	R13, R13
	LEAQ	trampMsg<>(SB), R15
rloop:
	LEAQ	RECSIZE(R15), AX	// the record must lie inside the message
	LEAQ	trampMsg<>(SB), CX
	SUBQ	CX, AX
	CMPQ	AX, BX
	JHI	tproto
	MOVQ	0(R15), AX
	CMPQ	AX, $-1			// the terminator
	JEQ	rdone
	// Arguments whose bit is set in the mask are offsets into the message.
	LEAQ	trampMsg<>(SB), AX
	MOVQ	56(R15), CX
	MOVQ	8(R15), DI
	TESTQ	$1, CX
	JZ	ra1
	ADDQ	AX, DI
ra1:
	MOVQ	16(R15), SI
	TESTQ	$2, CX
	JZ	ra2
	ADDQ	AX, SI
ra2:
	MOVQ	24(R15), DX
	TESTQ	$4, CX
	JZ	ra3
	ADDQ	AX, DX
ra3:
	MOVQ	32(R15), R10
	TESTQ	$8, CX
	JZ	ra4
	ADDQ	AX, R10
ra4:
	MOVQ	40(R15), R8
	TESTQ	$16, CX
	JZ	ra5
	ADDQ	AX, R8
ra5:
	MOVQ	48(R15), R9
	TESTQ	$32, CX
	JZ	ra6
	ADDQ	AX, R9
ra6:
	MOVQ	0(R15), AX
	SYSCALL
	CMPQ	AX, $0xfffffffffffff001
	JCC	tfail
	ADDQ	$RECSIZE, R15
	INCL	R13
	JMP	rloop
rdone:
	MOVL	R14, DI
	MOVL	$SYS_close, AX
	SYSCALL
	MOVQ	8(R15), DI		// the terminator's path: an offset, or 0 for PATH
	TESTQ	DI, DI
	JZ	argpath
	LEAQ	trampMsg<>(SB), AX
	ADDQ	AX, DI
	JMP	envsel
argpath:
	MOVQ	24(SP), DI		// PATH
envsel:
	MOVQ	0(SP), BX
	LEAQ	16(SP)(BX*8), DX	// envp: ours
	MOVQ	16(R15), CX		// or the terminator's: an offset of offsets, 0-ended
	TESTQ	CX, CX
	JZ	doexec
	LEAQ	trampMsg<>(SB), AX
	ADDQ	AX, CX
	MOVQ	CX, DX
envloop:
	MOVQ	0(CX), R8
	TESTQ	R8, R8
	JZ	doexec
	ADDQ	AX, R8
	MOVQ	R8, 0(CX)
	ADDQ	$8, CX
	JMP	envloop
doexec:
	LEAQ	32(SP), SI		// &argv[3]
	MOVL	$SYS_execve, AX
	SYSCALL				// returns only on failure
	JMP	tfail
tproto:
	MOVL	$0xffffffff, R13	// no record to blame
	MOVQ	$-71, AX		// EPROTO
tfail:
	NEGQ	AX
	MOVL	AX, trampErr<>+0(SB)	// errno, then the record that failed
	MOVL	R13, trampErr<>+4(SB)	// (all ones before the message)
	MOVL	R12, DI
	LEAQ	trampErr<>(SB), SI
	MOVL	$8, DX
	MOVL	$SYS_write, AX
	SYSCALL
texit:
	MOVL	$127, DI
	MOVL	$SYS_exit_group, AX
	SYSCALL

stage:
	// Break copy-on-write of the Go data section now, in one call, while
	// the process has one thread: written later, each page's first write
	// faults and, with the runtime's threads running on other CPUs, flushes
	// their TLBs by IPI, which a VM pays for dearly (~0.1 ms of every rt
	// start on the 2-CPU VM of the README's figures).
	// Kernels before 5.14 lack MADV_POPULATE_WRITE: nothing is lost.
	MOVQ	DX, R9
	MOVQ	$runtime·data(SB), DI
	ANDQ	$~4095, DI
	MOVQ	$runtime·edata(SB), SI
	SUBQ	DI, SI
	MOVQ	$MADV_POPULATE_WRITE, DX
	MOVQ	$SYS_madvise, AX
	SYSCALL
	MOVQ	R9, DX
	// A coarse timer slack for every thread of rt, which they all inherit
	// from this one (see rtTimerSlack); the caller's is kept for the
	// processes rt starts.
	MOVL	$PR_GET_TIMERSLACK, DI
	MOVL	$SYS_prctl, AX
	SYSCALL				// arguments past the option are ignored
	CMPQ	AX, $0xfffffffffffff001
	JCC	slackdone		// refused (a seccomp filter): leave it be
	MOVQ	AX, ·stageTimerSlack(SB)
	TESTQ	AX, AX
	JZ	slackdone		// a real-time thread: its slack is always 0
	MOVL	$PR_SET_TIMERSLACK, DI
	MOVL	$RT_TIMERSLACK, SI
	MOVL	$SYS_prctl, AX
	SYSCALL
slackdone:
	// No heap profile is ever written (see earlyinit). The runtime
	// samples an allocation, with a full stack unwind through pclntab,
	// whenever MemProfileRate differs from the rate an mcache cached (0
	// in a new one): so its very first allocation, before schedinit
	// zeroes the rate for a binary that never reads the profile, which
	// maps 256 KiB of pclntab in every rt process. Zero from the start,
	// the rate never differs. (memProfileRate is an address the linker
	// wrote: a static non-PIE binary, as hack/build-rt.sh links, needs no
	// relocation before this runs; a static-pie one would.)
	MOVQ	·memProfileRate(SB), AX
	MOVQ	$0, 0(AX)
	MOVL	$1, ·stageState(SB)	// stageNoEnv
	MOVQ	0(SP), BX		// argc
	LEAQ	16(SP)(BX*8), R12	// envp: skip argc, argv[argc], its NULL

scan:
	MOVQ	0(R12), R13
	TESTQ	R13, R13
	JZ	done
	ADDQ	$8, R12
	LEAQ	envPrefix<>(SB), R14
	XORQ	CX, CX
cmp:
	MOVBLZX	(R14)(CX*1), AX
	MOVBLZX	(R13)(CX*1), BX	// stops at the string's NUL: the prefix has none
	CMPL	AX, BX
	JNE	scan
	INCQ	CX
	CMPQ	CX, $12
	JLT	cmp

	ADDQ	$12, R13		// the value
	MOVL	$2, ·stageState(SB)	// stageOK until something fails
	XORL	R15, R15		// entry index

entry:
	MOVL	R15, ·stageIndex(SB)
	MOVBLZX	(R13), AX
	TESTL	AX, AX
	JZ	done
	MOVB	AX, ·stageLetter(SB)
	MOVL	$0x00020000, SI		// CLONE_NEWNS
	CMPL	AX, $'m'
	JEQ	number
	MOVL	$0x10000000, SI		// CLONE_NEWUSER
	CMPL	AX, $'u'
	JEQ	number
	MOVL	$0x00000080, SI		// CLONE_NEWTIME
	CMPL	AX, $'t'
	JEQ	number
	MOVL	$0x40000000, SI		// CLONE_NEWNET
	CMPL	AX, $'n'
	JEQ	number
	MOVL	$0x08000000, SI		// CLONE_NEWIPC
	CMPL	AX, $'i'
	JEQ	number
	MOVL	$0x04000000, SI		// CLONE_NEWUTS
	CMPL	AX, $'h'
	JEQ	number
	MOVL	$0x02000000, SI		// CLONE_NEWCGROUP
	CMPL	AX, $'c'
	JEQ	number
	XORL	SI, SI			// no namespace: a cgroup v1 tasks file
	CMPL	AX, $'g'
	JEQ	number
	JMP	malformed

number:
	INCQ	R13
	XORL	DI, DI			// fd
	XORL	R8, R8			// digits seen
digit:
	MOVBLZX	(R13), AX
	SUBL	$'0', AX
	CMPL	AX, $9
	JHI	setns			// not a digit (unsigned compare)
	IMULL	$10, DI
	ADDL	AX, DI
	INCQ	R13
	INCL	R8
	CMPL	R8, $7			// fds have at most 7 digits
	JGT	malformed
	JMP	digit

setns:
	TESTL	R8, R8
	JZ	malformed
	MOVL	DI, ·stageFD(SB)
	TESTL	SI, SI
	JZ	cgwrite
	MOVL	$SYS_setns, AX
	SYSCALL				// keeps DI; clobbers AX, CX, R11
	CMPQ	AX, $0xfffffffffffff001
	JCC	failed			// unsigned >= -4095: an errno
	MOVL	$SYS_close, AX
	SYSCALL
	INCL	R15
	JMP	entry

cgwrite:
	// write(fd, "0", 1): this thread, the process's only one, moves
	// itself (see CgroupTasks). DX must survive (glibc's rtld_fini).
	MOVQ	DX, R9
	LEAQ	zeroText<>(SB), SI
	MOVL	$1, DX
	MOVL	$SYS_write, AX
	SYSCALL				// keeps DI
	MOVQ	R9, DX
	CMPQ	AX, $0xfffffffffffff001
	JCC	failed
	MOVL	$SYS_close, AX
	SYSCALL
	INCL	R15
	JMP	entry

failed:
	NEGQ	AX
	MOVL	AX, ·stageErrno(SB)
	MOVL	$3, ·stageState(SB)	// stageFailed
	JMP	done

malformed:
	MOVL	$4, ·stageState(SB)	// stageMalformed

done:
	// Unless the environment sets GOMAXPROCS, start the runtime with
	// GOMAXPROCS=1 (see SettleGOMAXPROCS): rebuild the initial stack
	// block (argc, argv, NULL, envp, NULL, auxv up to AT_NULL) below the
	// current one with one more environment pointer, and move SP to it.
	// The strings stay where they are. DX is not touched. A block over
	// 16 KiB (some 2000 pointers) is left alone: its copy would take as
	// much stack again before anything runs, which a small RLIMIT_STACK
	// may not have; SettleGOMAXPROCS's fallback covers that case.
	MOVQ	0(SP), BX		// argc
	LEAQ	16(SP)(BX*8), R13	// envp
gscan:
	MOVQ	0(R13), R14
	TESTQ	R14, R14
	JZ	ginsert			// R13 is envp's NULL
	LEAQ	gomaxprocsEnv<>(SB), R15
	XORQ	CX, CX
gcmp:
	MOVBLZX	(R15)(CX*1), AX
	MOVBLZX	(R14)(CX*1), BX	// stops at the string's NUL: the prefix has none
	CMPL	AX, BX
	JNE	gnext
	INCQ	CX
	CMPQ	CX, $11			// len("GOMAXPROCS=")
	JLT	gcmp
	JMP	jump			// set: the environment is left alone
gnext:
	ADDQ	$8, R13
	JMP	gscan
ginsert:
	LEAQ	8(R13), R14		// auxv: (type, value) pairs up to AT_NULL
gaux:
	MOVQ	0(R14), AX
	ADDQ	$16, R14
	TESTQ	AX, AX
	JNZ	gaux
	MOVQ	R14, R9			// R14: the old block's end
	SUBQ	SP, R9
	CMPQ	R9, $16384		// a huge argv or environment: the copy
	JA	jump			// could overrun a small stack limit
	ADDQ	$8, R9			// the new block's size
	NEGQ	R9
	ADDQ	SP, R9
	ANDQ	$~15, R9		// the new SP: below the old block, 16-byte aligned
	MOVQ	SP, SI
	MOVQ	R9, DI
gcopy1:					// argc, argv, NULL, envp
	CMPQ	SI, R13
	JEQ	gput
	MOVQ	0(SI), AX
	MOVQ	AX, 0(DI)
	ADDQ	$8, SI
	ADDQ	$8, DI
	JMP	gcopy1
gput:
	LEAQ	gomaxprocsEnv<>(SB), AX
	MOVQ	AX, 0(DI)
	ADDQ	$8, DI
gcopy2:					// envp's NULL, auxv
	CMPQ	SI, R14
	JEQ	gmove
	MOVQ	0(SI), AX
	MOVQ	AX, 0(DI)
	ADDQ	$8, SI
	ADDQ	$8, DI
	JMP	gcopy2
gmove:
	MOVQ	R9, SP
	MOVL	$1, ·stageGOMAXPROCS(SB)
jump:
	LEAQ	·entryStage(SB), AX
	ADDQ	·entryDelta(SB), AX
	JMP	AX
