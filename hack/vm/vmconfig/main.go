// Command vmconfig writes the bundles the cgroup v2 VM lane (hack/vm) runs:
// variants of the config.json written by `rt spec`, each with resource
// limits, device rules and an absolute cgroupsPath, sharing one rootfs.
// Next to each config.json it writes "expect", a shell fragment with the
// values the container's cgroup files must show; the same values reach the
// container as RTVM_* environment variables, so the in-VM checks (check.sh
// inside, suite.sh outside) have a single source.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func i64(v int64) *int64   { return &v }
func u64(v uint64) *uint64 { return &v }
func deny(major, minor int64, typ, access string) specs.LinuxDeviceCgroup {
	return specs.LinuxDeviceCgroup{Allow: false, Type: typ, Major: i64(major), Minor: i64(minor), Access: access}
}
func allow(major, minor int64, typ, access string) specs.LinuxDeviceCgroup {
	return specs.LinuxDeviceCgroup{Allow: true, Type: typ, Major: i64(major), Minor: i64(minor), Access: access}
}

// /dev/kmsg (c 1:11): opening it write-only needs no capability, so a
// refusal can only come from the device cgroup. It is not among the
// devices rt allows by default. check.sh creates no node: suite.sh makes
// /kmsg in the rootfs before the containers run.
var denyAll = specs.LinuxDeviceCgroup{Allow: false, Access: "rwm"}

type variant struct {
	name   string
	args   []string
	res    specs.LinuxResources
	expect map[string]string // RTVM_* name -> value
	mutate func(*specs.Spec) // optional
}

func variants() []variant {
	limits := specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: i64(32 << 20)},
		CPU: &specs.LinuxCPU{
			Shares: u64(512), Quota: i64(50000), Period: u64(100000), Cpus: "0",
		},
		Pids:    &specs.LinuxPids{Limit: i64(32)},
		Devices: []specs.LinuxDeviceCgroup{denyAll, deny(1, 11, "c", "rwm")},
	}
	limitsExpect := map[string]string{
		"RTVM_MEMORY_MAX": fmt.Sprint(32 << 20),
		"RTVM_CPU_MAX":    "50000 100000",
		"RTVM_CPU_WEIGHT": "59", // SharesToWeight(512), as runc and crun map it
		"RTVM_CPUSET":     "0",
		"RTVM_PIDS_MAX":   "32",
		"RTVM_KMSG":       "deny",
	}
	return []variant{
		// Run in the foreground by `rt run`; check.sh checks its own cgroup.
		{"limits", []string{"/bin/sh", "/check.sh", "limits"}, limits, limitsExpect, nil},
		// Created, inspected from outside by suite.sh, then started.
		{"created", []string{"/bin/true"}, limits, limitsExpect, nil},
		// The positive control: the same device node, allowed by a rule.
		{"allow", []string{"/bin/sh", "/check.sh", "allow"}, specs.LinuxResources{
			Devices: []specs.LinuxDeviceCgroup{denyAll, allow(1, 11, "c", "w")},
		}, map[string]string{"RTVM_KMSG": "allow"}, nil},
		// Delegation: a new user namespace and a writable cgroup mount; the
		// container's root (host uid 100000) gets its cgroup directory.
		{"delegate", []string{"/bin/true"}, specs.LinuxResources{}, map[string]string{"RTVM_DELEGATE_UID": "100000"}, func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
			s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
			for i, m := range s.Mounts {
				if m.Type == "cgroup" || m.Type == "cgroup2" {
					var opts []string
					for _, o := range m.Options {
						if o != "ro" {
							opts = append(opts, o)
						}
					}
					s.Mounts[i].Options = append(opts, "rw")
				}
				if m.Destination == "/dev/pts" { // gid 5 is mapped, but keep it simple
					s.Mounts[i].Options = []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}
				}
			}
		}},
	}
}

func main() {
	base := flag.String("base", "", "config.json written by `rt spec`")
	rootfs := flag.String("rootfs", "", "root.path of every bundle (as seen in the VM)")
	out := flag.String("out", "", "directory receiving one bundle directory per variant")
	flag.Parse()
	if *base == "" || *rootfs == "" || *out == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: vmconfig -base CONFIG.JSON -rootfs PATH -out DIR")
		os.Exit(2)
	}
	if err := run(*base, *rootfs, *out); err != nil {
		fmt.Fprintln(os.Stderr, "vmconfig:", err)
		os.Exit(1)
	}
}

func run(base, rootfs, out string) error {
	data, err := os.ReadFile(base)
	if err != nil {
		return err
	}
	for _, v := range variants() {
		var s specs.Spec
		if err := json.Unmarshal(data, &s); err != nil {
			return fmt.Errorf("parse %s: %w", base, err)
		}
		if s.Process == nil || s.Linux == nil {
			return fmt.Errorf("%s: no process or linux section", base)
		}
		s.Root = &specs.Root{Path: rootfs}
		s.Process.Terminal = false
		s.Process.Args = v.args
		s.Hostname = "rtvm-" + v.name
		s.Linux.CgroupsPath = "/rtvm/" + v.name
		res := v.res
		s.Linux.Resources = &res
		if v.mutate != nil {
			v.mutate(&s)
		}
		keys := make([]string, 0, len(v.expect))
		for k := range v.expect {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var sh strings.Builder
		fmt.Fprintf(&sh, "RTVM_CGROUP='%s'\n", s.Linux.CgroupsPath)
		for _, k := range keys {
			s.Process.Env = append(s.Process.Env, k+"="+v.expect[k])
			fmt.Fprintf(&sh, "%s='%s'\n", k, v.expect[k])
		}
		dir := filepath.Join(out, v.name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		js, err := json.MarshalIndent(&s, "", "\t")
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "config.json"), append(js, '\n'), 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "expect"), []byte(sh.String()), 0o644); err != nil {
			return err
		}
	}
	return nil
}
