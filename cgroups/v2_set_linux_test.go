package cgroups

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// newFakeV2Files is newFakeV2 with every controller and the given extra
// files in the leaf (name -> content); files named in drop are left out.
func newFakeV2Files(t *testing.T, extra map[string]string, drop ...string) (string, *v2Manager) {
	t.Helper()
	const all = "cpuset cpu io memory hugetlb pids rdma misc"
	files := map[string]string{
		"cgroup.controllers": all, "cgroup.subtree_control": "",
		"a/cgroup.controllers": all, "a/cgroup.subtree_control": "",
	}
	leaf := leafFiles("a/b", all)
	for _, f := range []string{"cpu.idle", "cpu.max.burst", "io.weight", "io.max", "rdma.max", "memory.high", "cgroup.max.depth"} {
		leaf[filepath.Join("a/b", f)] = ""
	}
	for f, c := range extra {
		leaf[filepath.Join("a/b", f)] = c
	}
	for _, f := range drop {
		delete(leaf, filepath.Join("a/b", f))
	}
	for p, c := range leaf {
		files[p] = c
	}
	root := fakeTree(t, files)
	m, err := New("/a/b", "b", Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	v2 := m.(*v2Manager)
	v2.setDevices = fakeDevices
	return filepath.Join(root, "a/b"), v2
}

func expectFiles(t *testing.T, dir string, want map[string]string) {
	t.Helper()
	for f, w := range want {
		if got := readBack(t, filepath.Join(dir, f)); got != w {
			t.Errorf("%s = %q, want %q", f, got, w)
		}
	}
}

// TestV2SetFiles checks the file and value v2 writes for each field.
func TestV2SetFiles(t *testing.T) {
	for _, tc := range []struct {
		name  string
		extra map[string]string // files beyond newFakeV2Files' set
		drop  []string
		r     specs.LinuxResources
		want  map[string]string
	}{
		{
			name: "cpu",
			r:    specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: u64(2048), Quota: i64(50000), Period: u64(100000), Burst: u64(20000), Idle: i64(0)}},
			want: map[string]string{"cpu.weight": "174", "cpu.max": "50000 100000", "cpu.max.burst": "20000", "cpu.idle": "0"},
		},
		{
			name: "cpu idle",
			r:    specs.LinuxResources{CPU: &specs.LinuxCPU{Idle: i64(1)}},
			want: map[string]string{"cpu.idle": "1", "cpu.weight": "", "cpu.max": ""},
		},
		{
			name: "io.weight converted without BFQ",
			r:    specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: u16(500)}},
			want: map[string]string{"io.weight": "4950"},
		},
		{
			name: "io.weight per device",
			r: specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{WeightDevice: []specs.LinuxWeightDevice{
				{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 16}, Weight: u16(1000)}}}},
			want: map[string]string{"io.weight": "8:16 10000"},
		},
		{
			name:  "io.bfq.weight as is",
			extra: map[string]string{"io.bfq.weight": ""},
			r:     specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: u16(500)}},
			want:  map[string]string{"io.bfq.weight": "500", "io.weight": ""},
		},
		{
			name: "io.max",
			r: specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{
				ThrottleReadBpsDevice:   []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 254, Minor: 0}, Rate: 1 << 20}},
				ThrottleWriteBpsDevice:  []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 254, Minor: 0}, Rate: 0}},
				ThrottleWriteIOPSDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 254, Minor: 0}, Rate: 100}},
			}},
			want: map[string]string{"io.max": "254:0 rbps=1048576 wbps=max wiops=100"},
		},
		{
			name: "rdma",
			r:    specs.LinuxResources{Rdma: map[string]specs.LinuxRdma{"mlx5_0": {HcaHandles: u32(2), HcaObjects: u32(100)}}},
			want: map[string]string{"rdma.max": "mlx5_0 hca_handle=2 hca_object=100"},
		},
		{
			name: "unified, written last over the fields",
			r: specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(1 << 20)},
				Unified: map[string]string{"memory.high": "524288", "memory.max": "2097152", "cgroup.max.depth": "3"}},
			want: map[string]string{"memory.high": "524288", "memory.max": "2097152", "cgroup.max.depth": "3"},
		},
		{
			name: "memory",
			r:    specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(1 << 20), Swap: i64(1 << 20), Reservation: i64(-1), Kernel: i64(1 << 20)}},
			want: map[string]string{"memory.max": "1048576", "memory.swap.max": "0", "memory.low": "max"},
		},
		{
			name: "hugetlb without reservation accounting",
			drop: []string{"hugetlb.2MB.rsvd.max"},
			r:    specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 2 << 20}}},
			want: map[string]string{"hugetlb.2MB.max": "2097152"},
		},
		{
			name: "devices",
			r:    specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{devRule(false, "", -1, -1, "rwm"), devRule(true, "c", 1, 3, "rwm")}},
			want: map[string]string{"rt-devices.fake": "deny a\nallow c 1:3 rwm"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leaf, m := newFakeV2Files(t, tc.extra, tc.drop...)
			if err := m.Set(&tc.r); err != nil {
				t.Fatal(err)
			}
			expectFiles(t, leaf, tc.want)
		})
	}
}

