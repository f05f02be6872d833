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

// clone3Allowed: the direct path clones into the cgroup2 cgroup only where
// the container's filter lets clone3 through unconditionally (errno 0
// would make the parent run on as if it were the child).
func TestClone3Allowed(t *testing.T) {
	zero := uint(0)
	rule := func(a specs.LinuxSeccompAction, args ...specs.LinuxSeccompArg) specs.LinuxSyscall {
		return specs.LinuxSyscall{Names: []string{"read", "clone3"}, Action: a, Args: args, ErrnoRet: &zero}
	}
	for name, tc := range map[string]struct {
		s    *specs.LinuxSeccomp
		want bool
	}{
		"no filter":              {nil, true},
		"default allow":          {&specs.LinuxSeccomp{DefaultAction: specs.ActAllow}, true},
		"default log":            {&specs.LinuxSeccomp{DefaultAction: specs.ActLog}, true},
		"default errno":          {&specs.LinuxSeccomp{DefaultAction: specs.ActErrno}, false},
		"default errno, allowed": {&specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{rule(specs.ActAllow)}}, true},
		"errno 0 on clone3":      {&specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{rule(specs.ActErrno)}}, false},
		"allowed with arguments": {&specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{
			rule(specs.ActAllow, specs.LinuxSeccompArg{Index: 1, Value: 88, Op: specs.OpEqualTo})}}, false},
		"allowed, then refused": {&specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{
			rule(specs.ActAllow), rule(specs.ActErrno)}}, false},
	} {
		if got := clone3Allowed(tc.s); got != tc.want {
			t.Errorf("%s: clone3Allowed = %v, want %v", name, got, tc.want)
		}
	}
}
