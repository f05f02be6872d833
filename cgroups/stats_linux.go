package cgroups

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The readers below treat a missing file as zero: a controller that is not
// mounted or enabled has nothing to report. A file that is there but does
// not parse is an error.

// statUint reads a one-number file; "max" is 2^64-1. Missing: 0.
func statUint(dir, file string) (uint64, error) {
	v, err := readUint(dir, file)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	return v, err
}

// keyValues parses a flat keyed file ("key value" lines: memory.stat,
// cpu.stat, memory.events, cpuacct.stat). Missing: nil.
func keyValues(dir, file string) (map[string]uint64, error) {
	s, err := readFile(dir, file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return parseKeyValues(s, filepath.Join(dir, file))
}

func parseKeyValues(s, name string) (map[string]uint64, error) {
	out := map[string]uint64{}
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) != 2 {
			return nil, fmt.Errorf("parse %s: malformed line %q", name, line)
		}
		v, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil {
			// Signed counters exist (e.g. sched_relax_domain_level);
			// negative values carry no usage information here.
			if _, serr := strconv.ParseInt(f[1], 10, 64); serr == nil {
				continue
			}
			return nil, fmt.Errorf("parse %s: %w", name, err)
		}
		out[f[0]] = v
	}
	return out, nil
}

// userHZ is the unit of cpuacct.stat (USER_HZ, 100 on every Linux ABI).
const userHZ = 100

