package main

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Benchmark names, as used in notYet.
const (
	benchFloor   = "floor"
	benchRun     = "run"
	benchCycle   = "cycle"
	benchExec    = "exec"
	benchIdle    = "idle"
	benchLimits  = "limits"
	benchSeccomp = "seccomp"
	benchSeq     = "sequential"
	benchConc    = "concurrent"
	benchPodman  = "podman"
	benchCtr     = "ctr"
)

// benchNames are the benchmarks -only may name.
var benchNames = []string{benchFloor, benchRun, benchCycle, benchExec, benchIdle, benchLimits, benchSeccomp,
	benchConc, benchSeq, benchPodman, benchCtr}

// row is one line of the table. A target compares rt's median with
// another runtime's: rt/vs ≤ max.
type row struct {
	key, label, unit string
	vs               string
	max              float64
}

// bench is one measurement, repeated: each repetition runs measure once
// per runtime, the runtimes in rotating order. One measure may fill several
// rows (a create/start/delete cycle fills three).
type bench struct {
	name     string
	rows     []row
	reps     int
	warmup   bool // one unrecorded repetition per runtime first
	setup    func(r *runtime) error
	measure  func(r *runtime) (map[string]float64, error)
	teardown func(r *runtime) error
}

func (h *harness) benches() []*bench {
	o := h.o
	bs := []*bench{
		{name: benchFloor, reps: o.reps, warmup: true, measure: measureFloor,
			rows: []row{
				{key: "floor", label: "launcher floor: the host's /bin/true, started as `run` is", unit: "ms"},
				{key: "rss-floor", label: "RSS floor: ru_maxrss of that /bin/true", unit: "MiB"},
			}},
		{name: benchRun, reps: o.reps, warmup: true, measure: measureRun(plain, "run", "rss"),
			rows: []row{
				{key: "run", label: "`run` of /bin/true, end to end", unit: "ms", vs: "crun", max: 0.8},
				{key: "rss", label: "peak RSS of `run` (ru_maxrss)", unit: "MiB", vs: "runc", max: 0.6},
			}},
		{name: benchCycle, reps: o.reps, warmup: true, measure: measureCycle,
			rows: []row{
				{key: "create", label: "`create` alone", unit: "ms", vs: "crun", max: 1},
				{key: "start", label: "`start` alone", unit: "ms", vs: "crun", max: 1},
				{key: "delete", label: "`delete` alone (stopped container)", unit: "ms", vs: "crun", max: 1},
			}},
		{name: benchExec, reps: o.reps, warmup: true, setup: execSetup, measure: measureExec, teardown: execTeardown,
			rows: []row{{key: "exec", label: "`exec` of /bin/true into a running container", unit: "ms"}}},
		{name: benchIdle, reps: o.idleReps, warmup: true, setup: execSetup, measure: measureIdle, teardown: execTeardown,
			rows: []row{
				{key: "idle-run", label: fmt.Sprintf("`run` of /bin/true after %v with no cgroup task moves", idlePause), unit: "ms"},
				{key: "idle-exec", label: fmt.Sprintf("`exec` of /bin/true after %v with no cgroup task moves", idlePause), unit: "ms"},
			}},
		{name: benchLimits, reps: o.reps, warmup: true, measure: measureRun(limits, "limits", ""),
			rows: []row{{key: "limits", label: "`run` with memory, cpu and pids limits", unit: "ms"}}},
		{name: benchSeccomp, reps: o.reps, warmup: true, measure: measureRun(secured, "seccomp", ""),
			rows: []row{{key: "seccomp", label: fmt.Sprintf("`run` with a %d-rule seccomp profile", len(allowedSyscalls)), unit: "ms"}}},
		{name: benchConc, reps: o.concReps, measure: measureConc(o.conc),
			rows: []row{{key: "conc", label: fmt.Sprintf("%d concurrent `run`s, wall time", o.conc), unit: "s"}}},
		{name: benchSeq, reps: o.seqReps, measure: measureSeq(o.seqN),
			rows: []row{{key: "seq", label: fmt.Sprintf("%d × create, start, delete one after another", o.seqN), unit: "s", vs: "crun", max: 1}}},
	}
	if o.engineReps == 0 {
		return bs
	}
	// Both use each runtime's engine workspace (engines.go): set up by the
	// first, removed after the second, or at cleanup.
	nop := func(*runtime) error { return nil }
	return append(bs,
		&bench{name: benchPodman, reps: o.engineReps, warmup: true, setup: h.engineSetup, measure: measurePodman, teardown: nop,
			rows: []row{{key: "podman", label: "`podman run --rm busybox true`, end to end", unit: "ms"}}},
		&bench{name: benchCtr, reps: o.engineReps, warmup: true, setup: h.engineSetup, measure: measureCtr, teardown: h.engineTeardown,
			rows: []row{{key: "ctr", label: "`ctr run --rm busybox true` (containerd-shim-runc-v2), end to end", unit: "ms"}}},
	)
}

