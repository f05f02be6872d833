package cgroups

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// fakeV1 builds a v1 manager over plain directories: controller -> files
// (name -> content). Each write replaces a file, so a test sees the last
// value written to it.
func fakeV1(t *testing.T, tree map[string]map[string]string) *v1Manager {
	t.Helper()
	root := t.TempDir()
	m := &v1Manager{paths: map[string]string{}}
	for c, files := range tree {
		dir := filepath.Join(root, c, "ctr")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for f, content := range files {
			if err := os.WriteFile(filepath.Join(dir, f), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		m.paths[c] = dir
	}
	return m
}

func emptyFiles(names ...string) map[string]string {
	out := map[string]string{}
	for _, n := range names {
		out[n] = ""
	}
	return out
}

// fakeV1Tree is a v1 host with CFQ (blkio.weight), realtime groups, burst,
// idle, net_cls/net_prio and rdma.
func fakeV1Tree() map[string]map[string]string {
	return map[string]map[string]string{
		"cpu": emptyFiles("cpu.shares", "cpu.cfs_quota_us", "cpu.cfs_period_us", "cpu.cfs_burst_us",
			"cpu.rt_runtime_us", "cpu.rt_period_us", "cpu.idle"),
		"memory": emptyFiles("memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.soft_limit_in_bytes",
			"memory.kmem.limit_in_bytes", "memory.kmem.tcp.limit_in_bytes", "memory.swappiness", "memory.oom_control"),
		"blkio": emptyFiles("blkio.weight", "blkio.weight_device", "blkio.leaf_weight", "blkio.leaf_weight_device",
			"blkio.throttle.read_bps_device", "blkio.throttle.write_bps_device",
			"blkio.throttle.read_iops_device", "blkio.throttle.write_iops_device"),
		"net_cls":  emptyFiles("net_cls.classid"),
		"net_prio": emptyFiles("net_prio.ifpriomap"),
		"rdma":     emptyFiles("rdma.max"),
		"pids":     emptyFiles("pids.max"),
		"devices":  {"devices.allow": "", "devices.deny": "", "devices.list": "a *:* rwm\n"},
	}
}

// TestV1SetFiles checks the file and value v1 writes for each field.
func TestV1SetFiles(t *testing.T) {
	dev := func(maj, min int64) specs.LinuxBlockIODevice { return specs.LinuxBlockIODevice{Major: maj, Minor: min} }
	for _, tc := range []struct {
		name string
		r    specs.LinuxResources
		want map[string]map[string]string // controller -> file -> value
	}{
		{
			name: "cpu",
			r: specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64(50000), Period: u64(100000), Burst: u64(10000),
				RealtimeRuntime: i64(950), RealtimePeriod: u64(1000), Idle: i64(1)}},
			want: map[string]map[string]string{"cpu": {"cpu.cfs_quota_us": "50000", "cpu.cfs_period_us": "100000",
				"cpu.cfs_burst_us": "10000", "cpu.rt_runtime_us": "950", "cpu.rt_period_us": "1000", "cpu.idle": "1"}},
		},
		{
			name: "memory kernel limits",
			r:    specs.LinuxResources{Memory: &specs.LinuxMemory{Kernel: i64(1 << 20), KernelTCP: i64(2 << 20)}},
			want: map[string]map[string]string{"memory": {"memory.kmem.limit_in_bytes": "1048576", "memory.kmem.tcp.limit_in_bytes": "2097152"}},
		},
		{
			name: "blkio weights",
			r: specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: u16(500), LeafWeight: u16(300),
				WeightDevice: []specs.LinuxWeightDevice{{LinuxBlockIODevice: dev(8, 0), Weight: u16(600), LeafWeight: u16(700)}}}},
			want: map[string]map[string]string{"blkio": {"blkio.weight": "500", "blkio.leaf_weight": "300",
				"blkio.weight_device": "8:0 600", "blkio.leaf_weight_device": "8:0 700"}},
		},
		{
			name: "blkio throttle",
			r: specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{
				ThrottleReadBpsDevice:   []specs.LinuxThrottleDevice{{LinuxBlockIODevice: dev(254, 0), Rate: 1 << 20}},
				ThrottleWriteBpsDevice:  []specs.LinuxThrottleDevice{{LinuxBlockIODevice: dev(254, 0), Rate: 2 << 20}},
				ThrottleReadIOPSDevice:  []specs.LinuxThrottleDevice{{LinuxBlockIODevice: dev(254, 0), Rate: 100}},
				ThrottleWriteIOPSDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: dev(254, 0), Rate: 0}},
			}},
			want: map[string]map[string]string{"blkio": {"blkio.throttle.read_bps_device": "254:0 1048576",
				"blkio.throttle.write_bps_device": "254:0 2097152", "blkio.throttle.read_iops_device": "254:0 100",
				"blkio.throttle.write_iops_device": "254:0 0"}},
		},
		{
			name: "network",
			r:    specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: u32(0x100001), Priorities: []specs.LinuxInterfacePriority{{Name: "eth0", Priority: 5}}}},
			want: map[string]map[string]string{"net_cls": {"net_cls.classid": "1048577"}, "net_prio": {"net_prio.ifpriomap": "eth0 5"}},
		},
		{
			name: "rdma",
			r:    specs.LinuxResources{Rdma: map[string]specs.LinuxRdma{"mlx4_0": {HcaObjects: u32(1000)}}},
			want: map[string]map[string]string{"rdma": {"rdma.max": "mlx4_0 hca_object=1000"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := fakeV1(t, fakeV1Tree())
			if err := m.Set(&tc.r); err != nil {
				t.Fatal(err)
			}
			for c, files := range tc.want {
				expectFiles(t, m.paths[c], files)
			}
		})
	}
}

