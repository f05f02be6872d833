package cgroups

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func mustRead(t *testing.T, dir, file string) string {
	t.Helper()
	s, err := readFile(dir, file)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestHostV2Cgroup2 uses the host's cgroup2 hierarchy through the v2
// manager whatever controllers it has (on this project's hybrid host only
// hugetlb): hugepage limits, unified keys, the errors for controllers it
// lacks, and stats.
func TestHostV2Cgroup2(t *testing.T) {
	m := hostV2Dir(t)
	have := mustRead(t, m.dir, "cgroup.controllers")
	if hasWord(have, "hugetlb") && exists("/sys/kernel/mm/hugepages/hugepages-2048kB") {
		if err := m.Set(&specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 4 << 20}}}); err != nil {
			t.Fatal(err)
		}
		if got := mustRead(t, m.dir, "hugetlb.2MB.max"); got != "4194304" {
			t.Errorf("hugetlb.2MB.max = %q", got)
		}
		if err := m.Set(&specs.LinuxResources{Unified: map[string]string{"hugetlb.2MB.max": "6291456"}}); err != nil {
			t.Fatal(err)
		}
		if got := mustRead(t, m.dir, "hugetlb.2MB.max"); got != "6291456" {
			t.Errorf("hugetlb.2MB.max after unified = %q", got)
		}
	}
	if err := m.Set(&specs.LinuxResources{Unified: map[string]string{"cgroup.max.descendants": "5"}}); err != nil {
		t.Fatal(err)
	}
	if got := mustRead(t, m.dir, "cgroup.max.descendants"); got != "5" {
		t.Errorf("cgroup.max.descendants = %q", got)
	}
	if !hasWord(have, "memory") {
		err := m.Set(&specs.LinuxResources{Unified: map[string]string{"memory.high": "1"}})
		if err == nil || !strings.Contains(err.Error(), "the memory controller is not available in "+m.dir) {
			t.Errorf("Set(unified memory.high) = %v", err)
		}
		err = m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(1 << 30)}})
		if err == nil || !strings.Contains(err.Error(), "the memory controller is not available") {
			t.Errorf("Set(memory) = %v", err)
		}
		if _, err := m.WaitOOM(context.Background()); err == nil || !strings.Contains(err.Error(), "no memory.events") {
			t.Errorf("WaitOOM without memory = %v", err)
		}
	}

	out := inCgroup(t, m.dir, "head -c 2000000 /dev/urandom | od >/dev/null; echo ok")
	if !strings.Contains(out, "ok") {
		t.Fatal(out)
	}
	s, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.CPU.Usage.Total == 0 || s.CPU.Usage.User+s.CPU.Usage.Kernel == 0 {
		t.Errorf("cpu stats = %+v (cpu.stat is a core file)", s.CPU)
	}
	if _, ok := s.Hugetlb["2MB"]; hasWord(have, "hugetlb") && exists("/sys/kernel/mm/hugepages/hugepages-2048kB") && !ok {
		t.Errorf("hugetlb stats = %v", s.Hugetlb)
	}
	if hasWord(have, "memory") && (s.Memory.Usage.Max == 0 && s.Memory.Raw == nil) {
		t.Errorf("memory stats = %+v", s.Memory)
	}
}

