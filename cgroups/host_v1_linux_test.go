package cgroups

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// hostDisk returns the major:minor of a whole disk with a size, for the
// blkio throttle (which takes whole disks only), or skips.
func hostDisk(t *testing.T) specs.LinuxBlockIODevice {
	t.Helper()
	entries, _ := os.ReadDir("/sys/block")
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, "loop") || strings.HasPrefix(n, "ram") || strings.HasPrefix(n, "zram") {
			continue
		}
		size, err := readFile(filepath.Join("/sys/block", n), "size")
		if err != nil || size == "0" {
			continue
		}
		dev, err := readFile(filepath.Join("/sys/block", n), "dev")
		if err != nil {
			continue
		}
		maj, min, _ := strings.Cut(dev, ":")
		return specs.LinuxBlockIODevice{Major: atoi(t, maj), Minor: atoi(t, min)}
	}
	t.Skip("no disk for the blkio throttle")
	return specs.LinuxBlockIODevice{}
}

// TestHostV1Resources applies, on this host's v1 hierarchies, each group the
// host has and checks the kernel took it, including updates in the orders
// that only work when the driver sequences the writes.
func TestHostV1Resources(t *testing.T) {
	_, m := hostV1(t)
	cmd := startSleep(t)
	if err := m.Apply(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	set := func(t *testing.T, r specs.LinuxResources) {
		t.Helper()
		if err := m.Set(&r); err != nil {
			t.Fatal(err)
		}
	}
	expect := func(t *testing.T, controller, file, want string) {
		t.Helper()
		got, err := readFile(m.Path(controller), file)
		if err != nil || got != want {
			t.Errorf("%s = %q (%v), want %q", file, got, err, want)
		}
	}

	t.Run("cpu burst", func(t *testing.T) {
		if !exists(filepath.Join(m.Path("cpu"), "cpu.cfs_burst_us")) {
			t.Skip("no cpu.cfs_burst_us")
		}
		set(t, specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64(50000), Period: u64(100000), Burst: u64(20000)}})
		expect(t, "cpu", "cpu.cfs_burst_us", "20000")
		// Lower the quota below the current burst: the burst goes first.
		set(t, specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64(10000), Burst: u64(5000)}})
		expect(t, "cpu", "cpu.cfs_quota_us", "10000")
		expect(t, "cpu", "cpu.cfs_burst_us", "5000")
		// Raise the burst above the current quota: retried after it.
		set(t, specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64(80000), Burst: u64(60000)}})
		expect(t, "cpu", "cpu.cfs_quota_us", "80000")
		expect(t, "cpu", "cpu.cfs_burst_us", "60000")
		err := m.Set(&specs.LinuxResources{CPU: &specs.LinuxCPU{Burst: u64(90000)}})
		if err == nil || !strings.Contains(err.Error(), "linux.resources.cpu.burst: set cpu.cfs_burst_us=90000 in ") {
			t.Errorf("burst above quota = %v", err)
		}
	})
	t.Run("cpu idle", func(t *testing.T) {
		if !exists(filepath.Join(m.Path("cpu"), "cpu.idle")) {
			t.Skip("no cpu.idle")
		}
		// The kernel refuses shares for an idle group: entering idle
		// must come after the shares, leaving it before.
		set(t, specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: u64(512), Idle: i64(1)}})
		expect(t, "cpu", "cpu.idle", "1")
		set(t, specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: u64(1024), Idle: i64(0)}})
		expect(t, "cpu", "cpu.idle", "0")
		expect(t, "cpu", "cpu.shares", "1024")
	})
	t.Run("cpu realtime", func(t *testing.T) {
		if !exists(filepath.Join(m.Path("cpu"), "cpu.rt_runtime_us")) {
			t.Skip("no cpu.rt_runtime_us (CONFIG_RT_GROUP_SCHED)")
		}
		set(t, specs.LinuxResources{CPU: &specs.LinuxCPU{RealtimeRuntime: i64(5000), RealtimePeriod: u64(1000000)}})
		expect(t, "cpu", "cpu.rt_runtime_us", "5000")
		// A period below the current runtime only fits after the runtime.
		set(t, specs.LinuxResources{CPU: &specs.LinuxCPU{RealtimeRuntime: i64(100), RealtimePeriod: u64(4000)}})
		expect(t, "cpu", "cpu.rt_period_us", "4000")
		expect(t, "cpu", "cpu.rt_runtime_us", "100")
		set(t, specs.LinuxResources{CPU: &specs.LinuxCPU{RealtimeRuntime: i64(0)}}) // 0 is unset
		expect(t, "cpu", "cpu.rt_runtime_us", "100")
	})
	t.Run("memory kernel", func(t *testing.T) {
		// Deprecated: written where the file exists, ignored by 5.x+.
		set(t, specs.LinuxResources{Memory: &specs.LinuxMemory{Kernel: i64(64 << 20), KernelTCP: i64(8 << 20)}})
		if exists(filepath.Join(m.Path("memory"), "memory.kmem.tcp.limit_in_bytes")) {
			expect(t, "memory", "memory.kmem.tcp.limit_in_bytes", "8388608")
		}
	})
	t.Run("blkio", func(t *testing.T) {
		disk := hostDisk(t)
		dev := devString(disk)
		td := func(rate uint64) []specs.LinuxThrottleDevice {
			return []specs.LinuxThrottleDevice{{LinuxBlockIODevice: disk, Rate: rate}}
		}
		set(t, specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{ThrottleReadBpsDevice: td(1 << 20), ThrottleWriteBpsDevice: td(2 << 20),
			ThrottleReadIOPSDevice: td(100), ThrottleWriteIOPSDevice: td(200)}})
		expect(t, "blkio", "blkio.throttle.read_bps_device", dev+" 1048576")
		expect(t, "blkio", "blkio.throttle.write_bps_device", dev+" 2097152")
		expect(t, "blkio", "blkio.throttle.read_iops_device", dev+" 100")
		expect(t, "blkio", "blkio.throttle.write_iops_device", dev+" 200")
		set(t, specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{ThrottleReadBpsDevice: td(0)}}) // 0 removes it
		expect(t, "blkio", "blkio.throttle.read_bps_device", "")
		err := m.Set(&specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{ThrottleReadBpsDevice: []specs.LinuxThrottleDevice{
			{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 4000, Minor: 0}, Rate: 1}}}})
		if err == nil || !strings.Contains(err.Error(), "linux.resources.blockIO.throttleReadBpsDevice[0]: set blkio.throttle.read_bps_device=4000:0 1 in ") {
			t.Errorf("throttle of a missing disk = %v", err)
		}
		if firstExisting(m.Path("blkio"), "blkio.weight|blkio.bfq.weight") == "" {
			err := m.Set(&specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: u16(500)}})
			if err == nil || !strings.Contains(err.Error(), "linux.resources.blockIO.weight=500 (needs the CFQ or BFQ I/O scheduler): this kernel has no blkio.weight or blkio.bfq.weight in "+m.Path("blkio")) {
				t.Errorf("weight without CFQ/BFQ = %v", err)
			}
		}
	})
	t.Run("absent controllers", func(t *testing.T) {
		for c, r := range map[string]specs.LinuxResources{
			"net_cls":  {Network: &specs.LinuxNetwork{ClassID: u32(0x100001)}},
			"net_prio": {Network: &specs.LinuxNetwork{Priorities: []specs.LinuxInterfacePriority{{Name: "lo", Priority: 1}}}},
			"rdma":     {Rdma: map[string]specs.LinuxRdma{"mlx5_0": {HcaHandles: u32(1)}}},
		} {
			if m.Path(c) != "" {
				continue
			}
			err := m.Set(&r)
			if err == nil || !strings.Contains(err.Error(), "the "+c+" cgroup controller is not mounted") {
				t.Errorf("Set(%s) = %v", c, err)
			}
		}
	})
	t.Run("devices", func(t *testing.T) {
		rules := DeviceRules([]specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}, nil)
		set(t, specs.LinuxResources{Devices: rules})
		want := "b *:* m\nc *:* m\nc 1:3 rwm\nc 1:5 rwm\nc 1:7 rwm\nc 1:8 rwm\nc 1:9 rwm\nc 5:0 rwm\nc 5:1 rwm\nc 5:2 rwm\nc 10:200 rwm\nc 136:* rwm"
		if got := sortedLines(t, m.Path("devices")); got != want {
			t.Errorf("devices.list =\n%s\nwant\n%s", got, want)
		}
		// Update: drop reading and writing tun (mknod stays with c *:* m)
		// and writing /dev/zero, add 4:1 r.
		rules = append(rules, devRule(false, "c", 10, 200, "rw"), devRule(false, "c", 1, 5, "w"), devRule(true, "c", 4, 1, "r"))
		set(t, specs.LinuxResources{Devices: rules})
		want = "b *:* m\nc *:* m\nc 1:3 rwm\nc 1:5 rm\nc 1:7 rwm\nc 1:8 rwm\nc 1:9 rwm\nc 4:1 r\nc 5:0 rwm\nc 5:1 rwm\nc 5:2 rwm\nc 10:200 m\nc 136:* rwm"
		if got := sortedLines(t, m.Path("devices")); got != want {
			t.Errorf("devices.list after update =\n%s\nwant\n%s", got, want)
		}
		set(t, specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}})
		expect(t, "devices", "devices.list", "a *:* rwm")
	})
	t.Run("stats", func(t *testing.T) {
		// Charges stay where they were made: work inside the cgroup.
		// O_DIRECT so the reads reach the disk, not the page cache.
		file := filepath.Join(t.TempDir(), "data")
		if err := os.WriteFile(file, make([]byte, 1<<20), 0o644); err != nil {
			t.Fatal(err)
		}
		w := startIn(t, m, "head -c 4000000 /dev/urandom | od >/dev/null; "+
			"dd if="+file+" of=/dev/null bs=64k iflag=direct 2>/dev/null && echo direct; echo done; exec sleep 60")
		direct := false
		for {
			line, err := w.out.ReadString('\n')
			if err != nil {
				t.Fatalf("worker: %q, %v", line, err)
			}
			if line == "done\n" {
				break
			}
			direct = line == "direct\n"
		}
		if !direct {
			t.Log("no O_DIRECT read (tmpfs?): blkio stats not checked")
		}
		s, err := m.Stats()
		if err != nil {
			t.Fatal(err)
		}
		if s.Memory.Usage.Usage == 0 || s.Memory.Usage.Limit == 0 || s.Memory.Raw == nil {
			t.Errorf("memory stats = %+v", s.Memory.Usage)
		}
		if s.Pids.Current != 2 { // sleep and the worker
			t.Errorf("pids stats = %+v", s.Pids)
		}
		if s.CPU.Usage.Total == 0 || len(s.CPU.Usage.Percpu) == 0 {
			t.Errorf("cpu stats = %+v", s.CPU.Usage)
		}
		if direct && len(s.Blkio.IoServiceBytesRecursive) == 0 {
			t.Errorf("blkio stats = %+v after a direct read", s.Blkio)
		}
		if n, err := m.OOMKillCount(); err != nil || n != 0 {
			t.Errorf("OOMKillCount = %d, %v", n, err)
		}
	})
}

