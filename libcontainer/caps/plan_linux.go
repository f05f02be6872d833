package caps

import (
	"fmt"
	"strings"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// Plan is what Apply does, as data, for a process that execs as root from
// the calling thread: its permitted and effective sets are then this
// thread's bounding set, its inheritable set this thread's. run's direct
// init hands it to the exec trampoline, which makes the system calls (see
// libcontainer's initRecords); Apply's own order and rules hold.
type Plan struct {
	Last capability.Cap
	// The sets the process starts with (after a change to a non-zero uid
	// with keepcaps, effective is empty and permitted unchanged).
	CurBounding, CurInheritable uint64
	// CurPermitted is the calling thread's permitted set: a thread that
	// makes the same calls (RunOnThread) needs it to be CurBounding.
	CurPermitted uint64
	// The sets to end with: bit n is capability n.
	Bounding, Effective, Permitted, Inheritable, Ambient uint64
}

// NewPlan resolves c (nil: all sets empty) as Apply would for such a
// process, warning about capabilities this host cannot grant as Apply does.
func NewPlan(c *specs.LinuxCapabilities) (*Plan, error) {
	if c == nil {
		c = &specs.LinuxCapabilities{}
	}
	if err := Validate(c); err != nil {
		return nil, err
	}
	last, err := capability.LastCap()
	if err != nil {
		return nil, fmt.Errorf("capabilities: %w", err)
	}
	p := &Plan{Last: last}
	for cp := capability.Cap(0); cp <= last; cp++ {
		if in, err := capability.GetBound(cp); err == nil && in {
			p.CurBounding |= 1 << cp
		}
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return nil, fmt.Errorf("capabilities: capget: %w", err)
	}
	p.CurInheritable = uint64(data[1].Inheritable)<<32 | uint64(data[0].Inheritable)
	p.CurPermitted = uint64(data[1].Permitted)<<32 | uint64(data[0].Permitted)
	// Permitted after an exec as root is the bounding set.
	r := resolve(c, func(cp capability.Cap) bool { return cp <= last && p.CurBounding&(1<<cp) != 0 })
	if len(r.dropped) > 0 {
		logrus.Warnf("capabilities not available on this host, not granted: %s", strings.Join(r.dropped, ", "))
	}
	bits := func(list []capability.Cap) (b uint64) {
		for _, cp := range list {
			b |= 1 << cp
		}
		return b
	}
	p.Bounding = bits(r.bySet[capability.BOUNDING])
	p.Effective = bits(r.bySet[capability.EFFECTIVE])
	p.Permitted = bits(r.bySet[capability.PERMITTED])
	p.Inheritable = bits(r.bySet[capability.INHERITABLE])
	var skipped []string
	for _, cp := range r.bySet[capability.AMBIENT] {
		if p.Permitted&p.Inheritable&(1<<cp) == 0 {
			skipped = append(skipped, Name(cp))
			continue
		}
		p.Ambient |= 1 << cp
	}
	if len(skipped) > 0 {
		logrus.Warnf("ambient capabilities not granted (each must also be permitted and inheritable): %s", strings.Join(skipped, ", "))
	}
	if p.CurBounding&^p.Bounding != 0 && p.CurBounding&(1<<capability.CAP_SETPCAP) == 0 {
		return nil, fmt.Errorf("capabilities: cannot shrink the bounding set: CAP_SETPCAP is not permitted")
	}
	return p, nil
}
