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

var schedPolicies = map[specs.LinuxSchedulerPolicy]uint32{
	specs.SchedOther: 0, specs.SchedFIFO: 1, specs.SchedRR: 2, specs.SchedBatch: 3,
	specs.SchedISO: 4, specs.SchedIdle: 5, specs.SchedDeadline: 6,
}

var schedFlags = map[specs.LinuxSchedulerFlag]uint64{
	specs.SchedFlagResetOnFork: 0x01, specs.SchedFlagReclaim: 0x02, specs.SchedFlagDLOverrun: 0x04,
	specs.SchedFlagKeepPolicy: 0x08, specs.SchedFlagKeepParams: 0x10, specs.SchedFlagUtilClampMin: 0x20,
	specs.SchedFlagUtilClampMax: 0x40,
}

// schedAttr converts process.scheduler for sched_setattr(2).
func schedAttr(s *specs.Scheduler) (*unix.SchedAttr, error) {
	pol, ok := schedPolicies[s.Policy]
	if !ok {
		return nil, fmt.Errorf("unknown policy %q", s.Policy)
	}
	a := &unix.SchedAttr{Policy: pol, Nice: s.Nice, Priority: uint32(s.Priority),
		Runtime: s.Runtime, Deadline: s.Deadline, Period: s.Period}
	for _, f := range s.Flags {
		b, ok := schedFlags[f]
		if !ok {
			return nil, fmt.Errorf("unknown flag %q", f)
		}
		a.Flags |= b
	}
	return a, nil
}

var ioprioClasses = map[specs.IOPriorityClass]int{
	specs.IOPRIO_CLASS_RT: 1, specs.IOPRIO_CLASS_BE: 2, specs.IOPRIO_CLASS_IDLE: 3,
}

// ioprioValue is process.ioPriority as ioprio_set(2) wants it.
func ioprioValue(p *specs.LinuxIOPriority) (int, error) {
	c, ok := ioprioClasses[p.Class]
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