func statsCPUacctV1(dir string, c *CPUStats) error {
	var err error
	if c.Usage.Total, err = statUint(dir, "cpuacct.usage"); err != nil {
		return err
	}
	if s, err := readFile(dir, "cpuacct.usage_percpu"); err == nil {
		for _, f := range strings.Fields(s) {
			v, err := strconv.ParseUint(f, 10, 64)
			if err != nil {
				return fmt.Errorf("parse %s/cpuacct.usage_percpu: %w", dir, err)
			}
			c.Usage.Percpu = append(c.Usage.Percpu, v)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	kv, err := keyValues(dir, "cpuacct.stat")
	if err != nil {
		return err
	}
	c.Usage.User = kv["user"] * (1e9 / userHZ)
	c.Usage.Kernel = kv["system"] * (1e9 / userHZ)
	return nil
}

func statsThrottling(dir string, t *Throttling, v2 bool) error {
	kv, err := keyValues(dir, "cpu.stat")
	if err != nil {
		return err
	}
	t.Periods, t.ThrottledPeriods = kv["nr_periods"], kv["nr_throttled"]
	if v2 {
		t.ThrottledTime = kv["throttled_usec"] * 1000
	} else {
		t.ThrottledTime = kv["throttled_time"]
	}
	return nil
}

func statsCPUV2(dir string, c *CPUStats) error {
	kv, err := keyValues(dir, "cpu.stat")
	if err != nil {
		return err
	}
	c.Usage.Total = kv["usage_usec"] * 1000
	c.Usage.User = kv["user_usec"] * 1000
	c.Usage.Kernel = kv["system_usec"] * 1000
	return statsThrottling(dir, &c.Throttling, true)
}

func statsMemoryV1(dir string, m *MemoryStats) error {
	raw, err := keyValues(dir, "memory.stat")
	if err != nil {
		return err
	}
	m.Raw = raw
	m.Cache = raw["cache"]
	var errs []error
	entry := func(prefix string, e *MemoryEntry) {
		for _, f := range []struct {
			name string
			dst  *uint64
		}{{"usage_in_bytes", &e.Usage}, {"max_usage_in_bytes", &e.Max}, {"limit_in_bytes", &e.Limit}, {"failcnt", &e.Failcnt}} {
			v, err := statUint(dir, prefix+f.name)
			errs = append(errs, err)
			*f.dst = v
		}
	}
	entry("memory.", &m.Usage)
	entry("memory.memsw.", &m.Swap)
	entry("memory.kmem.", &m.Kernel)
	entry("memory.kmem.tcp.", &m.KernelTCP)
	return errors.Join(errs...)
}

func statsMemoryV2(dir string, m *MemoryStats) error {
	raw, err := keyValues(dir, "memory.stat")
	if err != nil || raw == nil {
		return err // no memory controller here: nothing to report
	}
	m.Raw = raw
	m.Cache = raw["file"]
	var errs []error
	read := func(file string) uint64 {
		v, err := statUint(dir, file)
		errs = append(errs, err)
		return v
	}
	m.Usage = MemoryEntry{Usage: read("memory.current"), Max: read("memory.peak"), Limit: read("memory.max")}
	ev, err := keyValues(dir, "memory.events")
	errs = append(errs, err)
	m.Usage.Failcnt = ev["max"]
	// v1 compatibility, as runc: swap is reported as memory+swap; the
	// peak of the sum is not known.
	m.Swap.Usage = m.Usage.Usage + read("memory.swap.current")
	m.Swap.Limit = read("memory.swap.max")
	if m.Swap.Limit != math.MaxUint64 {
		m.Swap.Limit = satAdd(m.Swap.Limit, m.Usage.Limit)
	}
	sev, err := keyValues(dir, "memory.swap.events")
	errs = append(errs, err)
	m.Swap.Failcnt = sev["max"]
	return errors.Join(errs...)
}

func satAdd(a, b uint64) uint64 {
	if a > math.MaxUint64-b {
		return math.MaxUint64
	}
	return a + b
}

func statsPids(dir string, p *PidsStats) error {
	var err1, err2 error
	p.Current, err1 = statUint(dir, "pids.current")
	p.Limit, err2 = statUint(dir, "pids.max")
	if p.Limit == math.MaxUint64 {
		p.Limit = 0 // "max": no limit, as runc reports it
	}
	return errors.Join(err1, err2)
}

// parseBlkioV1 parses a v1 blkio stats file ("8:0 Read 4096" lines and a
// final "Total 4096", which is skipped).
func parseBlkioV1(s, name string) ([]BlkioEntry, error) {
	var out []BlkioEntry
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		maj, min, ok := strings.Cut(f[0], ":")
		e := BlkioEntry{Op: f[1]}
		var err1, err2, err3 error
		e.Major, err1 = strconv.ParseUint(maj, 10, 64)
		e.Minor, err2 = strconv.ParseUint(min, 10, 64)
		e.Value, err3 = strconv.ParseUint(f[2], 10, 64)
		if err := errors.Join(err1, err2, err3); !ok || err != nil {
			return nil, fmt.Errorf("parse %s: malformed line %q", name, line)
		}
		out = append(out, e)
	}
	return out, nil
}

// statsBlkioV1 reads the blkio counters. The throttle files count every
// request on every kernel since the accounting moved into blk-cgroup; the
// CFQ and BFQ ones only count devices run by that scheduler, so the first
// non-empty of throttle, CFQ, BFQ is used.
func statsBlkioV1(dir string, b *BlkioStats) error {
	for _, prefix := range []string{"blkio.throttle.", "blkio.", "blkio.bfq."} {
		bytes, err := readBlkioV1(dir, prefix+"io_service_bytes_recursive")
		if err != nil {
			return err
		}
		ops, err := readBlkioV1(dir, prefix+"io_serviced_recursive")
		if err != nil {
			return err
		}
		if len(bytes) > 0 || len(ops) > 0 {
			b.IoServiceBytesRecursive, b.IoServicedRecursive = bytes, ops
			return nil
		}
	}
	return nil
}

func readBlkioV1(dir, file string) ([]BlkioEntry, error) {
	s, err := readFile(dir, file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return parseBlkioV1(s, filepath.Join(dir, file))
}

// parseIOStat parses v2 io.stat ("8:0 rbytes=1 wbytes=2 rios=3 wios=4
// dbytes=5 dios=6") into runc's v1-shaped entries.
func parseIOStat(s, name string) (BlkioStats, error) {
	var b BlkioStats
	ops := map[string]struct {
		bytes bool
		op    string
	}{
		"rbytes": {true, "Read"}, "wbytes": {true, "Write"}, "dbytes": {true, "Discard"},
		"rios": {false, "Read"}, "wios": {false, "Write"}, "dios": {false, "Discard"},
	}
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		maj, min, ok := strings.Cut(f[0], ":")
		major, err1 := strconv.ParseUint(maj, 10, 64)
		minor, err2 := strconv.ParseUint(min, 10, 64)
		if !ok || err1 != nil || err2 != nil {
			return b, fmt.Errorf("parse %s: malformed line %q", name, line)
		}
		for _, kv := range f[1:] {
			k, v, ok := strings.Cut(kv, "=")
			o, known := ops[k]
			if !ok || !known {
				continue // cost.*, rwait etc. from io.cost or io.latency
			}
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return b, fmt.Errorf("parse %s: %q: %w", name, kv, err)
			}
			e := BlkioEntry{Major: major, Minor: minor, Op: o.op, Value: n}
			if o.bytes {
				b.IoServiceBytesRecursive = append(b.IoServiceBytesRecursive, e)
			} else {
				b.IoServicedRecursive = append(b.IoServicedRecursive, e)
			}
		}
	}
	return b, nil
}

