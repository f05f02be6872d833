package cgroups

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
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

var pageSizeRE = regexp.MustCompile(`^[1-9][0-9]*[KMG]B$`)

// checkPageSize validates a hugepage size before it becomes part of a file
// name ("2MB" -> hugetlb.2MB.max); anything else could name another file.
func checkPageSize(ps string) error {
	if !pageSizeRE.MatchString(ps) {
		return fmt.Errorf("linux.resources.hugepageLimits: invalid pageSize %q (want e.g. \"2MB\" or \"1GB\")", ps)
	}
	return nil
}
