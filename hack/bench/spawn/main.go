// Command spawn runs a command and writes "<ns> <maxrss KiB> <wait status>"
// of it to fd 3, for hack/bench. It exists to be small: a child's
// ru_maxrss counts the memory of the process it was forked from (at
// execve the kernel folds the high-water RSS of the old address space into
// the new program's, and a vfork child shares its parent's), so the
// harness, whose RSS grows over a run, cannot start the runtimes itself
// when their peak RSS is measured. This program forks at about 2 MiB,
// below every runtime measured; the bench's RSS-floor row shows the figure.
// It imports nothing that allocates at start-up, on purpose.
package main

import (
	"os"
	"strconv"
	"syscall"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 0 {
		os.Stderr.WriteString("usage: spawn COMMAND [ARG...] 3>RESULT\n")
		return 2
	}
	t0 := time.Now()
	// Same process group as the spawner: a timeout in the harness kills both.
	pid, err := syscall.ForkExec(args[0], args, &syscall.ProcAttr{Env: os.Environ(), Files: []uintptr{0, 1, 2}})
	if err != nil {
		os.Stderr.WriteString("spawn " + args[0] + ": " + err.Error() + "\n")
		return 127
	}
	var ws syscall.WaitStatus
	var ru syscall.Rusage
	for {
		_, err = syscall.Wait4(pid, &ws, 0, &ru)
		if err != syscall.EINTR {
			break
		}
	}
	d := time.Since(t0)
	if err != nil {
		os.Stderr.WriteString("spawn: wait4: " + err.Error() + "\n")
		return 127
	}
	line := strconv.FormatInt(d.Nanoseconds(), 10) + " " + strconv.FormatInt(ru.Maxrss, 10) + " " +
		strconv.FormatUint(uint64(uint32(ws)), 10) + "\n"
	if _, err := os.NewFile(3, "result").WriteString(line); err != nil {
		return 127
	}
	return 0
}