// TestV2SetRefused checks that what this cgroup cannot apply is an error
// naming field, file and value, and that nothing is written then.
func TestV2SetRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		drop []string
		r    specs.LinuxResources
		err  string
	}{
		{"no burst knob", []string{"cpu.max.burst"}, specs.LinuxResources{CPU: &specs.LinuxCPU{Burst: u64(1000)}},
			"linux.resources.cpu.burst=1000: this kernel has no cpu.max.burst in "},
		{"no cpu.idle", []string{"cpu.idle"}, specs.LinuxResources{CPU: &specs.LinuxCPU{Idle: i64(1)}},
			"linux.resources.cpu.idle=1: this kernel has no cpu.idle in "},
		{"no io weight", []string{"io.weight"}, specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: u16(100)}},
			"linux.resources.blockIO.weight=100: this kernel has no io.bfq.weight or io.weight in "},
		{"no swap accounting", []string{"memory.swap.max"}, specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(100), Swap: i64(200)}},
			"linux.resources.memory.swap=200 (the kernel does not account swap): this kernel has no memory.swap.max"},
		{"unknown unified file", nil, specs.LinuxResources{Unified: map[string]string{"memory.nosuch": "1"}},
			`linux.resources.unified["memory.nosuch"]="1": this kernel has no memory.nosuch in `},
		{"page size", nil, specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "1GB", Limit: 1}}},
			"page size 1GB not supported by this kernel (no hugetlb.1GB.max in "},
		{"network", nil, specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: u32(1)}},
			"linux.resources.network: not supported on cgroup v2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leaf, m := newFakeV2Files(t, nil, tc.drop...)
			tc.r.Pids = &specs.LinuxPids{Limit: i64(7)}
			err := m.Set(&tc.r)
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("Set = %v, want %q", err, tc.err)
			}
			if got := readBack(t, filepath.Join(leaf, "pids.max")); got != "" {
				t.Errorf("pids.max written despite the refusal: %q", got)
			}
		})
	}
}

