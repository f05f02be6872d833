// Package caps validates the capability sets of an OCI process and applies
// them to the calling thread just before execve.
package caps

import (
	"fmt"
	"strings"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// byName maps "CAP_X" to its number, for every capability that
// moby/sys/capability knows (which may exceed what the running kernel supports).
var byName = func() map[string]capability.Cap {
	m := make(map[string]capability.Cap)
	for _, c := range capability.ListKnown() {
		m["CAP_"+strings.ToUpper(c.String())] = c
	}
	return m
}()

// Known returns the names of every capability rt recognises ("CAP_CHOWN", …),
// in kernel order, for the features command. Some may be newer than the
// running kernel: those are warned about and skipped by Apply.
func Known() []string {
	list := capability.ListKnown()
	names := make([]string, len(list))
	for i, c := range list {
		names[i] = Name(c)
	}
	return names
}

// Parse returns the capability named name ("CAP_CHOWN") and whether the name is known.
func Parse(name string) (capability.Cap, bool) {
	c, ok := byName[name]
	return c, ok
}

// Name returns the OCI name of c ("CAP_CHOWN").
func Name(c capability.Cap) string {
	return "CAP_" + strings.ToUpper(c.String())
}

// set is one named capability set of a process.
type set struct {
	name  string // JSON field name, as in "bounding"
	kind  capability.CapType
	names []string
}

func sets(c *specs.LinuxCapabilities) []set {
	return []set{
		{"bounding", capability.BOUNDING, c.Bounding},
		{"effective", capability.EFFECTIVE, c.Effective},
		{"inheritable", capability.INHERITABLE, c.Inheritable},
		{"permitted", capability.PERMITTED, c.Permitted},
		{"ambient", capability.AMBIENT, c.Ambient},
	}
}

// Validate reports the first name that is not a known capability, naming its
// set and index ("bounding[1]: unknown capability \"CAP_FOO\""). A nil c is
// valid. An unknown name is an error (the runtime-tools suite requires it);
// a known capability the host cannot grant is only a warning, in Apply.
func Validate(c *specs.LinuxCapabilities) error {
	if c == nil {
		return nil
	}
	for _, s := range sets(c) {
		for i, n := range s.names {
			if _, ok := byName[n]; !ok {
				return fmt.Errorf("%s[%d]: unknown capability %q", s.name, i, n)
			}
		}
	}
	return nil
}

// resolved is the per-set list of capabilities to apply, after dropping what
// the host cannot grant.
type resolved struct {
	bySet   map[capability.CapType][]capability.Cap
	dropped []string // "CAP_SYS_RESOURCE (bounding)" — for the warning
}

// resolve converts names to capabilities, keeping only those for which
// available returns true. c must have passed Validate.
func resolve(c *specs.LinuxCapabilities, available func(capability.Cap) bool) resolved {
	r := resolved{bySet: make(map[capability.CapType][]capability.Cap)}
	if c == nil {
		return r
	}
	seen := make(map[string]bool)
	for _, s := range sets(c) {
		for _, n := range s.names {
			cp := byName[n]
			if !available(cp) {
				if !seen[n] {
					seen[n] = true
					r.dropped = append(r.dropped, n)
				}
				continue
			}
			r.bySet[s.kind] = append(r.bySet[s.kind], cp)
		}
	}
	return r
}
