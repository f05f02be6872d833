package cgroups

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestParseProcCgroup(t *testing.T) {
	in := "9:name=systemd:/\n4:memory:/process_api/b1\n2:cpu,cpuacct:/c\n0::/u\n"
	got, err := parseProcCgroup(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"name=systemd": "/", "memory": "/process_api/b1", "cpu": "/c", "cpuacct": "/c", "": "/u"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if _, err := parseProcCgroup(strings.NewReader("garbage\n")); err == nil {
		t.Fatal("malformed line accepted")
	}
}

func TestHasWord(t *testing.T) {
	for _, tc := range []struct {
		s, w string
		want bool
	}{
		{"cpu memory pids", "memory", true},
		{"cpuset cpu", "cpu", true},
		{"cpuset", "cpu", false},
		{"+hugetlb", "hugetlb", true},
		{"", "cpu", false},
	} {
		if got := hasWord(tc.s, tc.w); got != tc.want {
			t.Errorf("hasWord(%q, %q) = %v", tc.s, tc.w, got)
		}
	}
}

func TestCheckSupported(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    specs.LinuxResources
		v2   bool
		err  string // "" = accepted
	}{
		{name: "empty", r: specs.LinuxResources{}},
		{name: "subset", r: specs.LinuxResources{
			Memory:         &specs.LinuxMemory{Limit: i64(1 << 20), Swap: i64(2 << 20), Swappiness: u64(10), Kernel: i64(1)},
			CPU:            &specs.LinuxCPU{Shares: u64(512), Quota: i64(1000), Period: u64(10000), Cpus: "0", Mems: "0"},
			Pids:           &specs.LinuxPids{Limit: i64(0)},
			Devices:        []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
			HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 0}},
		}},
		{name: "blockIO", r: specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: u16(500), LeafWeight: u16(300),
			ThrottleReadBpsDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8}, Rate: 1}}}}},
		{name: "blockIO weight range", r: specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: u16(5)}}, err: "blockIO.weight: invalid value 5"},
		{name: "blockIO device", r: specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{
			ThrottleWriteIOPSDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: -2}}}}}, err: "throttleWriteIOPSDevice[0]: invalid device -2:0"},
		{name: "leafWeight v2", r: specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{LeafWeight: u16(300)}}, v2: true, err: "linux.resources.blockIO.leafWeight"},
		{name: "device leafWeight v2", r: specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{WeightDevice: []specs.LinuxWeightDevice{{LeafWeight: u16(300)}}}}, v2: true, err: "linux.resources.blockIO.weightDevice[0].leafWeight"},
		{name: "burst", r: specs.LinuxResources{CPU: &specs.LinuxCPU{Burst: u64(1), Idle: i64(1)}}, v2: true},
		{name: "idle range", r: specs.LinuxResources{CPU: &specs.LinuxCPU{Idle: i64(2)}}, err: "cpu.idle: invalid value 2"},
		{name: "realtime v1", r: specs.LinuxResources{CPU: &specs.LinuxCPU{RealtimeRuntime: i64(1000), RealtimePeriod: u64(10000)}}},
		{name: "realtime v2", r: specs.LinuxResources{CPU: &specs.LinuxCPU{RealtimeRuntime: i64(1000)}}, v2: true, err: "linux.resources.cpu.realtimeRuntime/realtimePeriod"},
		{name: "realtime zero v2", r: specs.LinuxResources{CPU: &specs.LinuxCPU{RealtimeRuntime: i64(0)}}, v2: true},
		{name: "shares v2", r: specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: u64(1)}}, v2: true, err: "cpu.shares: 1 out of range"},
		{name: "network v1", r: specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: u32(0x100001), Priorities: []specs.LinuxInterfacePriority{{Name: "eth0", Priority: 5}}}}},
		{name: "network v2", r: specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: u32(1)}}, v2: true, err: "linux.resources.network"},
		{name: "network name", r: specs.LinuxResources{Network: &specs.LinuxNetwork{Priorities: []specs.LinuxInterfacePriority{{Name: "eth0 1\nlo"}}}}, err: "network.priorities[0].name: invalid name"},
		{name: "rdma", r: specs.LinuxResources{Rdma: map[string]specs.LinuxRdma{"mlx5_0": {HcaHandles: u32(2)}}}, v2: true},
		{name: "rdma name", r: specs.LinuxResources{Rdma: map[string]specs.LinuxRdma{"a b": {}}}, err: "rdma: invalid name"},
		{name: "unified v1", r: specs.LinuxResources{Unified: map[string]string{"memory.high": "1"}}, err: "linux.resources.unified: needs cgroup v2"},
		{name: "unified v2", r: specs.LinuxResources{Unified: map[string]string{"memory.high": "1", "cgroup.max.depth": "2"}}, v2: true},
		{name: "unified path", r: specs.LinuxResources{Unified: map[string]string{"../memory.high": "1"}}, v2: true, err: "invalid key"},
		{name: "unified procs", r: specs.LinuxResources{Unified: map[string]string{"cgroup.procs": "1"}}, v2: true, err: "managed by the runtime"},
		{name: "devices hole", r: specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: true, Type: "c", Access: "rwm"}, {Type: "c", Major: i64(1), Minor: i64(3), Access: "w"}}},
			err: "devices[1]: cannot deny c 1:3 w after the wider rule c *:* rwm"},
		{name: "devices type", r: specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Type: "p"}}}, err: "devices[0]: type"},
		{name: "kernelTCP v1", r: specs.LinuxResources{Memory: &specs.LinuxMemory{KernelTCP: i64(1)}}},
		{name: "kernelTCP v2", r: specs.LinuxResources{Memory: &specs.LinuxMemory{KernelTCP: i64(1)}}, v2: true, err: "kernelTCP"},
		{name: "swappiness range", r: specs.LinuxResources{Memory: &specs.LinuxMemory{Swappiness: u64(101)}}, err: "0-100"},
		{name: "swappiness v2", r: specs.LinuxResources{Memory: &specs.LinuxMemory{Swappiness: u64(10)}}, v2: true, err: "cgroup v2"},
		{name: "oom killer v2", r: specs.LinuxResources{Memory: &specs.LinuxMemory{DisableOOMKiller: boolp(true)}}, v2: true, err: "disableOOMKiller"},
		{name: "oom killer false v2", r: specs.LinuxResources{Memory: &specs.LinuxMemory{DisableOOMKiller: boolp(false)}}, v2: true},
		{name: "bad page size", r: specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "../x"}}}, err: "pageSize"},
	} {
		err := checkSupported(&tc.r, tc.v2)
		if tc.err == "" {
			if err != nil {
				t.Errorf("%s: unexpected error %v", tc.name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: error = %v, want %q", tc.name, err, tc.err)
		}
		notSupported := map[string]bool{"leafWeight v2": true, "device leafWeight v2": true, "realtime v2": true, "network v2": true,
			"unified v1": true, "kernelTCP v2": true, "swappiness v2": true, "oom killer v2": true}
		if notSupported[tc.name] != errors.Is(err, ErrNotSupported) {
			t.Errorf("%s: errors.Is(%v, ErrNotSupported) = %v", tc.name, err, !notSupported[tc.name])
		}
	}
}

func TestNeededV2(t *testing.T) {
	r := &specs.LinuxResources{
		Memory:         &specs.LinuxMemory{Limit: i64(1)},
		CPU:            &specs.LinuxCPU{Shares: u64(2), Cpus: "0"},
		Pids:           &specs.LinuxPids{Limit: i64(0)},
		HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB"}},
	}
	want := []string{"memory", "cpu", "cpuset", "pids", "hugetlb", "io", "rdma", "misc"}
	r.BlockIO = &specs.LinuxBlockIO{Weight: u16(100)}
	r.Rdma = map[string]specs.LinuxRdma{"mlx5_0": {}}
	r.Unified = map[string]string{"cgroup.max.depth": "1", "memory.high": "1", "misc.max": "x 1"}
	if got := neededV2(r); !reflect.DeepEqual(got, want) {
		t.Fatalf("neededV2 = %v, want %v", got, want)
	}
	if got := neededV2(&specs.LinuxResources{CPU: &specs.LinuxCPU{}, BlockIO: &specs.LinuxBlockIO{Weight: u16(0)}}); len(got) != 0 {
		t.Fatalf("neededV2(empty cpu) = %v", got)
	}
}
