package cgroups

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestDeviceConstants(t *testing.T) {
	if devBlock != unix.BPF_DEVCG_DEV_BLOCK || devChar != unix.BPF_DEVCG_DEV_CHAR ||
		accMknod != unix.BPF_DEVCG_ACC_MKNOD || accRead != unix.BPF_DEVCG_ACC_READ || accWrite != unix.BPF_DEVCG_ACC_WRITE {
		t.Fatal("device constants differ from the kernel's bpf_cgroup_dev_ctx values")
	}
}

func needBPF(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to load BPF programs")
	}
}

// runnable loads the instructions of a device program as a
// BPF_PROG_TYPE_SYSCALL program: the kernel cannot test-run cgroup device
// programs, but a syscall program reads its context from any buffer, so the
// very same bytecode runs on a hand-made struct bpf_cgroup_dev_ctx.
func runnable(t *testing.T, insts asm.Instructions) *ebpf.Program {
	t.Helper()
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type: ebpf.Syscall, Flags: unix.BPF_F_SLEEPABLE, License: "Apache", Instructions: insts,
	})
	if err != nil {
		t.Skipf("cannot load a syscall BPF program to run the device filter (%v)", err)
	}
	t.Cleanup(func() { prog.Close() })
	return prog
}

// decodeInsns turns rt's encoding back into cilium/ebpf's instructions.
func decodeInsns(t *testing.T, insts []bpfInsn) asm.Instructions {
	t.Helper()
	out, err := asm.AppendInstructions(nil, bytes.NewReader(marshalInsns(insts)), binary.LittleEndian, "linux")
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestInsnEncoding checks each instruction rt encodes against cilium/ebpf's
// encoding of the same instruction.
func TestInsnEncoding(t *testing.T) {
	jump := func(ins asm.Instruction, off int16) asm.Instruction { ins.Offset = off; return ins }
	for i, c := range []struct {
		rt     bpfInsn
		cilium asm.Instruction
	}{
		{ldxW(r2, r1, 0), asm.LoadMem(asm.R2, asm.R1, 0, asm.Word)},
		{ldxW(r5, r1, 8), asm.LoadMem(asm.R5, asm.R1, 8, asm.Word)},
		{and32Imm(r2, 0xffff), asm.And.Imm32(asm.R2, 0xffff)},
		{rsh32Imm(r3, 16), asm.RSh.Imm32(asm.R3, 16)},
		{mov32Imm(r0, 1), asm.Mov.Imm32(asm.R0, 1)},
		{mov32Reg(r1, r3), asm.Mov.Reg32(asm.R1, asm.R3)},
		{exit(), asm.Return()},
		{func() bpfInsn { j := jne32Imm(r4, -2); j.off = 7; return j }(), jump(asm.JNE.Imm32(asm.R4, -2, ""), 7)},
		{func() bpfInsn { j := jeq32Imm(r1, 0); j.off = 3; return j }(), jump(asm.JEq.Imm32(asm.R1, 0, ""), 3)},
		{func() bpfInsn { j := jne32Reg(r1, r3); j.off = 1; return j }(), jump(asm.JNE.Reg32(asm.R1, asm.R3, ""), 1)},
	} {
		var want bytes.Buffer
		if _, err := c.cilium.Marshal(&want, binary.LittleEndian); err != nil {
			t.Fatal(err)
		}
		if got := marshalInsns([]bpfInsn{c.rt}); !bytes.Equal(got, want.Bytes()) {
			t.Errorf("case %d (%v): rt encodes % x, cilium/ebpf % x", i, c.cilium, got, want.Bytes())
		}
	}
}

func runDeviceProg(t *testing.T, prog *ebpf.Program, typ uint8, major, minor uint32, access uint8) bool {
	t.Helper()
	ctx := make([]byte, 12)
	binary.LittleEndian.PutUint32(ctx[0:], uint32(typ)|uint32(access)<<16)
	binary.LittleEndian.PutUint32(ctx[4:], major)
	binary.LittleEndian.PutUint32(ctx[8:], minor)
	ret, err := prog.Run(&ebpf.RunOptions{Context: ctx})
	if err != nil {
		t.Fatal(err)
	}
	return ret == 1
}

// TestDeviceProgram runs the generated program in the kernel for every case
// of the policy table and for a grid of devices and accesses, and checks it
// answers like the kernel's v1 controller (devicePolicy.allows). It also
// makes sure the verifier takes it as a cgroup device program.
func TestDeviceProgram(t *testing.T) {
	needBPF(t)
	majors := []uint32{0, 1, 4, 5, 8, 10, 136, 254, 1 << 31, 4294967295}
	minors := []uint32{0, 1, 3, 5, 200, 229, 4294967294, 4294967295}
	for _, tc := range deviceCases {
		p, err := compileDevices(tc.rules)
		if err != nil {
			t.Fatal(err)
		}
		insts := p.program()
		dev, err := loadDeviceProgram(insts)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		unix.Close(dev)
		prog := runnable(t, decodeInsns(t, insts))
		for _, want := range []struct {
			list  []string
			allow bool
		}{{tc.allow, true}, {tc.deny, false}} {
			for _, s := range want.list {
				pr := parseProbe(t, s)
				if got := runDeviceProg(t, prog, pr.typ, pr.major, pr.minor, pr.access); got != want.allow {
					t.Errorf("%s: program allows %s = %v, want %v", tc.name, s, got, want.allow)
				}
			}
		}
		mismatches := 0
		for _, typ := range []uint8{devBlock, devChar} {
			for _, maj := range majors {
				for _, min := range minors {
					for acc := uint8(1); acc <= accAll; acc++ {
						want := p.allows(typ, maj, min, acc)
						if got := runDeviceProg(t, prog, typ, maj, min, acc); got != want && mismatches < 5 {
							mismatches++
							t.Errorf("%s: type %d %d:%d access %s: program %v, v1 semantics %v", tc.name, typ, maj, min, accessString(acc), got, want)
						}
					}
				}
			}
		}
	}
}

// hostV2Dir returns a fresh cgroup below the host's cgroup2 mount (on a
// hybrid host the one at /sys/fs/cgroup/unified, whatever its controllers:
// device programs attach to any cgroup2 directory) and a manager for it.
func hostV2Dir(t *testing.T) *v2Manager {
	t.Helper()
	needBPF(t)
	l, err := detectLayout()
	if err != nil || l.unified == nil {
		t.Skip("no cgroup2 hierarchy mounted")
	}
	root := l.unified.mountpoint
	before, err := readFile(root, "cgroup.subtree_control")
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	mgr, err := New("/rt-test-"+hex.EncodeToString(b), "unused", Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	m := mgr.(*v2Manager)
	t.Cleanup(func() {
		if err := m.Destroy(); err != nil {
			t.Errorf("cleanup Destroy: %v", err)
		}
		// Apply enables every controller the root offers: undo that.
		after, _ := readFile(root, "cgroup.subtree_control")
		for _, c := range strings.Fields(after) {
			if !hasWord(before, c) {
				if err := writeFile(root, "cgroup.subtree_control", "-"+c); err != nil {
					t.Errorf("restore %s/cgroup.subtree_control: %v", root, err)
				}
			}
		}
	})
	if err := m.Apply(-1); err != nil {
		t.Fatal(err)
	}
	return m
}

// inCgroup runs a shell script in the cgroup2 directory dir (from its first
// instruction, with CLONE_INTO_CGROUP) and returns its output.
func inCgroup(t *testing.T, dir, script string) string {
	t.Helper()
	f, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command("sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(f.Fd())}
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return string(out)
}

func attachedDevicePrograms(t *testing.T, dir string) []string {
	t.Helper()
	f, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := link.QueryPrograms(link.QueryOptions{Target: int(f.Fd()), Attach: ebpf.AttachCGroupDevice})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, ap := range res.Programs {
		p, err := ebpf.NewProgramFromID(ap.ID)
		if err != nil {
			t.Fatal(err)
		}
		info, err := p.Info()
		p.Close()
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, info.Name)
	}
	return names
}

const probeScript = `[ "$(head -c1 /dev/zero 2>&1 | wc -c)" = 1 ] && echo zero-ok || echo zero-denied
(echo x > /dev/null) 2>&- && echo null-ok || echo null-denied`

// TestHostDevicesV2 attaches device programs to a real cgroup2 directory,
// replaces them on update and checks what a process inside may open.
func TestHostDevicesV2(t *testing.T) {
	m := hostV2Dir(t)
	denyAll := devRule(false, "", -1, -1, "rwm")
	null := devRule(true, "c", 1, 3, "rwm")
	set := func(rules ...specs.LinuxDeviceCgroup) {
		t.Helper()
		if err := m.Set(&specs.LinuxResources{Devices: rules}); err != nil {
			t.Fatal(err)
		}
		if got := attachedDevicePrograms(t, m.dir); len(got) != 1 || got[0] != deviceProgName {
			t.Fatalf("attached programs = %v, want one %s", got, deviceProgName)
		}
	}

	out := inCgroup(t, m.dir, probeScript)
	if !strings.Contains(out, "zero-ok") || !strings.Contains(out, "null-ok") {
		t.Fatalf("without rules: %q", out)
	}
	set(denyAll, null)
	out = inCgroup(t, m.dir, probeScript)
	if !strings.Contains(out, "zero-denied") || !strings.Contains(out, "null-ok") {
		t.Fatalf("deny all but /dev/null: %q", out)
	}
	// Update: the new program replaces the old one (still one attached).
	set(denyAll, null, devRule(true, "c", 1, 5, "r"))
	out = inCgroup(t, m.dir, probeScript)
	if !strings.Contains(out, "zero-ok") || !strings.Contains(out, "null-ok") {
		t.Fatalf("after allowing /dev/zero for reading: %q", out)
	}
	set(devRule(true, "a", -1, -1, "rwm"), devRule(false, "c", 1, 3, "w"))
	out = inCgroup(t, m.dir, probeScript)
	if !strings.Contains(out, "zero-ok") || !strings.Contains(out, "null-denied") {
		t.Fatalf("allow all but writing /dev/null: %q", out)
	}

	// A program someone else attached stays; only rt's is replaced.
	foreign, err := ebpf.NewProgram(&ebpf.ProgramSpec{Name: "other", Type: ebpf.CGroupDevice, License: "Apache",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 1), asm.Return()}})
	if err != nil {
		t.Fatal(err)
	}
	defer foreign.Close()
	f, err := os.Open(m.dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := link.RawAttachProgram(link.RawAttachProgramOptions{Target: int(f.Fd()), Program: foreign,
		Attach: ebpf.AttachCGroupDevice, Flags: unix.BPF_F_ALLOW_MULTI}); err != nil {
		t.Fatal(err)
	}
	if err := m.Set(&specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{denyAll, null}}); err != nil {
		t.Fatal(err)
	}
	names := attachedDevicePrograms(t, m.dir)
	if len(names) != 2 || !strings.Contains(strings.Join(names, " "), "other") || !strings.Contains(strings.Join(names, " "), deviceProgName) {
		t.Fatalf("attached programs = %v, want other and %s", names, deviceProgName)
	}
	out = inCgroup(t, m.dir, probeScript)
	if !strings.Contains(out, "zero-denied") || !strings.Contains(out, "null-ok") {
		t.Fatalf("with a foreign allow-all program: %q", out)
	}
	if pids, err := m.GetPids(); err != nil || len(pids) != 0 {
		t.Fatalf("GetPids = %v, %v", pids, err)
	}
	if !exists(filepath.Join(m.dir, "cgroup.procs")) {
		t.Fatal("not a cgroup")
	}
}

// TestBPFLoadError: a program the verifier refuses gives an error with the
// verifier's reason, not a bare errno.
func TestBPFLoadError(t *testing.T) {
	needBPF(t)
	fd, err := loadDeviceProgram([]bpfInsn{mov32Imm(r0, 1)}) // no exit
	if err == nil {
		unix.Close(fd)
		t.Fatal("loaded a program without exit")
	}
	if !strings.Contains(err.Error(), "verifier:") || !strings.Contains(err.Error(), "device cgroup eBPF program") {
		t.Fatalf("error = %v", err)
	}
	t.Log(err)
}
