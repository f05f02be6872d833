package cgroups

import (
	"errors"
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ErrNotSupported marks a resource field rt cannot apply (yet, or on this
// cgroup version). Set refuses the whole request rather than skip it.
var ErrNotSupported = errors.New("not supported")

// checkSupported rejects fields Set does not apply, before anything is
// written, so a container never runs with a limit silently dropped.
//
// TODO(cgroups-complete): blockIO, network, rdma, unified, cpu burst/idle/
// realtime, memory kernelTCP on v2 (no such file), and devices on v2 (an eBPF program). v1 writes
// devices.allow/deny; on v2 device rules are skipped rather than refused
// until then, because every runc-generated config carries a device list.
func checkSupported(r *specs.LinuxResources, v2 bool) error {
	var errs []error
	no := func(field string) {
		errs = append(errs, fmt.Errorf("linux.resources.%s: %w by rt yet", field, ErrNotSupported))
	}
	noV2 := func(field string) {
		errs = append(errs, fmt.Errorf("linux.resources.%s: %w on cgroup v2", field, ErrNotSupported))
	}
	if m := r.Memory; m != nil {
		if v2 && m.KernelTCP != nil {
			// v1 has memory.kmem.tcp.limit_in_bytes; v2 accounts
			// socket memory in memory.max and has no separate limit.
			noV2("memory.kernelTCP")
		}
		// memory.kernel is deprecated and ignored (spec: "may be ignored by
		// runtimes"; the kernel dropped kmem limits in 5.4/6.x).
		if m.UseHierarchy != nil && !*m.UseHierarchy {
			// Since Linux 5.16 (v1) and always on v2, accounting is
			// hierarchical; false cannot be honoured.
			errs = append(errs, fmt.Errorf("linux.resources.memory.useHierarchy=false: %w (memory accounting is always hierarchical)", ErrNotSupported))
		}
		if v2 && m.Swappiness != nil {
			noV2("memory.swappiness")
		}
		if v2 && m.DisableOOMKiller != nil && *m.DisableOOMKiller {
			noV2("memory.disableOOMKiller")
		}
		if m.Swappiness != nil && *m.Swappiness > 100 {
			errs = append(errs, fmt.Errorf("linux.resources.memory.swappiness: invalid value %d (valid range is 0-100)", *m.Swappiness))
		}
	}
	if c := r.CPU; c != nil {
		if c.Burst != nil {
			no("cpu.burst")
		}
		if c.Idle != nil {
			no("cpu.idle")
		}
		if c.RealtimeRuntime != nil || c.RealtimePeriod != nil {
			no("cpu.realtimeRuntime/realtimePeriod")
		}
	}
	if r.BlockIO != nil {
		no("blockIO")
	}
	if r.Network != nil {
		no("network")
	}
	if len(r.Rdma) > 0 {
		no("rdma")
	}
	if len(r.Unified) > 0 {
		no("unified")
	}
	for _, h := range r.HugepageLimits {
		if err := checkPageSize(h.Pagesize); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// neededV2 lists the v2 controllers that must be enabled in the parents'
// cgroup.subtree_control for r's files to exist in the container's cgroup.
func neededV2(r *specs.LinuxResources) []string {
	var out []string
	if m := r.Memory; m != nil && (m.Limit != nil || m.Reservation != nil || m.Swap != nil) {
		out = append(out, "memory")
	}
	if c := r.CPU; c != nil {
		if c.Shares != nil || c.Quota != nil || c.Period != nil {
			out = append(out, "cpu")
		}
		if c.Cpus != "" || c.Mems != "" {
			out = append(out, "cpuset")
		}
	}
	if r.Pids != nil && r.Pids.Limit != nil {
		out = append(out, "pids")
	}
	if len(r.HugepageLimits) > 0 {
		out = append(out, "hugetlb")
	}
	return out
}
