package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// v2Manager drives one cgroup of a cgroup2 hierarchy mounted at root.
// rootDir is the cgroup2 mountpoint, looked up on first use for a Load-ed
// manager.
func (m *v2Manager) rootDir() string {
	if m.lazyRoot {
		m.root, m.lazyRoot = unifiedRootFor(m.dir), false
	}
	return m.root
}

type v2Manager struct {
	root string // mountpoint; "" when unknown (a Load-ed dir outside our mounts)
	dir  string
	// lazyRoot: root is found from mountinfo on first use (Load: most
	// commands on an existing container never need it).
	lazyRoot bool
	// setDevices applies a device policy; nil means setDevicesV2 (eBPF).
	// Tests of fake trees, which are no cgroup2 mounts, replace it.
	setDevices func(dir string, p *devicePolicy) error
}

// Apply creates the directory, enables in every ancestor the controllers
// the hierarchy offers (like runc, so later Set and stats find their files;
// refusals are left for Set to report per field) and moves pid in.
func (m *v2Manager) Apply(pid int) error {
	if pid == 0 {
		return errPidZero
	}
	if err := mkdirCgroup(m.dir); err != nil {
		return fmt.Errorf("create cgroup: %w", err)
	}
	if root := m.rootDir(); root != "" {
		if avail, err := readFile(root, "cgroup.controllers"); err == nil {
			_ = enableControllers(root, m.dir, strings.Fields(avail))
		}
	}
	if pid >= 0 {
		if err := writeProcs(m.dir, pid); err != nil {
			return fmt.Errorf("join cgroup: %w", err)
		}
	}
	return nil
}

// needV2 makes sure each controller in want is available in dir, enabling
// it in the ancestors first; the error names the controller and the file.
func needV2(root, dir string, want []string) error {
	if root != "" {
		if err := enableControllers(root, dir, want); err != nil {
			return fmt.Errorf("enable controllers %v for %s: %w", want, dir, err)
		}
	}
	have, err := readFile(dir, "cgroup.controllers")
	if err != nil {
		return err
	}
	for _, c := range want {
		if !hasWord(have, c) {
			return fmt.Errorf("the %s controller is not available in %s (cgroup.controllers: %q)", c, dir, have)
		}
	}
	return nil
}

// Set applies r. Values no host could apply and fields v2 lacks are
// refused before anything is written, and so are files the cgroup lacks
// once the needed controllers are enabled (preflight).
func (m *v2Manager) Set(r *specs.LinuxResources) error {
	if r == nil {
		return nil
	}
	if err := checkSupported(r, true); err != nil {
		return err
	}
	if err := needV2(m.rootDir(), m.dir, neededV2(r)); err != nil {
		return fmt.Errorf("linux.resources: %w", err)
	}
	if err := preflightV2(m.dir, r); err != nil {
		return err
	}
	dir := m.dir
	if c := r.CPU; c != nil {
		if err := setCpuset(dir, c); err != nil {
			return err
		}
	}
	if mem := r.Memory; mem != nil {
		if err := setMemoryV2(dir, mem); err != nil {
			return err
		}
	}
	if cpuSet(r.CPU) {
		if err := setCPUV2(dir, r.CPU); err != nil {
			return err
		}
	}
	if r.Pids != nil && r.Pids.Limit != nil {
		if err := set("pids.limit", dir, "pids.max", PidsMax(*r.Pids.Limit)); err != nil {
			return err
		}
	}
	if blockIOSet(r.BlockIO) {
		if err := setIO(dir, r.BlockIO); err != nil {
			return err
		}
	}
	if len(r.HugepageLimits) > 0 {
		if err := writeHugetlb(dir, r.HugepageLimits, ".max"); err != nil {
			return err
		}
	}
	for _, dev := range sortedKeysOf(r.Rdma) {
		if err := set("rdma."+dev, dir, "rdma.max", RdmaMax(dev, r.Rdma[dev])); err != nil {
			return err
		}
	}
	if len(r.Devices) > 0 {
		p, err := compileDevices(r.Devices)
		if err != nil {
			return err
		}
		apply := m.setDevices
		if apply == nil {
			apply = setDevicesV2
		}
		if err := apply(dir, p); err != nil {
			return fmt.Errorf("linux.resources.devices: %w", err)
		}
	}
	// Last, as in runc: a unified value overrides what the fields above
	// wrote to the same file.
	for _, k := range sortedKeysOf(r.Unified) {
		if err := set(fmt.Sprintf("unified[%q]", k), dir, k, r.Unified[k]); err != nil {
			return err
		}
	}
	return nil
}

