package tests

import (
	"fmt"
	"os"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// TestCgroupResources: the configured values land in the container's cgroup
// files on the host, and the container's processes are in that cgroup.
func TestCgroupResources(t *testing.T) {
	limit, swap, shares, pids := int64(64<<20), int64(64<<20), uint64(512), int64(42)
	quota, period := int64(50000), uint64(100000)
	b := newBundle(t, shell(`cat /proc/self/cgroup; sleep 1000`), func(s *specs.Spec) {
		s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &limit, Swap: &swap}
		s.Linux.Resources.CPU = &specs.LinuxCPU{Shares: &shares, Quota: &quota, Period: &period, Cpus: "0"}
		s.Linux.Resources.Pids = &specs.LinuxPids{Limit: &pids}
	})
	b.create().mustOK(t)

	// Applied at create, before the user program runs.
	files := []struct{ controller, file, want string }{
		{"memory", "memory.limit_in_bytes", "67108864"},
		{"pids", "pids.max", "42"},
		{"cpu", "cpu.shares", "512"},
		{"cpu", "cpu.cfs_quota_us", "50000"},
		{"cpu", "cpu.cfs_period_us", "100000"},
		{"cpuset", "cpuset.cpus", "0"},
	}
	for _, f := range files {
		path := cgroupDir(f.controller, b.CgroupsPath) + "/" + f.file
		data, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%s: %v", f.file, err)
			continue
		}
		if got := strings.TrimSpace(string(data)); got != f.want {
			t.Errorf("%s = %q, want %q", path, got, f.want)
		}
	}
	// The init is already in the cgroup while created.
	procs := mustRead(t, cgroupDir("memory", b.CgroupsPath)+"/cgroup.procs")
	if !containsLine(procs, itoa(b.pid)) {
		t.Errorf("memory cgroup.procs %q lacks init pid %d", procs, b.pid)
	}

	rt(t, "start", b.ID).mustOK(t)
	waitOutput(t, b, "pids:")
	got := map[string]string{}
	for _, line := range strings.Split(b.containerOutput(), "\n") {
		if f := strings.SplitN(line, ":", 3); len(f) == 3 {
			got[f[1]] = f[2]
		}
	}
	for _, c := range []string{"memory", "pids", "devices", "cpu"} {
		if got[c] != b.CgroupsPath {
			t.Errorf("/proc/self/cgroup: %s is %q, want %q", c, got[c], b.CgroupsPath)
		}
	}

	rt(t, "delete", "--force", b.ID).mustOK(t)
	assertGone(t, b)
}

// TestPidsLimitEnforced: pids.max stops a fork bomb inside the container.
func TestPidsLimitEnforced(t *testing.T) {
	limit := int64(5)
	out := newBundle(t, shell(`for i in 1 2 3 4 5 6 7 8; do sleep 5 & done 2>&1; echo done`), func(s *specs.Spec) {
		s.Linux.Resources.Pids = &specs.LinuxPids{Limit: &limit}
	}).run().stdout
	mustContain(t, "fork beyond pids.max", strings.ToLower(out), "resource temporarily unavailable")
}

// TestDevicesCgroup: the default deny-all plus default devices lets the
// container use /dev/null (even a node it made itself) but not /dev/mem.
func TestDevicesCgroup(t *testing.T) {
	// A loop device: root may read a block device node it made without any
	// capability (an unbound loop device reads as empty), so only the device
	// cgroup can stop it. (The host's own disk is off limits on this VM.)
	var st unix.Stat_t
	if err := unix.Stat("/dev/loop0", &st); err != nil {
		t.Skipf("no /dev/loop0 on this host (%v): the check needs a block device root may read", err)
	}
	disk := fmt.Sprintf("%d %d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
	script := `echo x > /dev/null && echo null-ok
mknod /tmp/null2 c 1 3 && echo y > /tmp/null2 && echo null2-ok
mknod /tmp/disk b ` + disk + ` && (head -c1 /tmp/disk >/dev/null 2>&1 && echo disk-read || echo disk-denied)`
	withMknod := func(s *specs.Spec) {
		s.Root.Readonly = false
		s.Process.Capabilities.Bounding = append(s.Process.Capabilities.Bounding, "CAP_MKNOD")
		s.Process.Capabilities.Effective = append(s.Process.Capabilities.Effective, "CAP_MKNOD")
		s.Process.Capabilities.Permitted = append(s.Process.Capabilities.Permitted, "CAP_MKNOD")
	}
	out := newBundle(t, shell(script), withMknod).output()
	mustContain(t, "/dev/null", out, "null-ok")
	mustContain(t, "a new node of an allowed device", out, "null2-ok")
	mustContain(t, "block device "+disk+" under deny-all", out, "disk-denied")
	// The rules are in the container's devices cgroup on the host.
	b := newBundle(t, args("true"))
	b.create().mustOK(t)
	list, err := os.ReadFile(cgroupDir("devices", b.CgroupsPath) + "/devices.list")
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, "devices.list", string(list), "c 1:3 rwm")
	mustContain(t, "devices.list", string(list), "c 136:* rwm")
	if strings.Contains(string(list), "a *:* rwm") {
		t.Errorf("devices.list still allows everything:\n%s", list)
	}

	// Control: with an allow-all rule the same read succeeds, so the denial
	// above comes from the device cgroup and nothing else.
	out = newBundle(t, shell(script), withMknod, func(s *specs.Spec) {
		s.Linux.Resources.Devices = []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}
	}).output()
	mustContain(t, "block device "+disk+" under allow-all", out, "disk-read")
}
