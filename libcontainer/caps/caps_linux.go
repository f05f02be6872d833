package caps

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
)

// Apply sets the bounding, effective, permitted, inheritable and ambient sets
// of the CALLING THREAD to exactly c, as the last privileged step before execve.
// A nil c leaves the capabilities untouched.
//
// A capability that this thread cannot grant (absent from its bounding set or
// its permitted set, or newer than the kernel) is dropped from every set with a
// logrus warning, as runtime-spec requires; an unknown name is an error.
// Inheritable and ambient get only what c lists, so nothing leaks to a non-root
// process through them (CVE-2022-29162).
//
// The caller must follow the sequence of runc's finalizeNamespace:
//
//  1. runtime.LockOSThread (capabilities and keepcaps are per thread), and do
//     everything up to execve on this thread;
//  2. prctl(PR_SET_KEEPCAPS, 1) so that changing uid keeps the permitted set;
//  3. setgroups, setresgid, setresuid — as raw syscalls on this thread when
//     other threads must not change (Go's syscall.Setresuid changes all threads,
//     which lose their permitted set because keepcaps is per thread);
//  4. prctl(PR_SET_KEEPCAPS, 0);
//  5. Apply;
//  6. no_new_privs, seccomp, execve.
//
// After a change to a non-zero uid the kernel clears the effective set; Apply
// first raises effective to the retained permitted set, so that CAP_SETPCAP is
// available to shrink the bounding set. If the bounding set must shrink and
// CAP_SETPCAP is not permitted, Apply fails rather than leave more privilege.
func Apply(c *specs.LinuxCapabilities) error {
	if c == nil {
		return nil
	}
	if err := Validate(c); err != nil {
		return err
	}
	cur, err := capability.NewPid2(0)
	if err != nil {
		return fmt.Errorf("capabilities: %w", err)
	}
	// Load is capget, then CapBnd/CapAmb from /proc/self/status. Apply uses
	// neither of those (the bounding set is read per capability with prctl,
	// ambient is reset), and a container without a mount namespace runs in
	// a chroot whose /proc is empty: a missing status file is no error.
	if err := cur.Load(); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("capabilities: read current: %w", err)
	}
	last, err := capability.LastCap()
	if err != nil {
		return fmt.Errorf("capabilities: %w", err)
	}
	avail := func(cp capability.Cap) bool {
		if cp > last {
			return false
		}
		// Load read CapBnd from /proc/self/status (the thread-group leader);
		// ask the kernel for this thread's own bounding set instead.
		inBnd, err := capability.GetBound(cp)
		return err == nil && inBnd && cur.Get(capability.PERMITTED, cp)
	}
	r := resolve(c, avail)
	if len(r.dropped) > 0 {
		logrus.Warnf("capabilities not available on this host, not granted: %s", strings.Join(r.dropped, ", "))
	}

	// Raise effective to permitted (possible after setresuid with keepcaps),
	// so that CAP_SETPCAP is effective for shrinking the bounding set below.
	for cp := capability.Cap(0); cp <= last; cp++ {
		if cur.Get(capability.PERMITTED, cp) {
			cur.Set(capability.EFFECTIVE, cp)
		}
	}
	if err := cur.Apply(capability.CAPS); err != nil {
		return fmt.Errorf("capabilities: raise effective to permitted: %w", err)
	}

	want, err := capability.NewPid2(0)
	if err != nil {
		return fmt.Errorf("capabilities: %w", err)
	}
	want.Clear(capability.CAPS | capability.BOUNDS | capability.AMBS)
	for kind, list := range r.bySet {
		want.Set(kind, list...)
	}
	if needsBoundingDrop(want, last) && !cur.Get(capability.EFFECTIVE, capability.CAP_SETPCAP) {
		return errors.New("capabilities: cannot shrink the bounding set: CAP_SETPCAP is not permitted (apply capabilities before dropping it, or keep it until then)")
	}
	if err := want.Apply(capability.BOUNDS); err != nil {
		return fmt.Errorf("capabilities: set bounding: %w", err)
	}
	if err := want.Apply(capability.CAPS); err != nil {
		return fmt.Errorf("capabilities: set effective/permitted/inheritable: %w", err)
	}
	// Ambient after capset: the kernel raises an ambient capability only if it is
	// both permitted and inheritable.
	if err := applyAmbient(r.bySet[capability.AMBIENT], want); err != nil {
		return err
	}
	return nil
}

// needsBoundingDrop reports whether some capability still in this thread's
// bounding set is absent from want's bounding set.
func needsBoundingDrop(want capability.Capabilities, last capability.Cap) bool {
	for cp := capability.Cap(0); cp <= last; cp++ {
		if in, err := capability.GetBound(cp); err == nil && in && !want.Get(capability.BOUNDING, cp) {
			return true
		}
	}
	return false
}

// applyAmbient clears the ambient set and raises exactly list. An ambient
// capability that is not both permitted and inheritable cannot be raised: the
// kernel says EPERM; the spec calls that "cannot be granted", so it is a warning.
func applyAmbient(list []capability.Cap, want capability.Capabilities) error {
	if err := capability.ResetAmbient(); err != nil {
		return fmt.Errorf("capabilities: clear ambient: %w", err)
	}
	var skipped []string
	for _, cp := range list {
		if !want.Get(capability.PERMITTED, cp) || !want.Get(capability.INHERITABLE, cp) {
			skipped = append(skipped, Name(cp))
			continue
		}
		if err := capability.SetAmbient(true, cp); err != nil {
			return fmt.Errorf("capabilities: raise ambient %s: %w", Name(cp), err)
		}
	}
	if len(skipped) > 0 {
		logrus.Warnf("ambient capabilities not granted (each must also be permitted and inheritable): %s", strings.Join(skipped, ", "))
	}
	return nil
}
