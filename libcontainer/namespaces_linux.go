package libcontainer

import (
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtrun/rt/nsenter"
)

type nsFile struct {
	typ string
	f   *os.File
}

// nsPlan says how each namespace of the config comes to be:
//   - new ones come from clone flags, except cgroup (unshared by init after
//     the parent put it in its cgroup, so the namespace is rooted there) and
//     time (clone cannot create it; init unshares it and the final exec enters it);
//   - existing pid, network, ipc, uts and cgroup namespaces are joined by the
//     parent on a locked thread before the fork;
//   - existing mount, user and time namespaces are joined by the child's
//     assembly entry stage (mount first, while it still has host privileges).
//
// When the user namespace is joined rather than created, the other new
// namespaces must be owned by it (or the container could not even mount its
// /proc), so init unshares them after the entry stage joined it; a new pid
// namespace then needs one fork, since only children enter it (forkForPid).
type nsPlan struct {
	cloneFlags uintptr
	unshare    uintptr
	forkForPid bool
	newUser    bool
	newCgroup  bool
	// lateNet: a new network namespace that the parent makes while init's
	// runtime starts, and that init joins first thing (see newNetNS).
	lateNet bool
	parent  []nsFile
	entry   []nsFile
}

func (p *nsPlan) close() {
	for _, n := range p.parent {
		n.f.Close()
	}
	for _, n := range p.entry {
		n.f.Close()
	}
}

func (p *nsPlan) parentJoins() []nsenter.Join {
	var out []nsenter.Join
	for _, n := range p.parent {
		out = append(out, nsenter.Join{Type: n.typ, File: n.f})
	}
	return out
}

// entryOrder is where the entry stage joins a namespace of type typ, for
// the types it joins before the others.
func entryOrder(typ string) (int, bool) {
	switch typ {
	case "mount":
		return 0, true
	case "user":
		return 1, true
	case "time":
		return 2, true
	}
	return 0, false
}

func planNamespaces(spec *specs.Spec) (*nsPlan, error) {
	p := &nsPlan{}
	if spec.Linux == nil {
		return p, nil
	}
	userJoined := false
	for _, n := range spec.Linux.Namespaces {
		if n.Type == specs.UserNamespace && n.Path != "" {
			userJoined = true
		}
	}
	var entry [3]*nsFile
	for i, n := range spec.Linux.Namespaces {
		typ := string(n.Type)
		flag, err := nsenter.CloneFlag(typ)
		if err != nil {
			return nil, fmt.Errorf("linux.namespaces[%d]: %w", i, err)
		}
		if n.Path == "" {
			switch {
			case n.Type == specs.CgroupNamespace:
				p.newCgroup = true
				p.unshare |= flag
			case n.Type == specs.TimeNamespace:
				p.unshare |= flag
			case n.Type == specs.UserNamespace:
				p.newUser = true
				p.cloneFlags |= flag
			case userJoined:
				p.unshare |= flag
				if n.Type == specs.PIDNamespace {
					p.forkForPid = true
				}
			default:
				p.cloneFlags |= flag
			}
			continue
		}
		f, err := nsenter.OpenNamespace(n.Path, typ)
		if err != nil {
			p.close()
			return nil, fmt.Errorf("linux.namespaces[%d].path: %w", i, err)
		}
		if k, ok := entryOrder(typ); ok {
			entry[k] = &nsFile{typ: typ, f: f}
		} else {
			p.parent = append(p.parent, nsFile{typ: typ, f: f})
		}
	}
	for _, e := range entry {
		if e != nil {
			p.entry = append(p.entry, *e)
		}
	}
	// Making a network namespace is the dearest part of the clone (~0.6 ms
	// here: every pernet subsystem registers its sysctls and devices). The
	// parent makes it instead, on its own CPU while the child's runtime
	// starts, and sends it along with the config. Not with a new user
	// namespace, which must own it.
	if p.cloneFlags&unix.CLONE_NEWNET != 0 && !p.newUser {
		p.cloneFlags &^= unix.CLONE_NEWNET
		p.lateNet = true
	}
	// A new user namespace with a joined (host-owned) mount namespace cannot
	// work: the child would have no privilege over it.
	if p.newUser {
		for _, e := range p.entry {
			if e.typ == "mount" {
				p.close()
				return nil, fmt.Errorf("linux.namespaces: joining a mount namespace by path together with a new user namespace is not supported")
			}
		}
	}
	return p, nil
}

// newNetNS makes a network namespace and returns it open. The calling
// thread unshares it and then goes back to the namespace it was in; if it
// cannot, it stays locked to the calling goroutine (which then fails
// create), so no other goroutine ever runs in the new namespace.
func newNetNS() (*os.File, error) {
	runtime.LockOSThread()
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return nil, err
	}
	defer orig.Close()
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("unshare: %w", err)
	}
	ns, openErr := os.Open("/proc/thread-self/ns/net")
	if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
		if ns != nil {
			ns.Close()
		}
		return nil, fmt.Errorf("return to the host network namespace: %w", err)
	}
	runtime.UnlockOSThread()
	return ns, openErr
}
