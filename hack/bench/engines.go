package main

// Engine benchmarks: `podman run --rm IMAGE true` and `ctr run --rm ...
// IMAGE ID true` with each runtime. Every runtime gets a workspace of its
// own, set up by tests/engines (podman's storage and configuration, a
// containerd daemon, the busybox image imported into both), and two
// processes of its own, started before any timing:
//
//	harness ── reaper (new mount namespace, child subreaper) ── worker
//
// The worker sets the workspace up, then runs jobs sent by the harness,
// timed with the harness's own code, as the crun helper does; at EOF on
// its stdin it removes the workspace and reports what it could not clean.
// The reaper does nothing but reap: conmon and containerd-shim daemonize,
// so they (and podman's exit-command processes) are orphaned to it, and
// this machine's PID 1 does not reap. podman takes a zombie conmon for a
// live one and waits 20 s for it, so they must be reaped the moment they
// exit, not at the end; a process that reaps every child cannot also wait
// for particular ones (the worker's commands), hence two processes. When
// the worker has exited, the reaper kills whatever is left below it.
//
// The three reapers are alike, each in a new mount namespace whose mounts
// are all private (podman's and containerd's overlay mounts never reach the
// host, and vanish with the namespace if something is killed), except that
// crun's also gets the empty tmpfs over /sys/fs/cgroup/unified that crun
// 1.8.1 needs (see helper). So podman, conmon, containerd and its shims run
// in that namespace too: the shims start the runtime in containerd's.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rtrun/rt/tests/engines"
)

// First arguments that turn the harness binary into an engine's reaper or
// worker; the rest are engineArgs.
const (
	engineReaperArg = "__bench-engine-reaper"
	engineWorkerArg = "__bench-engine-worker"
)

// idToken in engineHello.Ctr stands for the container id.
const idToken = "{id}"

// engineArgs is what reaper and worker are started with.
type engineArgs struct {
	Name        string `json:"name"`        // the runtime's name, as podman knows it
	Bin         string `json:"bin"`         // its absolute path
	Dir         string `json:"dir"`         // the workspace
	Repo        string `json:"repo"`        // the rt repository (hack/mkrootfs.sh)
	HideUnified bool   `json:"hideUnified"` // tmpfs over unifiedDir (crun)
}

type engineHello struct {
	Err string `json:"err,omitempty"`
	// Podman is the argv of `podman --runtime NAME run --rm ... IMAGE true`.
	Podman []string `json:"podman,omitempty"`
	// Ctr is the argv of `ctr run --rm --runc-binary BIN ... IMAGE ID true`
	// with idToken for the container id.
	Ctr          []string      `json:"ctr,omitempty"`
	CgroupParent string        `json:"cgroupParent,omitempty"`
	Setup        time.Duration `json:"setup,omitempty"`
}

type engineBye struct {
	Problems []string `json:"problems,omitempty"`
}

// engine is the harness's side of one runtime's workspace.
type engine struct {
	p     *helper // the reaper; its stdin and stdout are the worker's
	hello engineHello
	seq   int
}

// startEngine starts r's reaper and worker and waits until the workspace
// is ready. The workspace's cgroup parent is recorded as soon as it is
// known: cleanup removes it, should the worker not.
func (h *harness) startEngine(r *runtime) (*engine, error) {
	_, viaHelper := r.l.(*helper)
	a := engineArgs{Name: r.name, Bin: r.bin, Dir: filepath.Join(h.work, "engine-"+r.name), Repo: h.o.repo,
		HideUnified: viaHelper}
	arg, err := json.Marshal(a)
	if err != nil {
		return nil, err
	}
	p, err := startWorker(r.name+"'s engine worker", true, engineReaperArg, string(arg))
	if err != nil {
		return nil, fmt.Errorf("start engine reaper: %w", err)
	}
	e := &engine{p: p}
	err = decodeWithin(p.dec, &e.hello, 3*time.Minute)
	if err == nil && e.hello.Err != "" {
		err = errors.New(strings.TrimSpace(e.hello.Err))
	}
	// (After a timeout, the decoder may still be writing e.hello.)
	if !errors.Is(err, errTimeout) && e.hello.CgroupParent != "" {
		h.engineCgroups = append(h.engineCgroups, e.hello.CgroupParent)
		// For cleanStale, should this run be killed outright.
		os.WriteFile(a.Dir+".cgroup", []byte(e.hello.CgroupParent), 0o644)
	}
	if err != nil {
		for _, p := range e.close() {
			logf("%s: cleanup: %s", r.name, p)
		}
		return nil, fmt.Errorf("engine set-up: %w", err)
	}
	logf("%s: podman and containerd set up in %.1fs", r.name, e.hello.Setup.Seconds())
	return e, nil
}

