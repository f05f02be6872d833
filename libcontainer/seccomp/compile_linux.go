package seccomp

import (
	"errors"
	"fmt"
	"io"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// defaultErrno is what SCMP_ACT_ERRNO returns without errnoRet (spec: EPERM).
const defaultErrno = int16(unix.EPERM)

func action(a specs.LinuxSeccompAction, errnoRet *uint) (libseccomp.ScmpAction, error) {
	ret := defaultErrno
	if errnoRet != nil {
		ret = int16(*errnoRet)
	}
	switch a {
	case specs.ActKill, specs.ActKillThread:
		return libseccomp.ActKillThread, nil
	case specs.ActKillProcess:
		return libseccomp.ActKillProcess, nil
	case specs.ActTrap:
		return libseccomp.ActTrap, nil
	case specs.ActErrno:
		return libseccomp.ActErrno.SetReturnCode(ret), nil
	case specs.ActTrace:
		return libseccomp.ActTrace.SetReturnCode(ret), nil
	case specs.ActAllow:
		return libseccomp.ActAllow, nil
	case specs.ActLog:
		return libseccomp.ActLog, nil
	case specs.ActNotify:
		return libseccomp.ActNotify, nil
	}
	return libseccomp.ActInvalid, fmt.Errorf("unknown action %q", a)
}

// operator converts an argument comparison; libseccomp rejects the zero
// value it returns for an unknown one. (A switch: a map literal is built at
// the start of every rt process, the container's init included.)
func operator(op specs.LinuxSeccompOperator) libseccomp.ScmpCompareOp {
	switch op {
	case specs.OpNotEqual:
		return libseccomp.CompareNotEqual
	case specs.OpLessThan:
		return libseccomp.CompareLess
	case specs.OpLessEqual:
		return libseccomp.CompareLessOrEqual
	case specs.OpEqualTo:
		return libseccomp.CompareEqual
	case specs.OpGreaterEqual:
		return libseccomp.CompareGreaterEqual
	case specs.OpGreaterThan:
		return libseccomp.CompareGreater
	case specs.OpMaskedEqual:
		return libseccomp.CompareMaskedEqual
	}
	return libseccomp.CompareInvalid
}

// Compile builds the BPF program of s. Syscall names libseccomp does not
// know (newer than it, or of another architecture) are skipped, as runc
// does; the kernel never sees them, so nothing is weakened.
func Compile(s *specs.LinuxSeccomp) ([]byte, error) {
	if err := Check(s); err != nil {
		return nil, err
	}
	def, err := action(s.DefaultAction, s.DefaultErrnoRet)
	if err != nil {
		return nil, fmt.Errorf("linux.seccomp.defaultAction: %w", err)
	}
	f, err := libseccomp.NewFilter(def)
	if err != nil {
		return nil, fmt.Errorf("create seccomp filter: %w", err)
	}
	defer f.Release()
	// rt sets no_new_privs itself, from process.noNewPrivileges.
	if err := f.SetNoNewPrivsBit(false); err != nil {
		return nil, err
	}
	for i, a := range s.Architectures {
		arch, err := libseccomp.GetArchFromString(libseccompArch(a))
		if err != nil {
			return nil, fmt.Errorf("linux.seccomp.architectures[%d]: %w", i, err)
		}
		if err := f.AddArch(arch); err != nil && !errors.Is(err, unix.EEXIST) {
			return nil, fmt.Errorf("linux.seccomp.architectures[%d] %s: %w", i, a, err)
		}
	}
	for i, sc := range s.Syscalls {
		act, err := action(sc.Action, sc.ErrnoRet)
		if err != nil {
			return nil, fmt.Errorf("linux.seccomp.syscalls[%d].action: %w", i, err)
		}
		if act == def {
			continue // libseccomp refuses rules that repeat the default action
		}
		for _, name := range sc.Names {
			call, err := libseccomp.GetSyscallFromName(name)
			if err != nil {
				logrus.Debugf("seccomp: skipping unknown syscall %q", name)
				continue
			}
			if err := addRule(f, call, act, sc.Args); err != nil {
				return nil, fmt.Errorf("linux.seccomp.syscalls[%d] %s: %w", i, name, err)
			}
		}
	}
	return export(f)
}

// addRule adds one syscall rule. Conditions on distinct arguments are ANDed
// in one rule; several conditions on the same argument become one rule
// each (ORed), which is how runc reads such profiles.
func addRule(f *libseccomp.ScmpFilter, call libseccomp.ScmpSyscall, act libseccomp.ScmpAction, args []specs.LinuxSeccompArg) error {
	if len(args) == 0 {
		return f.AddRule(call, act)
	}
	conds := make([]libseccomp.ScmpCondition, 0, len(args))
	seen := map[uint]bool{}
	repeated := false
	for _, a := range args {
		var c libseccomp.ScmpCondition
		var err error
		if a.Op == specs.OpMaskedEqual {
			c, err = libseccomp.MakeCondition(a.Index, operator(a.Op), a.Value, a.ValueTwo)
		} else {
			c, err = libseccomp.MakeCondition(a.Index, operator(a.Op), a.Value)
		}
		if err != nil {
			return err
		}
		if seen[a.Index] {
			repeated = true
		}
		seen[a.Index] = true
		conds = append(conds, c)
	}
	if !repeated {
		return f.AddRuleConditional(call, act, conds)
	}
	for _, c := range conds {
		if err := f.AddRuleConditional(call, act, []libseccomp.ScmpCondition{c}); err != nil {
			return err
		}
	}
	return nil
}

// export returns the filter as a BPF program (struct sock_filter array).
func export(f *libseccomp.ScmpFilter) ([]byte, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	done := make(chan struct{})
	var prog []byte
	var rerr error
	go func() {
		prog, rerr = io.ReadAll(r)
		close(done)
	}()
	err = f.ExportBPF(w)
	w.Close()
	<-done
	if err != nil {
		return nil, fmt.Errorf("export seccomp filter: %w", err)
	}
	if rerr != nil {
		return nil, rerr
	}
	if len(prog) == 0 || len(prog)%8 != 0 {
		return nil, fmt.Errorf("export seccomp filter: bad program length %d", len(prog))
	}
	return prog, nil
}
