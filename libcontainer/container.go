package libcontainer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ErrNotExist is returned for an unknown container id.
var ErrNotExist = errors.New("container does not exist")

// Runtime is one state root (--root); it finds and creates containers.
type Runtime struct {
	Root string
}

// Container is a loaded container. Its status is derived on each call.
type Container struct {
	rt    *Runtime
	dir   string
	state *State
	// init is set when this process started the container's init (run).
	init *child
	// notify relays the container's READY= after start (NOTIFY_SOCKET).
	notify *notifyRelay
	// startNow is the sync socket of an init created with StartNow, which
	// Start reads to learn that the user program runs.
	startNow *syncConn
	// direct is the trampoline of a direct init (StartNow), which Start
	// sends its message.
	direct *directStart
}

// ID returns the container id.
func (c *Container) ID() string { return c.state.ID }

// State returns the stored state.
func (c *Container) State() *State { return c.state }

func (r *Runtime) dir(id string) string { return filepath.Join(r.Root, id) }

// Load returns the container with the given id.
func (r *Runtime) Load(id string) (*Container, error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	dir := r.dir(id)
	st, err := loadState(dir, nil)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("container %q: %w", id, ErrNotExist)
		}
		return nil, fmt.Errorf("container %q: %w", id, err)
	}
	return &Container{rt: r, dir: dir, state: st}, nil
}

// reload re-reads the state after the lock is taken: another command may
// have changed or removed it meanwhile.
func (c *Container) reload() error {
	st, err := loadState(c.dir, c.state)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("container %q: %w", c.state.ID, ErrNotExist)
		}
		return err
	}
	c.state = st
	return nil
}

// lock takes the container's lock and reloads its state.
func (c *Container) lock() (*os.File, error) {
	l, err := lockDir(c.dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("container %q: %w", c.state.ID, ErrNotExist)
		}
		return nil, err
	}
	if err := c.reload(); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// List returns every container under the root, sorted by id.
func (r *Runtime) List() ([]*Container, error) {
	ents, err := os.ReadDir(r.Root)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var out []*Container
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		c, err := r.Load(e.Name())
		if err != nil {
			continue // removed meanwhile, or not a container dir
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].state.ID < out[j].state.ID })
	return out, nil
}

// Status derives the current status from the init process, the freezer and
// the exec socket.
func (c *Container) Status() string {
	if c.init != nil && c.init.Reaped() {
		return Stopped // ours (run), and waited for
	}
	f := facts{creating: c.state.Creating, initPid: c.state.InitPid, startTime: c.state.InitStartTime}
	if f.initPid != 0 {
		if st, err := readProcStat(f.initPid); err == nil {
			f.proc = &st
		}
	}
	if _, err := os.Lstat(filepath.Join(c.dir, execSockName)); err == nil {
		f.execSockExist = true
	}
	f.frozen = c.frozen()
	return deriveStatus(f)
}

// OCIState is the JSON that `state` prints: the spec's fields plus runc's.
type OCIState struct {
	OCIVersion  string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Status      string            `json:"status"`
	Pid         int               `json:"pid"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Owner       string            `json:"owner"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// OCIState returns the container's state as the spec defines it.
func (c *Container) OCIState() OCIState {
	status := c.Status()
	s := OCIState{
		OCIVersion: specs.Version,
		ID:         c.state.ID,
		Status:     status,
		Bundle:     c.state.Bundle,
		Rootfs:     c.state.Rootfs,
		Created:    c.state.Created,
		Owner:      c.state.Owner,
	}
	if c.state.Config != nil {
		s.Annotations = c.state.Config.Annotations
	}
	if status != Stopped {
		s.Pid = c.state.InitPid
	}
	return s
}

// hookState is the state passed to hooks on stdin.
func (c *Container) hookState(status string) *specs.State {
	s := &specs.State{
		Version: specs.Version,
		ID:      c.state.ID,
		Status:  specs.ContainerState(status),
		Pid:     c.state.InitPid,
		Bundle:  c.state.Bundle,
	}
	if c.state.Config != nil {
		s.Annotations = c.state.Config.Annotations
	}
	return s
}
