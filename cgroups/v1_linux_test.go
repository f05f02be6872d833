package cgroups

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// hostV1 returns a manager for a fresh absolute cgroup on this host (v1 or
// hybrid), and removes it after the test, checking every dir is gone.
func hostV1(t *testing.T) (string, *v1Manager) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	l, err := detectLayout()
	if err != nil {
		t.Skip(err)
	}
	if l.pureV2() {
		t.Skip("pure cgroup v2 host")
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "/rt-test-" + hex.EncodeToString(b)
	mgr, err := New(name, "unused", Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := mgr.(*v1Manager)
	t.Cleanup(func() {
		if err := m.Destroy(); err != nil {
			t.Errorf("cleanup Destroy: %v", err)
		}
		for c, d := range m.Paths() {
			if exists(d) {
				t.Errorf("cgroup dir for %q left behind: %s", c, d)
			}
		}
	})
	return name, m
}

// startSleep starts a child the test owns; cleanup kills it by pid.
func startSleep(t *testing.T) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd
}

func procCgroup(t *testing.T, pid int) map[string]string {
	t.Helper()
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cg, err := parseProcCgroup(f)
	if err != nil {
		t.Fatal(err)
	}
	return cg
}

func TestHostV1Lifecycle(t *testing.T) {
	name, m := hostV1(t)
	for c, d := range m.Paths() {
		if !strings.HasSuffix(d, name) || strings.Contains(d, "process_api") {
			t.Fatalf("path for %q = %s, want .../%s outside the supervisor's cgroup", c, d, name)
		}
	}
	cmd := startSleep(t)
	pid := cmd.Process.Pid
	if err := m.Apply(pid); err != nil {
		t.Fatal(err)
	}
	if !m.Exists() {
		t.Fatal("Exists = false after Apply")
	}
	cg := procCgroup(t, pid)
	for c := range m.Paths() {
		if cg[c] != name {
			t.Errorf("/proc/%d/cgroup: %q = %q, want %q", pid, c, cg[c], name)
		}
	}
	// ensureParent filled the new cpuset.
	if dir := m.Path("cpuset"); dir != "" {
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			if v, _ := readFile(dir, f); v == "" {
				t.Errorf("%s empty after Apply", f)
			}
		}
	}

	r := &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: i64(64 << 20), Swap: i64(128 << 20), Reservation: i64(32 << 20),
			Swappiness: u64(10), DisableOOMKiller: boolp(true), KernelTCP: i64(16 << 20)},
		CPU:     &specs.LinuxCPU{Shares: u64(512), Quota: i64(50000), Period: u64(100000), Cpus: "0", Mems: "0"},
		Pids:    &specs.LinuxPids{Limit: i64(10)},
		Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
	}
	if err := m.Set(r); err != nil {
		t.Fatal(err)
	}
	expect := func(controller, file, want string) {
		t.Helper()
		got, err := readFile(m.Path(controller), file)
		if err != nil || got != want {
			t.Errorf("%s = %q (%v), want %q", file, got, err, want)
		}
	}
	expect("memory", "memory.limit_in_bytes", "67108864")
	expect("memory", "memory.memsw.limit_in_bytes", "134217728")
	expect("memory", "memory.soft_limit_in_bytes", "33554432")
	expect("memory", "memory.swappiness", "10")
	if exists(filepath.Join(m.Path("memory"), "memory.kmem.tcp.limit_in_bytes")) {
		expect("memory", "memory.kmem.tcp.limit_in_bytes", "16777216")
	}
	if v, _ := readFile(m.Path("memory"), "memory.oom_control"); !strings.Contains(v, "oom_kill_disable 1") {
		t.Errorf("memory.oom_control = %q", v)
	}
	if err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{DisableOOMKiller: boolp(false)}}); err != nil {
		t.Fatal(err)
	}
	if v, _ := readFile(m.Path("memory"), "memory.oom_control"); !strings.Contains(v, "oom_kill_disable 0") {
		t.Errorf("memory.oom_control after re-enabling = %q", v)
	}
	expect("cpu", "cpu.shares", "512")
	expect("cpu", "cpu.cfs_quota_us", "50000")
	expect("cpu", "cpu.cfs_period_us", "100000")
	expect("cpuset", "cpuset.cpus", "0")
	expect("cpuset", "cpuset.mems", "0")
	expect("pids", "pids.max", "10")

	// Lowering then raising both limits only works in the right order.
	for _, lim := range [][2]int64{{32 << 20, 48 << 20}, {256 << 20, 512 << 20}, {-1, 0}} {
		if err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(lim[0]), Swap: i64(lim[1])}}); err != nil {
			t.Fatalf("Set memory %v: %v", lim, err)
		}
	}
	expect("memory", "memory.limit_in_bytes", "9223372036854771712")
	expect("memory", "memory.memsw.limit_in_bytes", "9223372036854771712")

	// pids 0 is a real limit; -1 is max.
	if err := m.Set(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(0)}}); err != nil {
		t.Fatal(err)
	}
	expect("pids", "pids.max", "0")
	if err := m.Set(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(-1)}}); err != nil {
		t.Fatal(err)
	}
	expect("pids", "pids.max", "max")

	// A value the kernel clamps is an error, not silence.
	if err := m.Set(&specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: u64(1 << 20)}}); err == nil || !strings.Contains(err.Error(), "linux.resources.cpu.shares") {
		t.Errorf("Set(shares 1<<20) = %v", err)
	}
	if err := m.Set(&specs.LinuxResources{Unified: map[string]string{"memory.high": "1"}}); !errors.Is(err, ErrNotSupported) ||
		err.Error() != "linux.resources.unified: needs cgroup v2" {
		t.Errorf("Set(unified) = %v", err)
	}

	pids, err := m.GetPids()
	if err != nil || !slices.Contains(pids, pid) {
		t.Fatalf("GetPids = %v, %v; want %d in it", pids, err, pid)
	}

	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	if fr, err := m.Frozen(); err != nil || !fr {
		t.Fatalf("Frozen after Freeze = %v, %v", fr, err)
	}
	// A manager loaded from the saved paths sees the same cgroup.
	l, err := Load(m.Paths())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(l.Paths(), m.Paths()) {
		t.Fatalf("Load paths = %v, want %v", l.Paths(), m.Paths())
	}
	if fr, err := l.Frozen(); err != nil || !fr {
		t.Fatalf("loaded Frozen = %v, %v", fr, err)
	}
	if err := l.Thaw(); err != nil {
		t.Fatal(err)
	}
	if fr, err := m.Frozen(); err != nil || fr {
		t.Fatalf("Frozen after Thaw = %v, %v", fr, err)
	}

	// Destroy kills nothing: with the child inside it fails with EBUSY.
	sub := filepath.Join(m.Path("memory"), "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := m.Destroy(); err == nil || !strings.Contains(err.Error(), "device or resource busy") {
		t.Fatalf("Destroy with a live process = %v, want EBUSY", err)
	}
	if err := unix.Kill(pid, 0); err != nil {
		t.Errorf("child gone after a failed Destroy: %v", err)
	}
	if exists(sub) {
		t.Error("empty sub-cgroup not removed")
	}

	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	if m.Exists() {
		t.Fatal("Exists after Destroy")
	}
	for c, d := range m.Paths() {
		if exists(d) {
			t.Errorf("%s: %s still exists", c, d)
		}
	}
}

