package validate

import (
	"os"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	scmp "github.com/rtrun/rt/libcontainer/seccomp"
)

// unsupported refuses config fields rt does not implement yet. The spec
// requires an error for a property the runtime cannot apply; accepting one
// silently would, for instance, run a container without the seccomp filter
// its engine asked for. Each later issue deletes its lines here.
func unsupported(s *specs.Spec) error {
	if p := s.Process; p != nil {
		if p.ApparmorProfile != "" {
			return errf("process.apparmorProfile", "AppArmor profiles are not supported by rt yet")
		}
		if p.SelinuxLabel != "" && selinuxEnabled() {
			return errf("process.selinuxLabel", "SELinux labels are not supported by rt yet")
		}
	}
	l := s.Linux
	if l == nil {
		return nil
	}
	if err := scmp.Check(l.Seccomp); err != nil {
		// seccomp's errors start with the field: make them *Error too.
		field, msg, _ := strings.Cut(err.Error(), ": ")
		return errf(field, "%s", msg)
	}
	switch {
	case l.MountLabel != "" && selinuxEnabled():
		return errf("linux.mountLabel", "SELinux labels are not supported by rt yet")
	case len(l.NetDevices) > 0:
		return errf("linux.netDevices", "not supported by rt yet")
	case l.IntelRdt != nil:
		return errf("linux.intelRdt", "not supported by rt yet")
	case l.MemoryPolicy != nil:
		return errf("linux.memoryPolicy", "not supported by rt yet")
	}
	return nil
}

// selinuxEnabled: without SELinux in the kernel a label has nothing to
// apply to and is ignored, as runc does (runtime-tools' linux_mount_label
// expects create to work).
func selinuxEnabled() bool {
	_, err := os.Stat("/sys/fs/selinux/enforce")
	return err == nil
}
