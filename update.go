package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"
)

var updateCommand = &cli.Command{
	Name:      "update",
	Usage:     "change the resource limits of a container",
	ArgsUsage: "<container-id>",
	Description: `Sets the given limits on the container's cgroups and keeps them in its
saved config. With --resources the limits come as linux.resources JSON
(a file, or - for stdin); otherwise from the flags. Limits not named stay
as they are. Memory sizes take k, m, g, t, p suffixes (powers of 1024);
-1 means unlimited.`,
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "resources", Aliases: []string{"r"}, Usage: "file with linux.resources JSON, or - for stdin"},
		&cli.IntFlag{Name: "blkio-weight", Usage: "block IO weight (10-1000)"},
		&cli.StringFlag{Name: "cpu-period", Usage: "CPU CFS period in microseconds"},
		&cli.StringFlag{Name: "cpu-quota", Usage: "CPU CFS quota in microseconds per period"},
		&cli.StringFlag{Name: "cpu-burst", Usage: "CPU CFS burst in microseconds"},
		&cli.StringFlag{Name: "cpu-share", Usage: "CPU shares (relative weight)"},
		&cli.StringFlag{Name: "cpu-rt-period", Usage: "realtime period in microseconds"},
		&cli.StringFlag{Name: "cpu-rt-runtime", Usage: "realtime runtime in microseconds per period"},
		&cli.StringFlag{Name: "cpu-idle", Usage: "SCHED_IDLE for the cgroup (0 or 1)"},
		&cli.StringFlag{Name: "cpuset-cpus", Usage: "CPUs to run on (e.g. 0-3,5)"},
		&cli.StringFlag{Name: "cpuset-mems", Usage: "memory nodes to allocate from (e.g. 0)"},
		&cli.StringFlag{Name: "memory", Usage: "memory limit"},
		&cli.StringFlag{Name: "memory-reservation", Usage: "memory soft limit"},
		&cli.StringFlag{Name: "memory-swap", Usage: "memory plus swap limit"},
		&cli.IntFlag{Name: "pids-limit", Usage: "maximum number of processes (-1: unlimited)"},
		&cli.StringFlag{Name: "l3-cache-schema", Usage: "Intel RDT L3 cache schema (not supported)"},
		&cli.StringFlag{Name: "mem-bw-schema", Usage: "Intel RDT memory bandwidth schema (not supported)"},
	},
	Action: func(ctx *cli.Context) error {
		if err := checkArgs(ctx, 1); err != nil {
			return err
		}
		for _, f := range []string{"l3-cache-schema", "mem-bw-schema"} {
			if ctx.IsSet(f) {
				return fmt.Errorf("--%s: Intel RDT is not supported by rt", f)
			}
		}
		r, err := updateResources(ctx)
		if err != nil {
			return err
		}
		c, err := containerArg(ctx)
		if err != nil {
			return err
		}
		return c.Update(r)
	},
}

