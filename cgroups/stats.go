package cgroups

// Stats is a container's resource usage, shaped and named like runc's
// types.Stats (the "data" of `runc events --stats`), which containerd and
// other engines decode. Fields rt does not collect (cpuset, intel_rdt,
// network_interfaces, PSI) are left out. Units: bytes and nanoseconds.
type Stats struct {
	CPU     CPUStats               `json:"cpu"`
	Memory  MemoryStats            `json:"memory"`
	Pids    PidsStats              `json:"pids"`
	Blkio   BlkioStats             `json:"blkio"`
	Hugetlb map[string]HugetlbStat `json:"hugetlb"`
}

// CPUStats is CPU time used and CFS throttling.
type CPUStats struct {
	Usage      CPUUsage   `json:"usage,omitempty"`
	Throttling Throttling `json:"throttling,omitempty"`
}

// CPUUsage is CPU time in nanoseconds. Percpu is filled on v1 only
// (cpuacct.usage_percpu); v2 has no per-CPU counters.
type CPUUsage struct {
	Total  uint64   `json:"total,omitempty"`
	Percpu []uint64 `json:"percpu,omitempty"`
	Kernel uint64   `json:"kernel"`
	User   uint64   `json:"user"`
}

// Throttling counts CFS bandwidth periods; ThrottledTime is in nanoseconds.
type Throttling struct {
	Periods          uint64 `json:"periods,omitempty"`
	ThrottledPeriods uint64 `json:"throttledPeriods,omitempty"`
	ThrottledTime    uint64 `json:"throttledTime,omitempty"`
}

// MemoryStats is memory usage in bytes. Swap is memory+swap (v1's memsw),
// which runc reports on v2 too by adding memory.current to
// memory.swap.current. Raw holds memory.stat as the kernel wrote it.
type MemoryStats struct {
	Cache     uint64            `json:"cache,omitempty"`
	Usage     MemoryEntry       `json:"usage,omitempty"`
	Swap      MemoryEntry       `json:"swap,omitempty"`
	Kernel    MemoryEntry       `json:"kernel,omitempty"`
	KernelTCP MemoryEntry       `json:"kernelTCP,omitempty"`
	Raw       map[string]uint64 `json:"raw,omitempty"`
}

// MemoryEntry is one memory counter. An unlimited Limit reads as the
// kernel shows it on v1 (a huge number) and as 2^64-1 for v2's "max", as
// in runc. Failcnt on v2 is memory.events "max" (times the limit was hit).
type MemoryEntry struct {
	Limit   uint64 `json:"limit"`
	Usage   uint64 `json:"usage,omitempty"`
	Max     uint64 `json:"max,omitempty"`
	Failcnt uint64 `json:"failcnt"`
}

// PidsStats is the number of tasks; Limit 0 means no limit.
type PidsStats struct {
	Current uint64 `json:"current,omitempty"`
	Limit   uint64 `json:"limit,omitempty"`
}

// BlkioEntry is one counter of one device; Op is "Read", "Write", "Sync",
// "Async", "Discard" or "Total" (v1), "Read", "Write" or "Discard" (v2).
type BlkioEntry struct {
	Major uint64 `json:"major,omitempty"`
	Minor uint64 `json:"minor,omitempty"`
	Op    string `json:"op,omitempty"`
	Value uint64 `json:"value,omitempty"`
}

// BlkioStats is block I/O done: bytes and operations per device.
type BlkioStats struct {
	IoServiceBytesRecursive []BlkioEntry `json:"ioServiceBytesRecursive,omitempty"`
	IoServicedRecursive     []BlkioEntry `json:"ioServicedRecursive,omitempty"`
}

// HugetlbStat is the use of one huge page size, keyed by "2MB" etc. Max is
// the peak usage (v1 only).
type HugetlbStat struct {
	Usage   uint64 `json:"usage,omitempty"`
	Max     uint64 `json:"max,omitempty"`
	Failcnt uint64 `json:"failcnt"`
}
