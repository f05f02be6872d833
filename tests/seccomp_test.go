package tests

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestSeccomp: a seccomp rule really errno's the syscall inside the
// container, the default action holds for the rest, and the filter is in
// place (Seccomp: 2) with and without no_new_privs.
func TestSeccomp(t *testing.T) {
	one := uint(1) // EPERM
	for _, nnp := range []bool{true, false} {
		name := "no_new_privs"
		if !nnp {
			name = "without no_new_privs"
		}
		t.Run(name, func(t *testing.T) {
			out := newBundle(t, shell(`grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status; mkdir /tmp/x 2>&1; echo mkdir=$?; touch /tmp/y && echo touch-ok`), func(s *specs.Spec) {
				s.Root.Readonly = false
				s.Process.NoNewPrivileges = nnp
				s.Linux.Seccomp = &specs.LinuxSeccomp{
					DefaultAction: specs.ActAllow,
					Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
					Syscalls: []specs.LinuxSyscall{
						{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno, ErrnoRet: &one},
					},
				}
			}).output()
			mustContain(t, "seccomp mode", out, "Seccomp:\t2")
			mustContain(t, "mkdir under an errno rule", out, "Operation not permitted")
			mustContain(t, "mkdir exit status", out, "mkdir=1")
			mustContain(t, "an allowed syscall", out, "touch-ok")
		})
	}
	t.Run("kill_process", func(t *testing.T) {
		b := newBundle(t, shell(`echo before; exec mkdir /tmp/z; echo after`), func(s *specs.Spec) {
			s.Root.Readonly = false
			s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
				{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActKillProcess},
			}}
		})
		r := b.run()
		if r.code != 128+31 || !strings.Contains(r.stdout, "before") || strings.Contains(r.stdout, "after") {
			t.Fatalf("want the shell killed by SIGSYS (status 159) between before and after, got %s", r)
		}
	})
	t.Run("argument_condition", func(t *testing.T) {
		// personality(0xffffffff) only queries; block exactly PER_LINUX32 (8).
		out := newBundle(t, shell(`linux32 true; echo linux32=$?; true; echo plain=$?`), func(s *specs.Spec) {
			s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
				{Names: []string{"personality"}, Action: specs.ActErrno, ErrnoRet: &one,
					Args: []specs.LinuxSeccompArg{{Index: 0, Value: 8, Op: specs.OpEqualTo}}},
			}}
		}).output()
		if !strings.Contains(out, "plain=0") || strings.Contains(out, "linux32=0") {
			t.Fatalf("personality(PER_LINUX32) should fail and other calls pass:\n%s", out)
		}
	})
}
