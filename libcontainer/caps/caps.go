// Package caps validates the capability sets of an OCI process and applies
// them to the calling thread just before execve.
package caps

import (
	"fmt"
	"strings"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

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

// Parse returns the capability named name ("CAP_CHOWN") and whether the name
// is known: every capability moby/sys/capability knows (which may exceed
// what the running kernel supports; TestParseName checks the list is
// complete). A switch rather than a map built from capability.ListKnown:
// that map would be built at the start of every rt process, the
// container's init included.
func Parse(name string) (capability.Cap, bool) {
	switch name {
	case "CAP_CHOWN":
		return capability.CAP_CHOWN, true
	case "CAP_DAC_OVERRIDE":
		return capability.CAP_DAC_OVERRIDE, true
	case "CAP_DAC_READ_SEARCH":
		return capability.CAP_DAC_READ_SEARCH, true
	case "CAP_FOWNER":
		return capability.CAP_FOWNER, true
	case "CAP_FSETID":
		return capability.CAP_FSETID, true
	case "CAP_KILL":
		return capability.CAP_KILL, true
	case "CAP_SETGID":
		return capability.CAP_SETGID, true
	case "CAP_SETUID":
		return capability.CAP_SETUID, true
	case "CAP_SETPCAP":
		return capability.CAP_SETPCAP, true
	case "CAP_LINUX_IMMUTABLE":
		return capability.CAP_LINUX_IMMUTABLE, true
	case "CAP_NET_BIND_SERVICE":
		return capability.CAP_NET_BIND_SERVICE, true
	case "CAP_NET_BROADCAST":
		return capability.CAP_NET_BROADCAST, true
	case "CAP_NET_ADMIN":
		return capability.CAP_NET_ADMIN, true
	case "CAP_NET_RAW":
		return capability.CAP_NET_RAW, true
	case "CAP_IPC_LOCK":
		return capability.CAP_IPC_LOCK, true
	case "CAP_IPC_OWNER":
		return capability.CAP_IPC_OWNER, true
	case "CAP_SYS_MODULE":
		return capability.CAP_SYS_MODULE, true
	case "CAP_SYS_RAWIO":
		return capability.CAP_SYS_RAWIO, true
	case "CAP_SYS_CHROOT":
		return capability.CAP_SYS_CHROOT, true
	case "CAP_SYS_PTRACE":
		return capability.CAP_SYS_PTRACE, true
	case "CAP_SYS_PACCT":
		return capability.CAP_SYS_PACCT, true
	case "CAP_SYS_ADMIN":
		return capability.CAP_SYS_ADMIN, true
	case "CAP_SYS_BOOT":
		return capability.CAP_SYS_BOOT, true
	case "CAP_SYS_NICE":
		return capability.CAP_SYS_NICE, true
	case "CAP_SYS_RESOURCE":
		return capability.CAP_SYS_RESOURCE, true
	case "CAP_SYS_TIME":
		return capability.CAP_SYS_TIME, true
	case "CAP_SYS_TTY_CONFIG":
		return capability.CAP_SYS_TTY_CONFIG, true
	case "CAP_MKNOD":
		return capability.CAP_MKNOD, true
	case "CAP_LEASE":
		return capability.CAP_LEASE, true
	case "CAP_AUDIT_WRITE":
		return capability.CAP_AUDIT_WRITE, true
	case "CAP_AUDIT_CONTROL":
		return capability.CAP_AUDIT_CONTROL, true
	case "CAP_SETFCAP":
		return capability.CAP_SETFCAP, true
	case "CAP_MAC_OVERRIDE":
		return capability.CAP_MAC_OVERRIDE, true
	case "CAP_MAC_ADMIN":
		return capability.CAP_MAC_ADMIN, true
	case "CAP_SYSLOG":
		return capability.CAP_SYSLOG, true
	case "CAP_WAKE_ALARM":
		return capability.CAP_WAKE_ALARM, true
	case "CAP_BLOCK_SUSPEND":
		return capability.CAP_BLOCK_SUSPEND, true
	case "CAP_AUDIT_READ":
		return capability.CAP_AUDIT_READ, true
	case "CAP_PERFMON":
		return capability.CAP_PERFMON, true
	case "CAP_BPF":
		return capability.CAP_BPF, true
	case "CAP_CHECKPOINT_RESTORE":
		return capability.CAP_CHECKPOINT_RESTORE, true
	}
	return 0, false
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
			if _, ok := Parse(n); !ok {
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
			cp, _ := Parse(n)
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
