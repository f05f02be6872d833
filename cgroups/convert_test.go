package cgroups

import (
	"reflect"
	"regexp"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func i64(v int64) *int64   { return &v }
func u64(v uint64) *uint64 { return &v }
func boolp(v bool) *bool   { return &v }
func u16(v uint16) *uint16 { return &v }
func u32(v uint32) *uint32 { return &v }

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

func TestBlkioWeightToIOWeight(t *testing.T) {
	for in, want := range map[uint16]uint64{0: 0, 10: 1, 100: 910, 500: 4950, 1000: 10000} {
		if got := BlkioWeightToIOWeight(in); got != want {
			t.Errorf("BlkioWeightToIOWeight(%d) = %d, want %d", in, got, want)
		}
	}
}

func TestIOMax(t *testing.T) {
	td := func(maj, min int64, rate uint64) specs.LinuxThrottleDevice {
		return specs.LinuxThrottleDevice{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: maj, Minor: min}, Rate: rate}
	}
	for _, tc := range []struct {
		name string
		b    *specs.LinuxBlockIO
		want []string
	}{
		{"nil", nil, nil},
		{"weights only", &specs.LinuxBlockIO{Weight: u16(100)}, []string{}},
		{"one device, all keys in one line", &specs.LinuxBlockIO{
			ThrottleReadBpsDevice: []specs.LinuxThrottleDevice{td(8, 0, 100)}, ThrottleWriteBpsDevice: []specs.LinuxThrottleDevice{td(8, 0, 200)},
			ThrottleReadIOPSDevice: []specs.LinuxThrottleDevice{td(8, 0, 3)}, ThrottleWriteIOPSDevice: []specs.LinuxThrottleDevice{td(8, 0, 4)},
		}, []string{"8:0 rbps=100 wbps=200 riops=3 wiops=4"}},
		{"devices in order of appearance, 0 is max, later wins", &specs.LinuxBlockIO{
			ThrottleReadBpsDevice:   []specs.LinuxThrottleDevice{td(8, 16, 0), td(8, 0, 1), td(8, 16, 5)},
			ThrottleWriteIOPSDevice: []specs.LinuxThrottleDevice{td(254, 0, 0), td(8, 0, 9)},
		}, []string{"8:16 rbps=5", "8:0 rbps=1 wiops=9", "254:0 wiops=max"}},
	} {
		got := IOMax(tc.b)
		if len(got) != len(tc.want) || (len(got) > 0 && !reflect.DeepEqual(got, tc.want)) {
			t.Errorf("%s: IOMax = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestThrottleV1RdmaMax(t *testing.T) {
	if got := ThrottleV1(specs.LinuxThrottleDevice{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 254, Minor: 1}, Rate: 0}); got != "254:1 0" {
		t.Errorf("ThrottleV1 = %q", got)
	}
	for _, tc := range []struct {
		l    specs.LinuxRdma
		want string
	}{
		{specs.LinuxRdma{}, "mlx5_0"},
		{specs.LinuxRdma{HcaHandles: u32(0)}, "mlx5_0 hca_handle=0"},
		{specs.LinuxRdma{HcaHandles: u32(2), HcaObjects: u32(4000)}, "mlx5_0 hca_handle=2 hca_object=4000"},
	} {
		if got := RdmaMax("mlx5_0", tc.l); got != tc.want {
			t.Errorf("RdmaMax(%+v) = %q, want %q", tc.l, got, tc.want)
		}
	}
}

func TestUnifiedController(t *testing.T) {
	for key, want := range map[string]string{
		"memory.high": "memory", "io.max": "io", "hugetlb.2MB.max": "hugetlb", "cgroup.max.depth": "", "cgroup.freeze": "",
		"memory": "!", ".high": "!", "memory.": "!", "a/memory.high": "!", "../x.y": "!", "cgroup.procs": "!", "cgroup.subtree_control": "!", "cgroup.kill": "!",
	} {
		got, err := unifiedController(key)
		if want == "!" {
			if err == nil {
				t.Errorf("unifiedController(%q) accepted", key)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("unifiedController(%q) = %q, %v, want %q", key, got, err, want)
		}
	}
}

func TestCheckName(t *testing.T) {
	for name, ok := range map[string]bool{"eth0": true, "mlx5_0": true, "": false, "a b": false, "eth0\nlo 5": false, "a/b": false} {
		if err := checkName("f", name); (err == nil) != ok {
			t.Errorf("checkName(%q) = %v", name, err)
		}
	}
}

// validPageSize is the regexp it replaced, ^[1-9][0-9]*[KMG]B$.
func TestValidPageSize(t *testing.T) {
	re := regexp.MustCompile(`^[1-9][0-9]*[KMG]B$`)
	for _, s := range []string{"2MB", "1GB", "64KB", "10MB", "0MB", "MB", "2", "2M", "2mB", "2TB", "12x4MB", "2MB\n",
		"1GBB", "", "B", "9KB", "2 MB", "+2MB", "20000000000000000000GB", "2MB/../x", "１MB"} {
		if got, want := validPageSize(s), re.MatchString(s); got != want {
			t.Errorf("validPageSize(%q) = %v, the regexp says %v", s, got, want)
		}
	}
}