// TestHostV2Resources applies each group the host's cgroup2 hierarchy has
// (all of them on a pure v2 host, such as the VM lane) and reads the files
// back.
func TestHostV2Resources(t *testing.T) {
	m := hostV2Dir(t)
	set := func(t *testing.T, r specs.LinuxResources) {
		t.Helper()
		if err := m.Set(&r); err != nil {
			t.Fatal(err)
		}
	}
	expect := func(t *testing.T, file, want string) {
		t.Helper()
		if got := mustRead(t, m.dir, file); got != want {
			t.Errorf("%s = %q, want %q", file, got, want)
		}
	}
	controller := func(t *testing.T, c string) {
		t.Helper()
		if !hasWord(mustRead(t, m.root, "cgroup.controllers"), c) {
			t.Skipf("no %s controller in the cgroup2 hierarchy", c)
		}
	}
	t.Run("memory", func(t *testing.T) {
		controller(t, "memory")
		r := specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(64 << 20), Reservation: i64(32 << 20)}}
		swap := exists(filepath.Join(m.dir, "memory.swap.max"))
		if swap {
			r.Memory.Swap = i64(96 << 20)
		}
		set(t, r)
		expect(t, "memory.max", "67108864")
		expect(t, "memory.low", "33554432")
		if swap {
			expect(t, "memory.swap.max", "33554432")
		}
		set(t, specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(-1)}})
		expect(t, "memory.max", "max")
	})
	t.Run("cpu", func(t *testing.T) {
		controller(t, "cpu")
		set(t, specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: u64(1024), Quota: i64(50000), Period: u64(100000)}})
		expect(t, "cpu.weight", "100")
		expect(t, "cpu.max", "50000 100000")
		if exists(filepath.Join(m.dir, "cpu.max.burst")) {
			set(t, specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64(10000), Burst: u64(5000)}})
			expect(t, "cpu.max.burst", "5000")
			set(t, specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64(80000), Burst: u64(60000)}})
			expect(t, "cpu.max", "80000 100000")
			expect(t, "cpu.max.burst", "60000")
		}
		if exists(filepath.Join(m.dir, "cpu.idle")) {
			set(t, specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: u64(512), Idle: i64(1)}})
			expect(t, "cpu.idle", "1")
			set(t, specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: u64(2048), Idle: i64(0)}})
			expect(t, "cpu.idle", "0")
			expect(t, "cpu.weight", "174")
		}
		err := m.Set(&specs.LinuxResources{CPU: &specs.LinuxCPU{RealtimeRuntime: i64(1000)}})
		if err == nil || !strings.Contains(err.Error(), "linux.resources.cpu.realtimeRuntime/realtimePeriod: not supported on cgroup v2") {
			t.Errorf("Set(realtime) = %v", err)
		}
	})
	t.Run("cpuset", func(t *testing.T) {
		controller(t, "cpuset")
		set(t, specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "0", Mems: "0"}})
		expect(t, "cpuset.cpus", "0")
		expect(t, "cpuset.mems", "0")
	})
	t.Run("pids", func(t *testing.T) {
		controller(t, "pids")
		set(t, specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(0)}})
		expect(t, "pids.max", "0")
		// 0 is a real limit: not even a first process gets in.
		f, err := os.Open(m.dir)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		cmd := exec.Command("true")
		cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(f.Fd())}
		if err := cmd.Run(); !errors.Is(err, syscall.EAGAIN) {
			t.Errorf("starting a process in a pids.max=0 cgroup: %v, want EAGAIN", err)
		}
		set(t, specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(-1)}})
		expect(t, "pids.max", "max")
	})
	t.Run("io", func(t *testing.T) {
		controller(t, "io")
		disk := hostDisk(t)
		dev := devString(disk)
		td := func(rate uint64) []specs.LinuxThrottleDevice {
			return []specs.LinuxThrottleDevice{{LinuxBlockIODevice: disk, Rate: rate}}
		}
		set(t, specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{ThrottleReadBpsDevice: td(1 << 20), ThrottleWriteIOPSDevice: td(100)}})
		expect(t, "io.max", dev+" rbps=1048576 wbps=max riops=max wiops=100")
		set(t, specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{ThrottleReadBpsDevice: td(0), ThrottleWriteIOPSDevice: td(0)}})
		expect(t, "io.max", "")
		w := firstExisting(m.dir, "io.bfq.weight|io.weight")
		if w == "" {
			err := m.Set(&specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: u16(500)}})
			if err == nil || !strings.Contains(err.Error(), "this kernel has no io.bfq.weight or io.weight") {
				t.Errorf("Set(weight) = %v", err)
			}
			return
		}
		set(t, specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: u16(500)}})
		want := "default 4950"
		if w == "io.bfq.weight" {
			want = "default 500"
		}
		if got := mustRead(t, m.dir, w); !strings.HasPrefix(got, want) {
			t.Errorf("%s = %q, want %q", w, got, want)
		}
	})
}

// TestHostV2OOM runs a process that allocates past its cgroup2 memory limit
// and checks WaitOOM reports it, OOMKillCount counts it and the channel
// closes once the cgroup is empty.
func TestHostV2OOM(t *testing.T) {
	m := hostV2Dir(t)
	if !hasWord(mustRead(t, m.root, "cgroup.controllers"), "memory") {
		t.Skip("no memory controller in the cgroup2 hierarchy")
	}
	r := specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(16 << 20)}}
	if exists(filepath.Join(m.dir, "memory.swap.max")) {
		r.Memory.Swap = r.Memory.Limit // no swap
	}
	if err := m.Set(&r); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := m.WaitOOM(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := inCgroup(t, m.dir, "dd if=/dev/zero of=/dev/null bs=64M count=1; echo status $?")
	if !strings.Contains(out, "status 137") {
		t.Errorf("dd in a 16 MiB cgroup: %q, want it killed (137)", out)
	}
	select {
	case _, ok := <-ch:
		if !ok {
			t.Fatal("channel closed without an OOM event")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no OOM event")
	}
	if n, err := m.OOMKillCount(); err != nil || n != 1 {
		t.Errorf("OOMKillCount = %d, %v; want 1", n, err)
	}
	select {
	case _, ok := <-ch:
		if ok {
			t.Fatal("a second event for one OOM kill")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("channel still open with the cgroup empty")
	}
}
