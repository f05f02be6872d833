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
		{name: "blockIO", r: specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{}}, err: "linux.resources.blockIO"},
		{name: "burst", r: specs.LinuxResources{CPU: &specs.LinuxCPU{Burst: u64(1)}}, err: "cpu.burst"},
		{name: "unified", r: specs.LinuxResources{Unified: map[string]string{"a": "b"}}, err: "unified"},
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
		if strings.Contains(tc.err, "resources.") && !errors.Is(err, ErrNotSupported) {
			t.Errorf("%s: error %v is not ErrNotSupported", tc.name, err)
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
	want := []string{"memory", "cpu", "cpuset", "pids", "hugetlb"}
	if got := neededV2(r); !reflect.DeepEqual(got, want) {
		t.Fatalf("neededV2 = %v, want %v", got, want)
	}
	if got := neededV2(&specs.LinuxResources{CPU: &specs.LinuxCPU{}}); len(got) != 0 {
		t.Fatalf("neededV2(empty cpu) = %v", got)
	}
}
