package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Set applies r on a v1 (or hybrid) host. Unsupported fields are refused
// before anything is written.
func (m *v1Manager) Set(r *specs.LinuxResources) error {
	if r == nil {
		return nil
	}
	if err := checkSupported(r, false); err != nil {
		return err
	}
	if c := r.CPU; c != nil && (c.Cpus != "" || c.Mems != "") {
		dir, err := m.need("cpuset", "cpu.cpus/mems")
		if err != nil {
			return err
		}
		if err := setCpuset(dir, c); err != nil {
			return err
		}
	}
	if mem := r.Memory; mem != nil && memorySet(mem) {
		dir, err := m.need("memory", "memory")
		if err != nil {
			return err
		}
		if err := setMemoryV1(dir, mem); err != nil {
			return err
		}
	}
	if c := r.CPU; c != nil && (c.Shares != nil || c.Quota != nil || c.Period != nil) {
		dir, err := m.need("cpu", "cpu")
		if err != nil {
			return err
		}
		if err := setCPUV1(dir, c); err != nil {
			return err
		}
	}
	if r.Pids != nil && r.Pids.Limit != nil {
		dir, err := m.need("pids", "pids")
		if err != nil {
			return err
		}
		if err := writeFile(dir, "pids.max", PidsMax(*r.Pids.Limit)); err != nil {
			return err
		}
	}
	if len(r.HugepageLimits) > 0 {
		if err := m.setHugetlb(r.HugepageLimits); err != nil {
			return err
		}
	}
	if len(r.Devices) > 0 {
		dir, err := m.need("devices", "devices")
		if err != nil {
			return err
		}
		if err := setDevicesV1(dir, r.Devices); err != nil {
			return err
		}
	}
	return nil
}

// need returns the directory of a v1 controller, or an error naming the
// resource field that wanted it.
func (m *v1Manager) need(controller, field string) (string, error) {
	if dir, ok := m.paths[controller]; ok {
		return dir, nil
	}
	return "", fmt.Errorf("linux.resources.%s: the %s cgroup controller is not mounted", field, controller)
}

func memorySet(m *specs.LinuxMemory) bool {
	return m.Limit != nil || m.Reservation != nil || m.Swap != nil || m.Swappiness != nil ||
		m.KernelTCP != nil || (m.DisableOOMKiller != nil && *m.DisableOOMKiller)
}

