package cgroups

import (
	"errors"
	"fmt"
	"sort"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ErrNotSupported marks a resource field rt cannot apply on this cgroup
// version. Set refuses the whole request rather than skip it.
var ErrNotSupported = errors.New("not supported")

// unsupportedError is an ErrNotSupported with its own full message.
type unsupportedError struct{ msg string }

func (e *unsupportedError) Error() string { return e.msg }
func (e *unsupportedError) Unwrap() error { return ErrNotSupported }

func unsupported(format string, a ...any) error {
	return &unsupportedError{fmt.Sprintf(format, a...)}
}

// checkSupported rejects, before anything is written, the values no host
// could apply and the fields the cgroup version lacks, so a container never
// runs with a limit silently dropped. What depends on the host (a
// controller that is not mounted, a file the kernel lacks) is checked by
// each manager's Set before it writes.
//
// Zero means unset, as in runc, for the numeric fields the kernel has no
// use for a zero in (weights, swap, reservation, realtime).
func checkSupported(r *specs.LinuxResources, v2 bool) error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	noV2 := func(field, why string) {
		if v2 {
			add(unsupported("linux.resources.%s: not supported on cgroup v2 (%s)", field, why))
		}
	}
	if m := r.Memory; m != nil {
		if m.KernelTCP != nil {
			// v2 accounts socket memory in memory.max, with no own limit.
			noV2("memory.kernelTCP", "socket memory counts towards memory.max; there is no separate limit")
		}
		// memory.kernel is deprecated: written on v1 where the file exists
		// (the kernel ignores it since 5.x), ignored on v2 as the spec
		// allows.
		if m.UseHierarchy != nil && !*m.UseHierarchy {
			// Since Linux 5.16 (v1) and always on v2, accounting is
			// hierarchical; false cannot be honoured.
			add(unsupported("linux.resources.memory.useHierarchy=false: %v (memory accounting is always hierarchical)", ErrNotSupported))
		}
		if m.Swappiness != nil {
			noV2("memory.swappiness", "there is no per-cgroup memory.swappiness")
			if *m.Swappiness > 100 {
				add(fmt.Errorf("linux.resources.memory.swappiness: invalid value %d (valid range is 0-100)", *m.Swappiness))
			}
		}
		if m.DisableOOMKiller != nil && *m.DisableOOMKiller {
			noV2("memory.disableOOMKiller", "the OOM killer cannot be disabled per cgroup")
		}
	}
	if c := r.CPU; c != nil {
		if v2 && c.Shares != nil && *c.Shares != 0 && (*c.Shares < 2 || *c.Shares > 262144) {
			add(fmt.Errorf("linux.resources.cpu.shares: %d out of range 2-262144", *c.Shares))
		}
		if c.Idle != nil && *c.Idle != 0 && *c.Idle != 1 {
			add(fmt.Errorf("linux.resources.cpu.idle: invalid value %d (0 or 1)", *c.Idle))
		}
		if (c.RealtimeRuntime != nil && *c.RealtimeRuntime != 0) || (c.RealtimePeriod != nil && *c.RealtimePeriod != 0) {
			noV2("cpu.realtimeRuntime/realtimePeriod", "there is no cpu.rt_runtime_us or cpu.rt_period_us")
		}
	}
	if b := r.BlockIO; b != nil {
		add(checkBlkioWeight("weight", b.Weight))
		add(checkBlkioWeight("leafWeight", b.LeafWeight))
		if b.LeafWeight != nil && *b.LeafWeight != 0 {
			noV2("blockIO.leafWeight", "there is no leaf weight")
		}
		for i, d := range b.WeightDevice {
			f := fmt.Sprintf("weightDevice[%d]", i)
			add(checkBlkioDevice(f, d.LinuxBlockIODevice))
			add(checkBlkioWeight(f+".weight", d.Weight))
			add(checkBlkioWeight(f+".leafWeight", d.LeafWeight))
			if d.LeafWeight != nil && *d.LeafWeight != 0 {
				noV2("blockIO."+f+".leafWeight", "there is no leaf weight")
			}
		}
		for _, t := range throttleFields(b) {
			for i, d := range t.devs {
				add(checkBlkioDevice(fmt.Sprintf("%s[%d]", t.field, i), d.LinuxBlockIODevice))
			}
		}
	}
	if n := r.Network; n != nil && (n.ClassID != nil || len(n.Priorities) > 0) {
		noV2("network", "net_cls and net_prio exist on v1 only; use eBPF or iptables cgroup matching")
		for i, p := range n.Priorities {
			add(checkName(fmt.Sprintf("network.priorities[%d].name", i), p.Name))
		}
	}
	for _, dev := range sortedKeysOf(r.Rdma) {
		add(checkName("rdma", dev))
	}
	if len(r.Unified) > 0 {
		if !v2 {
			add(unsupported("linux.resources.unified: needs cgroup v2"))
		} else {
			for _, k := range sortedKeysOf(r.Unified) {
				_, err := unifiedController(k)
				add(err)
			}
		}
	}
	for _, h := range r.HugepageLimits {
		add(checkPageSize(h.Pagesize))
	}
	if len(r.Devices) > 0 {
		_, err := compileDevices(r.Devices)
		add(err)
	}
	return errors.Join(errs...)
}

func checkBlkioDevice(field string, d specs.LinuxBlockIODevice) error {
	if d.Major < 0 || d.Minor < 0 || d.Major > 1<<32-1 || d.Minor > 1<<32-1 {
		return fmt.Errorf("linux.resources.blockIO.%s: invalid device %d:%d", field, d.Major, d.Minor)
	}
	return nil
}

func sortedKeysOf[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// cpuSet, blockIOSet and networkSet report whether a section asks for
// anything (zero values of weights and realtime mean unset).
func cpuSet(c *specs.LinuxCPU) bool {
	return c != nil && (c.Shares != nil || c.Quota != nil || c.Period != nil || c.Burst != nil || c.Idle != nil ||
		(c.RealtimeRuntime != nil && *c.RealtimeRuntime != 0) || (c.RealtimePeriod != nil && *c.RealtimePeriod != 0))
}

func blockIOSet(b *specs.LinuxBlockIO) bool {
	if b == nil {
		return false
	}
	if (b.Weight != nil && *b.Weight != 0) || (b.LeafWeight != nil && *b.LeafWeight != 0) || len(b.WeightDevice) > 0 {
		return true
	}
	for _, t := range throttleFields(b) {
		if len(t.devs) > 0 {
			return true
		}
	}
	return false
}

// neededV2 lists the v2 controllers that must be enabled in the parents'
// cgroup.subtree_control for r's files to exist in the container's cgroup.
func neededV2(r *specs.LinuxResources) []string {
	var out []string
	want := func(c string) {
		for _, o := range out {
			if o == c {
				return
			}
		}
		out = append(out, c)
	}
	if m := r.Memory; m != nil && (m.Limit != nil || m.Reservation != nil || m.Swap != nil) {
		want("memory")
	}
	if c := r.CPU; c != nil {
		if cpuSet(c) {
			want("cpu")
		}
		if c.Cpus != "" || c.Mems != "" {
			want("cpuset")
		}
	}
	if r.Pids != nil && r.Pids.Limit != nil {
		want("pids")
	}
	if len(r.HugepageLimits) > 0 {
		want("hugetlb")
	}
	if blockIOSet(r.BlockIO) {
		want("io")
	}
	if len(r.Rdma) > 0 {
		want("rdma")
	}
	for _, k := range sortedKeysOf(r.Unified) {
		if c, err := unifiedController(k); err == nil && c != "" {
			want(c)
		}
	}
	return out
}
