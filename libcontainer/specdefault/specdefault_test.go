package specdefault_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtrun/rt/libcontainer/specdefault"
	"github.com/rtrun/rt/libcontainer/validate"
)

func bundle(t *testing.T) string {
	b := t.TempDir()
	if err := os.Mkdir(filepath.Join(b, "rootfs"), 0o755); err != nil {
		t.Fatal(err)
	}
	return b
}

func nsTypes(s *specs.Spec) []specs.LinuxNamespaceType {
	var out []specs.LinuxNamespaceType
	for _, n := range s.Linux.Namespaces {
		out = append(out, n.Type)
	}
	return out
}

func mount(s *specs.Spec, dest string) *specs.Mount {
	for i := range s.Mounts {
		if s.Mounts[i].Destination == dest {
			return &s.Mounts[i]
		}
	}
	return nil
}

func TestExample(t *testing.T) {
	s := specdefault.Example()
	if err := validate.Spec(s, bundle(t)); err != nil {
		t.Fatalf("Example does not validate: %v", err)
	}
	checks := []struct {
		name string
		ok   bool
	}{
		{"version", s.Version == specs.Version},
		{"rootfs", s.Root.Path == "rootfs" && s.Root.Readonly},
		{"sh on a terminal", s.Process.Terminal && slices.Equal(s.Process.Args, []string{"sh"}) && s.Process.Cwd == "/"},
		{"no new privileges", s.Process.NoNewPrivileges},
		{"default capabilities", slices.Equal(s.Process.Capabilities.Bounding, []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}) &&
			slices.Equal(s.Process.Capabilities.Effective, s.Process.Capabilities.Bounding) &&
			slices.Equal(s.Process.Capabilities.Permitted, s.Process.Capabilities.Bounding)},
		{"no inheritable or ambient (CVE-2022-29162)", s.Process.Capabilities.Inheritable == nil && s.Process.Capabilities.Ambient == nil},
		{"NOFILE 1024", len(s.Process.Rlimits) == 1 && s.Process.Rlimits[0] == specs.POSIXRlimit{Type: "RLIMIT_NOFILE", Soft: 1024, Hard: 1024}},
		{"namespaces", slices.Equal(nsTypes(s), []specs.LinuxNamespaceType{"pid", "network", "ipc", "uts", "mount", "cgroup"})},
		{"mounts", len(s.Mounts) == 7 && mount(s, "/proc") != nil && mount(s, "/dev/pts") != nil && mount(s, "/dev/shm") != nil &&
			mount(s, "/dev/mqueue") != nil && mount(s, "/sys").Type == "sysfs" && mount(s, "/sys/fs/cgroup").Type == "cgroup"},
		{"masked", slices.Contains(s.Linux.MaskedPaths, "/proc/kcore") && slices.Contains(s.Linux.MaskedPaths, "/sys/firmware")},
		{"readonly", slices.Contains(s.Linux.ReadonlyPaths, "/proc/sys") && slices.Contains(s.Linux.ReadonlyPaths, "/proc/sysrq-trigger")},
		{"deny all devices", len(s.Linux.Resources.Devices) == 1 && !s.Linux.Resources.Devices[0].Allow && s.Linux.Resources.Devices[0].Access == "rwm"},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s: wrong", c.name)
		}
	}
	// Each call is independent.
	s.Process.Capabilities.Bounding[0] = "X"
	s.Mounts[0].Destination = "/x"
	if s2 := specdefault.Example(); s2.Process.Capabilities.Bounding[0] != "CAP_AUDIT_WRITE" || s2.Mounts[0].Destination != "/proc" {
		t.Error("Example shares state between calls")
	}
}

func TestToRootless(t *testing.T) {
	s := specdefault.Example()
	specdefault.ToRootless(s)
	if err := validate.Spec(s, bundle(t)); err != nil {
		t.Fatalf("rootless spec does not validate: %v", err)
	}
	if got := nsTypes(s); !slices.Equal(got, []specs.LinuxNamespaceType{"pid", "ipc", "uts", "mount", "cgroup", "user"}) {
		t.Errorf("namespaces = %v", got)
	}
	wantU := []specs.LinuxIDMapping{{ContainerID: 0, HostID: uint32(os.Geteuid()), Size: 1}}
	wantG := []specs.LinuxIDMapping{{ContainerID: 0, HostID: uint32(os.Getegid()), Size: 1}}
	if !slices.Equal(s.Linux.UIDMappings, wantU) || !slices.Equal(s.Linux.GIDMappings, wantG) {
		t.Errorf("mappings = %v %v", s.Linux.UIDMappings, s.Linux.GIDMappings)
	}
	sys := mount(s, "/sys")
	if sys == nil || sys.Source != "/sys" || sys.Type != "none" || !slices.Contains(sys.Options, "rbind") || !slices.Contains(sys.Options, "ro") {
		t.Errorf("/sys = %+v", sys)
	}
	for _, m := range s.Mounts {
		for _, o := range m.Options {
			if len(o) > 4 && (o[:4] == "gid=" || o[:4] == "uid=") {
				t.Errorf("%s keeps %s", m.Destination, o)
			}
		}
	}
	if s.Linux.Resources != nil {
		t.Error("resources kept")
	}
	// Idempotent: a second call leaves one user namespace.
	specdefault.ToRootless(s)
	if err := validate.Spec(s, bundle(t)); err != nil {
		t.Fatalf("second ToRootless: %v", err)
	}
}
