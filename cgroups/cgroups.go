// Package cgroups places a container's processes in cgroups and applies its
// resource limits. One Manager interface hides the host's layout: pure cgroup
// v1, hybrid (v1 controllers plus a cgroup2 hierarchy with few controllers,
// usually at /sys/fs/cgroup/unified) and pure cgroup v2. New detects the
// layout from /proc/self/mountinfo; Load rebuilds a manager from the paths a
// container saved in its state.
//
// Paths follow runc's fs driver: an absolute linux.cgroupsPath is taken below
// each hierarchy's root, a relative one below the cgroup of the runtime
// process (on v2 below its parent, which holds no processes), and an absent
// one defaults to the relative path "<containerID>". Callers that must not
// nest under their own cgroup pass an absolute path.
package cgroups

import (
	"context"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Manager controls the cgroup(s) of one container.
type Manager interface {
	// Apply creates the cgroup directories and moves pid into them (via
	// cgroup.procs). A negative pid only creates the directories, e.g. to
	// start the child with CLONE_INTO_CGROUP on v2. On error the caller
	// should call Destroy.
	Apply(pid int) error
	// Set writes the limits in r: every resource group of runtime-spec 1.3
	// that the cgroup version has, device rules included (v1
	// devices.allow/deny, v2 an eBPF program, see devicePolicy). A value
	// that cannot be applied is an error naming the field, the file and
	// the value. A request with a field this cgroup version lacks, a
	// controller that is not mounted or a file the kernel lacks writes
	// nothing. Set also serves `update` on a live cgroup: fields left nil
	// keep their value, and inter-dependent files (memory and swap, CFS
	// quota, period and burst) are written in an order the kernel accepts
	// from any current state. On v2 the swap value needs the memory limit
	// in the same request (memory.swap is memory+swap); on v1 a limit
	// below current usage fails with the usage named.
	Set(r *specs.LinuxResources) error
	// Destroy removes the container's cgroup directories (and any
	// sub-cgroups below them) with rmdir; it kills nothing and retries
	// briefly while the kernel still reports EBUSY. Parents of the
	// container's directories are left alone: siblings may share them.
	Destroy() error
	// Remove is one attempt of Destroy, without its retries: an error
	// wrapping EBUSY says a process (maybe one just killed) is inside.
	Remove() error
	// Path returns the absolute host directory for a controller, "" if the
	// controller is not available. On v2 any name gives the unified dir;
	// on hybrid hosts "" gives the cgroup2 dir.
	Path(controller string) string
	// Paths returns controller -> directory, the form saved in the
	// container's state and accepted by Load. v2: {"": dir}; hybrid adds
	// "" for the cgroup2 dir next to the v1 controllers.
	Paths() map[string]string
	// GetPids returns every process in the container's cgroup(s),
	// including sub-cgroups, without duplicates.
	GetPids() ([]int, error)
	// Freeze stops every process in the cgroup and waits until the
	// kernel reports the cgroup frozen.
	Freeze() error
	// Thaw resumes the processes stopped by Freeze.
	Thaw() error
	// Frozen reports whether the cgroup is (completely) frozen.
	Frozen() (bool, error)
	// Exists reports whether the container's cgroup directory exists.
	Exists() bool
	// Stats reads the container's resource usage (runc's types.Stats
	// shape). Controllers that are absent report zeros; a cgroup that
	// does not exist is an error.
	Stats() (*Stats, error)
	// OOMKillCount returns how many processes of the cgroup (and its
	// sub-cgroups) the kernel's OOM killer has killed so far: oom_kill of
	// memory.oom_control (v1) or memory.events (v2).
	OOMKillCount() (uint64, error)
	// WaitOOM returns a channel that receives a value after OOM events
	// in the cgroup: the v1 eventfd of cgroup.event_control, or inotify
	// on v2's memory.events. Events that arrive while one is unread merge
	// into it, so compare OOMKillCount to count kills. The channel is
	// closed when ctx ends or no more events can come (the cgroup was
	// removed; on v2 also when it has no processes left).
	WaitOOM(ctx context.Context) (<-chan struct{}, error)
}

// Options selects how New builds a manager.
type Options struct {
	// Systemd selects the systemd cgroup driver (runc --systemd-cgroup),
	// which rt does not have yet: New fails when it is set.
	Systemd bool
	// Root, when set, is taken as the mountpoint of a cgroup v2 hierarchy
	// instead of detecting the host's layout. Relative cgroup paths are then
	// taken below Root. Meant for tests against a fake directory tree and
	// for callers that already know the unified mount.
	Root string
}

// UnifiedKey is the Paths key of a cgroup2 directory (pure v2, or the
// cgroup2 hierarchy of a hybrid host).
const UnifiedKey = ""
