package rootfs

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseMountOptionsSingle(t *testing.T) {
	// Every option of the spec on its own: what it sets and what it clears.
	tests := []struct {
		opt          string
		flags, clear uintptr
	}{
		{"async", 0, unix.MS_SYNCHRONOUS},
		{"atime", 0, unix.MS_NOATIME},
		{"bind", unix.MS_BIND, 0},
		{"defaults", 0, 0},
		{"dev", 0, unix.MS_NODEV},
		{"diratime", 0, unix.MS_NODIRATIME},
		{"dirsync", unix.MS_DIRSYNC, 0},
		{"exec", 0, unix.MS_NOEXEC},
		{"iversion", unix.MS_I_VERSION, 0},
		{"lazytime", unix.MS_LAZYTIME, 0},
		{"loud", 0, unix.MS_SILENT},
		{"noatime", unix.MS_NOATIME, 0},
		{"nodev", unix.MS_NODEV, 0},
		{"nodiratime", unix.MS_NODIRATIME, 0},
		{"noexec", unix.MS_NOEXEC, 0},
		{"noiversion", 0, unix.MS_I_VERSION},
		{"nolazytime", 0, unix.MS_LAZYTIME},
		{"norelatime", 0, unix.MS_RELATIME},
		{"nostrictatime", 0, unix.MS_STRICTATIME},
		{"nosuid", unix.MS_NOSUID, 0},
		{"nosymfollow", unix.MS_NOSYMFOLLOW, 0},
		{"rbind", unix.MS_BIND | unix.MS_REC, 0},
		{"relatime", unix.MS_RELATIME, 0},
		{"remount", unix.MS_REMOUNT, 0},
		{"ro", unix.MS_RDONLY, 0},
		{"rw", 0, unix.MS_RDONLY},
		{"silent", unix.MS_SILENT, 0},
		{"strictatime", unix.MS_STRICTATIME, 0},
		{"suid", 0, unix.MS_NOSUID},
		{"symfollow", 0, unix.MS_NOSYMFOLLOW},
		{"sync", unix.MS_SYNCHRONOUS, 0},
		{"mand", unix.MS_MANDLOCK, 0},
		{"nomand", 0, unix.MS_MANDLOCK},
	}
	for _, tc := range tests {
		t.Run(tc.opt, func(t *testing.T) {
			o, err := ParseMountOptions([]string{tc.opt})
			if err != nil {
				t.Fatal(err)
			}
			if o.Flags != tc.flags || o.ClearFlags != tc.clear {
				t.Errorf("flags=%#x clear=%#x, want %#x %#x", o.Flags, o.ClearFlags, tc.flags, tc.clear)
			}
			if o.Data != "" || len(o.Propagation) != 0 || o.HasRecAttr() {
				t.Errorf("unexpected extras: %+v", o)
			}
		})
	}
}

func TestParseMountOptionsPropagation(t *testing.T) {
	tests := map[string]uintptr{
		"private": unix.MS_PRIVATE, "rprivate": unix.MS_PRIVATE | unix.MS_REC,
		"shared": unix.MS_SHARED, "rshared": unix.MS_SHARED | unix.MS_REC,
		"slave": unix.MS_SLAVE, "rslave": unix.MS_SLAVE | unix.MS_REC,
		"unbindable": unix.MS_UNBINDABLE, "runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
	}
	for opt, want := range tests {
		o, _ := ParseMountOptions([]string{"bind", opt})
		if !reflect.DeepEqual(o.Propagation, []uintptr{want}) || o.Flags != unix.MS_BIND {
			t.Errorf("%s: %+v", opt, o)
		}
		got, err := ParsePropagation(opt)
		if err != nil || got != want {
			t.Errorf("ParsePropagation(%s) = %#x, %v", opt, got, err)
		}
	}
	// Several are kept in order: each is its own mount(2) call.
	o, _ := ParseMountOptions([]string{"rprivate", "shared"})
	if !reflect.DeepEqual(o.Propagation, []uintptr{unix.MS_PRIVATE | unix.MS_REC, unix.MS_SHARED}) {
		t.Errorf("order: %v", o.Propagation)
	}
	if _, err := ParsePropagation("bogus"); err == nil {
		t.Error("ParsePropagation(bogus): no error")
	}
	if p, err := ParsePropagation(""); err != nil || p != 0 {
		t.Errorf("ParsePropagation(\"\") = %#x, %v", p, err)
	}
}

