package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Set applies r on a v1 (or hybrid) host. Values no host could apply and
// fields v1 lacks are refused before anything is written, and so are
// fields whose controller is not mounted or whose file this kernel lacks
// (preflightV1). The order of writes follows runc, so that Set also works
// on a live cgroup for `update`.
func (m *v1Manager) Set(r *specs.LinuxResources) error {
	if r == nil {
		return nil
	}
	if err := checkSupported(r, false); err != nil {
		return err
	}
	if err := m.preflight(r); err != nil {
		return err
	}
	if c := r.CPU; c != nil && (c.Cpus != "" || c.Mems != "") {
		if err := setCpuset(m.paths["cpuset"], c); err != nil {
			return err
		}
	}
	if mem := r.Memory; mem != nil && memorySet(mem) {
		if err := setMemoryV1(m.paths["memory"], mem); err != nil {
			return err
		}
	}
	if cpuSet(r.CPU) {
		if err := setCPUV1(m.paths["cpu"], r.CPU); err != nil {
			return err
		}
	}
	if r.Pids != nil && r.Pids.Limit != nil {
		if err := set("pids.limit", m.paths["pids"], "pids.max", PidsMax(*r.Pids.Limit)); err != nil {
			return err
		}
	}
	if blockIOSet(r.BlockIO) {
		if err := setBlkioV1(m.paths["blkio"], r.BlockIO); err != nil {
			return err
		}
	}
	if len(r.HugepageLimits) > 0 {
		if err := m.setHugetlb(r.HugepageLimits); err != nil {
			return err
		}
	}
	if n := r.Network; n != nil {
		if n.ClassID != nil {
			if err := set("network.classID", m.paths["net_cls"], "net_cls.classid", strconv.FormatUint(uint64(*n.ClassID), 10)); err != nil {
				return err
			}
		}
		for i, p := range n.Priorities {
			// One "ifname prio" per write: the kernel parses one pair.
			if err := set(fmt.Sprintf("network.priorities[%d]", i), m.paths["net_prio"], "net_prio.ifpriomap", p.Name+" "+strconv.FormatUint(uint64(p.Priority), 10)); err != nil {
				return err
			}
		}
	}
	for _, dev := range sortedKeysOf(r.Rdma) {
		if err := set("rdma."+dev, m.paths["rdma"], "rdma.max", RdmaMax(dev, r.Rdma[dev])); err != nil {
			return err
		}
	}
	if len(r.Devices) > 0 {
		p, err := compileDevices(r.Devices)
		if err != nil {
			return err
		}
		if err := setDevicesV1(m.paths["devices"], p, r.Devices); err != nil {
			return fmt.Errorf("linux.resources.devices: %w", err)
		}
	}
	return nil
}