// tableOrder is the order of rows in the report.
var tableOrder = []string{"run", "create", "start", "delete", "exec", "idle-run", "idle-exec", "limits", "seccomp", "seq", "conc", "podman", "ctr", "rss", "floor", "rss-floor"}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// measureFloor measures the launcher alone (the harness, or the crun
// helper, and the spawner) with the smallest program there is.
func measureFloor(r *runtime) (map[string]float64, error) {
	res, err := r.do(job{Steps: []step{{Args: []string{"/bin/true"}, Spawn: true}}})
	if err != nil {
		return nil, err
	}
	return map[string]float64{"floor": ms(res.Steps[0].Dur), "rss-floor": mib(res.Steps[0].MaxRSS)}, nil
}

func mib(kib int64) float64 { return float64(kib) / 1024 }

// measureRun times `run` of variant's bundle into key, and its peak RSS
// (KiB from wait4, reported in MiB) into rssKey unless that is "".
func measureRun(variant, key, rssKey string) func(r *runtime) (map[string]float64, error) {
	return func(r *runtime) (map[string]float64, error) {
		id := r.newID(variant)
		res, err := r.do(job{Steps: []step{{Args: r.cmd("run", "--bundle", r.bundleDir(variant, 0), id), Spawn: true}}})
		if err != nil {
			return nil, err
		}
		delete(r.live, id)
		v := map[string]float64{key: ms(res.Steps[0].Dur)}
		if rssKey != "" {
			v[rssKey] = mib(res.Steps[0].MaxRSS)
		}
		return v, nil
	}
}

// idlePause is how long nothing runs before an idle measurement. A task
// moved into a cgroup by pid waits for an RCU grace period (5-15 ms on
// this VM) unless another move happened in the last few ms; back-to-back
// repetitions keep each other out of that wait, while an engine that
// starts a container now and then pays it every time.
const idlePause = 50 * time.Millisecond

// measureIdle is `run`, and `exec` into the running exec target, each after
// idlePause.
func measureIdle(r *runtime) (map[string]float64, error) {
	id := r.newID("idle")
	res, err := r.do(job{Steps: []step{
		{Pause: idlePause},
		{Args: r.cmd("run", "--bundle", r.bundleDir(plain, 0), id)},
		{Pause: idlePause},
		{Args: r.cmd("exec", execTarget, "/bin/true")},
	}})
	if err != nil {
		return nil, err
	}
	delete(r.live, id)
	return map[string]float64{"idle-run": ms(res.Steps[1].Dur), "idle-exec": ms(res.Steps[3].Dur)}, nil
}

func measureCycle(r *runtime) (map[string]float64, error) {
	id := r.newID("cycle")
	res, err := r.do(job{Steps: r.lifecycle(nil, id, r.bundleDir(plain, 0))})
	if err != nil {
		return nil, err
	}
	delete(r.live, id)
	s := res.Steps
	return map[string]float64{"create": ms(s[0].Dur), "start": ms(s[1].Dur), "delete": ms(s[3].Dur)}, nil
}

// execTarget is the id of each runtime's long-running container.
const execTarget = "exec-target"

func execSetup(r *runtime) error {
	id := execTarget
	r.live[id] = true
	_, err := r.do(job{Steps: []step{
		{Args: r.cmd("create", "--bundle", r.bundleDir(sleeper, 0), "--pid-file", r.pidFile(id), id)},
		{Args: r.cmd("start", id)},
	}})
	return err
}

func measureExec(r *runtime) (map[string]float64, error) {
	res, err := r.do(job{Steps: []step{{Args: r.cmd("exec", execTarget, "/bin/true")}}})
	if err != nil {
		return nil, err
	}
	return map[string]float64{"exec": ms(res.Steps[0].Dur)}, nil
}

// execTeardown kills the container, reaps its init, then deletes it.
func execTeardown(r *runtime) error {
	id := execTarget
	_, err := r.do(job{Steps: []step{
		{Args: r.cmd("kill", id, "KILL")},
		{WaitPidFile: r.pidFile(id)},
		{Args: r.cmd("delete", id)},
	}})
	if err == nil {
		delete(r.live, id)
	}
	return err
}

