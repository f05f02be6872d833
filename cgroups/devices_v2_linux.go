package cgroups

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// deviceProgName names rt's device programs in the kernel (bpftool prog
// shows it); an update replaces only programs with this name.
const deviceProgName = "rt_devices"

// program renders the policy as a BPF_PROG_TYPE_CGROUP_DEVICE program: one
// block per exception that returns the exception's verdict when the device
// matches, then the default. The context is struct bpf_cgroup_dev_ctx:
// u32 access_type (type in the low 16 bits, access in the high 16), u32
// major, u32 minor. Matching follows the kernel's v1 controller (see
// devicePolicy.allows): an allow exception must cover all the access asked
// for, a deny exception must share some of it.
func (p *devicePolicy) program() asm.Instructions {
	insts := asm.Instructions{
		asm.LoadMem(asm.R2, asm.R1, 0, asm.Word),
		asm.And.Imm32(asm.R2, 0xffff), // R2 = type
		asm.LoadMem(asm.R3, asm.R1, 0, asm.Word),
		asm.RSh.Imm32(asm.R3, 16),                // R3 = access
		asm.LoadMem(asm.R4, asm.R1, 4, asm.Word), // R4 = major
		asm.LoadMem(asm.R5, asm.R1, 8, asm.Word), // R5 = minor
	}
	verdict := int32(0)
	if !p.defaultAllow {
		verdict = 1
	}
	label := ""
	add := func(ins ...asm.Instruction) {
		if label != "" {
			ins[0] = ins[0].WithSymbol(label)
			label = ""
		}
		insts = append(insts, ins...)
	}
	for i, k := range p.sortedExceptions() {
		next := "next" + strconv.Itoa(i)
		add(asm.JNE.Imm32(asm.R2, int32(k.typ), next))
		if k.major >= 0 {
			add(asm.JNE.Imm32(asm.R4, int32(uint32(k.major)), next))
		}
		if k.minor >= 0 {
			add(asm.JNE.Imm32(asm.R5, int32(uint32(k.minor)), next))
		}
		if a := p.exceptions[k]; a != accAll {
			add(asm.Mov.Reg32(asm.R1, asm.R3), asm.And.Imm32(asm.R1, int32(a)))
			if p.defaultAllow {
				add(asm.JEq.Imm32(asm.R1, 0, next)) // no access in common
			} else {
				add(asm.JNE.Reg32(asm.R1, asm.R3, next)) // asks for more
			}
		}
		add(asm.Mov.Imm32(asm.R0, verdict), asm.Return())
		label = next
	}
	add(asm.Mov.Imm32(asm.R0, 1-verdict), asm.Return())
	return insts
}

// newDeviceProgram loads insts as a cgroup device program.
func newDeviceProgram(insts asm.Instructions) (*ebpf.Program, error) {
	spec := &ebpf.ProgramSpec{
		Name:         deviceProgName,
		Type:         ebpf.CGroupDevice,
		License:      "Apache",
		Instructions: insts,
	}
	prog, err := ebpf.NewProgram(spec)
	if errors.Is(err, unix.EPERM) {
		// Kernels before 5.11 charge BPF memory to RLIMIT_MEMLOCK. Only
		// rt's own limit is raised: the container's init already runs.
		// (Not cilium's rlimit package: its init probes the kernel on every
		// rt command.)
		inf := &unix.Rlimit{Cur: unix.RLIM_INFINITY, Max: unix.RLIM_INFINITY}
		if unix.Setrlimit(unix.RLIMIT_MEMLOCK, inf) == nil {
			prog, err = ebpf.NewProgram(spec)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("load the device cgroup eBPF program: %w", err)
	}
	return prog, nil
}

// setDevicesV2 attaches the policy to the cgroup2 directory dir, replacing
// the program a previous Set attached there. The kernel runs every
// program attached with BPF_F_ALLOW_MULTI and allows an access only if all
// of them do, so the new program goes in first and the old ones come out
// after: during an update the stricter of both applies, never neither.
// With exactly one old program, BPF_F_REPLACE swaps them in one step.
// Programs that others attached (another name) are left in place.
func setDevicesV2(dir string, p *devicePolicy) error {
	prog, err := newDeviceProgram(p.program())
	if err != nil {
		return err
	}
	defer prog.Close() // the attachment holds its own reference
	fd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open cgroup %s: %w", dir, err)
	}
	defer unix.Close(fd)
	old, err := ownDevicePrograms(fd)
	if err != nil {
		return fmt.Errorf("list device programs of %s: %w", dir, err)
	}
	defer func() {
		for _, o := range old {
			o.Close()
		}
	}()
	opts := link.RawAttachProgramOptions{Target: fd, Program: prog, Attach: ebpf.AttachCGroupDevice, Flags: unix.BPF_F_ALLOW_MULTI}
	if len(old) == 1 {
		opts.Anchor = link.ReplaceProgram(old[0])
		err = link.RawAttachProgram(opts)
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.EINVAL) { // EINVAL: no BPF_F_REPLACE before 5.6
			return fmt.Errorf("attach device program to %s (replacing the old one): %w", dir, err)
		}
		opts.Anchor = nil
	}
	if err := link.RawAttachProgram(opts); err != nil {
		return fmt.Errorf("attach device program to %s: %w", dir, err)
	}
	for _, o := range old {
		err := link.RawDetachProgram(link.RawDetachProgramOptions{Target: fd, Program: o, Attach: ebpf.AttachCGroupDevice})
		if err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("detach the previous device program from %s: %w", dir, err)
		}
	}
	return nil
}

// ownDevicePrograms returns the device programs attached to the cgroup fd
// itself (not inherited) that rt attached.
func ownDevicePrograms(fd int) ([]*ebpf.Program, error) {
	res, err := link.QueryPrograms(link.QueryOptions{Target: fd, Attach: ebpf.AttachCGroupDevice})
	if err != nil {
		return nil, err
	}
	var out []*ebpf.Program
	for _, ap := range res.Programs {
		prog, err := ebpf.NewProgramFromID(ap.ID)
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			// Detached meanwhile, or hidden from us by an LSM: not one
			// rt can replace, and an extra program only restricts more.
			continue
		}
		if err != nil {
			for _, o := range out {
				o.Close()
			}
			return nil, err
		}
		info, err := prog.Info()
		if err != nil || info.Name != deviceProgName {
			prog.Close()
			continue
		}
		out = append(out, prog)
	}
	return out, nil
}