// preflight checks that every controller and file r needs is there, so a
// request this host cannot apply writes nothing. On a hybrid host it
// enables hugetlb in the cgroup2 parents when hugepage limits go there.
func (m *v1Manager) preflight(r *specs.LinuxResources) error {
	var errs []error
	need := func(controller, field string, files ...string) {
		if err := m.needFiles(controller, field, files...); err != nil {
			errs = append(errs, err)
		}
	}
	if c := r.CPU; c != nil {
		if c.Cpus != "" || c.Mems != "" {
			need("cpuset", "cpu.cpus/mems")
		}
		if cpuSet(c) {
			need("cpu", "cpu")
		}
		if c.Burst != nil {
			need("cpu", fmt.Sprintf("cpu.burst=%d", *c.Burst), "cpu.cfs_burst_us")
		}
		if c.Idle != nil {
			need("cpu", fmt.Sprintf("cpu.idle=%d", *c.Idle), "cpu.idle")
		}
		if (c.RealtimeRuntime != nil && *c.RealtimeRuntime != 0) || (c.RealtimePeriod != nil && *c.RealtimePeriod != 0) {
			need("cpu", "cpu.realtimeRuntime/realtimePeriod (kernel without CONFIG_RT_GROUP_SCHED?)", "cpu.rt_runtime_us", "cpu.rt_period_us")
		}
	}
	if mem := r.Memory; mem != nil && memorySet(mem) {
		need("memory", "memory")
		if swap := deref(mem.Swap); swap != 0 {
			need("memory", fmt.Sprintf("memory.swap=%d (the kernel does not account swap; boot with swapaccount=1)", swap), "memory.memsw.limit_in_bytes")
		}
		if mem.KernelTCP != nil && *mem.KernelTCP != 0 {
			need("memory", fmt.Sprintf("memory.kernelTCP=%d", *mem.KernelTCP), "memory.kmem.tcp.limit_in_bytes")
		}
	}
	if r.Pids != nil && r.Pids.Limit != nil {
		need("pids", "pids")
	}
	if b := r.BlockIO; blockIOSet(b) {
		need("blkio", "blockIO")
		if b.Weight != nil && *b.Weight != 0 {
			need("blkio", fmt.Sprintf("blockIO.weight=%d (needs the CFQ or BFQ I/O scheduler)", *b.Weight), "blkio.weight|blkio.bfq.weight")
		}
		if b.LeafWeight != nil && *b.LeafWeight != 0 {
			need("blkio", fmt.Sprintf("blockIO.leafWeight=%d (needs the CFQ I/O scheduler)", *b.LeafWeight), "blkio.leaf_weight")
		}
		for i, d := range b.WeightDevice {
			if d.Weight != nil && *d.Weight != 0 {
				need("blkio", fmt.Sprintf("blockIO.weightDevice[%d].weight=%d (needs the CFQ or BFQ I/O scheduler)", i, *d.Weight), "blkio.weight_device|blkio.bfq.weight_device")
			}
			if d.LeafWeight != nil && *d.LeafWeight != 0 {
				need("blkio", fmt.Sprintf("blockIO.weightDevice[%d].leafWeight=%d (needs the CFQ I/O scheduler)", i, *d.LeafWeight), "blkio.leaf_weight_device")
			}
		}
		for _, t := range throttleFields(b) {
			if len(t.devs) > 0 {
				need("blkio", "blockIO."+t.field, t.v1File)
			}
		}
	}
	if len(r.HugepageLimits) > 0 {
		var err error
		if _, ok := m.paths["hugetlb"]; !ok {
			if dir, ok := m.paths[UnifiedKey]; !ok {
				err = errors.New("linux.resources.hugepageLimits: the hugetlb cgroup controller is not mounted")
			} else if err = needV2(m.unifiedRootDir(), dir, []string{"hugetlb"}); err != nil {
				err = fmt.Errorf("linux.resources.hugepageLimits: %w", err)
			}
		}
		if err == nil {
			dir, suffix := m.hugetlbDir()
			err = checkHugetlbFiles(dir, r.HugepageLimits, suffix)
		}
		errs = append(errs, err)
	}
	if n := r.Network; n != nil {
		if n.ClassID != nil {
			need("net_cls", fmt.Sprintf("network.classID=%d", *n.ClassID), "net_cls.classid")
		}
		if len(n.Priorities) > 0 {
			need("net_prio", "network.priorities", "net_prio.ifpriomap")
		}
	}
	if len(r.Rdma) > 0 {
		need("rdma", "rdma", "rdma.max")
	}
	if len(r.Devices) > 0 {
		need("devices", "devices", "devices.allow", "devices.deny", "devices.list")
	}
	return errors.Join(errs...)
}

// needFiles checks that controller is mounted and that each file exists in
// its directory; "a|b" accepts either. The error names the field (with its
// value), the missing file and the directory.
func (m *v1Manager) needFiles(controller, field string, files ...string) error {
	dir, ok := m.paths[controller]
	if !ok {
		return fmt.Errorf("linux.resources.%s: the %s cgroup controller is not mounted", field, controller)
	}
	for _, f := range files {
		if firstExisting(dir, f) == "" {
			return fmt.Errorf("linux.resources.%s: this kernel has no %s in %s", field, strings.ReplaceAll(f, "|", " or "), dir)
		}
	}
	return nil
}