func statsIOV2(dir string, b *BlkioStats) error {
	s, err := readFile(dir, "io.stat")
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	*b, err = parseIOStat(s, filepath.Join(dir, "io.stat"))
	return err
}

// hugePageSizes lists the huge page sizes of this kernel as the cgroup
// files name them ("2MB", "1GB").
func hugePageSizes() ([]string, error) {
	entries, err := os.ReadDir("/sys/kernel/mm/hugepages")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		s, ok := pageSizeName(e.Name())
		if ok {
			out = append(out, s)
		}
	}
	return out, nil
}

// pageSizeName turns "hugepages-2048kB" into "2MB".
func pageSizeName(dirName string) (string, bool) {
	kb, ok := strings.CutPrefix(dirName, "hugepages-")
	if !ok {
		return "", false
	}
	kb, ok = strings.CutSuffix(kb, "kB")
	if !ok {
		return "", false
	}
	n, err := strconv.ParseUint(kb, 10, 64)
	if err != nil || n == 0 {
		return "", false
	}
	for _, u := range []string{"KB", "MB", "GB", "TB"} {
		if n%1024 != 0 || u == "TB" {
			return strconv.FormatUint(n, 10) + u, true
		}
		n /= 1024
	}
	return "", false
}

// statsHugetlb reads each page size's usage: v1 files when suffix style is
// v1, the cgroup2 ones (hugetlb.2MB.current, .events) otherwise.
func statsHugetlb(dir string, v2 bool, out map[string]HugetlbStat) error {
	sizes, err := hugePageSizes()
	if err != nil {
		return err
	}
	var errs []error
	for _, ps := range sizes {
		var s HugetlbStat
		p := "hugetlb." + ps + "."
		if v2 {
			if !exists(filepath.Join(dir, p+"current")) {
				continue
			}
			s.Usage, err = statUint(dir, p+"current")
			errs = append(errs, err)
			ev, err := keyValues(dir, p+"events")
			errs = append(errs, err)
			s.Failcnt = ev["max"]
		} else {
			if !exists(filepath.Join(dir, p+"usage_in_bytes")) {
				continue
			}
			for _, f := range []struct {
				name string
				dst  *uint64
			}{{"usage_in_bytes", &s.Usage}, {"max_usage_in_bytes", &s.Max}, {"failcnt", &s.Failcnt}} {
				v, err := statUint(dir, p+f.name)
				errs = append(errs, err)
				*f.dst = v
			}
		}
		out[ps] = s
	}
	return errors.Join(errs...)
}

// errNoCgroup is returned by Stats and the OOM calls for a cgroup that
// does not exist (a container that was never started or is deleted).
var errNoCgroup = errors.New("the container's cgroup does not exist")

func (m *v1Manager) Stats() (*Stats, error) {
	if !m.Exists() {
		return nil, errNoCgroup
	}
	s := &Stats{Hugetlb: map[string]HugetlbStat{}}
	var errs []error
	if dir, ok := m.paths["memory"]; ok {
		errs = append(errs, statsMemoryV1(dir, &s.Memory))
	}
	if dir, ok := m.paths["cpuacct"]; ok {
		errs = append(errs, statsCPUacctV1(dir, &s.CPU))
	}
	if dir, ok := m.paths["cpu"]; ok {
		errs = append(errs, statsThrottling(dir, &s.CPU.Throttling, false))
	}
	if dir, ok := m.paths["pids"]; ok {
		errs = append(errs, statsPids(dir, &s.Pids))
	}
	if dir, ok := m.paths["blkio"]; ok {
		errs = append(errs, statsBlkioV1(dir, &s.Blkio))
	}
	if dir, ok := m.paths["hugetlb"]; ok {
		errs = append(errs, statsHugetlb(dir, false, s.Hugetlb))
	} else if dir, ok := m.paths[UnifiedKey]; ok {
		errs = append(errs, statsHugetlb(dir, true, s.Hugetlb))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}

func (m *v2Manager) Stats() (*Stats, error) {
	if !m.Exists() {
		return nil, errNoCgroup
	}
	s := &Stats{Hugetlb: map[string]HugetlbStat{}}
	err := errors.Join(
		statsMemoryV2(m.dir, &s.Memory),
		statsCPUV2(m.dir, &s.CPU),
		statsPids(m.dir, &s.Pids),
		statsIOV2(m.dir, &s.Blkio),
		statsHugetlb(m.dir, true, s.Hugetlb),
	)
	if err != nil {
		return nil, err
	}
	return s, nil
}
