package cgroups

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// fakeTree writes files (path -> content) below a temp dir standing in for
// a cgroup2 mount, so tests can see exactly what the v2 driver writes.
func fakeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, c := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func readBack(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const allV2 = "cpuset cpu io memory hugetlb pids"

func leafFiles(dir, controllers string) map[string]string {
	files := map[string]string{"cgroup.controllers": controllers}
	for _, f := range []string{"cgroup.procs", "cgroup.subtree_control", "cgroup.freeze", "memory.max", "memory.swap.max",
		"memory.low", "memory.current", "cpu.weight", "cpu.max", "cpuset.cpus", "cpuset.mems", "pids.max",
		"hugetlb.2MB.max", "hugetlb.2MB.rsvd.max"} {
		files[f] = ""
	}
	files["cgroup.events"] = "populated 1\nfrozen 0\n"
	out := make(map[string]string)
	for f, c := range files {
		out[filepath.Join(dir, f)] = c
	}
	return out
}

func newFakeV2(t *testing.T, leafControllers string) (string, Manager) {
	t.Helper()
	files := map[string]string{
		"cgroup.controllers":       allV2,
		"cgroup.subtree_control":   "",
		"a/cgroup.controllers":     allV2,
		"a/cgroup.subtree_control": "cpu", // already enabled: must not be written again
	}
	for p, c := range leafFiles("a/b", leafControllers) {
		files[p] = c
	}
	root := fakeTree(t, files)
	m, err := New("/a/b", "b", Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	m.(*v2Manager).setDevices = fakeDevices
	return root, m
}

// fakeDevices stands in for the eBPF attach on a fake tree: it records the
// policy as the lines a fresh v1 cgroup would get, in a file
// "rt-devices.fake".
func fakeDevices(dir string, p *devicePolicy) error {
	ws, err := v1DeviceWrites("a *:* rwm", p)
	if err != nil {
		return err
	}
	var lines []string
	for _, w := range ws {
		verb := "deny "
		if w.allow {
			verb = "allow "
		}
		lines = append(lines, verb+w.line)
	}
	return os.WriteFile(filepath.Join(dir, "rt-devices.fake"), []byte(strings.Join(lines, "\n")), 0o644)
}

func TestV2ApplySetFake(t *testing.T) {
	root, m := newFakeV2(t, allV2)
	leaf := filepath.Join(root, "a/b")
	if got := m.Paths(); !reflect.DeepEqual(got, map[string]string{"": leaf}) {
		t.Fatalf("Paths = %v", got)
	}
	if m.Path("memory") != leaf || m.Path("anything") != leaf {
		t.Fatalf("Path = %q", m.Path("memory"))
	}
	if err := m.Apply(1234); err != nil {
		t.Fatal(err)
	}
	if got := readBack(t, filepath.Join(leaf, "cgroup.procs")); got != "1234" {
		t.Errorf("cgroup.procs = %q", got)
	}
	if got := readBack(t, filepath.Join(root, "cgroup.subtree_control")); got != "+cpuset +cpu +io +memory +hugetlb +pids" {
		t.Errorf("root subtree_control = %q", got)
	}
	if got := readBack(t, filepath.Join(root, "a/cgroup.subtree_control")); got != "+cpuset +io +memory +hugetlb +pids" {
		t.Errorf("a subtree_control = %q", got)
	}

	r := &specs.LinuxResources{
		Memory:         &specs.LinuxMemory{Limit: i64(64 << 20), Swap: i64(96 << 20), Reservation: i64(32 << 20)},
		CPU:            &specs.LinuxCPU{Shares: u64(1024), Quota: i64(50000), Period: u64(100000), Cpus: "0-1", Mems: "0"},
		Pids:           &specs.LinuxPids{Limit: i64(0)},
		HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 4 << 20}},
		Devices:        []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
	}
	if err := m.Set(r); err != nil {
		t.Fatal(err)
	}
	for f, want := range map[string]string{
		"memory.max": "67108864", "memory.swap.max": "33554432", "memory.low": "33554432",
		"cpu.weight": "100", "cpu.max": "50000 100000", "cpuset.cpus": "0-1", "cpuset.mems": "0",
		"pids.max": "0", "hugetlb.2MB.max": "4194304", "hugetlb.2MB.rsvd.max": "4194304",
	} {
		if got := readBack(t, filepath.Join(leaf, f)); got != want {
			t.Errorf("%s = %q, want %q", f, got, want)
		}
	}

	// Unlimited memory: "max" for both, swap implied.
	if err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(-1)}, Pids: &specs.LinuxPids{Limit: i64(-1)}}); err != nil {
		t.Fatal(err)
	}
	for f, want := range map[string]string{"memory.max": "max", "memory.swap.max": "max", "pids.max": "max"} {
		if got := readBack(t, filepath.Join(leaf, f)); got != want {
			t.Errorf("%s = %q, want %q", f, got, want)
		}
	}

	if got := readBack(t, filepath.Join(leaf, "rt-devices.fake")); got != "deny a" {
		t.Errorf("device policy = %q, want deny-all", got)
	}

	// Nothing is written when one field is unsupported.
	err := m.Set(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(5)}, CPU: &specs.LinuxCPU{RealtimeRuntime: i64(1000)}})
	if !errors.Is(err, ErrNotSupported) {
		t.Fatalf("Set(realtime) = %v, want ErrNotSupported", err)
	}
	if got := readBack(t, filepath.Join(leaf, "pids.max")); got != "max" {
		t.Errorf("pids.max written despite refused request: %q", got)
	}

	// Swap below the limit names both fields.
	err = m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(100), Swap: i64(50)}})
	if err == nil || !strings.Contains(err.Error(), "linux.resources.memory.swap") {
		t.Fatalf("Set(swap<limit) = %v", err)
	}
}