func TestParseMountOptionsRecursive(t *testing.T) {
	const atime = unix.MOUNT_ATTR__ATIME
	tests := []struct {
		opts     []string
		set, clr uint64
	}{
		{[]string{"rro"}, unix.MOUNT_ATTR_RDONLY, 0},
		{[]string{"rrw"}, 0, unix.MOUNT_ATTR_RDONLY},
		{[]string{"rnosuid"}, unix.MOUNT_ATTR_NOSUID, 0},
		{[]string{"rsuid"}, 0, unix.MOUNT_ATTR_NOSUID},
		{[]string{"rnodev"}, unix.MOUNT_ATTR_NODEV, 0},
		{[]string{"rdev"}, 0, unix.MOUNT_ATTR_NODEV},
		{[]string{"rnoexec"}, unix.MOUNT_ATTR_NOEXEC, 0},
		{[]string{"rexec"}, 0, unix.MOUNT_ATTR_NOEXEC},
		{[]string{"rnodiratime"}, unix.MOUNT_ATTR_NODIRATIME, 0},
		{[]string{"rdiratime"}, 0, unix.MOUNT_ATTR_NODIRATIME},
		{[]string{"rrelatime"}, unix.MOUNT_ATTR_RELATIME, atime},
		{[]string{"rnorelatime"}, 0, atime},
		{[]string{"rnoatime"}, unix.MOUNT_ATTR_NOATIME, atime},
		{[]string{"ratime"}, 0, atime},
		{[]string{"rstrictatime"}, unix.MOUNT_ATTR_STRICTATIME, atime},
		{[]string{"rnostrictatime"}, 0, atime},
		{[]string{"rnosymfollow"}, unix.MOUNT_ATTR_NOSYMFOLLOW, 0},
		{[]string{"rsymfollow"}, 0, unix.MOUNT_ATTR_NOSYMFOLLOW},
		// Last wins, and only one atime mode survives.
		{[]string{"rro", "rrw"}, 0, unix.MOUNT_ATTR_RDONLY},
		{[]string{"rrw", "rro"}, unix.MOUNT_ATTR_RDONLY, 0},
		{[]string{"rnoatime", "rstrictatime"}, unix.MOUNT_ATTR_STRICTATIME, atime},
		{[]string{"rro", "rnosuid", "rnodev"}, unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV, 0},
	}
	for _, tc := range tests {
		o, err := ParseMountOptions(tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		if o.RecAttrSet != tc.set || o.RecAttrClr != tc.clr {
			t.Errorf("%v: set=%#x clr=%#x, want %#x %#x", tc.opts, o.RecAttrSet, o.RecAttrClr, tc.set, tc.clr)
		}
		if o.Flags != 0 || o.Data != "" {
			t.Errorf("%v: recursive options leaked into flags/data: %+v", tc.opts, o)
		}
	}
}

func TestParseMountOptionsCombined(t *testing.T) {
	tests := []struct {
		name string
		opts []string
		want MountOptions
	}{
		{"tmpfs dev", []string{"nosuid", "strictatime", "mode=755", "size=65536k"},
			MountOptions{Flags: unix.MS_NOSUID | unix.MS_STRICTATIME, Data: "mode=755,size=65536k"}},
		{"devpts", []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"},
			MountOptions{Flags: unix.MS_NOSUID | unix.MS_NOEXEC, Data: "newinstance,ptmxmode=0666,mode=0620,gid=5"}},
		{"ro then rw", []string{"ro", "rw"}, MountOptions{ClearFlags: unix.MS_RDONLY}},
		{"rw then ro", []string{"rw", "ro"}, MountOptions{Flags: unix.MS_RDONLY}},
		{"nosuid then suid", []string{"nosuid", "suid"}, MountOptions{ClearFlags: unix.MS_NOSUID}},
		{"comma joined", []string{"rbind,ro", "rprivate"},
			MountOptions{Flags: unix.MS_BIND | unix.MS_REC | unix.MS_RDONLY, Propagation: []uintptr{unix.MS_PRIVATE | unix.MS_REC}}},
		{"overlay data", []string{"lowerdir=/a:/b", "upperdir=/u", "workdir=/w"},
			MountOptions{Data: "lowerdir=/a:/b,upperdir=/u,workdir=/w"}},
		{"extensions", []string{"tmpcopyup", "idmap", "ridmap"},
			MountOptions{Tmpcopyup: true, Idmap: true, Ridmap: true}},
		{"empty", nil, MountOptions{}},
		{"empty strings", []string{"", ","}, MountOptions{}},
		{"bind remount ro", []string{"bind", "remount", "ro"},
			MountOptions{Flags: unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, err := ParseMountOptions(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(o, tc.want) {
				t.Errorf("got %+v\nwant %+v", o, tc.want)
			}
		})
	}
	if _, err := ParseMountOptions([]string{"a\x00b"}); err == nil {
		t.Error("NUL byte accepted")
	}
}

func TestKnownMountOptions(t *testing.T) {
	known := KnownMountOptions()
	// Every MUST and SHOULD option of the spec is listed and parses to
	// something other than filesystem data.
	spec := strings.Fields(`async atime bind defaults dev diratime dirsync exec iversion lazytime loud
		noatime nodev nodiratime noexec noiversion nolazytime norelatime nostrictatime nosuid private
		rbind relatime remount ro rprivate rshared rslave runbindable rw shared silent slave strictatime
		suid sync unbindable nosymfollow symfollow rro rrw rnosuid rsuid rnodev rdev rnoexec rexec
		rnodiratime rdiratime rrelatime rnorelatime rnoatime ratime rstrictatime rnostrictatime
		rnosymfollow rsymfollow tmpcopyup`)
	for _, o := range spec {
		if !slices.Contains(known, o) {
			t.Errorf("%s missing from KnownMountOptions", o)
		}
		if p, _ := ParseMountOptions([]string{o}); p.Data != "" {
			t.Errorf("%s parsed as data", o)
		}
	}
	if slices.Contains(known, "idmap") || !slices.IsSorted(known) {
		t.Errorf("KnownMountOptions: %v", known)
	}
	// The option tables are searched in order: a name listed twice would
	// shadow its second entry (a map literal refused duplicates).
	if c := slices.Compact(slices.Clone(known)); len(c) != len(known) {
		t.Errorf("an option is listed twice: %v", known)
	}
}

// ProcFlagsOK: the flags a proc mount made with the new mount API can
// carry are exactly those with a mount attribute.
func TestProcFlagsOK(t *testing.T) {
	for _, tt := range []struct {
		opts []string
		ok   bool
	}{
		{nil, true},
		{[]string{"nosuid", "noexec", "nodev", "ro", "relatime"}, true},
		{[]string{"noatime", "nodiratime"}, true},
		{[]string{"strictatime", "rw"}, true},
		{[]string{"sync"}, false},
		{[]string{"dirsync"}, false},
		{[]string{"mand"}, false},
	} {
		o, err := ParseMountOptions(tt.opts)
		if err != nil {
			t.Fatalf("%v: %v", tt.opts, err)
		}
		if got := ProcFlagsOK(o.Flags); got != tt.ok {
			t.Errorf("%v (flags %#x): %v, want %v", tt.opts, o.Flags, got, tt.ok)
		}
	}
}
