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

type flagOpt struct {
	clear bool
	flag  uintptr
}

var mountFlagOpts = map[string]flagOpt{
	"async":         {true, unix.MS_SYNCHRONOUS},
	"atime":         {true, unix.MS_NOATIME},
	"bind":          {false, unix.MS_BIND},
	"defaults":      {false, 0},
	"dev":           {true, unix.MS_NODEV},
	"diratime":      {true, unix.MS_NODIRATIME},
	"dirsync":       {false, unix.MS_DIRSYNC},
	"exec":          {true, unix.MS_NOEXEC},
	"iversion":      {false, unix.MS_I_VERSION},
	"lazytime":      {false, unix.MS_LAZYTIME},
	"loud":          {true, unix.MS_SILENT},
	"mand":          {false, unix.MS_MANDLOCK},
	"noatime":       {false, unix.MS_NOATIME},
	"nodev":         {false, unix.MS_NODEV},
	"nodiratime":    {false, unix.MS_NODIRATIME},
	"noexec":        {false, unix.MS_NOEXEC},
	"noiversion":    {true, unix.MS_I_VERSION},
	"nolazytime":    {true, unix.MS_LAZYTIME},
	"nomand":        {true, unix.MS_MANDLOCK},
	"norelatime":    {true, unix.MS_RELATIME},
	"nostrictatime": {true, unix.MS_STRICTATIME},
	"nosuid":        {false, unix.MS_NOSUID},
	"nosymfollow":   {false, unix.MS_NOSYMFOLLOW},
	"rbind":         {false, unix.MS_BIND | unix.MS_REC},
	"relatime":      {false, unix.MS_RELATIME},
	"remount":       {false, unix.MS_REMOUNT},
	"ro":            {false, unix.MS_RDONLY},
	"rw":            {true, unix.MS_RDONLY},
	"silent":        {false, unix.MS_SILENT},
	"strictatime":   {false, unix.MS_STRICTATIME},
	"suid":          {true, unix.MS_NOSUID},
	"sync":          {false, unix.MS_SYNCHRONOUS},
	"symfollow":     {true, unix.MS_NOSYMFOLLOW},
}

var propagationOpts = map[string]uintptr{
	"private":     unix.MS_PRIVATE,
	"rprivate":    unix.MS_PRIVATE | unix.MS_REC,
	"shared":      unix.MS_SHARED,
	"rshared":     unix.MS_SHARED | unix.MS_REC,
	"slave":       unix.MS_SLAVE,
	"rslave":      unix.MS_SLAVE | unix.MS_REC,
	"unbindable":  unix.MS_UNBINDABLE,
	"runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

type attrOpt struct {
	clear bool
	attr  uint64
}

// recAttrOpts follow runc: atime modes are values inside MOUNT_ATTR__ATIME,
// so setting or clearing one must also clear the whole field.
var recAttrOpts = map[string]attrOpt{
	"rro":            {false, unix.MOUNT_ATTR_RDONLY},
	"rrw":            {true, unix.MOUNT_ATTR_RDONLY},
	"rnosuid":        {false, unix.MOUNT_ATTR_NOSUID},
	"rsuid":          {true, unix.MOUNT_ATTR_NOSUID},
	"rnodev":         {false, unix.MOUNT_ATTR_NODEV},
	"rdev":           {true, unix.MOUNT_ATTR_NODEV},
	"rnoexec":        {false, unix.MOUNT_ATTR_NOEXEC},
	"rexec":          {true, unix.MOUNT_ATTR_NOEXEC},
	"rnodiratime":    {false, unix.MOUNT_ATTR_NODIRATIME},
	"rdiratime":      {true, unix.MOUNT_ATTR_NODIRATIME},
	"rrelatime":      {false, unix.MOUNT_ATTR_RELATIME},
	"rnorelatime":    {true, unix.MOUNT_ATTR_RELATIME},
	"rnoatime":       {false, unix.MOUNT_ATTR_NOATIME},
	"ratime":         {true, unix.MOUNT_ATTR_NOATIME},
	"rstrictatime":   {false, unix.MOUNT_ATTR_STRICTATIME},
	"rnostrictatime": {true, unix.MOUNT_ATTR_STRICTATIME},
	"rnosymfollow":   {false, unix.MOUNT_ATTR_NOSYMFOLLOW},
	"rsymfollow":     {true, unix.MOUNT_ATTR_NOSYMFOLLOW},
}

// atimeAttrs are the r* options that select an access-time mode.
var atimeAttrs = map[string]bool{
	"rrelatime": true, "rnorelatime": true, "rnoatime": true,
	"ratime": true, "rstrictatime": true, "rnostrictatime": true,
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
			if f, ok := mountFlagOpts[opt]; ok {
				if f.clear {
					o.Flags &^= f.flag
					o.ClearFlags |= f.flag
				} else {
					o.Flags |= f.flag
					o.ClearFlags &^= f.flag
				}
				continue
			}
			if p, ok := propagationOpts[opt]; ok {
				o.Propagation = append(o.Propagation, p)
				continue
			}
			if a, ok := recAttrOpts[opt]; ok {
				if a.clear {
					o.RecAttrClr |= a.attr
					o.RecAttrSet &^= a.attr
				} else {
					if atimeAttrs[opt] {
						// Only one access-time mode can be set.
						o.RecAttrSet &^= unix.MOUNT_ATTR__ATIME
					}
					o.RecAttrSet |= a.attr
					o.RecAttrClr &^= a.attr
				}
				if atimeAttrs[opt] {
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
	f, ok := propagationOpts[p]
	if !ok {
		return 0, fmt.Errorf("linux.rootfsPropagation %q: unknown propagation", p)
	}
	return f, nil
}

// KnownMountOptions lists the mount options rt understands, sorted, for the
// features command. idmap and ridmap are left out: they are refused.
func KnownMountOptions() []string {
	var res []string
	for o := range mountFlagOpts {
		res = append(res, o)
	}
	for o := range propagationOpts {
		res = append(res, o)
	}
	for o := range recAttrOpts {
		res = append(res, o)
	}
	res = append(res, "tmpcopyup")
	slices.Sort(res)
	return res
}