// preflightV2 checks the files r needs beyond its controllers (those
// needV2 has checked): a kernel may lack a knob its controller has.
func preflightV2(dir string, r *specs.LinuxResources) error {
	var errs []error
	need := func(field, files string) {
		if firstExisting(dir, files) == "" {
			errs = append(errs, fmt.Errorf("linux.resources.%s: this kernel has no %s in %s", field, strings.ReplaceAll(files, "|", " or "), dir))
		}
	}
	if c := r.CPU; c != nil {
		if c.Burst != nil {
			need(fmt.Sprintf("cpu.burst=%d", *c.Burst), "cpu.max.burst")
		}
		if c.Idle != nil {
			need(fmt.Sprintf("cpu.idle=%d", *c.Idle), "cpu.idle")
		}
	}
	if m := r.Memory; m != nil && m.Swap != nil && *m.Swap != 0 {
		need(fmt.Sprintf("memory.swap=%d (the kernel does not account swap)", *m.Swap), "memory.swap.max")
	}
	if b := r.BlockIO; blockIOSet(b) {
		if b.Weight != nil && *b.Weight != 0 {
			need(fmt.Sprintf("blockIO.weight=%d", *b.Weight), "io.bfq.weight|io.weight")
		}
		for i, d := range b.WeightDevice {
			if d.Weight != nil && *d.Weight != 0 {
				need(fmt.Sprintf("blockIO.weightDevice[%d].weight=%d", i, *d.Weight), "io.bfq.weight|io.weight")
			}
		}
		if len(IOMax(b)) > 0 {
			need("blockIO.throttle*", "io.max")
		}
	}
	if len(r.HugepageLimits) > 0 {
		errs = append(errs, checkHugetlbFiles(dir, r.HugepageLimits, ".max"))
	}
	if len(r.Rdma) > 0 {
		need("rdma", "rdma.max")
	}
	for _, k := range sortedKeysOf(r.Unified) {
		need(fmt.Sprintf("unified[%q]=%q", k, r.Unified[k]), k)
	}
	return errors.Join(errs...)
}

// setCPUV2 writes cpu.idle, cpu.weight, cpu.max and cpu.max.burst.
func setCPUV2(dir string, c *specs.LinuxCPU) error {
	// The kernel refuses a weight for an idle group (EINVAL): leaving idle
	// goes before the weight, entering it after.
	if c.Idle != nil && *c.Idle == 0 {
		if err := set("cpu.idle", dir, "cpu.idle", "0"); err != nil {
			return err
		}
	}
	if c.Shares != nil && *c.Shares != 0 {
		if err := set(fmt.Sprintf("cpu.shares=%d", *c.Shares), dir, "cpu.weight", strconv.FormatUint(SharesToWeight(*c.Shares), 10)); err != nil {
			return err
		}
	}
	var burst string
	if c.Burst != nil {
		burst = strconv.FormatUint(*c.Burst, 10)
	}
	max, _ := CPUMax(c.Quota, c.Period)
	if err := setOrdered(dir,
		fileWrite{"cpu.burst", "cpu.max.burst", burst},
		fileWrite{"cpu.quota/period", "cpu.max", max}); err != nil {
		return err
	}
	if c.Idle != nil && *c.Idle != 0 {
		return set("cpu.idle", dir, "cpu.idle", strconv.FormatInt(*c.Idle, 10))
	}
	return nil
}

