package libcontainer

import (
	"errors"
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
	// lateNet: a new network namespace that the parent makes on a thread
	// of its own (net), and that init joins first thing.
	lateNet bool
	net     *netNS
	parent  []nsFile
	entry   []nsFile
}

func (p *nsPlan) close() {
	if p.net != nil {
		p.net.close()
	}
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
	// A new network namespace is made from the start, in parallel (see
	// netNS); init joins it. Not with a new user namespace, which must own
	// it.
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

// netNS is a network namespace in the making: a raw thread (see
// nsenter.StartThread) unshares it and opens it, in parallel with
// everything create does before a process joins it.
//
// Making a network namespace is the dearest namespace by far (~0.6 ms on
// the VM of the README's figures: every pernet subsystem registers its
// sysctls and devices); a thread of rt with its own CPU does it meanwhile.
type netNS struct {
	th   *nsenter.RawThread
	file *os.File
	err  error
}

// startNet starts making the new network namespace of a plan with
// lateNet, if it is not on its way yet.
func (p *nsPlan) startNet() {
	if p.lateNet && p.net == nil {
		p.net = startNetNS()
	}
}

// netNS returns the new network namespace, made.
func (p *nsPlan) netNS() (*os.File, error) {
	p.startNet()
	return p.net.get()
}

// startNetNS starts making a network namespace.
func startNetNS() *netNS {
	var m nsenter.TrampolineMsg
	m.Syscall("unshare", unix.SYS_UNSHARE, nsenter.Val(unix.CLONE_NEWNET))
	cwd := unix.AT_FDCWD
	m.Syscall("open /proc/thread-self/ns/net", unix.SYS_OPENAT, nsenter.Val(uintptr(cwd)),
		nsenter.String("/proc/thread-self/ns/net"), nsenter.Val(unix.O_RDONLY|unix.O_CLOEXEC))
	th, err := m.StartThread()
	if errors.Is(err, unix.ENOSYS) {
		// No raw threads (not amd64): here, on a locked thread.
		f, err := newNetNSHere()
		return &netNS{file: f, err: err}
	}
	return &netNS{th: th, err: err}
}

// newNetNSHere makes a network namespace and returns it open. The calling
// thread unshares it and then goes back to the namespace it was in; if it
// cannot, it stays locked to the calling goroutine (which then fails
// create), so no other goroutine ever runs in the new namespace.
func newNetNSHere() (*os.File, error) {
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

// get waits for the namespace and returns it open.
func (n *netNS) get() (*os.File, error) {
	if n.th != nil {
		res, err := n.th.Wait()
		n.th = nil
		if err != nil {
			n.err = err
		} else {
			n.file = os.NewFile(res[1], "netns")
		}
	}
	if n.err != nil {
		return nil, fmt.Errorf("create network namespace: %w", n.err)
	}
	return n.file, nil
}

func (n *netNS) close() {
	if f, _ := n.get(); f != nil {
		f.Close()
	}
}
