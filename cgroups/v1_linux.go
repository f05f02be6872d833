package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// v1Manager drives a cgroup v1 host, and the cgroup2 hierarchy of a hybrid
// host (key UnifiedKey), which only gets a directory and the hugetlb limits.
type v1Manager struct {
	paths       map[string]string // controller -> dir
	unifiedRoot string            // cgroup2 mountpoint on hybrid hosts, "" if unknown
	lazyUnified bool              // unifiedRoot not looked up yet (a Load-ed manager)
}

// dirs returns the distinct directories (co-mounted controllers share one),
// sorted so the order of creation and removal is stable.
func (m *v1Manager) dirs() []string {
	seen := make(map[string]bool)
	var out []string
	for _, d := range m.paths {
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	sort.Strings(out)
	return out
}

func (m *v1Manager) Apply(pid int) error {
	if pid == 0 {
		return errPidZero
	}
	for _, dir := range m.dirs() {
		if err := mkdirCgroup(dir); err != nil {
			return fmt.Errorf("create cgroup: %w", err)
		}
		if dir == m.paths["cpuset"] {
			if err := ensureCpuset(dir); err != nil {
				return err
			}
		}
		if pid >= 0 {
			if err := writeProcs(dir, pid); err != nil {
				return fmt.Errorf("join cgroup: %w", err)
			}
		}
	}
	return nil
}

// ensureCpuset fills an empty cpuset.cpus or cpuset.mems of dir from its
// parent, as v1 refuses tasks in a cpuset without CPUs or memory nodes
// (ENOSPC); a parent that is empty too (made along with dir) is filled
// first. The root of the hierarchy is never empty, so the walk ends there.
func ensureCpuset(dir string) error {
	for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
		cur, err := readFile(dir, f)
		if errors.Is(err, os.ErrNotExist) {
			return nil // other file names (noprefix): nothing rt knows to fill
		}
		if err != nil {
			return err
		}
		if cur != "" {
			continue
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return fmt.Errorf("cpuset root %s has no %s", dir, f)
		}
		v, err := readFile(parent, f)
		if err != nil {
			return err
		}
		if v == "" {
			if err := ensureCpuset(parent); err != nil {
				return err
			}
			if v, err = readFile(parent, f); err != nil {
				return err
			}
		}
		if err := writeFile(dir, f, v); err != nil {
			return err
		}
	}
	return nil
}

func (m *v1Manager) Destroy() error {
	return removeCgroups(m.dirs())
}

func (m *v1Manager) Remove() error {
	var errs []error
	for _, d := range m.dirs() {
		if err := removeTree(d); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (m *v1Manager) Path(controller string) string {
	if p, ok := m.paths[controller]; ok {
		return p
	}
	if controller == "hugetlb" {
		// Hybrid hosts may offer hugetlb only in the cgroup2 hierarchy.
		return m.paths[UnifiedKey]
	}
	return ""
}

func (m *v1Manager) Paths() map[string]string {
	out := make(map[string]string, len(m.paths))
	for c, p := range m.paths {
		out[c] = p
	}
	return out
}

func (m *v1Manager) GetPids() ([]int, error) {
	set := make(map[int]struct{})
	for _, dir := range m.dirs() {
		if err := pidsIn(dir, set); err != nil {
			return nil, err
		}
	}
	return sortedPids(set), nil
}

func (m *v1Manager) Exists() bool {
	for _, dir := range m.paths {
		if exists(dir) {
			return true
		}
	}
	return false
}

func (m *v1Manager) freezerDir() (string, error) {
	dir, ok := m.paths["freezer"]
	if !ok {
		return "", errors.New("the freezer cgroup controller is not mounted")
	}
	return dir, nil
}

// Freeze writes FROZEN and waits for the state to leave FREEZING. A task
// that forks while the freezer works can keep it in FREEZING; a brief
// thaw and re-freeze gets it unstuck (runc does the same).
func (m *v1Manager) Freeze() error {
	dir, err := m.freezerDir()
	if err != nil {
		return err
	}
	for i := 0; i < 1000; i++ {
		if i%50 == 49 {
			_ = writeFile(dir, "freezer.state", "THAWED")
			time.Sleep(10 * time.Millisecond)
		}
		if err := writeFile(dir, "freezer.state", "FROZEN"); err != nil {
			return fmt.Errorf("freeze: %w", err)
		}
		state, err := readFile(dir, "freezer.state")
		if err != nil {
			return fmt.Errorf("freeze: %w", err)
		}
		if state == "FROZEN" {
			return nil
		}
		time.Sleep(time.Millisecond)
	}
	_ = writeFile(dir, "freezer.state", "THAWED")
	return fmt.Errorf("freeze %s: still FREEZING after many attempts; thawed again", dir)
}

func (m *v1Manager) Thaw() error {
	dir, err := m.freezerDir()
	if err != nil {
		return err
	}
	if err := writeFile(dir, "freezer.state", "THAWED"); err != nil {
		return fmt.Errorf("thaw: %w", err)
	}
	return nil
}

func (m *v1Manager) Frozen() (bool, error) {
	dir, err := m.freezerDir()
	if err != nil {
		return false, err
	}
	state, err := readFile(dir, "freezer.state")
	if errors.Is(err, os.ErrNotExist) {
		return false, nil // no cgroup, nothing frozen (a stopped container)
	}
	if err != nil {
		return false, err
	}
	return state == "FROZEN", nil
}

// unifiedRootDir is unifiedRoot, looked up on first use for a Load-ed manager.
func (m *v1Manager) unifiedRootDir() string {
	if m.lazyUnified {
		m.lazyUnified = false
		if dir, ok := m.paths[UnifiedKey]; ok {
			m.unifiedRoot = unifiedRootFor(dir)
		}
	}
	return m.unifiedRoot
}
