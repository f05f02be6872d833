package cgroups

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// SharesToWeight converts v1 cpu.shares ([2, 262144], default 1024) to v2
// cpu.weight ([1, 10000], default 100) with the quadratic fit runc and crun
// use, which maps min, default and max onto each other (1024 -> 100; the
// older linear formula gave 39). 0 means unset and stays 0.
func SharesToWeight(shares uint64) uint64 {
	switch {
	case shares == 0:
		return 0
	case shares <= 2:
		return 1
	case shares >= 262144:
		return 10000
	}
	l := math.Log2(float64(shares))
	exp := (l*l+125*l)/612.0 - 7.0/34.0
	return uint64(math.Ceil(math.Pow(10, exp)))
}

// CPUMax returns the cgroup v2 cpu.max value for linux.resources.cpu quota
// and period, and false when neither is set. A quota <= 0 (or absent) is
// "max"; an absent period keeps the kernel's current period, which the
// kernel does when the period is left out of the write.
func CPUMax(quota *int64, period *uint64) (string, bool) {
	if (quota == nil || *quota == 0) && (period == nil || *period == 0) {
		return "", false
	}
	s := "max"
	if quota != nil && *quota > 0 {
		s = strconv.FormatInt(*quota, 10)
	}
	if period != nil && *period != 0 {
		s += " " + strconv.FormatUint(*period, 10)
	}
	return s, true
}

// SwapV2 converts the spec's memory.swap (memory+swap, v1 semantics) to the
// cgroup v2 memory.swap.max value (swap alone). It returns "" when nothing
// is to be written. As in runc: an unlimited memory limit without a swap
// value means unlimited swap too; swap == limit means no swap ("0").
func SwapV2(limit, swap int64) (string, error) {
	if limit == -1 && swap == 0 {
		return "max", nil
	}
	switch swap {
	case 0:
		return "", nil
	case -1:
		return "max", nil
	}
	if swap < -1 {
		return "", fmt.Errorf("linux.resources.memory.swap: invalid value %d", swap)
	}
	if limit == 0 || limit == -1 {
		return "", errors.New("linux.resources.memory.swap: a swap limit needs a memory limit (memory.swap is memory+swap)")
	}
	if limit < -1 {
		return "", fmt.Errorf("linux.resources.memory.limit: invalid value %d", limit)
	}
	if swap < limit {
		return "", fmt.Errorf("linux.resources.memory.swap (%d) must be at least linux.resources.memory.limit (%d): it is memory+swap", swap, limit)
	}
	return strconv.FormatInt(swap-limit, 10), nil
}

// SwapFirstV1 reports whether memory.memsw.limit_in_bytes must be written
// before memory.limit_in_bytes on v1, where the kernel requires
// limit <= memsw at every step: raising memsw above the current limit goes
// first, lowering goes last. cur is the current memory.limit_in_bytes.
func SwapFirstV1(cur uint64, limit, swap int64) bool {
	if limit == 0 || swap == 0 {
		return false
	}
	return swap == -1 || cur < uint64(swap)
}

// limitV2 formats a byte limit for v2 files: -1 is "max".
func limitV2(v int64) string {
	if v == -1 {
		return "max"
	}
	return strconv.FormatInt(v, 10)
}

// PidsMax returns the pids.max value for linux.resources.pids.limit: a
// negative limit is "max"; 0 is a real limit (runtime-spec 1.3: "0 is a
// valid limit ... SHOULD be treated as such"; runc writes 1 instead, which
// behaves the same for a cgroup that already holds the init process).
func PidsMax(limit int64) string {
	if limit < 0 {
		return "max"
	}
	return strconv.FormatInt(limit, 10)
}