func memorySet(m *specs.LinuxMemory) bool {
	return m.Limit != nil || m.Reservation != nil || m.Swap != nil || m.Swappiness != nil ||
		m.KernelTCP != nil || m.Kernel != nil || m.DisableOOMKiller != nil
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
	if m.CheckBeforeUpdate != nil && *m.CheckBeforeUpdate && limit > 0 {
		if err := checkUsage(dir, "memory.usage_in_bytes", limit); err != nil {
			return err
		}
	}
	setLimit := func() error {
		if limit == 0 {
			return nil
		}
		err := set("memory.limit", dir, "memory.limit_in_bytes", strconv.FormatInt(limit, 10))
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
		return set("memory.swap", dir, memsw, strconv.FormatInt(swap, 10))
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
		if err := set("memory.reservation", dir, "memory.soft_limit_in_bytes", strconv.FormatInt(*m.Reservation, 10)); err != nil {
			return err
		}
	}
	if m.Swappiness != nil {
		if err := set("memory.swappiness", dir, "memory.swappiness", strconv.FormatUint(*m.Swappiness, 10)); err != nil {
			return err
		}
	}
	if m.DisableOOMKiller != nil {
		// false is written too, so that `update` can turn it back on.
		v := "0"
		if *m.DisableOOMKiller {
			v = "1"
		}
		if err := set("memory.disableOOMKiller", dir, "memory.oom_control", v); err != nil {
			return err
		}
	}
	// memory.kernel is deprecated: the kernel accepts and ignores
	// memory.kmem.limit_in_bytes since 5.x and may drop the file; where it
	// is gone there is nothing to write (the spec allows ignoring it).
	if m.Kernel != nil && *m.Kernel != 0 {
		const kmem = "memory.kmem.limit_in_bytes"
		if exists(filepath.Join(dir, kmem)) {
			if err := set("memory.kernel", dir, kmem, strconv.FormatInt(*m.Kernel, 10)); err != nil {
				return err
			}
		}
	}
	// As runc: 0 means unset.
	if m.KernelTCP != nil && *m.KernelTCP != 0 {
		if err := set("memory.kernelTCP", dir, "memory.kmem.tcp.limit_in_bytes", strconv.FormatInt(*m.KernelTCP, 10)); err != nil {
			return err
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

// setCPUV1 writes cpu.shares (checked: the kernel clamps silently), the
// CFS quota/period/burst, the realtime budget and cpu.idle.
func setCPUV1(dir string, c *specs.LinuxCPU) error {
	// The kernel refuses a weight for an idle group (EINVAL): leaving idle
	// goes before the weight, entering it after.
	idle := func() error {
		if c.Idle == nil {
			return nil
		}
		return set("cpu.idle", dir, "cpu.idle", strconv.FormatInt(*c.Idle, 10))
	}
	if c.Idle != nil && *c.Idle == 0 {
		if err := idle(); err != nil {
			return err
		}
	}
	if c.Shares != nil && *c.Shares != 0 {
		want := strconv.FormatUint(*c.Shares, 10)
		if err := set("cpu.shares", dir, "cpu.shares", want); err != nil {
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
	var period, quota, burst string
	if c.Period != nil && *c.Period != 0 {
		period = strconv.FormatUint(*c.Period, 10)
	}
	if c.Quota != nil && *c.Quota != 0 {
		quota = strconv.FormatInt(*c.Quota, 10)
	}
	if c.Burst != nil {
		burst = strconv.FormatUint(*c.Burst, 10)
	}
	// The burst must fit under the quota: a lower burst goes before a
	// lower quota; a higher one is retried after a higher quota.
	if err := setOrdered(dir,
		fileWrite{"cpu.burst", "cpu.cfs_burst_us", burst},
		fileWrite{"cpu.period", "cpu.cfs_period_us", period},
		fileWrite{"cpu.quota", "cpu.cfs_quota_us", quota}); err != nil {
		return err
	}
	var rtPeriod, rtRuntime string
	if c.RealtimePeriod != nil && *c.RealtimePeriod != 0 {
		rtPeriod = strconv.FormatUint(*c.RealtimePeriod, 10)
	}
	if c.RealtimeRuntime != nil && *c.RealtimeRuntime != 0 {
		rtRuntime = strconv.FormatInt(*c.RealtimeRuntime, 10)
	}
	if err := setOrdered(dir,
		fileWrite{"cpu.realtimePeriod", "cpu.rt_period_us", rtPeriod},
		fileWrite{"cpu.realtimeRuntime", "cpu.rt_runtime_us", rtRuntime}); err != nil {
		return err
	}
	if c.Idle != nil && *c.Idle != 0 {
		return idle()
	}
	return nil
}

func setCpuset(dir string, c *specs.LinuxCPU) error {
	if c.Cpus != "" {
		if err := set("cpu.cpus", dir, "cpuset.cpus", c.Cpus); err != nil {
			return err
		}
	}
	if c.Mems != "" {
		if err := set("cpu.mems", dir, "cpuset.mems", c.Mems); err != nil {
			return err
		}
	}
	return nil
}

// setBlkioV1 writes the blkio weights (CFQ's blkio.weight or BFQ's
// blkio.bfq.weight, whichever the kernel has) and throttle limits.
func setBlkioV1(dir string, b *specs.LinuxBlockIO) error {
	if b.Weight != nil && *b.Weight != 0 {
		f := firstExisting(dir, "blkio.weight|blkio.bfq.weight")
		if err := set("blockIO.weight", dir, f, strconv.FormatUint(uint64(*b.Weight), 10)); err != nil {
			return err
		}
	}
	if b.LeafWeight != nil && *b.LeafWeight != 0 {
		if err := set("blockIO.leafWeight", dir, "blkio.leaf_weight", strconv.FormatUint(uint64(*b.LeafWeight), 10)); err != nil {
			return err
		}
	}
	for i, d := range b.WeightDevice {
		dev := devString(d.LinuxBlockIODevice)
		if d.Weight != nil && *d.Weight != 0 {
			f := firstExisting(dir, "blkio.weight_device|blkio.bfq.weight_device")
			if err := set(fmt.Sprintf("blockIO.weightDevice[%d].weight", i), dir, f, dev+" "+strconv.FormatUint(uint64(*d.Weight), 10)); err != nil {
				return err
			}
		}
		if d.LeafWeight != nil && *d.LeafWeight != 0 {
			if err := set(fmt.Sprintf("blockIO.weightDevice[%d].leafWeight", i), dir, "blkio.leaf_weight_device", dev+" "+strconv.FormatUint(uint64(*d.LeafWeight), 10)); err != nil {
				return err
			}
		}
	}
	for _, t := range throttleFields(b) {
		for i, d := range t.devs {
			if err := set(fmt.Sprintf("blockIO.%s[%d]", t.field, i), dir, t.v1File, ThrottleV1(d)); err != nil {
				return err
			}
		}
	}
	return nil
}

// hugetlbDir returns where hugepage limits go: the v1 hugetlb hierarchy, or
// on hybrid hosts the cgroup2 one, where hugetlb is often the only
// controller; and the limit files' suffix there.
func (m *v1Manager) hugetlbDir() (string, string) {
	if dir, ok := m.paths["hugetlb"]; ok {
		return dir, ".limit_in_bytes"
	}
	return m.paths[UnifiedKey], ".max"
}

func (m *v1Manager) setHugetlb(limits []specs.LinuxHugepageLimit) error {
	dir, suffix := m.hugetlbDir()
	return writeHugetlb(dir, limits, suffix)
}

// checkHugetlbFiles refuses a page size the kernel has no limit file for.
func checkHugetlbFiles(dir string, limits []specs.LinuxHugepageLimit, suffix string) error {
	for _, h := range limits {
		f := "hugetlb." + h.Pagesize + suffix
		if !exists(filepath.Join(dir, f)) {
			return fmt.Errorf("linux.resources.hugepageLimits: page size %s not supported by this kernel (no %s in %s)", h.Pagesize, f, dir)
		}
	}
	return nil
}

// writeHugetlb writes hugetlb.<size><suffix> and, where the kernel has
// reservation accounting, hugetlb.<size>.rsvd<suffix> with the same value
// (the spec's limit covers reservations when supported).
func writeHugetlb(dir string, limits []specs.LinuxHugepageLimit, suffix string) error {
	for _, h := range limits {
		prefix := "hugetlb." + h.Pagesize
		v := strconv.FormatUint(h.Limit, 10)
		field := "hugepageLimits[" + h.Pagesize + "]"
		if err := set(field, dir, prefix+suffix, v); err != nil {
			if errors.Is(err, unix.ENOENT) {
				return fmt.Errorf("linux.resources.hugepageLimits: page size %s not supported by this kernel: %w", h.Pagesize, err)
			}
			return err
		}
		if rsvd := prefix + ".rsvd" + suffix; exists(filepath.Join(dir, rsvd)) {
			if err := set(field, dir, rsvd, v); err != nil {
				return err
			}
		}
	}
	return nil
}
