package cgroups

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtrun/rt/libcontainer/specdefault"
)

// BenchmarkDeviceRules builds the device cgroup policy of the default spec
// and renders it both ways: the v1 writes to a fresh (allow-all) cgroup and
// the v2 eBPF instructions.
func BenchmarkDeviceRules(b *testing.B) {
	s := specdefault.Example()
	b.ReportAllocs()
	for b.Loop() {
		p, err := compileDevices(DeviceRules(s.Linux.Resources.Devices, s.Linux.Devices))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := v1DeviceWrites("a *:* rwm", p); err != nil {
			b.Fatal(err)
		}
		_ = p.program()
	}
}

// BenchmarkResourcePlan checks and converts the limits make bench uses
// (memory, cpu shares and quota, pids) for both cgroup versions.
func BenchmarkResourcePlan(b *testing.B) {
	limit, swap, pids := int64(256<<20), int64(512<<20), int64(128)
	shares, quota, period := uint64(512), int64(50000), uint64(100000)
	r := &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: &limit, Swap: &swap},
		CPU:    &specs.LinuxCPU{Shares: &shares, Quota: &quota, Period: &period},
		Pids:   &specs.LinuxPids{Limit: &pids},
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, v2 := range []bool{false, true} {
			if err := checkSupported(r, v2); err != nil {
				b.Fatal(err)
			}
		}
		neededV2(r)
		SharesToWeight(*r.CPU.Shares)
		CPUMax(r.CPU.Quota, r.CPU.Period)
		PidsMax(*r.Pids.Limit)
		if _, err := SwapV2(*r.Memory.Limit, *r.Memory.Swap); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadLayout reads the host's cgroup layout from
// /proc/self/mountinfo: once per rt process (detectLayout caches it).
func BenchmarkReadLayout(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := readLayout(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNew builds the manager for an absolute cgroupsPath once the
// layout is known: a directory per hierarchy. Nothing is created.
func BenchmarkNew(b *testing.B) {
	if _, err := detectLayout(); err != nil {
		b.Skip(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := New("/rt-bench/c", "c", Options{}); err != nil {
			b.Skip(err) // e.g. a host without the devices controller
		}
	}
}
