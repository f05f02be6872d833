package libcontainer

import (
	"fmt"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Process attributes of the spec that both the container's process and
// exec'd processes get: personality, scheduler, I/O priority.

// The conversions below are switches, not maps: a map literal is built at
// the start of every rt process, the container's init included.

func schedPolicy(p specs.LinuxSchedulerPolicy) (uint32, bool) {
	switch p {
	case specs.SchedOther:
		return 0, true
	case specs.SchedFIFO:
		return 1, true
	case specs.SchedRR:
		return 2, true
	case specs.SchedBatch:
		return 3, true
	case specs.SchedISO:
		return 4, true
	case specs.SchedIdle:
		return 5, true
	case specs.SchedDeadline:
		return 6, true
	}
	return 0, false
}

func schedFlag(f specs.LinuxSchedulerFlag) (uint64, bool) {
	switch f {
	case specs.SchedFlagResetOnFork:
		return 0x01, true
	case specs.SchedFlagReclaim:
		return 0x02, true
	case specs.SchedFlagDLOverrun:
		return 0x04, true
	case specs.SchedFlagKeepPolicy:
		return 0x08, true
	case specs.SchedFlagKeepParams:
		return 0x10, true
	case specs.SchedFlagUtilClampMin:
		return 0x20, true
	case specs.SchedFlagUtilClampMax:
		return 0x40, true
	}
	return 0, false
}

// schedAttr converts process.scheduler for sched_setattr(2).
func schedAttr(s *specs.Scheduler) (*unix.SchedAttr, error) {
	pol, ok := schedPolicy(s.Policy)
	if !ok {
		return nil, fmt.Errorf("unknown policy %q", s.Policy)
	}
	a := &unix.SchedAttr{Policy: pol, Nice: s.Nice, Priority: uint32(s.Priority),
		Runtime: s.Runtime, Deadline: s.Deadline, Period: s.Period}
	for _, f := range s.Flags {
		b, ok := schedFlag(f)
		if !ok {
			return nil, fmt.Errorf("unknown flag %q", f)
		}
		a.Flags |= b
	}
	return a, nil
}

func ioprioClass(c specs.IOPriorityClass) (int, bool) {
	switch c {
	case specs.IOPRIO_CLASS_RT:
		return 1, true
	case specs.IOPRIO_CLASS_BE:
		return 2, true
	case specs.IOPRIO_CLASS_IDLE:
		return 3, true
	}
	return 0, false
}

// ioprioValue is process.ioPriority as ioprio_set(2) wants it.
func ioprioValue(p *specs.LinuxIOPriority) (int, error) {
	c, ok := ioprioClass(p.Class)
	if !ok {
		return 0, fmt.Errorf("unknown class %q", p.Class)
	}
	if p.Priority < 0 || p.Priority > 7 {
		return 0, fmt.Errorf("priority %d out of range 0-7", p.Priority)
	}
	return c<<13 | p.Priority, nil
}

// personalityValue is linux.personality for personality(2).
func personalityValue(p *specs.LinuxPersonality) (uint, error) {
	switch p.Domain {
	case specs.PerLinux:
		return 0x0000, nil
	case specs.PerLinux32:
		return 0x0008, nil
	}
	return 0, fmt.Errorf("unknown domain %q", p.Domain)
}

// applyAttrs sets personality, scheduler and I/O priority on the calling
// thread (the one that execs).
func applyAttrs(p *specs.Process, pers *specs.LinuxPersonality) error {
	if pers != nil {
		v, err := personalityValue(pers)
		if err != nil {
			return fmt.Errorf("linux.personality: %w", err)
		}
		if _, _, errno := unix.RawSyscall(unix.SYS_PERSONALITY, uintptr(v), 0, 0); errno != 0 {
			return fmt.Errorf("linux.personality: %w", errno)
		}
	}
	if s := p.Scheduler; s != nil {
		a, err := schedAttr(s)
		if err != nil {
			return fmt.Errorf("process.scheduler: %w", err)
		}
		if err := unix.SchedSetAttr(0, a, 0); err != nil {
			return fmt.Errorf("process.scheduler (%s): sched_setattr: %w", s.Policy, err)
		}
	}
	if io := p.IOPriority; io != nil {
		v, err := ioprioValue(io)
		if err != nil {
			return fmt.Errorf("process.ioPriority: %w", err)
		}
		const ioprioWhoProcess = 1
		if _, _, errno := unix.RawSyscall(unix.SYS_IOPRIO_SET, ioprioWhoProcess, 0, uintptr(v)); errno != 0 {
			return fmt.Errorf("process.ioPriority: ioprio_set: %w", errno)
		}
	}
	return nil
}

// cpuSet parses a cpu list like "0-2,4" (execCPUAffinity).
func cpuSet(list string) (*unix.CPUSet, error) {
	var set unix.CPUSet
	for _, part := range strings.Split(list, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return nil, fmt.Errorf("bad cpu list %q", list)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, fmt.Errorf("bad cpu list %q", list)
			}
		}
		for c := a; c <= b; c++ {
			set.Set(c)
		}
	}
	if set.Count() == 0 {
		return nil, fmt.Errorf("empty cpu list %q", list)
	}
	return &set, nil
}
