package libcontainer

// Managing a running container: pause, resume, update, events (stats and
// OOM), ps. Each goes through the container's cgroup manager, rebuilt from
// the paths saved in its state.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rtrun/rt/cgroups"
)

// cgroupManager rebuilds the container's cgroup manager from its state.
func (c *Container) cgroupManager() (cgroups.Manager, error) {
	if len(c.state.CgroupPaths) == 0 {
		return nil, fmt.Errorf("container %s has no cgroups recorded in its state", c.ID())
	}
	return cgroups.Load(c.state.CgroupPaths)
}

// Pause freezes every process of a running container.
func (c *Container) Pause() error {
	lock, err := c.lock()
	if err != nil {
		return err
	}
	defer lock.Close()
	if s := c.Status(); s != Running {
		return fmt.Errorf("cannot pause container %s in state %q: only a running container can be paused", c.ID(), s)
	}
	mgr, err := c.cgroupManager()
	if err != nil {
		return err
	}
	if err := mgr.Freeze(); err != nil {
		return fmt.Errorf("pause container %s: %w", c.ID(), err)
	}
	return nil
}

// Resume thaws a paused container.
func (c *Container) Resume() error {
	lock, err := c.lock()
	if err != nil {
		return err
	}
	defer lock.Close()
	if s := c.Status(); s != Paused {
		return fmt.Errorf("cannot resume container %s in state %q: only a paused container can be resumed", c.ID(), s)
	}
	mgr, err := c.cgroupManager()
	if err != nil {
		return err
	}
	if err := mgr.Thaw(); err != nil {
		return fmt.Errorf("resume container %s: %w", c.ID(), err)
	}
	// Status is derived from the freezer: report success only once the
	// kernel says so, so that a following `state` reads "running".
	for deadline := time.Now().Add(2 * time.Second); ; {
		frozen, err := mgr.Frozen()
		if err != nil {
			return fmt.Errorf("resume container %s: %w", c.ID(), err)
		}
		if !frozen {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("resume container %s: the cgroup is still frozen after thawing", c.ID())
		}
		time.Sleep(time.Millisecond)
	}
}

// Update applies the resource fields set in r to the live cgroups and
// records them in the container's saved config, so a later update or state
// starts from them. Fields left nil in r are kept as they are; device rules
// in r replace the saved ones.
func (c *Container) Update(r *specs.LinuxResources) error {
	lock, err := c.lock()
	if err != nil {
		return err
	}
	defer lock.Close()
	switch s := c.Status(); s {
	case Created, Running, Paused:
	default:
		return fmt.Errorf("cannot update container %s in state %q", c.ID(), s)
	}
	mgr, err := c.cgroupManager()
	if err != nil {
		return err
	}
	spec := c.state.Config
	if spec == nil {
		spec = &specs.Spec{}
		c.state.Config = spec
	}
	if spec.Linux == nil {
		spec.Linux = &specs.Linux{}
	}
	merged, err := mergeResources(spec.Linux.Resources, r)
	if err != nil {
		return fmt.Errorf("update container %s: %w", c.ID(), err)
	}
	apply := completeUpdate(r, merged)
	if r.Devices != nil {
		apply.Devices = cgroups.DeviceRules(r.Devices, spec.Linux.Devices)
	}
	if err := mgr.Set(apply); err != nil {
		return fmt.Errorf("update container %s: %w", c.ID(), err)
	}
	spec.Linux.Resources = merged
	return c.state.save(c.dir)
}

// mergeResources returns old with every field set in upd put over it, the
// way a JSON merge patch works: objects merge key by key, anything else
// (numbers, strings, arrays such as device rules) replaces. Neither
// argument is modified.
func mergeResources(old, upd *specs.LinuxResources) (*specs.LinuxResources, error) {
	toMap := func(r *specs.LinuxResources) (map[string]any, error) {
		m := map[string]any{}
		if r == nil {
			return m, nil
		}
		b, err := json.Marshal(r)
		if err != nil {
			return nil, err
		}
		return m, json.Unmarshal(b, &m)
	}
	dst, err := toMap(old)
	if err != nil {
		return nil, err
	}
	src, err := toMap(upd)
	if err != nil {
		return nil, err
	}
	mergeJSON(dst, src)
	b, err := json.Marshal(dst)
	if err != nil {
		return nil, err
	}
	out := &specs.LinuxResources{}
	return out, json.Unmarshal(b, out)
}

func mergeJSON(dst, src map[string]any) {
	for k, v := range src {
		if sv, ok := v.(map[string]any); ok {
			if dv, ok := dst[k].(map[string]any); ok {
				mergeJSON(dv, sv)
				continue
			}
		}
		dst[k] = v
	}
}