// TestV1SetBFQ: without CFQ's files the weights go to BFQ's.
func TestV1SetBFQ(t *testing.T) {
	tree := fakeV1Tree()
	tree["blkio"] = emptyFiles("blkio.bfq.weight", "blkio.bfq.weight_device")
	m := fakeV1(t, tree)
	r := &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: u16(200),
		WeightDevice: []specs.LinuxWeightDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 16}, Weight: u16(300)}}}}
	if err := m.Set(r); err != nil {
		t.Fatal(err)
	}
	expectFiles(t, m.paths["blkio"], map[string]string{"blkio.bfq.weight": "200", "blkio.bfq.weight_device": "8:16 300"})
}

// TestV1SetRefused: what the host lacks is an error naming the field, its
// value and the file, and nothing is written.
func TestV1SetRefused(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(map[string]map[string]string)
		r      specs.LinuxResources
		err    string
	}{
		{"no CFQ or BFQ", func(tr map[string]map[string]string) { delete(tr["blkio"], "blkio.weight") },
			specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: u16(500)}},
			"linux.resources.blockIO.weight=500 (needs the CFQ or BFQ I/O scheduler): this kernel has no blkio.weight or blkio.bfq.weight in "},
		{"no leaf weight", func(tr map[string]map[string]string) { delete(tr["blkio"], "blkio.leaf_weight") },
			specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{LeafWeight: u16(500)}},
			"linux.resources.blockIO.leafWeight=500 (needs the CFQ I/O scheduler): this kernel has no blkio.leaf_weight in "},
		{"net_cls not mounted", func(tr map[string]map[string]string) { delete(tr, "net_cls") },
			specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: u32(7)}},
			"linux.resources.network.classID=7: the net_cls cgroup controller is not mounted"},
		{"net_prio not mounted", func(tr map[string]map[string]string) { delete(tr, "net_prio") },
			specs.LinuxResources{Network: &specs.LinuxNetwork{Priorities: []specs.LinuxInterfacePriority{{Name: "lo", Priority: 1}}}},
			"linux.resources.network.priorities: the net_prio cgroup controller is not mounted"},
		{"rdma not mounted", func(tr map[string]map[string]string) { delete(tr, "rdma") },
			specs.LinuxResources{Rdma: map[string]specs.LinuxRdma{"mlx4_0": {}}},
			"linux.resources.rdma: the rdma cgroup controller is not mounted"},
		{"no burst", func(tr map[string]map[string]string) { delete(tr["cpu"], "cpu.cfs_burst_us") },
			specs.LinuxResources{CPU: &specs.LinuxCPU{Burst: u64(5)}},
			"linux.resources.cpu.burst=5: this kernel has no cpu.cfs_burst_us in "},
		{"no realtime groups", func(tr map[string]map[string]string) { delete(tr["cpu"], "cpu.rt_runtime_us") },
			specs.LinuxResources{CPU: &specs.LinuxCPU{RealtimeRuntime: i64(5)}},
			"this kernel has no cpu.rt_runtime_us in "},
		{"no swap accounting", func(tr map[string]map[string]string) { delete(tr["memory"], "memory.memsw.limit_in_bytes") },
			specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(100), Swap: i64(200)}},
			"linux.resources.memory.swap=200 (the kernel does not account swap; boot with swapaccount=1): this kernel has no memory.memsw.limit_in_bytes"},
		{"no hugetlb anywhere", func(map[string]map[string]string) {},
			specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB"}}},
			"linux.resources.hugepageLimits: the hugetlb cgroup controller is not mounted"},
		{"unified", func(map[string]map[string]string) {},
			specs.LinuxResources{Unified: map[string]string{"memory.high": "1"}},
			"linux.resources.unified: needs cgroup v2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tree := fakeV1Tree()
			tc.change(tree)
			m := fakeV1(t, tree)
			tc.r.Pids = &specs.LinuxPids{Limit: i64(9)}
			err := m.Set(&tc.r)
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("Set = %v, want %q", err, tc.err)
			}
			if got := readBack(t, filepath.Join(m.paths["pids"], "pids.max")); got != "" {
				t.Errorf("pids.max written despite the refusal: %q", got)
			}
		})
	}
}