// validPageSize matches ^[1-9][0-9]*[KMG]B$ (a loop, not a regexp: package
// initialisation runs in every rt process).
func validPageSize(ps string) bool {
	n := len(ps)
	if n < 3 || ps[0] < '1' || ps[0] > '9' || ps[n-1] != 'B' || !strings.ContainsRune("KMG", rune(ps[n-2])) {
		return false
	}
	for _, c := range ps[1 : n-2] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// checkPageSize validates a hugepage size before it becomes part of a file
// name ("2MB" -> hugetlb.2MB.max); anything else could name another file.
func checkPageSize(ps string) error {
	if !validPageSize(ps) {
		return fmt.Errorf("linux.resources.hugepageLimits: invalid pageSize %q (want e.g. \"2MB\" or \"1GB\")", ps)
	}
	return nil
}

// BlkioWeightToIOWeight converts a v1 blkio weight ([10, 1000], default
// 500) to v2 io.weight ([1, 10000], default 100) with runc's linear map,
// which takes the ends onto the ends (500 gives 5045, not the default: the
// ranges' defaults do not line up linearly). 0 means unset and stays 0.
func BlkioWeightToIOWeight(w uint16) uint64 {
	if w == 0 {
		return 0
	}
	return 1 + (uint64(w)-10)*9999/990
}

// checkBlkioWeight checks a blkio weight or leaf weight: [10, 1000], 0 unset.
func checkBlkioWeight(field string, w *uint16) error {
	if w != nil && *w != 0 && (*w < 10 || *w > 1000) {
		return fmt.Errorf("linux.resources.blockIO.%s: invalid value %d (valid range is 10-1000)", field, *w)
	}
	return nil
}

func devString(d specs.LinuxBlockIODevice) string {
	return strconv.FormatInt(d.Major, 10) + ":" + strconv.FormatInt(d.Minor, 10)
}

// throttleFields are the blockIO throttle lists with their v1 file and v2
// io.max key.
func throttleFields(b *specs.LinuxBlockIO) []struct {
	field, v1File, v2Key string
	devs                 []specs.LinuxThrottleDevice
} {
	return []struct {
		field, v1File, v2Key string
		devs                 []specs.LinuxThrottleDevice
	}{
		{"throttleReadBpsDevice", "blkio.throttle.read_bps_device", "rbps", b.ThrottleReadBpsDevice},
		{"throttleWriteBpsDevice", "blkio.throttle.write_bps_device", "wbps", b.ThrottleWriteBpsDevice},
		{"throttleReadIOPSDevice", "blkio.throttle.read_iops_device", "riops", b.ThrottleReadIOPSDevice},
		{"throttleWriteIOPSDevice", "blkio.throttle.write_iops_device", "wiops", b.ThrottleWriteIOPSDevice},
	}
}

// ThrottleV1 renders a throttle entry for blkio.throttle.*_device:
// "8:0 1048576"; rate 0 removes the device's limit.
func ThrottleV1(d specs.LinuxThrottleDevice) string {
	return devString(d.LinuxBlockIODevice) + " " + strconv.FormatUint(d.Rate, 10)
}

// IOMax returns the v2 io.max lines for the blockIO throttle lists, one per
// device in order of first appearance, all keys of a device in one line:
// "8:0 rbps=1048576 wiops=max". Rate 0 becomes "max": v1 reads 0 as "no
// limit" and io.max refuses 0 (ERANGE). A later entry for the same device
// and key wins, as a later v1 write would.
func IOMax(b *specs.LinuxBlockIO) []string {
	if b == nil {
		return nil
	}
	type entry struct {
		dev  string
		keys []string
		vals map[string]string
	}
	var order []*entry
	byDev := map[string]*entry{}
	for _, f := range throttleFields(b) {
		for _, d := range f.devs {
			dev := devString(d.LinuxBlockIODevice)
			e := byDev[dev]
			if e == nil {
				e = &entry{dev: dev, vals: map[string]string{}}
				byDev[dev] = e
				order = append(order, e)
			}
			if _, ok := e.vals[f.v2Key]; !ok {
				e.keys = append(e.keys, f.v2Key)
			}
			v := "max"
			if d.Rate != 0 {
				v = strconv.FormatUint(d.Rate, 10)
			}
			e.vals[f.v2Key] = v
		}
	}
	out := make([]string, 0, len(order))
	for _, e := range order {
		s := e.dev
		for _, k := range e.keys {
			s += " " + k + "=" + e.vals[k]
		}
		out = append(out, s)
	}
	return out
}

// RdmaMax renders one device's line for rdma.max: "mlx5_0 hca_handle=2
// hca_object=100"; a field left out keeps its current value ("max" for a
// new cgroup).
func RdmaMax(device string, l specs.LinuxRdma) string {
	s := device
	if l.HcaHandles != nil {
		s += " hca_handle=" + strconv.FormatUint(uint64(*l.HcaHandles), 10)
	}
	if l.HcaObjects != nil {
		s += " hca_object=" + strconv.FormatUint(uint64(*l.HcaObjects), 10)
	}
	return s
}

// checkName rejects names that would change the meaning of a line written
// to a cgroup file (rdma device, network interface).
func checkName(field, name string) error {
	if name == "" || strings.ContainsAny(name, " \t\n\r\x00/") {
		return fmt.Errorf("linux.resources.%s: invalid name %q", field, name)
	}
	return nil
}

// unifiedController returns the controller a linux.resources.unified key
// belongs to ("memory" for "memory.high", "" for the core "cgroup.*"
// files), or an error for a key that is not a plain CONTROLLER.PARAMETER
// file name.
func unifiedController(key string) (string, error) {
	c, param, ok := strings.Cut(key, ".")
	if !ok || c == "" || param == "" || strings.ContainsAny(key, "/\x00") || strings.HasPrefix(key, ".") {
		return "", fmt.Errorf("linux.resources.unified: invalid key %q (want CONTROLLER.PARAMETER, e.g. \"memory.high\")", key)
	}
	if c == "cgroup" {
		switch key {
		case "cgroup.procs", "cgroup.threads", "cgroup.subtree_control", "cgroup.type", "cgroup.kill":
			// These move processes or change the tree rt manages.
			return "", fmt.Errorf("linux.resources.unified: %q is managed by the runtime, not a resource", key)
		}
		return "", nil
	}
	return c, nil
}
