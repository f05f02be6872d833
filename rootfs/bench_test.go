package rootfs

import (
	"testing"

	"github.com/rtrun/rt/libcontainer/specdefault"
)

// BenchmarkParseMountOptions parses the options of every default mount
// (`rt spec`), as the mount setup does once per mount.
func BenchmarkParseMountOptions(b *testing.B) {
	mounts := specdefault.Example().Mounts
	b.ReportAllocs()
	for b.Loop() {
		for _, m := range mounts {
			if _, err := ParseMountOptions(m.Options); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkMountPlan is the planning before the first mount of the default
// spec: options and destination of every mount, whether /dev is set up,
// the device list, and rootfs propagation. No I/O.
func BenchmarkMountPlan(b *testing.B) {
	s := specdefault.Example()
	c := &Config{Rootfs: "/bundle/rootfs", Readonly: true, Mounts: s.Mounts, Devices: s.Linux.Devices,
		MaskedPaths: s.Linux.MaskedPaths, ReadonlyPaths: s.Linux.ReadonlyPaths, CgroupNS: true}
	b.ReportAllocs()
	for b.Loop() {
		for _, m := range c.Mounts {
			if _, err := ParseMountOptions(m.Options); err != nil {
				b.Fatal(err)
			}
			_ = cleanDest(m.Destination)
		}
		if needsSetupDev(c) {
			deviceList(c)
		}
		if _, err := ParsePropagation(c.Propagation); err != nil {
			b.Fatal(err)
		}
	}
}