// updateResources builds the update from --resources or from the flags; only
// what is given is set.
func updateResources(ctx *cli.Context) (*specs.LinuxResources, error) {
	r := &specs.LinuxResources{}
	if in := ctx.String("resources"); in != "" {
		for _, f := range ctx.Command.Flags {
			if n := f.Names()[0]; n != "resources" && ctx.IsSet(n) {
				return nil, fmt.Errorf("--%s: give the limits either in --resources or as flags, not both", n)
			}
		}
		var src io.Reader = os.Stdin
		if in != "-" {
			f, err := os.Open(in)
			if err != nil {
				return nil, fmt.Errorf("--resources: %w", err)
			}
			defer f.Close()
			src = f
		}
		dec := json.NewDecoder(src)
		dec.DisallowUnknownFields()
		if err := dec.Decode(r); err != nil {
			return nil, fmt.Errorf("--resources %s: not linux.resources JSON: %w", in, err)
		}
		return r, nil
	}
	cpu := func() *specs.LinuxCPU {
		if r.CPU == nil {
			r.CPU = &specs.LinuxCPU{}
		}
		return r.CPU
	}
	mem := func() *specs.LinuxMemory {
		if r.Memory == nil {
			r.Memory = &specs.LinuxMemory{}
		}
		return r.Memory
	}
	if ctx.IsSet("blkio-weight") {
		w := ctx.Int("blkio-weight")
		if w < 0 || w > math.MaxUint16 {
			return nil, fmt.Errorf("--blkio-weight: %d out of range", w)
		}
		v := uint16(w)
		r.BlockIO = &specs.LinuxBlockIO{Weight: &v}
	}
	if v := ctx.String("cpuset-cpus"); v != "" {
		cpu().Cpus = v
	}
	if v := ctx.String("cpuset-mems"); v != "" {
		cpu().Mems = v
	}
	uints := []struct {
		flag string
		dst  func(*uint64)
	}{
		{"cpu-period", func(v *uint64) { cpu().Period = v }},
		{"cpu-burst", func(v *uint64) { cpu().Burst = v }},
		{"cpu-share", func(v *uint64) { cpu().Shares = v }},
		{"cpu-rt-period", func(v *uint64) { cpu().RealtimePeriod = v }},
	}
	for _, u := range uints {
		if s := ctx.String(u.flag); s != "" {
			v, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("--%s: invalid value %q: want a non-negative integer", u.flag, s)
			}
			u.dst(&v)
		}
	}
	ints := []struct {
		flag string
		dst  func(*int64)
	}{
		{"cpu-quota", func(v *int64) { cpu().Quota = v }},
		{"cpu-rt-runtime", func(v *int64) { cpu().RealtimeRuntime = v }},
		{"cpu-idle", func(v *int64) { cpu().Idle = v }},
	}
	for _, i := range ints {
		if s := ctx.String(i.flag); s != "" {
			v, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("--%s: invalid value %q: want an integer", i.flag, s)
			}
			i.dst(&v)
		}
	}
	sizes := []struct {
		flag string
		dst  func(*int64)
	}{
		{"memory", func(v *int64) { mem().Limit = v }},
		{"memory-reservation", func(v *int64) { mem().Reservation = v }},
		{"memory-swap", func(v *int64) { mem().Swap = v }},
	}
	for _, sz := range sizes {
		if s := ctx.String(sz.flag); s != "" {
			v, err := parseSize(s)
			if err != nil {
				return nil, fmt.Errorf("--%s: %w", sz.flag, err)
			}
			sz.dst(&v)
		}
	}
	if ctx.IsSet("pids-limit") {
		v := int64(ctx.Int("pids-limit"))
		r.Pids = &specs.LinuxPids{Limit: &v}
	}
	return r, nil
}

// parseSize reads a memory size as runc does (docker's RAMInBytes): a number
// with an optional k, m, g, t or p suffix (powers of 1024, "b"/"ib" allowed
// after it); -1 means unlimited.
func parseSize(s string) (int64, error) {
	if s == "-1" {
		return -1, nil
	}
	num, unit, ok := splitSize(strings.TrimSpace(s))
	if !ok {
		return 0, fmt.Errorf("invalid size %q (want e.g. 512m, 1g, 1048576 or -1)", s)
	}
	n, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid size %q: %w", s, err)
	}
	if unit != 0 {
		n *= math.Pow(1024, float64(strings.IndexByte("kmgtp", unit|0x20)+1))
	}
	if n >= math.MaxInt64 {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	return int64(n), nil
}

// splitSize splits s into its number and unit letter (0 if none) as
// ^(\d+(?:\.\d+)?) ?([kKmMgGtTpP])?[iI]?[bB]?$ would (TestSplitSize
// compares them). Not a regexp: a package-level one is compiled at the
// start of every rt process, the container's init included.
func splitSize(s string) (num string, unit byte, ok bool) {
	digits := func(i int) int {
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
		return i
	}
	i := digits(0)
	if i == 0 {
		return "", 0, false
	}
	if i < len(s) && s[i] == '.' {
		j := digits(i + 1)
		if j == i+1 {
			return "", 0, false
		}
		i = j
	}
	num, rest := s[:i], strings.TrimPrefix(s[i:], " ")
	if rest != "" && strings.IndexByte("kKmMgGtTpP", rest[0]) >= 0 {
		unit, rest = rest[0], rest[1:]
	}
	// c|0x20 folds only 'I' onto 'i' and 'B' onto 'b'.
	if rest != "" && rest[0]|0x20 == 'i' {
		rest = rest[1:]
	}
	if rest != "" && rest[0]|0x20 == 'b' {
		rest = rest[1:]
	}
	return num, unit, rest == ""
}
