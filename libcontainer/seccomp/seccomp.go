// Package seccomp turns linux.seccomp into a BPF program (in the parent,
// with libseccomp, while init prepares the root filesystem) and loads that
// program in init with seccomp(2), which needs no libseccomp at all.
package seccomp

import (
	"fmt"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Actions are the spec's actions rt applies.
var Actions = []string{
	string(specs.ActKill), string(specs.ActKillProcess), string(specs.ActKillThread),
	string(specs.ActTrap), string(specs.ActErrno), string(specs.ActTrace),
	string(specs.ActAllow), string(specs.ActLog), string(specs.ActNotify),
}

// Operators are the spec's argument comparisons, all seven.
var Operators = []string{
	string(specs.OpNotEqual), string(specs.OpLessThan), string(specs.OpLessEqual),
	string(specs.OpEqualTo), string(specs.OpGreaterEqual), string(specs.OpGreaterThan),
	string(specs.OpMaskedEqual),
}

// Archs are the architectures rt can add to a filter (libseccomp's names
// with the SCMP_ARCH_ prefix).
var Archs = []string{
	"SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64",
	"SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL",
	"SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64",
	"SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390", "SCMP_ARCH_S390X", "SCMP_ARCH_RISCV64",
}

// Flags are the seccomp(2) filter flags rt passes on.
var Flags = []string{
	string(specs.LinuxSeccompFlagLog), string(specs.LinuxSeccompFlagSpecAllow),
	"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
}

// flagBit is the seccomp(2) value of one of Flags. (A switch: a map literal
// is built at the start of every rt process, the container's init included.)
func flagBit(f specs.LinuxSeccompFlag) (uint, bool) {
	switch f {
	case "SECCOMP_FILTER_FLAG_TSYNC":
		return 1, true
	case specs.LinuxSeccompFlagLog:
		return 2, true
	case specs.LinuxSeccompFlagSpecAllow:
		return 4, true
	case "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV":
		return 32, true
	}
	return 0, false
}

// NeedsListener reports whether the filter needs a notify fd passed to
// listenerPath.
func NeedsListener(s *specs.LinuxSeccomp) bool {
	return s != nil && s.ListenerPath != ""
}

func specsFlag(s string) specs.LinuxSeccompFlag { return specs.LinuxSeccompFlag(s) }

// FlagBits turns linux.seccomp.flags into the seccomp(2) flags argument.
func FlagBits(flags []specs.LinuxSeccompFlag) (uint, error) {
	var bits uint
	for i, f := range flags {
		b, ok := flagBit(f)
		if !ok {
			return 0, fmt.Errorf("linux.seccomp.flags[%d]: unknown flag %q", i, f)
		}
		bits |= b
	}
	return bits, nil
}

// Check rejects what the compiler would refuse, naming the field, so that
// create fails before anything is started. Notify needs a listener, which rt
// does not implement yet.
func Check(s *specs.LinuxSeccomp) error {
	if s == nil {
		return nil
	}
	if err := checkAction("linux.seccomp.defaultAction", s.DefaultAction, s.DefaultErrnoRet != nil); err != nil {
		return err
	}
	if err := checkErrno("linux.seccomp.defaultErrnoRet", s.DefaultErrnoRet); err != nil {
		return err
	}
	if s.DefaultAction == specs.ActNotify {
		return fmt.Errorf("linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default (it would trap the runtime's own syscalls)")
	}
	notify := false
	for _, sc := range s.Syscalls {
		if sc.Action == specs.ActNotify {
			notify = true
		}
	}
	if notify && s.ListenerPath == "" {
		return fmt.Errorf("linux.seccomp.listenerPath: required by the SCMP_ACT_NOTIFY rules")
	}
	if s.ListenerPath != "" && s.ListenerPath[0] != '/' {
		return fmt.Errorf("linux.seccomp.listenerPath: %q is not absolute", s.ListenerPath)
	}
	for i, a := range s.Architectures {
		if !contains(Archs, string(a)) {
			return fmt.Errorf("linux.seccomp.architectures[%d]: unknown architecture %q", i, a)
		}
	}
	if _, err := FlagBits(s.Flags); err != nil {
		return err
	}
	for i, sc := range s.Syscalls {
		field := fmt.Sprintf("linux.seccomp.syscalls[%d]", i)
		if len(sc.Names) == 0 {
			return fmt.Errorf("%s.names: at least one name is required", field)
		}
		if err := checkAction(field+".action", sc.Action, sc.ErrnoRet != nil); err != nil {
			return err
		}
		if err := checkErrno(field+".errnoRet", sc.ErrnoRet); err != nil {
			return err
		}
		for j, a := range sc.Args {
			if !contains(Operators, string(a.Op)) {
				return fmt.Errorf("%s.args[%d].op: unknown operator %q", field, j, a.Op)
			}
			if a.Index > 5 {
				return fmt.Errorf("%s.args[%d].index: %d is out of range (0-5)", field, j, a.Index)
			}
		}
	}
	return nil
}

func checkAction(field string, a specs.LinuxSeccompAction, hasErrno bool) error {
	if !contains(Actions, string(a)) {
		return fmt.Errorf("%s: unknown action %q", field, a)
	}
	// The spec: errnoRet is only meaningful for actions that return one.
	if hasErrno && a != specs.ActErrno && a != specs.ActTrace {
		return fmt.Errorf("%s: errnoRet is set but %s does not return an errno", field, a)
	}
	return nil
}

// maxErrno is the largest errno libseccomp and the kernel handle (the
// filter's return data is 16 bits, and libseccomp refuses 4095 and up);
// larger values would wrap around, 65536 to "success".
const maxErrno = 4094

func checkErrno(field string, e *uint) error {
	if e != nil && *e > maxErrno {
		return fmt.Errorf("%s: %d is out of range (1-%d)", field, *e, maxErrno)
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// libseccompArch maps "SCMP_ARCH_X86_64" to libseccomp's "x86_64".
func libseccompArch(a specs.Arch) string {
	return strings.ToLower(strings.TrimPrefix(string(a), "SCMP_ARCH_"))
}