// completeUpdate returns a copy of upd with the values that cgroup files
// couple to the fields being changed filled in from merged: memory.swap is
// memory+swap, so a swap update needs the limit; cgroup v2 writes quota and
// period together in cpu.max, so a period update needs the quota.
func completeUpdate(upd, merged *specs.LinuxResources) *specs.LinuxResources {
	out := *upd
	if m := upd.Memory; m != nil && m.Swap != nil && m.Limit == nil && merged.Memory != nil && merged.Memory.Limit != nil {
		mm := *m
		mm.Limit = merged.Memory.Limit
		out.Memory = &mm
	}
	if c := upd.CPU; c != nil && c.Period != nil && c.Quota == nil && merged.CPU != nil && merged.CPU.Quota != nil {
		cc := *c
		cc.Quota = merged.CPU.Quota
		out.CPU = &cc
	}
	return &out
}

// Processes returns the pids (in the host's pid namespace) of every process
// in the container's cgroups.
func (c *Container) Processes() ([]int, error) {
	mgr, err := c.cgroupManager()
	if err != nil {
		return nil, err
	}
	pids, err := mgr.GetPids()
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", c.ID(), err)
	}
	return pids, nil
}

// Event is one line of `events`, in runc's envelope; the data of a stats
// event is a *cgroups.Stats.
type Event struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Data any    `json:"data,omitempty"`
}

// checkLive refuses a stopped container, as runc's events does.
func (c *Container) checkLive() error {
	switch s := c.Status(); s {
	case Stopped:
		return fmt.Errorf("container %s is not running (state %q)", c.ID(), s)
	case Creating:
		return fmt.Errorf("container %s is still being created", c.ID())
	}
	return nil
}

// Stats reads the container's resource usage from its cgroups.
func (c *Container) Stats() (*cgroups.Stats, error) {
	if err := c.checkLive(); err != nil {
		return nil, err
	}
	mgr, err := c.cgroupManager()
	if err != nil {
		return nil, err
	}
	s, err := mgr.Stats()
	if err != nil {
		return nil, fmt.Errorf("stats of container %s: %w", c.ID(), err)
	}
	return s, nil
}

// oomRecheck is how long after an OOM notification the kill counter is
// read again: the kernel notifies before its OOM killer has picked a victim.
const oomRecheck = 100 * time.Millisecond

// Events reports stats every interval and an "oom" event for each process
// of the container the kernel's OOM killer kills, until the container
// stops or ctx ends. A kill that stops the container is still reported.
// (An OOM that kills nothing, with the OOM killer disabled, is not.)
func (c *Container) Events(ctx context.Context, interval time.Duration, emit func(*Event) error) error {
	if interval <= 0 {
		return fmt.Errorf("events: the interval must be positive, not %s", interval)
	}
	if err := c.checkLive(); err != nil {
		return err
	}
	mgr, err := c.cgroupManager()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopped := c.watchInit(ctx)

	// Notifications only say "look again"; the kill counter is what is
	// reported, so a notification and a later read never count one OOM
	// twice. The counter is read after registering: nothing falls between.
	notify, err := mgr.WaitOOM(ctx)
	if err != nil {
		return fmt.Errorf("events of container %s: %w", c.ID(), err)
	}
	kills, err := mgr.OOMKillCount()
	if err != nil {
		return fmt.Errorf("events of container %s: %w", c.ID(), err)
	}
	checkOOM := func() error {
		n, err := mgr.OOMKillCount()
		if err != nil {
			return nil // the cgroup is gone: nothing more to report
		}
		for ; kills < n; kills++ {
			if err := emit(&Event{Type: "oom", ID: c.ID()}); err != nil {
				return err
			}
		}
		return nil
	}
	statsTick := time.NewTicker(interval)
	defer statsTick.Stop()
	var recheck <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-stopped:
			return checkOOM()
		case _, ok := <-notify:
			if !ok {
				notify = nil // cgroup removed or empty; stopped follows
			}
			if err := checkOOM(); err != nil {
				return err
			}
			recheck = time.After(oomRecheck)
		case <-recheck:
			recheck = nil
			if err := checkOOM(); err != nil {
				return err
			}
		case <-statsTick.C:
			s, err := mgr.Stats()
			if err != nil {
				if c.Status() == Stopped {
					return checkOOM()
				}
				return fmt.Errorf("stats of container %s: %w", c.ID(), err)
			}
			if err := checkOOM(); err != nil {
				return err
			}
			if err := emit(&Event{Type: "stats", ID: c.ID(), Data: s}); err != nil {
				return err
			}
		}
	}
}

// watchInit returns a channel closed when the container's init exits (or
// is found gone), or ctx ends.
func (c *Container) watchInit(ctx context.Context) <-chan struct{} {
	done := make(chan struct{})
	pidfd, err := unix.PidfdOpen(c.state.InitPid, 0)
	if err == nil {
		// The pid may have been reused since the state was read.
		if st, serr := readProcStat(c.state.InitPid); serr != nil || st.StartTime != c.state.InitStartTime {
			unix.Close(pidfd)
			err = errors.New("init gone")
		}
	}
	if err != nil {
		close(done)
		return done
	}
	go func() {
		defer close(done)
		defer unix.Close(pidfd)
		fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
		for ctx.Err() == nil {
			n, err := unix.Poll(fds, 500)
			if n > 0 || (err != nil && !errors.Is(err, unix.EINTR)) {
				return
			}
		}
	}()
	return done
}