// close has the worker remove the workspace and waits for it and the
// reaper; it returns what was not cleaned up.
func (e *engine) close() []string {
	e.p.in.Close()
	var problems []string
	var bye engineBye
	if err := decodeWithin(e.p.dec, &bye, 2*time.Minute); err != nil {
		problems = []string{fmt.Sprintf("%s: no cleanup report: %v", e.p.name, err)}
	} else {
		problems = bye.Problems
	}
	// The reaper kills what the worker left, for up to 10 s.
	if err := e.p.wait(20 * time.Second); err != nil {
		problems = append(problems, fmt.Sprintf("%s: %v", e.p.name, err))
	}
	return problems
}

// decodeWithin decodes one value from dec, giving up after timeout (the
// decoder, and v, are then left to a goroutine).
func decodeWithin(dec *json.Decoder, v any, timeout time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- dec.Decode(v) }()
	select {
	case err := <-done:
		return err
	case <-time.After(timeout):
		return fmt.Errorf("%w (%v)", errTimeout, timeout)
	}
}

var errTimeout = errors.New("no answer in time")

// engineSetup starts r's engine workspace, unless it runs already (the
// podman and ctr benchmarks share it) or could not be set up.
func (h *harness) engineSetup(r *runtime) error {
	if r.eng != nil || r.engErr != nil {
		return r.engErr
	}
	r.eng, r.engErr = h.startEngine(r)
	return r.engErr
}

func (h *harness) engineTeardown(r *runtime) error {
	if r.eng == nil {
		return nil
	}
	problems := r.eng.close()
	r.eng = nil
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

func measurePodman(r *runtime) (map[string]float64, error) {
	res, err := r.doWith(r.eng.p, job{Steps: []step{{Args: r.eng.hello.Podman}}})
	if err != nil {
		return nil, err
	}
	return map[string]float64{"podman": ms(res.Steps[0].Dur)}, nil
}

func measureCtr(r *runtime) (map[string]float64, error) {
	r.eng.seq++
	id := fmt.Sprintf("bench-%d", r.eng.seq)
	var args []string
	for _, a := range r.eng.hello.Ctr {
		args = append(args, strings.ReplaceAll(a, idToken, id))
	}
	res, err := r.doWith(r.eng.p, job{Steps: []step{{Args: args}}})
	if err != nil {
		return nil, err
	}
	return map[string]float64{"ctr": ms(res.Steps[0].Dur)}, nil
}

func parseEngineArgs() (engineArgs, error) {
	var a engineArgs
	if len(os.Args) != 3 {
		return a, fmt.Errorf("usage: %s %s JSON", os.Args[0], os.Args[1])
	}
	return a, json.Unmarshal([]byte(os.Args[2]), &a)
}

// engineReaperMain: see the top of this file. Its stdin and stdout are the
// worker's; it writes to stdout only if it cannot start the worker.
func engineReaperMain() int {
	ignoreSignals()
	// The exit status tells only what hello and bye do not.
	fail := func(err error) int {
		enc := json.NewEncoder(os.Stdout)
		enc.Encode(engineHello{Err: "engine reaper: " + err.Error()})
		enc.Encode(engineBye{})
		return 0
	}
	a, err := parseEngineArgs()
	if err != nil {
		return fail(err)
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fail(fmt.Errorf("become child subreaper: %w", err))
	}
	if err := privateMounts(a.HideUnified); err != nil {
		return fail(err)
	}
	worker, err := syscall.ForkExec("/proc/self/exe", []string{os.Args[0], engineWorkerArg, os.Args[2]},
		&syscall.ProcAttr{Env: os.Environ(), Files: []uintptr{0, 1, 2}})
	if err != nil {
		return fail(fmt.Errorf("start worker: %w", err))
	}
	status := engines.ReapUntil(worker)
	if left := killChildren(10 * time.Second); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "bench: %s's engine reaper: killed what the worker left: %s\n", a.Name, strings.Join(left, ", "))
		status = 1
	}
	return status
}