func deref(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// setMemoryV1 follows runc: 0 means unset for limit, swap and reservation;
// -1 is unlimited; limit and memsw are written in the order the kernel
// accepts (limit <= memsw at every step).
func setMemoryV1(dir string, m *specs.LinuxMemory) error {
	limit, swap := deref(m.Limit), deref(m.Swap)
	const memsw = "memory.memsw.limit_in_bytes"
	// Unlimited memory without a swap value means unlimited swap as well,
	// where the kernel accounts swap at all.
	if limit == -1 && swap == 0 && exists(filepath.Join(dir, memsw)) {
		swap = -1
	}
	if swap != 0 && !exists(filepath.Join(dir, memsw)) {
		return fmt.Errorf("linux.resources.memory.swap: the kernel does not account swap (no %s in %s; boot with swapaccount=1)", memsw, dir)
	}
	if m.CheckBeforeUpdate != nil && *m.CheckBeforeUpdate && limit > 0 {
		if err := checkUsage(dir, "memory.usage_in_bytes", limit); err != nil {
			return err
		}
	}
	setLimit := func() error {
		if limit == 0 {
			return nil
		}
		err := writeFile(dir, "memory.limit_in_bytes", strconv.FormatInt(limit, 10))
		if errors.Is(err, unix.EBUSY) {
			// Hint that saves a search: the kernel could not reclaim
			// enough to fit the new limit.
			if usage, uerr := readUint(dir, "memory.usage_in_bytes"); uerr == nil {
				err = fmt.Errorf("%w (current usage %d bytes does not fit under the new limit)", err, usage)
			}
		}
		return err
	}
	setSwap := func() error {
		if swap == 0 {
			return nil
		}
		return writeFile(dir, memsw, strconv.FormatInt(swap, 10))
	}
	first, second := setLimit, setSwap
	if limit != 0 && swap != 0 {
		cur, err := readUint(dir, "memory.limit_in_bytes")
		if err != nil {
			return err
		}
		if SwapFirstV1(cur, limit, swap) {
			first, second = setSwap, setLimit
		}
	}
	if err := first(); err != nil {
		return err
	}
	if err := second(); err != nil {
		return err
	}
	if m.Reservation != nil && *m.Reservation != 0 {
		if err := writeFile(dir, "memory.soft_limit_in_bytes", strconv.FormatInt(*m.Reservation, 10)); err != nil {
			return err
		}
	}
	if m.Swappiness != nil {
		if err := writeFile(dir, "memory.swappiness", strconv.FormatUint(*m.Swappiness, 10)); err != nil {
			return err
		}
	}
	if m.DisableOOMKiller != nil && *m.DisableOOMKiller {
		if err := writeFile(dir, "memory.oom_control", "1"); err != nil {
			return err
		}
	}
	// As runc: 0 means unset. (memory.kernel is not written: the kernel
	// ignores memory.kmem.limit_in_bytes since 6.x; see checkSupported.)
	if m.KernelTCP != nil && *m.KernelTCP != 0 {
		const tcp = "memory.kmem.tcp.limit_in_bytes"
		if !exists(filepath.Join(dir, tcp)) {
			return fmt.Errorf("linux.resources.memory.kernelTCP: the kernel has no %s in %s", tcp, dir)
		}
		if err := writeFile(dir, tcp, strconv.FormatInt(*m.KernelTCP, 10)); err != nil {
			return fmt.Errorf("linux.resources.memory.kernelTCP: %w", err)
		}
	}
	return nil
}

// checkUsage implements memory.checkBeforeUpdate: refuse a limit below the
// current usage instead of letting the kernel reclaim or OOM-kill.
func checkUsage(dir, file string, limit int64) error {
	usage, err := readUint(dir, file)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	if usage > uint64(limit) {
		return fmt.Errorf("linux.resources.memory.limit: %d is below the current usage %d (checkBeforeUpdate)", limit, usage)
	}
	return nil
}

// setCPUV1 writes cpu.shares (checked: the kernel clamps silently) and the
// CFS quota/period.
func setCPUV1(dir string, c *specs.LinuxCPU) error {
	if c.Shares != nil && *c.Shares != 0 {
		want := strconv.FormatUint(*c.Shares, 10)
		if err := writeFile(dir, "cpu.shares", want); err != nil {
			return err
		}
		got, err := readFile(dir, "cpu.shares")
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("linux.resources.cpu.shares: the kernel set %s instead of %s (valid range is 2-262144)", got, want)
		}
	}
	quota := deref(c.Quota)
	var period string
	if c.Period != nil && *c.Period != 0 {
		period = strconv.FormatUint(*c.Period, 10)
		if err := writeFile(dir, "cpu.cfs_period_us", period); err != nil {
			// A shorter period can be refused (EINVAL) while the old
			// quota/new period exceeds the parent's bandwidth; it fits
			// once the new quota is in, so retry after it.
			if !errors.Is(err, unix.EINVAL) || quota == 0 {
				return err
			}
		} else {
			period = ""
		}
	}
	if quota != 0 {
		if err := writeFile(dir, "cpu.cfs_quota_us", strconv.FormatInt(quota, 10)); err != nil {
			return err
		}
		if period != "" {
			if err := writeFile(dir, "cpu.cfs_period_us", period); err != nil {
				return err
			}
		}
	}
	return nil
}

func setCpuset(dir string, c *specs.LinuxCPU) error {
	if c.Cpus != "" {
		if err := writeFile(dir, "cpuset.cpus", c.Cpus); err != nil {
			return err
		}
	}
	if c.Mems != "" {
		if err := writeFile(dir, "cpuset.mems", c.Mems); err != nil {
			return err
		}
	}
	return nil
}

// setHugetlb uses the v1 hugetlb hierarchy, or on hybrid hosts the cgroup2
// one, where hugetlb is often the only controller.
func (m *v1Manager) setHugetlb(limits []specs.LinuxHugepageLimit) error {
	if dir, ok := m.paths["hugetlb"]; ok {
		return writeHugetlb(dir, limits, ".limit_in_bytes")
	}
	dir, ok := m.paths[UnifiedKey]
	if !ok {
		return errors.New("linux.resources.hugepageLimits: the hugetlb cgroup controller is not mounted")
	}
	if err := needV2(m.unifiedRoot, dir, []string{"hugetlb"}); err != nil {
		return err
	}
	return writeHugetlb(dir, limits, ".max")
}

// writeHugetlb writes hugetlb.<size><suffix> and, where the kernel has
// reservation accounting, hugetlb.<size>.rsvd<suffix> with the same value
// (the spec's limit covers reservations when supported).
func writeHugetlb(dir string, limits []specs.LinuxHugepageLimit, suffix string) error {
	rsvd := true
	for _, h := range limits {
		prefix := "hugetlb." + h.Pagesize
		v := strconv.FormatUint(h.Limit, 10)
		if err := writeFile(dir, prefix+suffix, v); err != nil {
			if errors.Is(err, unix.ENOENT) {
				return fmt.Errorf("linux.resources.hugepageLimits: page size %s not supported by this kernel: %w", h.Pagesize, err)
			}
			return err
		}
		if !rsvd {
			continue
		}
		if err := writeFile(dir, prefix+".rsvd"+suffix, v); err != nil {
			if !errors.Is(err, unix.ENOENT) {
				return err
			}
			rsvd = false
		}
	}
	return nil
}
