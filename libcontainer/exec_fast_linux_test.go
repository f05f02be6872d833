package libcontainer

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestDirectSeccompOK(t *testing.T) {
	allowAll := func(names ...string) specs.LinuxSyscall {
		return specs.LinuxSyscall{Names: names, Action: specs.ActAllow}
	}
	tests := []struct {
		name string
		s    specs.LinuxSeccomp
		want string // "" = direct path; else a substring of the reason
	}{
		{"deny list", specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
			Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActErrno}}}, ""},
		{"deny list blocks futex", specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
			Syscalls: []specs.LinuxSyscall{{Names: []string{"futex"}, Action: specs.ActErrno}}}, "restricts futex"},
		{"allow list with all Go needs", specs.LinuxSeccomp{DefaultAction: specs.ActErrno,
			Syscalls: []specs.LinuxSyscall{allowAll(goNeeds...)}}, ""},
		{"allow list missing mmap", specs.LinuxSeccomp{DefaultAction: specs.ActErrno,
			Syscalls: []specs.LinuxSyscall{allowAll("futex", "read")}}, "does not allow"},
		{"conditional futex is not enough", specs.LinuxSeccomp{DefaultAction: specs.ActErrno,
			Syscalls: []specs.LinuxSyscall{allowAll(goNeeds[1:]...), {Names: []string{"futex"}, Action: specs.ActAllow,
				Args: []specs.LinuxSeccompArg{{Index: 1, Value: 0, Op: specs.OpEqualTo}}}}}, "futex"},
		{"allow list lacks clock_gettime", specs.LinuxSeccomp{DefaultAction: specs.ActErrno,
			Syscalls: []specs.LinuxSyscall{allowAll(without(goNeeds, "clock_gettime")...)}}, "clock_gettime"},
		{"allow list lacks the trampoline's prlimit64", specs.LinuxSeccomp{DefaultAction: specs.ActErrno,
			Syscalls: []specs.LinuxSyscall{allowAll(without(goNeeds, "prlimit64")...)}}, "prlimit64"},
		{"trap on one syscall", specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
			Syscalls: []specs.LinuxSyscall{{Names: []string{"newfstatat"}, Action: specs.ActTrap}}}, "seccomp action SCMP_ACT_TRAP"},
		{"kill default", specs.LinuxSeccomp{DefaultAction: specs.ActKillProcess,
			Syscalls: []specs.LinuxSyscall{allowAll(goNeeds...)}}, "default action"},
		{"deny list kills clone", specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
			Syscalls: []specs.LinuxSyscall{{Names: []string{"clone"}, Action: specs.ActKillThread}}}, "seccomp action SCMP_ACT_KILL_THREAD"},
		{"allow list errno on clone3", specs.LinuxSeccomp{DefaultAction: specs.ActErrno,
			Syscalls: []specs.LinuxSyscall{allowAll(goNeeds...), {Names: []string{"clone3"}, Action: specs.ActErrno}}}, ""},
		{"tsync", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_TSYNC"}}, "TSYNC"},
		{"listener", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, ListenerPath: "/x"}, "listener"},
	}
	for _, tc := range tests {
		got := directSeccompOK(&tc.s)
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

func without(list []string, drop string) []string {
	var out []string
	for _, s := range list {
		if s != drop {
			out = append(out, s)
		}
	}
	return out
}