// killChildren kills and reaps the caller's children until it has none
// (orphans keep arriving while their parents die), for up to timeout. It
// returns the processes it had to kill.
func killChildren(timeout time.Duration) []string {
	var killed []string
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		reapAll()
		kids := children(os.Getpid())
		if len(kids) == 0 {
			return killed
		}
		for pid, c := range kids {
			// A zombie is reaped on the next round.
			if !c.zombie && unix.Kill(pid, unix.SIGKILL) == nil {
				killed = append(killed, fmt.Sprintf("%d (%s)", pid, c.comm))
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return append(killed, "still some after "+timeout.String())
}

type child struct {
	comm   string
	zombie bool
}

// children returns ppid's children, zombies included.
func children(ppid int) map[int]child {
	kids := map[int]child{}
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", p.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		open, end := bytes.IndexByte(stat, '('), bytes.LastIndexByte(stat, ')')
		if open < 0 || end < open {
			continue
		}
		f := strings.Fields(string(stat[end+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(ppid) {
			kids[pid] = child{comm: string(stat[open+1 : end]), zombie: f[0] == "Z"}
		}
	}
	return kids
}

// ignoreSignals: signals are the harness's business; the worker stops at
// EOF on its stdin. And should the harness die (its end of the worker's
// stdout with it), a write there must fail with EPIPE rather than kill
// the worker with SIGPIPE before it has cleaned up.
func ignoreSignals() {
	signal.Notify(make(chan os.Signal, 1), unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGPIPE)
}

// engineWorkerMain sets the workspace up, says hello, runs one job per
// line of stdin until stdin closes, then removes the workspace and says
// what it could not remove (bye). Its exit status is 0 once it has said
// that, as the harness has heard it.
func engineWorkerMain() int {
	ignoreSignals()
	enc := json.NewEncoder(os.Stdout)
	a, err := parseEngineArgs()
	if err != nil {
		enc.Encode(engineHello{Err: err.Error()})
		enc.Encode(engineBye{})
		return 0
	}
	t0 := time.Now()
	env, err := engines.Setup(engines.Options{Dir: a.Dir, Repo: a.Repo, Runtimes: map[string]string{a.Name: a.Bin}, Containerd: true})
	if err != nil {
		// Setup has undone what it did.
		enc.Encode(engineHello{Err: err.Error()})
		enc.Encode(engineBye{})
		return 0
	}
	hello := engineHello{CgroupParent: env.CgroupParent, Setup: time.Since(t0)}
	if err = workerCommands(env, a, &hello); err != nil {
		hello = engineHello{Err: err.Error(), CgroupParent: env.CgroupParent}
	}
	enc.Encode(hello)
	if err == nil {
		dec := json.NewDecoder(os.Stdin)
		for {
			var j job
			if err := dec.Decode(&j); err != nil {
				if err != io.EOF {
					fmt.Fprintf(os.Stderr, "bench: %s's engine worker: %v\n", a.Name, err)
				}
				break
			}
			if err := enc.Encode(execJob(j)); err != nil {
				break
			}
		}
	}
	var problems []string
	if a.HideUnified {
		// podman mirrors its cgroups into every hierarchy of
		// /proc/self/cgroup, so into the tmpfs too, with files in them:
		// not cgroups, which Close could rmdir, but only of this namespace.
		problems = clearHiddenUnified(env.CgroupParent)
	}
	problems = append(problems, env.Close()...)
	if err := enc.Encode(engineBye{Problems: problems}); err != nil && len(problems) > 0 {
		// The harness is gone: tell the terminal at least.
		fmt.Fprintf(os.Stderr, "bench: %s's engine worker: cleanup: %s\n", a.Name, strings.Join(problems, "; "))
		return 1
	}
	return 0
}

// workerCommands fills in the engine commands of hello and gives the
// worker the environment podman needs (job steps inherit it).
func workerCommands(env *engines.Env, a engineArgs, hello *engineHello) error {
	var err error
	podman := env.Podman(append(append([]string{"--runtime", a.Name, "run", "--rm"}, env.PodmanRunFlags()...), engines.Image, "true")...)
	if hello.Podman, err = argv(podman.Path, podman.Args, podman.Err); err != nil {
		return err
	}
	ctr := env.Ctr(append(append([]string{"run", "--rm"}, env.CtrRunFlags(a.Bin, idToken)...), engines.Image, idToken, "true")...)
	if hello.Ctr, err = argv(ctr.Path, ctr.Args, ctr.Err); err != nil {
		return err
	}
	for _, kv := range podman.Env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			if err := os.Setenv(k, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// argv is an exec.Cmd's command line with the resolved path of the
// program, for a job step.
func argv(path string, args []string, err error) ([]string, error) {
	if err != nil {
		return nil, err
	}
	return append([]string{path}, args[1:]...), nil
}

// engineCheck looks for what the engine benchmarks need.
func engineCheck(o options) error {
	for _, bin := range []string{"podman", "conmon", "containerd", "ctr", "containerd-shim-runc-v2"} {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Errorf("%s not found: hack/setup.sh test installs it (or -engine-reps 0 skips podman and ctr)", bin)
		}
	}
	if _, err := os.Stat(filepath.Join(o.repo, "hack/mkrootfs.sh")); err != nil {
		return fmt.Errorf("-repo: %v", err)
	}
	return nil
}

// staleEngines cleans up after the engine workspaces of an earlier run that
// was killed together with its engine workers (a worker alone cleans up
// when the harness dies): it waits for workers still cleaning up, kills
// the engine processes left and returns the workspaces' cgroup parents.
func staleEngines(work string) []string {
	mine := func(names ...string) []int {
		var pids []int
		for _, pid := range processesMentioning(work) {
			comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
			if slices.Contains(names, strings.TrimSpace(string(comm))) {
				pids = append(pids, pid)
			}
		}
		return pids
	}
	// Reapers and workers run as /proc/self/exe.
	for deadline := time.Now().Add(time.Minute); len(mine("exe")) > 0 && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
	}
	for _, pid := range mine("exe", "podman", "conmon", "ctr", "containerd", "containerd-shim") {
		logf("killing process %d of the earlier run", pid)
		unix.Kill(pid, unix.SIGKILL)
	}
	var cgs []string
	files, _ := filepath.Glob(filepath.Join(work, "engine-*.cgroup"))
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil && strings.HasPrefix(string(b), "/rt-engines-") {
			cgs = append(cgs, string(b))
		}
	}
	return cgs
}

// clearHiddenUnified removes dir (absolute, as a cgroup parent) from the
// tmpfs over unifiedDir, making sure that it is the tmpfs.
func clearHiddenUnified(dir string) []string {
	var fs unix.Statfs_t
	if err := unix.Statfs(unifiedDir, &fs); err != nil || fs.Type != unix.TMPFS_MAGIC {
		return []string{unifiedDir + " is not the tmpfs"}
	}
	if err := os.RemoveAll(filepath.Join(unifiedDir, dir)); err != nil {
		return []string{err.Error()}
	}
	return nil
}
