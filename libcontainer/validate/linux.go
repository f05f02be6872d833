package validate

import (
	"errors"
	"fmt"
	"os"
	"path"
	"slices"
	"sort"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// namespaces indexes linux.namespaces by type; duplicates are reported by
// linuxNamespaces, the first entry wins here.
type namespaces struct {
	index map[specs.LinuxNamespaceType]int
	list  []specs.LinuxNamespace
}

func newNamespaces(l *specs.Linux) namespaces {
	ns := namespaces{index: make(map[specs.LinuxNamespaceType]int)}
	if l == nil {
		return ns
	}
	ns.list = l.Namespaces
	for i, n := range l.Namespaces {
		if _, ok := ns.index[n.Type]; !ok {
			ns.index[n.Type] = i
		}
	}
	return ns
}

// created reports whether a new namespace of type t is created (listed, no path).
func (ns namespaces) created(t specs.LinuxNamespaceType) bool {
	i, ok := ns.index[t]
	return ok && ns.list[i].Path == ""
}

var knownNamespaces = []specs.LinuxNamespaceType{
	specs.PIDNamespace, specs.NetworkNamespace, specs.MountNamespace, specs.IPCNamespace,
	specs.UTSNamespace, specs.UserNamespace, specs.CgroupNamespace, specs.TimeNamespace,
}

func linux(l *specs.Linux, ns namespaces) error {
	if l == nil {
		return nil
	}
	checks := []func() error{
		func() error { return userMappings(l, ns) },
		func() error { return timeOffsets(l.TimeOffsets, ns) },
		func() error { return cgroupsPath(l.CgroupsPath) },
		func() error { return devices(l.Devices) },
		func() error { return deviceCgroup(l.Resources) },
		func() error { return sysctl(l.Sysctl, ns) },
		func() error { return pathList("linux.maskedPaths", l.MaskedPaths) },
		func() error { return pathList("linux.readonlyPaths", l.ReadonlyPaths) },
		func() error { return rootfsPropagation(l.RootfsPropagation) },
		func() error { return personality(l.Personality) },
		func() error { return seccomp(l.Seccomp) },
		func() error { return netDevices(l.NetDevices, ns) },
		func() error { return intelRdt(l.IntelRdt) },
	}
	for _, c := range checks {
		if err := c(); err != nil {
			return err
		}
	}
	return nil
}

func linuxNamespaces(list []specs.LinuxNamespace) error {
	seen := make(map[specs.LinuxNamespaceType]int)
	for i, n := range list {
		f := fmt.Sprintf("linux.namespaces[%d]", i)
		if !slices.Contains(knownNamespaces, n.Type) {
			return errf(f+".type", "unknown namespace type %q", n.Type)
		}
		if j, dup := seen[n.Type]; dup {
			return errf(f, "duplicate namespace %q (also linux.namespaces[%d])", n.Type, j)
		}
		seen[n.Type] = i
		if n.Path == "" {
			continue
		}
		if err := absPath(f+".path", n.Path); err != nil {
			return err
		}
		// Whether it is a namespace of the right type is checked when joining.
		if _, err := os.Stat(n.Path); err != nil {
			return &Error{Field: f + ".path", Err: statErr(n.Path, err)}
		}
	}
	return nil
}

// userMappings: mappings need a user namespace. A new user namespace without
// mappings is accepted.
// Deviation: runc refuses a new user namespace without mappings; config-linux.md
// does not require them (the process then runs as the overflow uid).
// Mappings together with a joined user namespace (path) are accepted and
// ignored: the joined namespace already has its mappings.
func userMappings(l *specs.Linux, ns namespaces) error {
	_, userns := ns.index[specs.UserNamespace]
	for _, m := range []struct {
		field string
		maps  []specs.LinuxIDMapping
	}{{"linux.uidMappings", l.UIDMappings}, {"linux.gidMappings", l.GIDMappings}} {
		if len(m.maps) == 0 {
			continue
		}
		if !userns {
			return errf(m.field, "needs a user namespace (linux.namespaces has no %q entry)", specs.UserNamespace)
		}
		if err := idMappings(m.field, m.maps); err != nil {
			return err
		}
	}
	return nil
}

// idMappings checks what the kernel would refuse in uid_map/gid_map:
// empty ranges, overflow, overlaps, and more than 340 lines.
func idMappings(field string, maps []specs.LinuxIDMapping) error {
	const maxLines = 340 // user_namespaces(7)
	if len(maps) > maxLines {
		return errf(field, "%d entries, the kernel accepts at most %d", len(maps), maxLines)
	}
	end := func(start, size uint32) uint64 { return uint64(start) + uint64(size) }
	for i, m := range maps {
		f := fmt.Sprintf("%s[%d]", field, i)
		if m.Size == 0 {
			return errf(f+".size", "must be greater than 0")
		}
		if end(m.ContainerID, m.Size) > 1<<32-1 || end(m.HostID, m.Size) > 1<<32-1 {
			return errf(f, "range exceeds the 32-bit id space")
		}
		for j := range i {
			o := maps[j]
			if m.ContainerID < uint32(end(o.ContainerID, o.Size)) && o.ContainerID < uint32(end(m.ContainerID, m.Size)) {
				return errf(f, "containerID range overlaps %s[%d]", field, j)
			}
			if m.HostID < uint32(end(o.HostID, o.Size)) && o.HostID < uint32(end(m.HostID, m.Size)) {
				return errf(f, "hostID range overlaps %s[%d]", field, j)
			}
		}
	}
	return nil
}

// timeOffsets can only be written into a time namespace that is new and has no
// process yet, so they need a time namespace without a path.
func timeOffsets(off map[string]specs.LinuxTimeOffset, ns namespaces) error {
	if len(off) == 0 {
		return nil
	}
	i, ok := ns.index[specs.TimeNamespace]
	if !ok {
		return errf("linux.timeOffsets", "needs a new time namespace (linux.namespaces has no %q entry)", specs.TimeNamespace)
	}
	if ns.list[i].Path != "" {
		return errf("linux.timeOffsets", "cannot be set when joining an existing time namespace (linux.namespaces[%d].path)", i)
	}
	for _, clock := range sortedKeys(off) {
		f := fmt.Sprintf("linux.timeOffsets[%q]", clock)
		if clock != "monotonic" && clock != "boottime" {
			return errf(f, "unknown clock, want \"monotonic\" or \"boottime\"")
		}
		if off[clock].Nanosecs >= 1e9 {
			return errf(f+".nanosecs", "%d is not below 1000000000", off[clock].Nanosecs)
		}
	}
	return nil
}

// cgroupsPath refuses values that could escape the cgroup mount point.
// An absolute path is relative to each cgroup root; a relative one is the
// cgroup manager's business.
func cgroupsPath(p string) error {
	if p == "" {
		return nil
	}
	if strings.ContainsAny(p, "\x00\n") {
		return errf("linux.cgroupsPath", "contains a NUL or newline")
	}
	if slices.Contains(strings.Split(p, "/"), "..") {
		return errf("linux.cgroupsPath", "%q must not contain \"..\"", p)
	}
	return nil
}

func devices(devs []specs.LinuxDevice) error {
	seen := make(map[string]int)
	for i, d := range devs {
		f := fmt.Sprintf("linux.devices[%d]", i)
		switch d.Type {
		case "c", "b", "u", "p":
		default:
			return errf(f+".type", "%q is not one of c, b, u, p", d.Type)
		}
		if err := absPath(f+".path", d.Path); err != nil {
			return err
		}
		clean := path.Clean(d.Path)
		if clean == "/" {
			return errf(f+".path", "must name a file, not /")
		}
		if j, dup := seen[clean]; dup {
			return errf(f+".path", "duplicate device %q (also linux.devices[%d])", d.Path, j)
		}
		seen[clean] = i
		// major and minor are REQUIRED for c, b, u, but JSON 0 and absent look
		// alike in the spec's Go types; negative values are certainly wrong.
		if d.Type != "p" && (d.Major < 0 || d.Minor < 0) {
			return errf(f, "major and minor must not be negative")
		}
	}
	return nil
}

// deviceCgroup checks the device allow-list entries of linux.resources.
func deviceCgroup(r *specs.LinuxResources) error {
	if r == nil {
		return nil
	}
	for i, d := range r.Devices {
		f := fmt.Sprintf("linux.resources.devices[%d]", i)
		switch d.Type {
		case "", "a", "c", "b":
		default:
			return errf(f+".type", "%q is not one of a, c, b", d.Type)
		}
		if strings.Trim(d.Access, "rwm") != "" {
			return errf(f+".access", "%q may only contain r, w, m", d.Access)
		}
	}
	return nil
}

// ipcSysctl reports whether k is one of the kernel.* sysctls namespaced by
// the IPC namespace. (A switch: a map literal is built at the start of
// every rt process, the container's init included.)
func ipcSysctl(k string) bool {
	switch k {
	case "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
		"kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced":
		return true
	}
	return false
}

// sysctl follows runc: only namespaced sysctls are allowed, and only when the
// container has its own namespace of that kind, so the host is never changed.
func sysctl(m map[string]string, ns namespaces) error {
	for _, key := range sortedKeys(m) {
		f := fmt.Sprintf("linux.sysctl[%q]", key)
		// sysctl(8) accepts "/" as a separator too.
		k := strings.ReplaceAll(key, "/", ".")
		if k == "" || slices.Contains(strings.Split(k, "."), "") || strings.ContainsAny(k, "\x00\n") {
			return errf(f, "not a valid sysctl name")
		}
		switch {
		case ipcSysctl(k) || strings.HasPrefix(k, "fs.mqueue."):
			if _, ok := ns.index[specs.IPCNamespace]; !ok {
				return errf(f, "needs an ipc namespace (it would change the host's)")
			}
		case strings.HasPrefix(k, "net."):
			i, ok := ns.index[specs.NetworkNamespace]
			if !ok {
				return errf(f, "needs a network namespace (it would change the host's)")
			}
			if p := ns.list[i].Path; p != "" {
				host, err := sameFile(p, "/proc/self/ns/net")
				if err != nil {
					return &Error{Field: fmt.Sprintf("linux.namespaces[%d].path", i), Err: err}
				}
				if host {
					return errf(f, "not allowed: linux.namespaces[%d].path is the host's network namespace", i)
				}
			}
		case k == "kernel.domainname":
			if _, ok := ns.index[specs.UTSNamespace]; !ok {
				return errf(f, "needs a uts namespace (it would change the host's)")
			}
		case k == "kernel.hostname":
			return errf(f, "not allowed: use the hostname field")
		default:
			return errf(f, "not allowed: not isolated by any namespace")
		}
	}
	return nil
}

// sameFile reports whether two paths name the same inode.
func sameFile(a, b string) (bool, error) {
	var sa, sb syscall.Stat_t
	if err := syscall.Stat(a, &sa); err != nil {
		return false, fmt.Errorf("%s: %w", a, err)
	}
	if err := syscall.Stat(b, &sb); err != nil {
		return false, fmt.Errorf("%s: %w", b, err)
	}
	return sa.Dev == sb.Dev && sa.Ino == sb.Ino, nil
}

func pathList(field string, paths []string) error {
	for i, p := range paths {
		if err := absPath(fmt.Sprintf("%s[%d]", field, i), p); err != nil {
			return err
		}
	}
	return nil
}

// rootfsPropagation accepts the spec's four values and, as runc does, their
// recursive forms, which engines (moby) write.
func rootfsPropagation(p string) error {
	switch p {
	case "", "shared", "slave", "private", "unbindable", "rshared", "rslave", "rprivate", "runbindable":
		return nil
	}
	return errf("linux.rootfsPropagation", "%q is not one of shared, slave, private, unbindable", p)
}

func personality(p *specs.LinuxPersonality) error {
	if p == nil {
		return nil
	}
	if p.Domain != specs.PerLinux && p.Domain != specs.PerLinux32 {
		return errf("linux.personality.domain", "%q is not one of LINUX, LINUX32", p.Domain)
	}
	if len(p.Flags) > 0 {
		// config-linux.md: "Currently no flag values are supported."
		return errf("linux.personality.flags[0]", "unsupported flag %q", p.Flags[0])
	}
	return nil
}

var seccompActions = []specs.LinuxSeccompAction{
	specs.ActKill, specs.ActKillProcess, specs.ActKillThread, specs.ActTrap, specs.ActErrno,
	specs.ActTrace, specs.ActAllow, specs.ActLog, specs.ActNotify,
}

// seccomp checks only the shape here; the filter compiler checks the rest.
func seccomp(s *specs.LinuxSeccomp) error {
	if s == nil {
		return nil
	}
	if !slices.Contains(seccompActions, s.DefaultAction) {
		return errf("linux.seccomp.defaultAction", "unknown action %q", s.DefaultAction)
	}
	if s.ListenerMetadata != "" && s.ListenerPath == "" {
		return errf("linux.seccomp.listenerMetadata", "needs listenerPath")
	}
	for i, sc := range s.Syscalls {
		f := fmt.Sprintf("linux.seccomp.syscalls[%d]", i)
		if len(sc.Names) == 0 {
			return errf(f+".names", "must have at least one entry")
		}
		if !slices.Contains(seccompActions, sc.Action) {
			return errf(f+".action", "unknown action %q", sc.Action)
		}
	}
	return nil
}

// netDevices are moved into the container's network namespace, so there must
// be one that is not the host's.
func netDevices(devs map[string]specs.LinuxNetDevice, ns namespaces) error {
	if len(devs) == 0 {
		return nil
	}
	if _, ok := ns.index[specs.NetworkNamespace]; !ok {
		return errf("linux.netDevices", "needs a network namespace (linux.namespaces has no %q entry)", specs.NetworkNamespace)
	}
	for _, name := range sortedKeys(devs) {
		f := fmt.Sprintf("linux.netDevices[%q]", name)
		if err := ifName(name); err != nil {
			return &Error{Field: f, Err: err}
		}
		if n := devs[name].Name; n != "" {
			if err := ifName(strings.Replace(n, "%d", "0", 1)); err != nil {
				return &Error{Field: f + ".name", Err: err}
			}
		}
	}
	return nil
}

// ifName applies the kernel's dev_valid_name rules.
func ifName(n string) error {
	if n == "" || len(n) >= 16 || n == "." || n == ".." || strings.ContainsAny(n, "/: \t\n\x00") {
		return errors.New("not a valid network interface name")
	}
	return nil
}

func intelRdt(r *specs.LinuxIntelRdt) error {
	if r == nil || r.ClosID == "" || r.ClosID == "/" {
		return nil
	}
	if strings.Contains(r.ClosID, "/") || r.ClosID == "." || r.ClosID == ".." {
		return errf("linux.intelRdt.closID", "%q must be a plain directory name", r.ClosID)
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
