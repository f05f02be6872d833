package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// v2Manager drives one cgroup of a cgroup2 hierarchy mounted at root.
type v2Manager struct {
	root string // mountpoint; "" when unknown (a Load-ed dir outside our mounts)
	dir  string
}

// Apply creates the directory, enables in every ancestor the controllers
// the hierarchy offers (like runc, so later Set and stats find their files;
// refusals are left for Set to report per field) and moves pid in.
func (m *v2Manager) Apply(pid int) error {
	if pid == 0 {
		return errPidZero
	}
	if err := os.MkdirAll(m.dir, 0o755); err != nil {
		return fmt.Errorf("create cgroup: %w", err)
	}
	if m.root != "" {
		if avail, err := readFile(m.root, "cgroup.controllers"); err == nil {
			_ = enableControllers(m.root, m.dir, strings.Fields(avail))
		}
	}
	if pid >= 0 {
		if err := writeProcs(m.dir, pid); err != nil {
			return fmt.Errorf("join cgroup: %w", err)
		}
	}
	return nil
}

// needV2 makes sure each controller in want is available in dir, enabling
// it in the ancestors first; the error names the controller and the file.
func needV2(root, dir string, want []string) error {
	if root != "" {
		if err := enableControllers(root, dir, want); err != nil {
			return fmt.Errorf("enable controllers %v for %s: %w", want, dir, err)
		}
	}
	have, err := readFile(dir, "cgroup.controllers")
	if err != nil {
		return err
	}
	for _, c := range want {
		if !hasWord(have, c) {
			return fmt.Errorf("the %s controller is not available in %s (cgroup.controllers: %q)", c, dir, have)
		}
	}
	return nil
}

// Set applies r. Unsupported fields are refused before anything is written.
func (m *v2Manager) Set(r *specs.LinuxResources) error {
	if r == nil {
		return nil
	}
	if err := checkSupported(r, true); err != nil {
		return err
	}
	if err := needV2(m.root, m.dir, neededV2(r)); err != nil {
		return fmt.Errorf("linux.resources: %w", err)
	}
	dir := m.dir
	if c := r.CPU; c != nil {
		if err := setCpuset(dir, c); err != nil {
			return err
		}
	}
	if mem := r.Memory; mem != nil {
		if err := setMemoryV2(dir, mem); err != nil {
			return err
		}
	}
	if c := r.CPU; c != nil {
		if c.Shares != nil && *c.Shares != 0 {
			if *c.Shares < 2 || *c.Shares > 262144 {
				return fmt.Errorf("linux.resources.cpu.shares: %d out of range 2-262144", *c.Shares)
			}
			if err := writeFile(dir, "cpu.weight", strconv.FormatUint(SharesToWeight(*c.Shares), 10)); err != nil {
				return err
			}
		}
		if v, ok := CPUMax(c.Quota, c.Period); ok {
			if err := writeFile(dir, "cpu.max", v); err != nil {
				return err
			}
		}
	}
	if r.Pids != nil && r.Pids.Limit != nil {
		if err := writeFile(dir, "pids.max", PidsMax(*r.Pids.Limit)); err != nil {
			return err
		}
	}
	if len(r.HugepageLimits) > 0 {
		if err := writeHugetlb(dir, r.HugepageLimits, ".max"); err != nil {
			return err
		}
	}
	return nil
}

func setMemoryV2(dir string, m *specs.LinuxMemory) error {
	limit := deref(m.Limit)
	swap, err := SwapV2(limit, deref(m.Swap))
	if err != nil {
		return err
	}
	if m.CheckBeforeUpdate != nil && *m.CheckBeforeUpdate && limit > 0 {
		if err := checkUsage(dir, "memory.current", limit); err != nil {
			return err
		}
	}
	if swap != "" {
		if err := writeFile(dir, "memory.swap.max", swap); err != nil {
			// The implied "max" for an unlimited limit is optional: the
			// kernel may not account swap at all.
			if !(errors.Is(err, unix.ENOENT) && m.Swap == nil) {
				return err
			}
		}
	}
	if limit != 0 {
		if err := writeFile(dir, "memory.max", limitV2(limit)); err != nil {
			return err
		}
	}
	if m.Reservation != nil && *m.Reservation != 0 {
		if err := writeFile(dir, "memory.low", limitV2(*m.Reservation)); err != nil {
			return err
		}
	}
	return nil
}

func (m *v2Manager) Destroy() error { return removeCgroups([]string{m.dir}) }

func (m *v2Manager) Path(string) string { return m.dir }

func (m *v2Manager) Paths() map[string]string { return map[string]string{UnifiedKey: m.dir} }

func (m *v2Manager) GetPids() ([]int, error) {
	set := make(map[int]struct{})
	if err := pidsIn(m.dir, set); err != nil {
		return nil, err
	}
	return sortedPids(set), nil
}

func (m *v2Manager) Exists() bool { return exists(m.dir) }

// Freeze writes cgroup.freeze and waits until cgroup.events reports
// "frozen 1": the write only starts freezing.
func (m *v2Manager) Freeze() error {
	if err := writeFile(m.dir, "cgroup.freeze", "1"); err != nil {
		return fmt.Errorf("freeze: %w", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		frozen, err := m.Frozen()
		if err != nil {
			return fmt.Errorf("freeze: %w", err)
		}
		if frozen {
			return nil
		}
		if time.Now().After(deadline) {
			_ = writeFile(m.dir, "cgroup.freeze", "0")
			return fmt.Errorf("freeze %s: not frozen after 5s; thawed again", m.dir)
		}
		time.Sleep(time.Millisecond)
	}
}

func (m *v2Manager) Thaw() error {
	if err := writeFile(m.dir, "cgroup.freeze", "0"); err != nil {
		return fmt.Errorf("thaw: %w", err)
	}
	return nil
}

func (m *v2Manager) Frozen() (bool, error) {
	ev, err := readFile(m.dir, "cgroup.events")
	if errors.Is(err, os.ErrNotExist) && !exists(m.dir) {
		return false, nil // no cgroup, nothing frozen (a stopped container)
	}
	if err != nil {
		return false, err
	}
	for _, line := range strings.Split(ev, "\n") {
		if k, v, ok := strings.Cut(line, " "); ok && k == "frozen" {
			return v == "1", nil
		}
	}
	return false, fmt.Errorf("no frozen key in %s", filepath.Join(m.dir, "cgroup.events"))
}