// setIO writes the blockIO weights and throttle limits: BFQ's io.bfq.weight
// takes the blkio range as is; io.weight (blk-iocost) gets the converted
// value.
func setIO(dir string, b *specs.LinuxBlockIO) error {
	bfq := exists(filepath.Join(dir, "io.bfq.weight"))
	weight := func(w uint16) (string, string) {
		if bfq {
			return "io.bfq.weight", strconv.FormatUint(uint64(w), 10)
		}
		return "io.weight", strconv.FormatUint(BlkioWeightToIOWeight(w), 10)
	}
	if b.Weight != nil && *b.Weight != 0 {
		file, v := weight(*b.Weight)
		if err := set(fmt.Sprintf("blockIO.weight=%d", *b.Weight), dir, file, v); err != nil {
			return err
		}
	}
	for i, d := range b.WeightDevice {
		if d.Weight != nil && *d.Weight != 0 {
			file, v := weight(*d.Weight)
			if err := set(fmt.Sprintf("blockIO.weightDevice[%d].weight=%d", i, *d.Weight), dir, file, devString(d.LinuxBlockIODevice)+" "+v); err != nil {
				return err
			}
		}
	}
	for _, line := range IOMax(b) {
		if err := set("blockIO.throttle*", dir, "io.max", line); err != nil {
			return err
		}
	}
	return nil
}

func setMemoryV2(dir string, m *specs.LinuxMemory) error {
	limit := deref(m.Limit)
	swap, err := SwapV2(limit, deref(m.Swap))
	if err != nil {
		return err
	}
	if m.CheckBeforeUpdate != nil && *m.CheckBeforeUpdate && limit > 0 {
		if err := checkUsage(dir, "memory.current", limit); err != nil {
			return err
		}
	}
	if swap != "" {
		if err := set("memory.swap", dir, "memory.swap.max", swap); err != nil {
			// The implied "max" for an unlimited limit is optional: the
			// kernel may not account swap at all.
			if !(errors.Is(err, unix.ENOENT) && m.Swap == nil) {
				return err
			}
		}
	}
	if limit != 0 {
		if err := set("memory.limit", dir, "memory.max", limitV2(limit)); err != nil {
			return err
		}
	}
	if m.Reservation != nil && *m.Reservation != 0 {
		if err := set("memory.reservation", dir, "memory.low", limitV2(*m.Reservation)); err != nil {
			return err
		}
	}
	return nil
}

func (m *v2Manager) Destroy() error { return removeCgroups([]string{m.dir}) }

func (m *v2Manager) Remove() error { return removeTree(m.dir) }

func (m *v2Manager) Path(string) string { return m.dir }

func (m *v2Manager) Paths() map[string]string { return map[string]string{UnifiedKey: m.dir} }

func (m *v2Manager) GetPids() ([]int, error) {
	set := make(map[int]struct{})
	if err := pidsIn(m.dir, set); err != nil {
		return nil, err
	}
	return sortedPids(set), nil
}

func (m *v2Manager) Exists() bool { return exists(m.dir) }

// Freeze writes cgroup.freeze and waits until cgroup.events reports
// "frozen 1": the write only starts freezing.
func (m *v2Manager) Freeze() error {
	if err := writeFile(m.dir, "cgroup.freeze", "1"); err != nil {
		return fmt.Errorf("freeze: %w", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		frozen, err := m.Frozen()
		if err != nil {
			return fmt.Errorf("freeze: %w", err)
		}
		if frozen {
			return nil
		}
		if time.Now().After(deadline) {
			_ = writeFile(m.dir, "cgroup.freeze", "0")
			return fmt.Errorf("freeze %s: not frozen after 5s; thawed again", m.dir)
		}
		time.Sleep(time.Millisecond)
	}
}

func (m *v2Manager) Thaw() error {
	if err := writeFile(m.dir, "cgroup.freeze", "0"); err != nil {
		return fmt.Errorf("thaw: %w", err)
	}
	return nil
}

func (m *v2Manager) Frozen() (bool, error) {
	ev, err := readFile(m.dir, "cgroup.events")
	if errors.Is(err, os.ErrNotExist) && !exists(m.dir) {
		return false, nil // no cgroup, nothing frozen (a stopped container)
	}
	if err != nil {
		return false, err
	}
	for _, line := range strings.Split(ev, "\n") {
		if k, v, ok := strings.Cut(line, " "); ok && k == "frozen" {
			return v == "1", nil
		}
	}
	return false, fmt.Errorf("no frozen key in %s", filepath.Join(m.dir, "cgroup.events"))
}
