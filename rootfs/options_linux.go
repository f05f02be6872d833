package rootfs

import (
	"fmt"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// MountOptions is the parsed form of a mount's options list.
type MountOptions struct {
	// Flags are the MS_* flags passed to mount(2).
	Flags uintptr
	// ClearFlags are the MS_* flags an option explicitly cleared (rw, suid,
	// dev, ...); the last option naming a flag wins.
	ClearFlags uintptr
	// Propagation holds MS_SHARED/MS_SLAVE/MS_PRIVATE/MS_UNBINDABLE (with
	// MS_REC for the r* forms), applied in order after the mount.
	Propagation []uintptr
	// RecAttrSet and RecAttrClr are MOUNT_ATTR_* values for
	// mount_setattr(AT_RECURSIVE), from the r* options (rro, rnosuid, ...).
	RecAttrSet, RecAttrClr uint64
	// Data are the options the kernel flags do not know, comma-joined, for
	// the filesystem.
	Data string
	// Tmpcopyup, Idmap and Ridmap are the extensions of the spec.
	Tmpcopyup, Idmap, Ridmap bool
}

// IsBind reports whether the options ask for a bind mount (bind or rbind).
func (o *MountOptions) IsBind() bool { return o.Flags&unix.MS_BIND != 0 }

// HasRecAttr reports whether mount_setattr must be called.
func (o *MountOptions) HasRecAttr() bool { return o.RecAttrSet != 0 || o.RecAttrClr != 0 }

// option is an entry of a table of options. The tables are short and
// searched in order (lookup): map literals would be built at the start of
// every rt process, the container's init included.
type option[T any] struct {
	name string
	v    T
}

// lookup returns the value of the option called name in t.
func lookup[T any](t []option[T], name string) (T, bool) {
	for _, o := range t {
		if o.name == name {
			return o.v, true
		}
	}
	var zero T
	return zero, false
}

type flagOpt struct {
	clear bool
	flag  uintptr
}

var mountFlagOpts = []option[flagOpt]{
	{"async", flagOpt{true, unix.MS_SYNCHRONOUS}},
	{"atime", flagOpt{true, unix.MS_NOATIME}},
	{"bind", flagOpt{false, unix.MS_BIND}},
	{"defaults", flagOpt{false, 0}},
	{"dev", flagOpt{true, unix.MS_NODEV}},
	{"diratime", flagOpt{true, unix.MS_NODIRATIME}},
	{"dirsync", flagOpt{false, unix.MS_DIRSYNC}},
	{"exec", flagOpt{true, unix.MS_NOEXEC}},
	{"iversion", flagOpt{false, unix.MS_I_VERSION}},
	{"lazytime", flagOpt{false, unix.MS_LAZYTIME}},
	{"loud", flagOpt{true, unix.MS_SILENT}},
	{"mand", flagOpt{false, unix.MS_MANDLOCK}},
	{"noatime", flagOpt{false, unix.MS_NOATIME}},
	{"nodev", flagOpt{false, unix.MS_NODEV}},
	{"nodiratime", flagOpt{false, unix.MS_NODIRATIME}},
	{"noexec", flagOpt{false, unix.MS_NOEXEC}},
	{"noiversion", flagOpt{true, unix.MS_I_VERSION}},
	{"nolazytime", flagOpt{true, unix.MS_LAZYTIME}},
	{"nomand", flagOpt{true, unix.MS_MANDLOCK}},
	{"norelatime", flagOpt{true, unix.MS_RELATIME}},
	{"nostrictatime", flagOpt{true, unix.MS_STRICTATIME}},
	{"nosuid", flagOpt{false, unix.MS_NOSUID}},
	{"nosymfollow", flagOpt{false, unix.MS_NOSYMFOLLOW}},
	{"rbind", flagOpt{false, unix.MS_BIND | unix.MS_REC}},
	{"relatime", flagOpt{false, unix.MS_RELATIME}},
	{"remount", flagOpt{false, unix.MS_REMOUNT}},
	{"ro", flagOpt{false, unix.MS_RDONLY}},
	{"rw", flagOpt{true, unix.MS_RDONLY}},
	{"silent", flagOpt{false, unix.MS_SILENT}},
	{"strictatime", flagOpt{false, unix.MS_STRICTATIME}},
	{"suid", flagOpt{true, unix.MS_NOSUID}},
	{"sync", flagOpt{false, unix.MS_SYNCHRONOUS}},
	{"symfollow", flagOpt{true, unix.MS_NOSYMFOLLOW}},
}

var propagationOpts = []option[uintptr]{
	{"private", unix.MS_PRIVATE},
	{"rprivate", unix.MS_PRIVATE | unix.MS_REC},
	{"shared", unix.MS_SHARED},
	{"rshared", unix.MS_SHARED | unix.MS_REC},
	{"slave", unix.MS_SLAVE},
	{"rslave", unix.MS_SLAVE | unix.MS_REC},
	{"unbindable", unix.MS_UNBINDABLE},
	{"runbindable", unix.MS_UNBINDABLE | unix.MS_REC},
}

type attrOpt struct {
	clear bool
	attr  uint64
}

// recAttrOpts follow runc: atime modes are values inside MOUNT_ATTR__ATIME,
// so setting or clearing one must also clear the whole field.
var recAttrOpts = []option[attrOpt]{
	{"rro", attrOpt{false, unix.MOUNT_ATTR_RDONLY}},
	{"rrw", attrOpt{true, unix.MOUNT_ATTR_RDONLY}},
	{"rnosuid", attrOpt{false, unix.MOUNT_ATTR_NOSUID}},
	{"rsuid", attrOpt{true, unix.MOUNT_ATTR_NOSUID}},
	{"rnodev", attrOpt{false, unix.MOUNT_ATTR_NODEV}},
	{"rdev", attrOpt{true, unix.MOUNT_ATTR_NODEV}},
	{"rnoexec", attrOpt{false, unix.MOUNT_ATTR_NOEXEC}},
	{"rexec", attrOpt{true, unix.MOUNT_ATTR_NOEXEC}},
	{"rnodiratime", attrOpt{false, unix.MOUNT_ATTR_NODIRATIME}},
	{"rdiratime", attrOpt{true, unix.MOUNT_ATTR_NODIRATIME}},
	{"rrelatime", attrOpt{false, unix.MOUNT_ATTR_RELATIME}},
	{"rnorelatime", attrOpt{true, unix.MOUNT_ATTR_RELATIME}},
	{"rnoatime", attrOpt{false, unix.MOUNT_ATTR_NOATIME}},
	{"ratime", attrOpt{true, unix.MOUNT_ATTR_NOATIME}},
	{"rstrictatime", attrOpt{false, unix.MOUNT_ATTR_STRICTATIME}},
	{"rnostrictatime", attrOpt{true, unix.MOUNT_ATTR_STRICTATIME}},
	{"rnosymfollow", attrOpt{false, unix.MOUNT_ATTR_NOSYMFOLLOW}},
	{"rsymfollow", attrOpt{true, unix.MOUNT_ATTR_NOSYMFOLLOW}},
}

// atimeAttr reports whether opt is an r* option that selects an
// access-time mode.
func atimeAttr(opt string) bool {
	switch opt {
	case "rrelatime", "rnorelatime", "rnoatime", "ratime", "rstrictatime", "rnostrictatime":
		return true
	}
	return false
}

// ParseMountOptions turns an OCI mount options list into flags,
// propagation changes, recursive attributes and filesystem data. It does
// no I/O. When options conflict ("ro" then "rw"), the last one wins, as in
// runc. An option holding commas is split, so ["nosuid,nodev"] works too.
func ParseMountOptions(opts []string) (MountOptions, error) {
	var o MountOptions
	var data []string
	for _, raw := range opts {
		for _, opt := range strings.Split(raw, ",") {
			if opt == "" {
				continue
			}
			if strings.ContainsRune(opt, 0) {
				return MountOptions{}, fmt.Errorf("mount option %q: contains a NUL byte", opt)
			}
			if f, ok := lookup(mountFlagOpts, opt); ok {
				if f.clear {
					o.Flags &^= f.flag
					o.ClearFlags |= f.flag
				} else {
					o.Flags |= f.flag
					o.ClearFlags &^= f.flag
				}
				continue
			}
			if p, ok := lookup(propagationOpts, opt); ok {
				o.Propagation = append(o.Propagation, p)
				continue
			}
			if a, ok := lookup(recAttrOpts, opt); ok {
				if a.clear {
					o.RecAttrClr |= a.attr
					o.RecAttrSet &^= a.attr
				} else {
					if atimeAttr(opt) {
						// Only one access-time mode can be set.
						o.RecAttrSet &^= unix.MOUNT_ATTR__ATIME
					}
					o.RecAttrSet |= a.attr
					o.RecAttrClr &^= a.attr
				}
				if atimeAttr(opt) {
					o.RecAttrClr |= unix.MOUNT_ATTR__ATIME
				}
				continue
			}
			switch opt {
			case "tmpcopyup":
				o.Tmpcopyup = true
			case "idmap":
				o.Idmap = true
			case "ridmap":
				o.Ridmap = true
			default:
				data = append(data, opt)
			}
		}
	}
	o.Data = strings.Join(data, ",")
	return o, nil
}

// ParsePropagation converts a linux.rootfsPropagation value to mount flags.
// "" returns 0.
func ParsePropagation(p string) (uintptr, error) {
	if p == "" {
		return 0, nil
	}
	f, ok := lookup(propagationOpts, p)
	if !ok {
		return 0, fmt.Errorf("linux.rootfsPropagation %q: unknown propagation", p)
	}
	return f, nil
}

// KnownMountOptions lists the mount options rt understands, sorted, for the
// features command. idmap and ridmap are left out: they are refused.
func KnownMountOptions() []string {
	var res []string
	for _, o := range mountFlagOpts {
		res = append(res, o.name)
	}
	for _, o := range propagationOpts {
		res = append(res, o.name)
	}
	for _, o := range recAttrOpts {
		res = append(res, o.name)
	}
	res = append(res, "tmpcopyup")
	slices.Sort(res)
	return res
}
