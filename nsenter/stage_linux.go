package nsenter

import (
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// EnvName is the environment variable the entry stage reads its joins from.
const EnvName = "_RT_NSENTER"

// Stage outcomes, written by the assembly entry stage into stageState.
const (
	stageNotRun    = 0 // the entry stage never ran (unpatched binary, or not amd64)
	stageNoEnv     = 1 // ran; EnvName was absent
	stageOK        = 2 // ran; every join succeeded
	stageFailed    = 3 // ran; setns failed at stageIndex with stageErrno
	stageMalformed = 4 // ran; EnvName's value could not be parsed at stageIndex
)

// Written by the entry stage before the Go runtime starts, read-only afterwards.
// Plain uint32/uint8 so the assembly can store into them directly.
var (
	stageState  uint32
	stageIndex  uint32 // entry that failed (0-based), or the number of joins on success
	stageLetter uint8  // letter of the failing entry
	stageFD     uint32 // fd of the failing entry
	stageErrno  uint32 // errno of the failing setns
	// stageGOMAXPROCS is 1 if the stage added GOMAXPROCS=1 to the
	// environment (see SettleGOMAXPROCS).
	stageGOMAXPROCS uint32
	// stageTimerSlack is the timer slack (ns) of the thread that exec'd
	// rt, read by the stage before it set rtTimerSlack.
	stageTimerSlack uint64
)

// rtTimerSlack is the timer slack, in ns, the entry stage gives rt's first
// thread and so every thread of rt (RT_TIMERSLACK in the assembly).
//
// While a goroutine runs, the Go runtime's monitor thread (sysmon) wakes
// every 20 us to look for Ps to retake. On the 2-CPU VM of the README's
// figures each wake-up costs ~10 us of CPU in timer interrupts and exits,
// the kernel rounds the 20 us to ~90 us, and the monitor is mostly woken
// on the CPU where rt's main thread runs and preempts it there: ~10% of
// a `run`. With 1 ms of slack the kernel batches those wake-ups into one
// per millisecond or so (measured: rt's own time in `run` 8-15% less).
// Nothing in rt waits on a timer where a millisecond matters: the
// runtime retakes a P from a blocking system call (for the goroutine that
// forwards a signal to the container, say) up to ~1 ms later, and the
// retry loops that sleep a millisecond sleep up to two.
//
// Timer slack is inherited by threads and processes alike: every process
// rt starts gets its caller's slack back (WithCallerTimerSlack,
// RestoreCallerTimerSlack), so the container, hooks and ps see what they
// would have seen without rt.
const rtTimerSlack = 1_000_000

// slackChanged says whether rt's threads run with rtTimerSlack and not
// their caller's: the stage ran, read the caller's (0 if the kernel
// refused, or for a real-time thread, whose slack is always 0) and set
// rt's.
func slackChanged() bool { return stageState != stageNotRun && stageTimerSlack != 0 }

// callerSlackRestored is set once RestoreCallerTimerSlack has run: from
// then on the process (an init about to exec) forks only from that thread,
// maybe under the container's seccomp filter, and needs no prctl to do so.
var callerSlackRestored atomic.Bool

// WithCallerTimerSlack runs start, which forks (or clones) a process on
// the calling thread, with that thread's timer slack set to the one rt
// was started with for the duration, so that the process inherits it;
// then the thread gets back the slack it had.
func WithCallerTimerSlack(start func() error) error {
	if !slackChanged() || callerSlackRestored.Load() {
		return start()
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	was, err := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0)
	if err != nil {
		return start()
	}
	setTimerSlack(stageTimerSlack)
	defer setTimerSlack(uint64(was))
	return start()
}

// RestoreCallerTimerSlack sets the calling thread's timer slack to the one
// rt was started with, for an execve that replaces rt: call it on the
// thread that execs (locked), before a seccomp filter may refuse prctl,
// and fork nothing from other threads afterwards.
func RestoreCallerTimerSlack() {
	if slackChanged() {
		setTimerSlack(stageTimerSlack)
		callerSlackRestored.Store(true)
	}
}

// setTimerSlack sets the calling thread's timer slack; it cannot fail for
// a value above 0 (for a real-time thread it does nothing).
func setTimerSlack(ns uint64) {
	unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(ns), 0, 0, 0)
}

