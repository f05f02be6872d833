package cgroups

import (
	"strings"
	"testing"
)

func i64(v int64) *int64   { return &v }
func u64(v uint64) *uint64 { return &v }
func boolp(v bool) *bool   { return &v }

func TestSharesToWeight(t *testing.T) {
	for _, tc := range []struct{ shares, weight uint64 }{
		{0, 0}, // unset stays unset
		{1, 1}, {2, 1}, {3, 2},
		{512, 59},
		{1024, 100}, // defaults map onto each other
		{2048, 174},
		{262143, 10000}, {262144, 10000}, {1 << 30, 10000},
	} {
		if got := SharesToWeight(tc.shares); got != tc.weight {
			t.Errorf("SharesToWeight(%d) = %d, want %d", tc.shares, got, tc.weight)
		}
	}
}

func TestCPUMax(t *testing.T) {
	for _, tc := range []struct {
		name   string
		quota  *int64
		period *uint64
		want   string
		ok     bool
	}{
		{"unset", nil, nil, "", false},
		{"zeros are unset", i64(0), u64(0), "", false},
		{"quota only keeps period", i64(50000), nil, "50000", true},
		{"both", i64(50000), u64(100000), "50000 100000", true},
		{"unlimited quota", i64(-1), u64(100000), "max 100000", true},
		{"period only", nil, u64(20000), "max 20000", true},
		{"unlimited only", i64(-1), nil, "max", true},
	} {
		got, ok := CPUMax(tc.quota, tc.period)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: CPUMax = %q,%v, want %q,%v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

func TestSwapV2(t *testing.T) {
	for _, tc := range []struct {
		limit, swap int64
		want        string
		err         string
	}{
		{0, 0, "", ""},
		{-1, 0, "max", ""}, // unlimited memory implies unlimited swap
		{100, 0, "", ""},
		{100, -1, "max", ""},
		{100, 100, "0", ""}, // memory+swap == memory: no swap
		{100, 300, "200", ""},
		{100, 50, "", "must be at least"},
		{0, 300, "", "needs a memory limit"},
		{-1, 300, "", "needs a memory limit"},
		{100, -5, "", "invalid value"},
	} {
		got, err := SwapV2(tc.limit, tc.swap)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("SwapV2(%d, %d) error = %v, want %q", tc.limit, tc.swap, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("SwapV2(%d, %d) = %q, %v, want %q", tc.limit, tc.swap, got, err, tc.want)
		}
	}
}

func TestSwapFirstV1(t *testing.T) {
	for _, tc := range []struct {
		cur         uint64
		limit, swap int64
		want        bool
	}{
		{cur: 64 << 20, limit: 256 << 20, swap: 512 << 20, want: true}, // raising: memsw first
		{cur: 64 << 20, limit: 32 << 20, swap: 48 << 20, want: false},  // lowering: limit first
		{cur: 64 << 20, limit: 32 << 20, swap: -1, want: true},         // unlimited memsw first
		{cur: 64 << 20, limit: 32 << 20, swap: 0, want: false},         // no swap given
		{cur: 64 << 20, limit: 0, swap: 128 << 20, want: false},        // no limit given
		{cur: 1<<63 - 1, limit: 32 << 20, swap: 64 << 20, want: false}, // from unlimited
	} {
		if got := SwapFirstV1(tc.cur, tc.limit, tc.swap); got != tc.want {
			t.Errorf("SwapFirstV1(%d, %d, %d) = %v, want %v", tc.cur, tc.limit, tc.swap, got, tc.want)
		}
	}
}

func TestPidsMax(t *testing.T) {
	for in, want := range map[int64]string{-1: "max", -7: "max", 0: "0", 1: "1", 32771: "32771"} {
		if got := PidsMax(in); got != want {
			t.Errorf("PidsMax(%d) = %q, want %q", in, got, want)
		}
	}
}

func TestCheckPageSize(t *testing.T) {
	for ps, ok := range map[string]bool{
		"2MB": true, "1GB": true, "64KB": true,
		"": false, "2mb": false, "0MB": false, "2MB/../x": false, "../../memory": false, "2 MB": false,
	} {
		if err := checkPageSize(ps); (err == nil) != ok {
			t.Errorf("checkPageSize(%q) = %v, want ok=%v", ps, err, ok)
		}
	}
}
