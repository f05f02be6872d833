package seccomp

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func uptr(v uint) *uint { return &v }

func TestCheck(t *testing.T) {
	ok := []*specs.LinuxSeccomp{
		nil,
		{DefaultAction: specs.ActAllow},
		{DefaultAction: specs.ActErrno, DefaultErrnoRet: uptr(38), Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86}},
		{DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog}, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"mkdir"}, Action: specs.ActErrno, ErrnoRet: uptr(1)},
			{Names: []string{"personality"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 8, Op: specs.OpEqualTo}}},
		}},
	}
	for i, s := range ok {
		if err := Check(s); err != nil {
			t.Errorf("ok[%d]: %v", i, err)
		}
	}
	bad := []struct {
		s    *specs.LinuxSeccomp
		want string
	}{
		{&specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_BOGUS"}, "linux.seccomp.defaultAction: unknown action"},
		{&specs.LinuxSeccomp{DefaultAction: specs.ActAllow, DefaultErrnoRet: uptr(1)}, "errnoRet is set but SCMP_ACT_ALLOW"},
		{&specs.LinuxSeccomp{DefaultAction: specs.ActNotify, ListenerPath: "/x"}, "SCMP_ACT_NOTIFY cannot be the default"},
		{&specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActNotify}}}, "listenerPath: required"},
		{&specs.LinuxSeccomp{DefaultAction: specs.ActAllow, ListenerPath: "x.sock"}, "listenerPath: \"x.sock\" is not absolute"},
		{&specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{"SCMP_ARCH_VAX"}}, "architectures[0]"},
		{&specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{"BOGUS"}}, "flags[0]"},
		{&specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Action: specs.ActErrno}}}, "syscalls[0].names"},
		{&specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActKill, ErrnoRet: uptr(1)}}}, "syscalls[0].action: errnoRet"},
		{&specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Index: 6, Op: specs.OpEqualTo}}}}}, "args[0].index"},
		{&specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Op: "SCMP_CMP_ABOUT"}}}}}, "args[0].op"},
	}
	for _, tc := range bad {
		err := Check(tc.s)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: got %v, want %q", tc.s, err, tc.want)
		}
	}
}

func TestCompile(t *testing.T) {
	s := &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"mkdir", "mkdirat", "no_such_syscall_rt"}, Action: specs.ActErrno, ErrnoRet: uptr(1)},
			// Same argument twice: ORed, as separate rules.
			{Names: []string{"personality"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{
				{Index: 0, Value: 8, Op: specs.OpEqualTo}, {Index: 0, Value: 0x20000, Op: specs.OpEqualTo}}},
			{Names: []string{"socket"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{
				{Index: 0, Value: 16, Op: specs.OpEqualTo}, {Index: 2, Value: 9, Op: specs.OpEqualTo}}},
			{Names: []string{"clone"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{
				{Index: 0, Value: 0x7E020000, ValueTwo: 0, Op: specs.OpMaskedEqual}}},
			// Same as the default: skipped, not an error.
			{Names: []string{"read"}, Action: specs.ActAllow},
		},
	}
	prog, err := Compile(s)
	if err != nil {
		t.Fatal(err)
	}
	if len(prog) < 8*10 || len(prog)%8 != 0 {
		t.Fatalf("program of %d bytes", len(prog))
	}
}

func BenchmarkCompile300(b *testing.B) {
	names := []string{"accept", "accept4", "access", "bind", "brk", "chdir", "chmod", "chown", "clock_gettime", "close",
		"connect", "dup", "dup2", "dup3", "epoll_create", "epoll_ctl", "epoll_wait", "execve", "exit", "exit_group"}
	s := &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}}
	for i := 0; i < 300; i++ {
		s.Syscalls = append(s.Syscalls, specs.LinuxSyscall{Names: []string{names[i%len(names)]}, Action: specs.ActAllow,
			Args: []specs.LinuxSeccompArg{{Index: uint(i % 6), Value: uint64(i), Op: specs.OpNotEqual}}})
	}
	for i := 0; i < b.N; i++ {
		if _, err := Compile(s); err != nil {
			b.Fatal(err)
		}
	}
}

func TestCompileCached(t *testing.T) {
	dir := t.TempDir()
	s := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
		{Names: []string{"mkdir"}, Action: specs.ActErrno}}}
	want, err := Compile(s)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ { // a miss, then a hit
		got, err := CompileCached(s, dir)
		if err != nil || string(got) != string(want) {
			t.Fatalf("round %d: %v, program differs: %v", i, err, string(got) != string(want))
		}
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("cache holds %d entries, want 1", len(ents))
	}
	// A damaged entry is recompiled, not loaded.
	os.WriteFile(filepath.Join(dir, ents[0].Name()), []byte("bad"), 0o600)
	if got, err := CompileCached(s, dir); err != nil || string(got) != string(want) {
		t.Fatalf("after damage: %v", err)
	}
	// An entry compiled from another input is not used, even under this
	// name (a hash collision).
	other := &specs.LinuxSeccomp{DefaultAction: specs.ActErrno}
	otherProg, err := Compile(other)
	if err != nil {
		t.Fatal(err)
	}
	otherKey, err := cacheInput(other)
	if err != nil {
		t.Fatal(err)
	}
	entry := binary.LittleEndian.AppendUint64(nil, uint64(len(otherKey)))
	os.WriteFile(filepath.Join(dir, ents[0].Name()), append(append(entry, otherKey...), otherProg...), 0o600)
	if got, err := CompileCached(s, dir); err != nil || string(got) != string(want) {
		t.Fatalf("with another profile's program under this name: %v, program differs: %v", err, string(got) != string(want))
	}
	// Another profile is another entry.
	s.Syscalls[0].Names = []string{"rmdir"}
	if _, err := CompileCached(s, dir); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 2 {
		t.Fatalf("cache holds %d entries, want 2", len(ents))
	}
}