func TestV2MissingController(t *testing.T) {
	_, m := newFakeV2(t, "cpu memory") // the fake kernel never enables pids here
	err := m.Set(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(5)}})
	if err == nil || !strings.Contains(err.Error(), "the pids controller is not available") {
		t.Fatalf("Set(pids) without pids = %v", err)
	}
}

func TestV2FreezeGetPidsLoadFake(t *testing.T) {
	root, m := newFakeV2(t, allV2)
	leaf := filepath.Join(root, "a/b")
	if err := os.WriteFile(filepath.Join(leaf, "cgroup.procs"), []byte("30\n7\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(leaf, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sub, "cgroup.procs"), []byte("7\n12\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pids, err := m.GetPids()
	if err != nil || !reflect.DeepEqual(pids, []int{7, 12, 30}) {
		t.Fatalf("GetPids = %v, %v", pids, err)
	}

	if frozen, err := m.Frozen(); err != nil || frozen {
		t.Fatalf("Frozen = %v, %v", frozen, err)
	}
	// The fake kernel reports frozen at once.
	if err := os.WriteFile(filepath.Join(leaf, "cgroup.events"), []byte("populated 1\nfrozen 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	if got := readBack(t, filepath.Join(leaf, "cgroup.freeze")); got != "1" {
		t.Errorf("cgroup.freeze = %q", got)
	}
	if err := m.Thaw(); err != nil {
		t.Fatal(err)
	}
	if got := readBack(t, filepath.Join(leaf, "cgroup.freeze")); got != "0" {
		t.Errorf("cgroup.freeze = %q", got)
	}

	l, err := Load(m.Paths())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(l.Paths(), m.Paths()) || !l.Exists() {
		t.Fatalf("Load: paths %v, exists %v", l.Paths(), l.Exists())
	}
}

func TestWriteFileError(t *testing.T) {
	dir := t.TempDir()
	err := writeFile(dir, "memory.limit_in_bytes", "4194304")
	want := "set memory.limit_in_bytes=4194304 in " + dir + ": no such file or directory"
	if err == nil || err.Error() != want || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("writeFile error = %v, want %q", err, want)
	}
}

func TestNewOptions(t *testing.T) {
	_, err := New("/x", "x", Options{Systemd: true})
	if err == nil || err.Error() != "systemd cgroup driver: no systemd running" && !errors.Is(err, ErrNotSupported) {
		t.Fatalf("New(Systemd) = %v", err)
	}
	if _, err := New("system.slice:rt:x", "x", Options{}); err == nil || !strings.Contains(err.Error(), "linux.cgroupsPath") {
		t.Fatalf("New(systemd path) = %v", err)
	}
	if _, err := Load(nil); err == nil {
		t.Fatal("Load(nil) accepted")
	}
	if _, err := Load(map[string]string{"memory": "rel/x"}); err == nil {
		t.Fatal("Load(relative) accepted")
	}
}

func TestApplyPidZeroAndGoneFrozen(t *testing.T) {
	root, m := newFakeV2(t, allV2)
	if err := m.Apply(0); err == nil {
		t.Fatal("Apply(0) accepted")
	}
	if err := m.Apply(-1); err != nil {
		t.Fatal(err)
	}
	if got := readBack(t, filepath.Join(root, "a/b/cgroup.procs")); got != "" {
		t.Fatalf("Apply(-1) wrote cgroup.procs: %q", got)
	}
	gone, err := Load(map[string]string{"": filepath.Join(root, "gone")})
	if err != nil {
		t.Fatal(err)
	}
	if fr, err := gone.Frozen(); err != nil || fr || gone.Exists() {
		t.Fatalf("missing cgroup: Frozen = %v, %v; Exists = %v", fr, err, gone.Exists())
	}
	if pids, err := gone.GetPids(); err != nil || len(pids) != 0 {
		t.Fatalf("missing cgroup: GetPids = %v, %v", pids, err)
	}
	if err := gone.Destroy(); err != nil {
		t.Fatalf("Destroy of a missing cgroup: %v", err)
	}
}