// measureConc starts n `run`s at once, each with its own bundle and cgroup.
func measureConc(n int) func(r *runtime) (map[string]float64, error) {
	return func(r *runtime) (map[string]float64, error) {
		j := job{Parallel: true}
		var ids []string
		for slot := range n {
			id := r.newID("conc")
			ids = append(ids, id)
			j.Steps = append(j.Steps, step{Args: r.cmd("run", "--bundle", r.bundleDir(plain, slot), id)})
		}
		res, err := r.do(j)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			delete(r.live, id)
		}
		return map[string]float64{"conc": res.Wall.Seconds()}, nil
	}
}

// measureSeq creates, starts, waits for and deletes n containers one after
// another, as one job, and reports its wall time.
func measureSeq(n int) func(r *runtime) (map[string]float64, error) {
	return func(r *runtime) (map[string]float64, error) {
		var steps []step
		var ids []string
		for range n {
			id := r.newID("seq")
			ids = append(ids, id)
			steps = r.lifecycle(steps, id, r.bundleDir(plain, 0))
		}
		res, err := r.do(job{Steps: steps})
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			delete(r.live, id)
		}
		return map[string]float64{"seq": res.Wall.Seconds()}, nil
	}
}

// results holds samples and errors per row and runtime.
type results struct {
	samples map[string]map[string][]float64 // row -> runtime -> values
	errs    map[string]map[string]string    // row -> runtime -> first error
	nfail   map[string]map[string]int       // row -> runtime -> failed repetitions
	na      map[string]map[string]bool      // row -> runtime -> not implemented
	rows    map[string]row
	reps    map[string]int
}

func (res *results) failed() bool { return len(res.errs) > 0 }

func set[V any](m map[string]map[string]V, a, b string, v V) {
	if m[a] == nil {
		m[a] = map[string]V{}
	}
	m[a][b] = v
}

func (h *harness) runAll() *results {
	res := &results{samples: map[string]map[string][]float64{}, errs: map[string]map[string]string{},
		nfail: map[string]map[string]int{},
		na:    map[string]map[string]bool{}, rows: map[string]row{}, reps: map[string]int{}}
	only := strings.FieldsFunc(h.o.only, func(r rune) bool { return r == ',' })
	for _, b := range h.benches() {
		if stopping.Load() {
			break
		}
		if len(only) > 0 && !slices.Contains(only, b.name) {
			continue
		}
		t0 := time.Now()
		h.runBench(b, res)
		logf("%-10s %5.1fs", b.name, time.Since(t0).Seconds())
	}
	return res
}

func (h *harness) runBench(b *bench, res *results) {
	// fail records a failed repetition; after maxFails a runtime stops
	// taking part in this benchmark.
	const maxFails = 3
	fail := func(r *runtime, err error) (stop bool) {
		logf("%s: %s: %v", b.name, r.name, err)
		for _, rw := range b.rows {
			if res.errs[rw.key][r.name] == "" {
				set(res.errs, rw.key, r.name, err.Error())
			}
			set(res.nfail, rw.key, r.name, res.nfail[rw.key][r.name]+1)
		}
		return res.nfail[b.rows[0].key][r.name] >= maxFails
	}
	for _, rw := range b.rows {
		res.rows[rw.key] = rw
		res.reps[rw.key] = b.reps
	}
	active := map[*runtime]bool{}
	var setUp []*runtime
	for _, r := range h.rts {
		if stopping.Load() {
			break
		}
		if slices.Contains(notYet[r.name], b.name) {
			for _, rw := range b.rows {
				set(res.na, rw.key, r.name, true)
			}
			continue
		}
		if b.setup != nil {
			// A failed set-up is left to cleanup, which deletes -f what r.live holds.
			if err := b.setup(r); err != nil {
				fail(r, fmt.Errorf("set-up: %w", err))
				continue
			}
			setUp = append(setUp, r)
		}
		active[r] = true
	}
	defer func() {
		for _, r := range setUp {
			if err := b.teardown(r); err != nil {
				fail(r, fmt.Errorf("tear-down: %w", err))
			}
		}
	}()
	if b.warmup {
		for _, r := range h.rts {
			if active[r] && !stopping.Load() {
				if _, err := b.measure(r); err != nil && fail(r, err) {
					delete(active, r)
				}
			}
		}
	}
	for rep := range b.reps {
		for k := range h.rts {
			r := h.rts[(rep+k)%len(h.rts)]
			if !active[r] {
				continue
			}
			if stopping.Load() {
				return
			}
			vals, err := b.measure(r)
			if err != nil {
				if fail(r, err) {
					delete(active, r)
				}
				continue
			}
			for key, v := range vals {
				if res.samples[key] == nil {
					res.samples[key] = map[string][]float64{}
				}
				res.samples[key][r.name] = append(res.samples[key][r.name], v)
			}
		}
	}
}
