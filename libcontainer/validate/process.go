package validate

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtrun/rt/libcontainer/caps"
	"github.com/rtrun/rt/libcontainer/rlimits"
)

// process checks process when present. An absent process is valid: create
// must work without it, and only start fails (runtime.md).
func process(p *specs.Process) error {
	if p == nil {
		return nil
	}
	if len(p.Args) == 0 {
		return errf("process.args", "must have at least one entry")
	}
	if p.Args[0] == "" {
		return errf("process.args[0]", "must not be empty")
	}
	if err := absPath("process.cwd", p.Cwd); err != nil {
		return err
	}
	if err := envList("process.env", p.Env); err != nil {
		return err
	}
	// consoleSize without terminal is not an error: the spec says to ignore it.
	if err := processRlimits(p.Rlimits); err != nil {
		return err
	}
	if err := capabilities(p.Capabilities); err != nil {
		return err
	}
	if p.OOMScoreAdj != nil && (*p.OOMScoreAdj < -1000 || *p.OOMScoreAdj > 1000) {
		return errf("process.oomScoreAdj", "%d is outside [-1000, 1000]", *p.OOMScoreAdj)
	}
	if u := p.User.Umask; u != nil && *u > 0o777 {
		return errf("process.user.umask", "%#o has bits outside 0777", *u)
	}
	if err := scheduler(p.Scheduler); err != nil {
		return err
	}
	return ioPriority(p.IOPriority)
}

// processRlimits applies the rules of rlimits.Parse, naming the field.
func processRlimits(r []specs.POSIXRlimit) error {
	seen := make(map[string]int)
	for i, l := range r {
		f := fmt.Sprintf("process.rlimits[%d]", i)
		if !rlimits.Known(l.Type) {
			return errf(f+".type", "unknown resource limit %q", l.Type)
		}
		if j, dup := seen[l.Type]; dup {
			return errf(f+".type", "duplicate %q (also process.rlimits[%d])", l.Type, j)
		}
		seen[l.Type] = i
		if l.Soft > l.Hard {
			return errf(f, "soft limit %d is above hard limit %d", l.Soft, l.Hard)
		}
	}
	return nil
}

// capabilities rejects unknown names. A known capability the host lacks is
// only a warning at apply time (config.md).
func capabilities(c *specs.LinuxCapabilities) error {
	if c == nil {
		return nil
	}
	for _, set := range []struct {
		name  string
		names []string
	}{
		{"bounding", c.Bounding}, {"effective", c.Effective}, {"inheritable", c.Inheritable},
		{"permitted", c.Permitted}, {"ambient", c.Ambient},
	} {
		for i, n := range set.names {
			if _, ok := caps.Parse(n); !ok {
				return errf(fmt.Sprintf("process.capabilities.%s[%d]", set.name, i), "unknown capability %q", n)
			}
		}
	}
	return nil
}

func scheduler(s *specs.Scheduler) error {
	if s == nil {
		return nil
	}
	switch s.Policy {
	case specs.SchedOther, specs.SchedBatch, specs.SchedIdle, specs.SchedISO:
		// sched_setattr(2): static priority must be 0 for non-real-time policies.
		if s.Priority != 0 {
			return errf("process.scheduler.priority", "must be 0 for %s, got %d", s.Policy, s.Priority)
		}
	case specs.SchedFIFO, specs.SchedRR:
		if s.Priority < 1 || s.Priority > 99 {
			return errf("process.scheduler.priority", "must be in [1, 99] for %s, got %d", s.Policy, s.Priority)
		}
	case specs.SchedDeadline:
		if s.Runtime > s.Deadline || (s.Period != 0 && s.Deadline > s.Period) {
			return errf("process.scheduler", "SCHED_DEADLINE needs runtime <= deadline <= period")
		}
	default:
		return errf("process.scheduler.policy", "unknown policy %q", s.Policy)
	}
	if s.Nice < -20 || s.Nice > 19 {
		return errf("process.scheduler.nice", "%d is outside [-20, 19]", s.Nice)
	}
	for i, fl := range s.Flags {
		switch fl {
		case specs.SchedFlagResetOnFork, specs.SchedFlagReclaim, specs.SchedFlagDLOverrun,
			specs.SchedFlagKeepPolicy, specs.SchedFlagKeepParams, specs.SchedFlagUtilClampMin,
			specs.SchedFlagUtilClampMax:
		default:
			return errf(fmt.Sprintf("process.scheduler.flags[%d]", i), "unknown flag %q", fl)
		}
	}
	return nil
}

func ioPriority(p *specs.LinuxIOPriority) error {
	if p == nil {
		return nil
	}
	switch p.Class {
	case specs.IOPRIO_CLASS_RT, specs.IOPRIO_CLASS_BE, specs.IOPRIO_CLASS_IDLE:
	default:
		return errf("process.ioPriority.class", "unknown class %q", p.Class)
	}
	if p.Priority < 0 || p.Priority > 7 {
		return errf("process.ioPriority.priority", "%d is outside [0, 7]", p.Priority)
	}
	return nil
}