func TestV1StatsFake(t *testing.T) {
	m := fakeV1(t, map[string]map[string]string{
		"memory": {"memory.stat": "cache 100\nrss 200\n", "memory.usage_in_bytes": "300", "memory.max_usage_in_bytes": "400",
			"memory.limit_in_bytes": "9223372036854771712", "memory.failcnt": "2", "memory.memsw.usage_in_bytes": "310",
			"memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n"},
		"cpuacct": {"cpuacct.usage": "123456789", "cpuacct.usage_percpu": "100 200 \n", "cpuacct.stat": "user 10\nsystem 5\n"},
		"cpu":     {"cpu.stat": "nr_periods 4\nnr_throttled 1\nthrottled_time 999\nnr_bursts 0\nburst_time 0\n"},
		"pids":    {"pids.current": "3", "pids.max": "10"},
		"blkio": {"blkio.throttle.io_service_bytes_recursive": "254:0 Read 4096\n254:0 Write 8192\n254:0 Total 12288\nTotal 12288\n",
			"blkio.throttle.io_serviced_recursive": "254:0 Read 1\n254:0 Write 2\nTotal 3\n"},
	})
	s, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.Memory.Usage != (MemoryEntry{Usage: 300, Max: 400, Limit: 9223372036854771712, Failcnt: 2}) || s.Memory.Cache != 100 || s.Memory.Swap.Usage != 310 {
		t.Errorf("memory = %+v", s.Memory)
	}
	if s.CPU.Usage.Total != 123456789 || len(s.CPU.Usage.Percpu) != 2 || s.CPU.Usage.User != 100000000 || s.CPU.Usage.Kernel != 50000000 ||
		s.CPU.Throttling != (Throttling{4, 1, 999}) {
		t.Errorf("cpu = %+v", s.CPU)
	}
	if s.Pids != (PidsStats{3, 10}) {
		t.Errorf("pids = %+v", s.Pids)
	}
	if len(s.Blkio.IoServiceBytesRecursive) != 3 || s.Blkio.IoServiceBytesRecursive[1] != (BlkioEntry{254, 0, "Write", 8192}) || len(s.Blkio.IoServicedRecursive) != 2 {
		t.Errorf("blkio = %+v", s.Blkio)
	}
	if n, err := m.OOMKillCount(); err != nil || n != 3 {
		t.Errorf("OOMKillCount = %d, %v", n, err)
	}
}
