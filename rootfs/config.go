package rootfs

import (
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Config is what rootfs needs from the container's configuration.
type Config struct {
	// Rootfs is the absolute host path of root.path (resolved against the bundle).
	Rootfs string
	// Readonly is root.readonly.
	Readonly bool
	// Mounts are the config mounts, applied in order.
	Mounts []specs.Mount
	// Propagation is linux.rootfsPropagation; "" keeps runc's default (rslave).
	Propagation string
	// Devices are linux.devices; they override default devices with the same path.
	Devices []specs.LinuxDevice
	// MaskedPaths is linux.maskedPaths.
	MaskedPaths []string
	// ReadonlyPaths is linux.readonlyPaths.
	ReadonlyPaths []string
	// NoPivot selects MS_MOVE + chroot instead of pivot_root (--no-pivot).
	NoPivot bool
	// UserNS is set when the container has its own user namespace: device
	// nodes are then bind-mounted from the host instead of created.
	UserNS bool
	// CgroupPaths maps a controller name ("memory", "cpu,cpuacct",
	// "name=systemd"; "" or "unified" for cgroup2) to the container's
	// absolute host cgroup directory. It may be nil: the init's own cgroups
	// (from /proc/self/cgroup) are used then.
	CgroupPaths map[string]string
	// CgroupNS is set when the container has its own cgroup namespace, so
	// cgroup filesystems can be mounted instead of bind-mounted.
	CgroupNS bool
	// Hierarchies are the host's cgroup hierarchies (HierarchiesFrom); nil:
	// read them from mountinfo.
	Hierarchies []Hierarchy
	// MountLabel is linux.mountLabel; without SELinux it is ignored.
	MountLabel string
	// ProcPidNS, when set, is the pid namespace proc filesystems show
	// (procfs's pidns option), for a caller outside it: run's direct
	// init, a thread of rt whose child is the container's PID 1.
	ProcPidNS *os.File
}
