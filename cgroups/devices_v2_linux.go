package cgroups

import (
	"errors"
	"fmt"

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
func (p *devicePolicy) program() []bpfInsn {
	insts := []bpfInsn{
		ldxW(r2, r1, 0),
		and32Imm(r2, 0xffff), // R2 = type
		ldxW(r3, r1, 0),
		rsh32Imm(r3, 16), // R3 = access
		ldxW(r4, r1, 4),  // R4 = major
		ldxW(r5, r1, 8),  // R5 = minor
	}
	verdict := int32(0)
	if !p.defaultAllow {
		verdict = 1
	}
	for _, k := range p.sortedExceptions() {
		// Every jump of the block goes to the next block: patched once
		// the block's length is known.
		var toNext []int
		jump := func(ins bpfInsn) {
			toNext = append(toNext, len(insts))
			insts = append(insts, ins)
		}
		jump(jne32Imm(r2, int32(k.typ)))
		if k.major >= 0 {
			jump(jne32Imm(r4, int32(uint32(k.major))))
		}
		if k.minor >= 0 {
			jump(jne32Imm(r5, int32(uint32(k.minor))))
		}
		if a := p.exceptions[k]; a != accAll {
			insts = append(insts, mov32Reg(r1, r3), and32Imm(r1, int32(a)))
			if p.defaultAllow {
				jump(jeq32Imm(r1, 0)) // no access in common
			} else {
				jump(jne32Reg(r1, r3)) // asks for more
			}
		}
		insts = append(insts, mov32Imm(r0, verdict), exit())
		for _, i := range toNext {
			insts[i].off = int16(len(insts) - i - 1)
		}
	}
	return append(insts, mov32Imm(r0, 1-verdict), exit())
}

// loadDeviceProgram loads insts as a cgroup device program and returns its fd.
func loadDeviceProgram(insts []bpfInsn) (int, error) {
	fd, err := bpfProgLoad(unix.BPF_PROG_TYPE_CGROUP_DEVICE, insts, "Apache", deviceProgName)
	if errors.Is(err, unix.EPERM) {
		// Kernels before 5.11 charge BPF memory to RLIMIT_MEMLOCK. Only
		// rt's own limit is raised: the container's init already runs.
		inf := &unix.Rlimit{Cur: unix.RLIM_INFINITY, Max: unix.RLIM_INFINITY}
		if unix.Setrlimit(unix.RLIMIT_MEMLOCK, inf) == nil {
			fd, err = bpfProgLoad(unix.BPF_PROG_TYPE_CGROUP_DEVICE, insts, "Apache", deviceProgName)
		}
	}
	if err != nil {
		return -1, fmt.Errorf("load the device cgroup eBPF program: %w", err)
	}
	return fd, nil
}

// setDevicesV2 attaches the policy to the cgroup2 directory dir, replacing
// the program a previous Set attached there. The kernel runs every
// program attached with BPF_F_ALLOW_MULTI and allows an access only if all
// of them do, so the new program goes in first and the old ones come out
// after: during an update the stricter of both applies, never neither.
// With exactly one old program, BPF_F_REPLACE swaps them in one step.
// Programs that others attached (another name) are left in place.
func setDevicesV2(dir string, p *devicePolicy) error {
	prog, err := loadDeviceProgram(p.program())
	if err != nil {
		return err
	}
	defer unix.Close(prog) // the attachment holds its own reference
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
			unix.Close(o)
		}
	}()
	if len(old) == 1 {
		err = bpfProgAttach(fd, prog, unix.BPF_CGROUP_DEVICE, unix.BPF_F_ALLOW_MULTI|unix.BPF_F_REPLACE, old[0])
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.EINVAL) { // EINVAL: no BPF_F_REPLACE before 5.6
			return fmt.Errorf("attach device program to %s (replacing the old one): %w", dir, err)
		}
	}
	if err := bpfProgAttach(fd, prog, unix.BPF_CGROUP_DEVICE, unix.BPF_F_ALLOW_MULTI, -1); err != nil {
		return fmt.Errorf("attach device program to %s: %w", dir, err)
	}
	for _, o := range old {
		err := bpfProgDetach(fd, o, unix.BPF_CGROUP_DEVICE)
		if err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("detach the previous device program from %s: %w", dir, err)
		}
	}
	return nil
}

// ownDevicePrograms returns fds of the device programs attached to the
// cgroup fd itself (not inherited) that rt attached.
func ownDevicePrograms(fd int) ([]int, error) {
	ids, err := bpfProgQuery(fd, unix.BPF_CGROUP_DEVICE)
	if err != nil {
		return nil, err
	}
	var out []int
	for _, id := range ids {
		prog, err := bpfProgGetFDByID(id)
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			// Detached meanwhile, or hidden from us by an LSM: not one
			// rt can replace, and an extra program only restricts more.
			continue
		}
		if err != nil {
			for _, o := range out {
				unix.Close(o)
			}
			return nil, err
		}
		name, err := bpfProgName(prog)
		if err != nil || name != deviceProgName {
			unix.Close(prog)
			continue
		}
		out = append(out, prog)
	}
	return out, nil
}
