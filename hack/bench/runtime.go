package main

import (
	"fmt"
	"path/filepath"
	"time"
)

// runtime is one runtime under test.
type runtime struct {
	name    string
	bin     string
	dir     string // <work>/<name>: root/, bundles/, pid files
	root    string // its --root
	l       launcher
	live    map[string]bool // ids that may exist: deleted -f at cleanup
	seq     int
	timeout time.Duration
	spawner string  // hack/bench/spawn, for Spawn steps
	eng     *engine // its podman and containerd workspace, while the engine benchmarks run
	engErr  error   // why eng could not be set up
}

// notYet lists the benchmarks a runtime cannot run yet; its cells show n/a.
// When rt gains exec, delete the name here and it is measured.
var notYet = map[string][]string{
	"rt": {},
}

// cmd is the runtime's command line for args, with its own --root.
func (r *runtime) cmd(args ...string) []string {
	return append([]string{r.bin, "--root", r.root}, args...)
}

// newID returns a fresh container id and remembers it for cleanup.
func (r *runtime) newID(prefix string) string {
	r.seq++
	id := fmt.Sprintf("%s-%d", prefix, r.seq)
	r.live[id] = true
	return id
}

func (r *runtime) pidFile(id string) string { return filepath.Join(r.dir, id+".pid") }

// do runs j with r's launcher; an error names the step that failed.
func (r *runtime) do(j job) (jobResult, error) { return r.doWith(r.l, j) }

// doWith runs j with l, as do does.
func (r *runtime) doWith(l launcher, j job) (jobResult, error) {
	if j.Timeout == 0 {
		j.Timeout = r.timeout
	}
	j.Spawner = r.spawner
	res, err := l.run(j)
	if err != nil {
		return res, err
	}
	return res, res.err(j)
}

// lifecycle appends create, start, wait-until-stopped and delete of a
// container of bundle to steps: the order an engine uses them in, with the
// harness as the subreaper that reaps init before delete.
func (r *runtime) lifecycle(steps []step, id, bundle string) []step {
	pf := r.pidFile(id)
	return append(steps,
		step{Args: r.cmd("create", "--bundle", bundle, "--pid-file", pf, id)},
		step{Args: r.cmd("start", id)},
		step{WaitPidFile: pf},
		step{Args: r.cmd("delete", id)},
	)
}