func TestV2UnifiedEnablesController(t *testing.T) {
	root := fakeTree(t, map[string]string{
		"cgroup.controllers": "memory misc", "cgroup.subtree_control": "",
		"x/cgroup.controllers": "", "x/misc.max": "",
	})
	m, err := New("/x", "x", Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	// The fake kernel does not make misc appear in x: the error names it.
	err = m.Set(&specs.LinuxResources{Unified: map[string]string{"misc.max": "res_a 1"}})
	if err == nil || !strings.Contains(err.Error(), "the misc controller is not available") {
		t.Fatalf("Set = %v", err)
	}
	if got := readBack(t, filepath.Join(root, "cgroup.subtree_control")); got != "+misc" {
		t.Errorf("root subtree_control = %q, want +misc", got)
	}
}

func TestV2StatsFake(t *testing.T) {
	_, m := newFakeV2Files(t, map[string]string{
		"memory.stat":         "anon 100\nfile 200\nkernel 5\n",
		"memory.current":      "300",
		"memory.peak":         "400",
		"memory.max":          "max",
		"memory.swap.current": "10",
		"memory.swap.max":     "1000",
		"memory.events":       "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n",
		"cpu.stat":            "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 7\nnr_throttled 2\nthrottled_usec 30\n",
		"pids.current":        "4",
		"pids.max":            "max",
		"io.stat":             "254:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n",
	})
	s, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.Memory.Usage != (MemoryEntry{Usage: 300, Max: 400, Limit: 1<<64 - 1, Failcnt: 3}) {
		t.Errorf("memory usage = %+v", s.Memory.Usage)
	}
	if s.Memory.Swap.Usage != 310 || s.Memory.Swap.Limit != 1<<64-1 || s.Memory.Cache != 200 || s.Memory.Raw["anon"] != 100 {
		t.Errorf("memory = %+v", s.Memory)
	}
	if s.CPU.Usage.Total != 1500000 || s.CPU.Usage.User != 1000000 || s.CPU.Usage.Kernel != 500000 ||
		s.CPU.Throttling != (Throttling{Periods: 7, ThrottledPeriods: 2, ThrottledTime: 30000}) {
		t.Errorf("cpu = %+v", s.CPU)
	}
	if s.Pids != (PidsStats{Current: 4}) {
		t.Errorf("pids = %+v", s.Pids)
	}
	if len(s.Blkio.IoServiceBytesRecursive) != 3 || s.Blkio.IoServiceBytesRecursive[1] != (BlkioEntry{Major: 254, Op: "Write", Value: 8192}) {
		t.Errorf("blkio = %+v", s.Blkio)
	}
	if n, err := m.OOMKillCount(); err != nil || n != 1 {
		t.Errorf("OOMKillCount = %d, %v", n, err)
	}

	gone, _ := Load(map[string]string{"": filepath.Join(t.TempDir(), "gone")})
	if _, err := gone.Stats(); !errors.Is(err, errNoCgroup) {
		t.Errorf("Stats of a missing cgroup = %v", err)
	}
	if _, err := gone.OOMKillCount(); !errors.Is(err, errNoCgroup) {
		t.Errorf("OOMKillCount of a missing cgroup = %v", err)
	}
}

// TestV2WaitOOMFake drives the inotify watch with writes to a fake tree
// (tmpfs reports them like cgroupfs reports the kernel's updates).
func TestV2WaitOOMFake(t *testing.T) {
	leaf, m := newFakeV2Files(t, map[string]string{
		"memory.events": "oom 0\noom_kill 0\n",
		"cgroup.events": "populated 1\nfrozen 0\n",
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := m.WaitOOM(ctx)
	if err != nil {
		t.Fatal(err)
	}
	write := func(file, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(leaf, file), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	wait := func(wantOpen bool) {
		t.Helper()
		select {
		case _, ok := <-ch:
			if ok != wantOpen {
				t.Fatalf("channel open = %v, want %v", ok, wantOpen)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no event")
		}
	}
	write("memory.events", "oom 0\noom_kill 0\nlow 1\n") // no OOM: nothing
	write("memory.events", "oom 1\noom_kill 1\n")
	wait(true)
	select {
	case <-ch:
		t.Fatal("an event without an OOM")
	case <-time.After(50 * time.Millisecond):
	}
	write("memory.events", "oom 2\noom_kill 1\n")
	wait(true)
	write("cgroup.events", "populated 0\nfrozen 0\n")
	wait(false)

	// Cancelling ctx closes the channel.
	write("cgroup.events", "populated 1\nfrozen 0\n")
	ctx2, cancel2 := context.WithCancel(context.Background())
	ch, err = m.WaitOOM(ctx2)
	if err != nil {
		t.Fatal(err)
	}
	cancel2()
	wait(false)

	// Without the memory controller there is nothing to watch.
	if err := os.Remove(filepath.Join(leaf, "memory.events")); err != nil {
		t.Fatal(err)
	}
	if _, err := m.WaitOOM(ctx); err == nil || !strings.Contains(err.Error(), "no memory.events") {
		t.Fatalf("WaitOOM without memory.events = %v", err)
	}
}