// SettleGOMAXPROCS leaves the process with one P unless GOMAXPROCS was set
// in the environment it started with, and removes the GOMAXPROCS=1 that
// the entry stage added, if it did. Call it first in main, before
// starting any process.
//
// Unless GOMAXPROCS is set in the environment (or argv and the
// environment take more than 16 KiB of pointers), the stage adds
// GOMAXPROCS=1 to the one the runtime starts with, so that every rt process runs with
// one P from its first instruction. One P is all an rt command needs; a
// second one, and the threads that come with it, cost ~0.1 MiB of RSS,
// and runtime.GOMAXPROCS(1) called later does not give all of it back
// (destroying a P hands its cached spans to the central lists, which
// touches more pages): that call is only the fallback for a binary the
// stage did not run in. The runtime has read the variable by the time Go
// code runs; removing it keeps it from children that inherit rt's
// environment.
func SettleGOMAXPROCS() {
	if stageGOMAXPROCS == 1 {
		os.Unsetenv("GOMAXPROCS")
	} else if _, set := os.LookupEnv("GOMAXPROCS"); !set {
		runtime.GOMAXPROCS(1)
	}
}

// StageError reports what the entry stage did with EnvName. It returns nil if
// no joins were requested or all of them succeeded, and an error naming the
// namespace type, fd and errno if one failed, or saying that the stage did not
// run although joins were requested (a binary not built by hack/build-rt.sh).
// Call it early in the child's Go code, before relying on its namespaces.
// It removes EnvName from the environment so processes the child starts do not
// see it.
func StageError() error {
	val, set := os.LookupEnv(EnvName)
	if set {
		os.Unsetenv(EnvName)
	}
	return stageError(set, val)
}

func stageError(set bool, val string) error {
	switch stageState {
	case stageNotRun:
		if !set {
			return nil
		}
		return fmt.Errorf("%s=%q: nsenter entry stage did not run (binary not built with hack/build-rt.sh?)", EnvName, val)
	case stageNoEnv, stageOK:
		return nil
	case stageFailed:
		if stageLetter == 'g' {
			return fmt.Errorf("nsenter entry stage: join cgroup: write 0 to the tasks file at fd %d (entry %d of %s=%q): %w",
				stageFD, stageIndex, EnvName, val, syscall.Errno(stageErrno))
		}
		typ := fmt.Sprintf("%q", stageLetter)
		for _, t := range nsTypes {
			if t.letter == stageLetter {
				typ = t.name
			}
		}
		return fmt.Errorf("nsenter entry stage: join %s namespace from fd %d (entry %d of %s=%q): setns: %w",
			typ, stageFD, stageIndex, EnvName, val, syscall.Errno(stageErrno))
	case stageMalformed:
		return fmt.Errorf("nsenter entry stage: malformed %s=%q at entry %d (want letters m,u,t,n,i,h,c,g each followed by an fd number)",
			EnvName, val, stageIndex)
	}
	return fmt.Errorf("nsenter entry stage: unknown state %d", stageState)
}

// TrampolineArg0 makes the entry stage an exec trampoline: a process that
// execs this binary with argv "_RTEXEC", ERRFD, PATH, ARGV0, ARGS... (ERRFD
// in decimal; SYNCFD is the next fd) runs no Go and no C library code. The
// stage makes itself non-dumpable, marks ERRFD close-on-exec, and blocks
// reading SYNCFD; the parent (which meanwhile may move it into its cgroup2
// cgroup and set its final CPU affinity) sends one TrampolineMsg. The stage
// makes the message's system calls in order, closes SYNCFD and execs the
// message's path (or PATH) with ARGV0, ARGS... and the same environment.
// If a step fails it writes 8 bytes to ERRFD, the errno and the index of
// the record that failed (native order; TrampolineNoRecord before the
// message, the number of records for the execve, EPROTO for a malformed
// message), and exits 127; on EOF it just exits 127.
//
// rt exec's direct path and run's direct init exec the container's program
// this way from a sealed copy of rt, so that the process doing the final
// execve has the sealed copy, not the host's rt, as /proc/self/exe
// (CVE-2019-5736: `#!/proc/self/exe`).
const TrampolineArg0 = "_RTEXEC"

// StageRan reports whether this process started through the entry stage
// (a binary patched by hack/build-rt.sh).
func StageRan() bool { return stageState != stageNotRun }
