package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtrun/rt/libcontainer/specdefault"
)

// Bundle variants. Every runtime gets its own copy of each, differing only
// in linux.cgroupsPath; all share one read-only busybox rootfs.
const (
	plain   = "plain"   // `runc spec` minus the terminal, running /bin/true
	limits  = "limits"  // plain with memory, cpu and pids limits
	secured = "seccomp" // plain with a 303-rule seccomp allow-list
	sleeper = "sleep"   // a long-running container to exec into
)

// variantSpec is rt's default spec (the same as `runc spec` but for the
// ambient capabilities, which neither kernel nor runtimes grant here) with
// ociVersion 1.0.2, terminal false, an absolute rootfs and an absolute cgroupsPath. Absolute,
// because a relative path nests under the runtime's own cgroup, which
// belongs to the machine's supervisor.
func variantSpec(variant, rootfs, cgroupsPath string) *specs.Spec {
	s := specdefault.Example()
	// crun 1.8.1 refuses ociVersion 1.3.0 ("unknown version specified");
	// runc 1.1.5's `runc spec` writes 1.0.2-dev.
	s.Version = "1.0.2"
	s.Process.Terminal = false
	s.Process.Args = []string{"/bin/true"}
	s.Root.Path = rootfs
	s.Linux.CgroupsPath = cgroupsPath
	switch variant {
	case limits:
		limit, pids := int64(256<<20), int64(128)
		shares, quota, period := uint64(512), int64(50000), uint64(100000)
		s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &limit}
		s.Linux.Resources.CPU = &specs.LinuxCPU{Shares: &shares, Quota: &quota, Period: &period}
		s.Linux.Resources.Pids = &specs.LinuxPids{Limit: &pids}
	case secured:
		sc := &specs.LinuxSeccomp{
			DefaultAction: specs.ActErrno,
			Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
		}
		for _, name := range allowedSyscalls {
			sc.Syscalls = append(sc.Syscalls, specs.LinuxSyscall{Names: []string{name}, Action: specs.ActAllow})
		}
		s.Linux.Seccomp = sc
	case sleeper:
		s.Process.Args = []string{"/bin/sleep", "3600"}
	}
	return s
}

// writeBundle writes dir/config.json.
func writeBundle(dir string, s *specs.Spec) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(s, "", "\t")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "config.json"), append(b, '\n'), 0o644)
}

// bundleDir is the bundle of variant number slot of runtime r.
func (r *runtime) bundleDir(variant string, slot int) string {
	return filepath.Join(r.dir, "bundles", fmt.Sprintf("%s-%d", variant, slot))
}

// writeBundles makes the bundles r needs: slots plain bundles (one per
// concurrent container, each with its own cgroup) and one of each other
// variant. Cgroups are <cgroupParent>/<runtime>-<variant>-<slot>.
func (r *runtime) writeBundles(rootfs, cgroupParent string, slots int) error {
	counts := map[string]int{plain: slots, limits: 1, secured: 1, sleeper: 1}
	for variant, n := range counts {
		for slot := range n {
			cg := fmt.Sprintf("/%s/%s-%s-%d", cgroupParent, r.name, variant, slot)
			if err := writeBundle(r.bundleDir(variant, slot), variantSpec(variant, rootfs, cg)); err != nil {
				return fmt.Errorf("write %s bundle: %w", variant, err)
			}
		}
	}
	return nil
}