// TestHostHybridHugetlb applies a hugetlb limit in the cgroup2 hierarchy of
// a hybrid host. It restores the root's cgroup.subtree_control afterwards.
func TestHostHybridHugetlb(t *testing.T) {
	_, m := hostV1(t)
	if _, ok := m.paths["hugetlb"]; ok || m.unifiedRoot == "" {
		t.Skip("not a hybrid host with hugetlb in cgroup2")
	}
	if !exists("/sys/kernel/mm/hugepages/hugepages-2048kB") {
		t.Skip("no 2MB huge pages")
	}
	before, err := readFile(m.unifiedRoot, "cgroup.subtree_control")
	if err != nil {
		t.Fatal(err)
	}
	if !hasWord(before, "hugetlb") {
		// Cleanups run LIFO, so this runs before hostV1's: remove the
		// cgroup first, then disable hugetlb in the root again.
		t.Cleanup(func() {
			_ = m.Destroy()
			if err := writeFile(m.unifiedRoot, "cgroup.subtree_control", "-hugetlb"); err != nil {
				t.Errorf("restore root subtree_control: %v", err)
			}
		})
	}
	cmd := startSleep(t)
	if err := m.Apply(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	if cg := procCgroup(t, cmd.Process.Pid); cg[""] != strings.TrimPrefix(m.paths[""], m.unifiedRoot) {
		t.Errorf("/proc/pid/cgroup 0:: = %q, want %q", cg[""], m.paths[""])
	}
	if err := m.Set(&specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 4 << 20}}}); err != nil {
		t.Fatal(err)
	}
	if got, err := readFile(m.Path("hugetlb"), "hugetlb.2MB.max"); err != nil || got != "4194304" {
		t.Errorf("hugetlb.2MB.max = %q, %v", got, err)
	}
	if s, err := m.Stats(); err != nil {
		t.Error(err)
	} else if h, ok := s.Hugetlb["2MB"]; !ok || h != (HugetlbStat{}) {
		t.Errorf("Stats hugetlb = %v; want an unused 2MB entry", s.Hugetlb)
	}
	if err := m.Set(&specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "3MB", Limit: 1}}}); err == nil || !strings.Contains(err.Error(), "page size 3MB") {
		t.Errorf("Set(3MB) = %v", err)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
}

// TestHostV1NestedCpuset: a cgroup two levels below existing ones is made
// whole, and both new cpusets get CPUs and memory nodes (from the parent,
// filled first), so a task can join.
func TestHostV1NestedCpuset(t *testing.T) {
	top, _ := hostV1(t)
	mgr, err := New(top+"/a/b", "unused", Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := mgr.(*v1Manager)
	dir := m.Path("cpuset")
	if dir == "" {
		t.Skip("no cpuset hierarchy")
	}
	t.Cleanup(func() {
		if err := m.Destroy(); err != nil {
			t.Errorf("cleanup Destroy: %v", err)
		}
		for _, d := range m.Paths() {
			_ = unix.Rmdir(filepath.Dir(d)) // a; hostV1's cleanup removes top
		}
	})
	cmd := startSleep(t)
	if err := m.Apply(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{filepath.Dir(dir), dir} {
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			if v, _ := readFile(d, f); v == "" {
				t.Errorf("%s/%s empty after Apply", d, f)
			}
		}
	}
	if cg := procCgroup(t, cmd.Process.Pid); cg["cpuset"] != top+"/a/b" {
		t.Errorf("cpuset cgroup of the task: %q, want %q", cg["cpuset"], top+"/a/b")
	}
}
