// Package rlimits parses the OCI process.rlimits list and applies it to the
// current process with prlimit(2).
package rlimits

import (
	"errors"
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Rlimit is one resource limit ready for prlimit(2).
type Rlimit struct {
	Name string // "RLIMIT_NOFILE"
	Type int    // unix.RLIMIT_NOFILE
	Soft uint64
	Hard uint64
}

// resources lists every resource that getrlimit(2) documents on Linux. A
// table searched in order rather than a map: a map literal is built at the
// start of every rt process, the container's init included.
var resources = []struct {
	name string
	res  int
}{
	{"RLIMIT_AS", unix.RLIMIT_AS},
	{"RLIMIT_CORE", unix.RLIMIT_CORE},
	{"RLIMIT_CPU", unix.RLIMIT_CPU},
	{"RLIMIT_DATA", unix.RLIMIT_DATA},
	{"RLIMIT_FSIZE", unix.RLIMIT_FSIZE},
	{"RLIMIT_LOCKS", unix.RLIMIT_LOCKS},
	{"RLIMIT_MEMLOCK", unix.RLIMIT_MEMLOCK},
	{"RLIMIT_MSGQUEUE", unix.RLIMIT_MSGQUEUE},
	{"RLIMIT_NICE", unix.RLIMIT_NICE},
	{"RLIMIT_NOFILE", unix.RLIMIT_NOFILE},
	{"RLIMIT_NPROC", unix.RLIMIT_NPROC},
	{"RLIMIT_RSS", unix.RLIMIT_RSS},
	{"RLIMIT_RTPRIO", unix.RLIMIT_RTPRIO},
	{"RLIMIT_RTTIME", unix.RLIMIT_RTTIME},
	{"RLIMIT_SIGPENDING", unix.RLIMIT_SIGPENDING},
	{"RLIMIT_STACK", unix.RLIMIT_STACK},
}

// resource returns the RLIMIT_* number of name ("RLIMIT_NOFILE").
func resource(name string) (int, bool) {
	for _, r := range resources {
		if r.name == name {
			return r.res, true
		}
	}
	return 0, false
}

// Known reports whether name ("RLIMIT_NOFILE") is a Linux resource limit.
func Known(name string) bool {
	_, ok := resource(name)
	return ok
}

// Parse checks r and converts it. Errors name the entry relative to the
// rlimits array ("rlimits[1].type: unknown resource limit \"RLIMIT_FOO\""),
// so callers prefix "process.". The spec requires an error for an unknown
// type and for a duplicated type; soft > hard is rejected because setrlimit(2)
// would refuse it with EINVAL later.
func Parse(r []specs.POSIXRlimit) ([]Rlimit, error) {
	out := make([]Rlimit, 0, len(r))
	seen := make(map[string]int, len(r))
	for i, l := range r {
		t, ok := resource(l.Type)
		if !ok {
			return nil, fmt.Errorf("rlimits[%d].type: unknown resource limit %q", i, l.Type)
		}
		if j, dup := seen[l.Type]; dup {
			return nil, fmt.Errorf("rlimits[%d].type: duplicate %q (also rlimits[%d])", i, l.Type, j)
		}
		seen[l.Type] = i
		if l.Soft > l.Hard {
			return nil, fmt.Errorf("rlimits[%d]: soft limit %d is above hard limit %d", i, l.Soft, l.Hard)
		}
		out = append(out, Rlimit{Name: l.Type, Type: t, Soft: l.Soft, Hard: l.Hard})
	}
	return out, nil
}

// Apply sets every limit on the calling process with prlimit(2). Setting
// RLIMIT_NOFILE this way also stops Go from restoring its start-up soft
// NOFILE limit on exec. Raising a hard limit needs CAP_SYS_RESOURCE; when
// that is the cause of EPERM the error says so.
func Apply(limits []Rlimit) error {
	for _, l := range limits {
		if err := apply(l); err != nil {
			return err
		}
	}
	return nil
}

func apply(l Rlimit) error {
	var old unix.Rlimit
	want := unix.Rlimit{Cur: l.Soft, Max: l.Hard}
	err := unix.Prlimit(0, l.Type, &want, &old)
	if err == nil {
		return nil
	}
	if errors.Is(err, unix.EPERM) {
		// prlimit did not report the old value on failure; read it again.
		if unix.Prlimit(0, l.Type, nil, &old) == nil && l.Hard > old.Max {
			return fmt.Errorf("set %s to soft %s, hard %s: raising the hard limit above the current %s needs CAP_SYS_RESOURCE, which this process lacks (is it missing from the host's capability bounding set?): %w",
				l.Name, str(l.Soft), str(l.Hard), str(old.Max), err)
		}
	}
	return fmt.Errorf("set %s to soft %s, hard %s: %w", l.Name, str(l.Soft), str(l.Hard), err)
}

// str prints a limit, spelling out RLIM_INFINITY.
func str(v uint64) string {
	if v == unix.RLIM_INFINITY {
		return "unlimited"
	}
	return fmt.Sprint(v)
}