type worker struct {
	cmd *exec.Cmd
	out *bufio.Reader
}

// startIn runs a shell script in the manager's cgroups from its start: the
// shell waits on stdin until it has been moved.
func startIn(t *testing.T, m Manager, script string) *worker {
	t.Helper()
	cmd := exec.Command("sh", "-c", "read x; "+script)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	if err := m.Apply(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(in, "go\n"); err != nil {
		t.Fatal(err)
	}
	return &worker{cmd, bufio.NewReader(out)}
}

func sortedLines(t *testing.T, dir string) string {
	t.Helper()
	s, err := readFile(dir, "devices.list")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(s, "\n")
	// devices.list order is the kernel's; sort by the numbers for the test.
	p, _, err := parseDevicesList(s)
	if err != nil {
		t.Fatal(err)
	}
	if len(p) != len(lines) {
		t.Fatalf("duplicate keys in devices.list:\n%s", s)
	}
	var out []string
	for _, k := range sortedKeys(p) {
		out = append(out, k.String()+" "+accessString(p[k]))
	}
	return strings.Join(out, "\n")
}

// TestHostV1OOM makes a process in a 16 MiB cgroup allocate 64 MiB and
// checks the OOM kill is notified and counted, and that the notification
// channel closes when the cgroup is removed.
func TestHostV1OOM(t *testing.T) {
	_, m := hostV1(t)
	if err := m.Apply(-1); err != nil {
		t.Fatal(err)
	}
	lim := int64(16 << 20)
	if err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &lim, Swap: &lim}}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := m.WaitOOM(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cmd := startIn(t, m, "exec dd if=/dev/zero of=/dev/null bs=64M count=1").cmd
	select {
	case _, ok := <-ch:
		if !ok {
			t.Fatal("channel closed instead of an OOM event")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no OOM event")
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("dd ended with %v, want killed by SIGKILL", err)
	}
	if n, err := m.OOMKillCount(); err != nil || n != 1 {
		t.Fatalf("OOMKillCount = %d, %v; want 1", n, err)
	}
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	select {
	case _, ok := <-ch:
		if ok {
			// A second event from the same OOM may still be queued.
			if _, ok := <-ch; ok {
				t.Fatal("event after removal")
			}
		}
	case <-time.After(5 * time.Second):
		t.Fatal("channel not closed after the cgroup was removed")
	}
}
