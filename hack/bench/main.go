// Command bench measures rt against runc and crun on this host: one busybox
// bundle, each runtime with its own --root and cgroups, every repetition
// running the runtimes once each in rotating order, and a markdown table of
// medians (min–max) with the ratios rt/runc and rt/crun. It cleans up after
// itself even when interrupted, and after an earlier run that was killed.
//
// Two more rows time the runtimes under the engines: `podman run --rm` and
// `ctr run --rm` (see engines.go).
//
//	make bench          the full table (about 1½ minutes on 2 quiet cores, 2–3 when busy)
//	make bench-smoke    a few repetitions, for CI
//
// Run it through make, as root: make builds rt, this program, hack/bench/spawn
// and the busybox rootfs first.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

type options struct {
	rt, runc, crun string
	spawn          string
	rootfs         string
	repo           string
	out            string
	reps           int // per-command benchmarks
	seqReps, seqN  int
	concReps, conc int
	idleReps       int
	engineReps     int // podman run and ctr run; 0: not measured
	timeout        time.Duration
	only           string // comma-separated benchmark names; "": all
	raw            string // file for every repetition's figures, as JSON
}

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case helperArg:
			os.Exit(helperMain())
		case engineReaperArg:
			os.Exit(engineReaperMain())
		case engineWorkerArg:
			os.Exit(engineWorkerMain())
		}
	}
	var o options
	flag.StringVar(&o.rt, "rt", "./rt", "rt binary")
	flag.StringVar(&o.runc, "runc", "/usr/sbin/runc", "runc binary")
	flag.StringVar(&o.crun, "crun", "/usr/bin/crun", "crun binary")
	flag.StringVar(&o.spawn, "spawn", "", "hack/bench/spawn binary (default: spawn next to this program)")
	flag.StringVar(&o.rootfs, "rootfs", "build/bench/rootfs", "busybox rootfs (hack/mkrootfs.sh DIR)")
	flag.StringVar(&o.repo, "repo", ".", "the rt repository (for hack/mkrootfs.sh, which the engine workspaces use)")
	flag.StringVar(&o.out, "o", "", "also write the markdown report to this file")
	flag.IntVar(&o.reps, "reps", 60, "repetitions of each single-command benchmark")
	flag.IntVar(&o.seqReps, "seq-reps", 5, "repetitions of the sequential benchmark")
	flag.IntVar(&o.seqN, "seq-n", 100, "containers per sequential repetition")
	flag.IntVar(&o.concReps, "conc-reps", 10, "repetitions of the concurrent benchmark")
	flag.IntVar(&o.idleReps, "idle-reps", 20, "repetitions of `run` and `exec` after a pause")
	flag.IntVar(&o.conc, "conc-n", 20, "containers per concurrent repetition")
	flag.IntVar(&o.engineReps, "engine-reps", 30, "repetitions of `podman run` and `ctr run` (0: skip them)")
	flag.DurationVar(&o.timeout, "timeout", time.Minute, "kill a runtime command after this long")
	flag.StringVar(&o.only, "only", "", "run only these benchmarks (comma-separated: floor,run,cycle,exec,idle,limits,seccomp,concurrent,sequential,podman,ctr)")
	flag.StringVar(&o.raw, "raw", "", "also write every repetition's figure, per row and runtime in measuring order, to this JSON file")
	flag.Parse()
	for _, name := range strings.FieldsFunc(o.only, func(r rune) bool { return r == ',' }) {
		if !slices.Contains(benchNames, name) {
			fmt.Fprintf(os.Stderr, "bench: -only: unknown benchmark %q (known: %s)\n", name, strings.Join(benchNames, ","))
			os.Exit(2)
		}
	}
	if flag.NArg() != 0 || o.reps < 1 || o.seqReps < 1 || o.seqN < 1 || o.concReps < 1 || o.conc < 1 || o.idleReps < 1 || o.engineReps < 0 {
		flag.Usage()
		os.Exit(2)
	}
	os.Exit(run(o))
}

// stopping is set by SIGINT, SIGTERM or SIGHUP: the benchmark loops stop
// at the next command and the harness cleans up.
var stopping atomic.Bool

func run(o options) int {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, unix.SIGINT, unix.SIGTERM, unix.SIGHUP)
	go func() {
		for s := range sigs {
			if !stopping.Swap(true) {
				logf("%v: stopping after the current measurement, then cleaning up", s)
			}
		}
	}()

	h, err := newHarness(o)
	if err != nil {
		logf("%v", err)
		if h != nil {
			h.finish()
		}
		return 1
	}
	start := time.Now()
	res := h.runAll()
	failed := !h.finish()
	if stopping.Load() {
		if failed {
			logf("interrupted; cleanup incomplete, see above")
		} else {
			logf("interrupted; cleaned up")
		}
		return 130
	}
	report := h.report(res, time.Since(start))
	fmt.Print(report)
	if o.raw != "" {
		b, err := json.MarshalIndent(res.samples, "", " ")
		if err == nil {
			err = os.WriteFile(o.raw, b, 0o644)
		}
		if err != nil {
			logf("%v", err)
			failed = true
		}
	}
	if o.out != "" {
		if err := os.WriteFile(o.out, []byte(report), 0o644); err != nil {
			logf("%v", err)
			failed = true
		}
	}
	if failed || res.failed() {
		return 1
	}
	return 0
}

func logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", a...)
}

// harness holds the run: its work directory /run/rt-bench-<pid> (roots,
// bundles, pid files), the cgroup parent rt-bench-<pid> under which every
// container's cgroup goes, and the runtimes.
type harness struct {
	o        options
	work     string
	cgParent string
	rts      []*runtime
	helper   *helper
	versions string // of the three runtimes (and the engines), for the report
	// engineCgroups are the absolute cgroup parents of the engine
	// workspaces (rt-engines-PID of each worker), removed at cleanup.
	engineCgroups []string
}

func newHarness(o options) (*harness, error) {
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("must run as root")
	}
	if o.spawn == "" {
		self, err := os.Executable()
		if err != nil {
			return nil, err
		}
		o.spawn = filepath.Join(filepath.Dir(self), "spawn")
	}
	for _, p := range []*string{&o.rt, &o.runc, &o.crun, &o.spawn, &o.rootfs, &o.repo} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return nil, err
		}
		*p = abs
	}
	for _, bin := range []string{o.rt, o.runc, o.crun, o.spawn} {
		if err := unix.Access(bin, unix.X_OK); err != nil {
			return nil, fmt.Errorf("%s: %v (make rt; go build -o build/bench/spawn ./hack/bench/spawn; hack/setup.sh test installs runc and crun)", bin, err)
		}
	}
	if _, err := os.Stat(filepath.Join(o.rootfs, "bin/busybox")); err != nil {
		return nil, fmt.Errorf("rootfs: %v (hack/mkrootfs.sh %s)", err, o.rootfs)
	}
	if o.engineReps > 0 {
		if err := engineCheck(o); err != nil {
			return nil, err
		}
	}
	// Container inits are orphaned to us when create exits, as to a shim:
	// we reap them, so "wait until stopped" is exact.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return nil, fmt.Errorf("become child subreaper: %w", err)
	}
	pid := os.Getpid()
	h := &harness{o: o, work: fmt.Sprintf("%s%d", workPrefix, pid), cgParent: fmt.Sprintf("%s%d", cgPrefix, pid)}
	var crunLauncher launcher = local{}
	if hybridCgroups() {
		hp, err := startHelper()
		if err != nil {
			return nil, err
		}
		h.helper, crunLauncher = hp, hp
	}
	h.cleanStale(crunLauncher)
	// Measure snapshots: `make rt` deletes and relinks ./rt, and a rebuild
	// during the run would fail or mix two builds.
	if err := os.MkdirAll(h.work, 0o700); err != nil {
		return h, err
	}
	for _, p := range []*string{&h.o.rt, &h.o.spawn} {
		snap := filepath.Join(h.work, filepath.Base(*p)+".bin")
		if err := copyFile(*p, snap); err != nil {
			return h, fmt.Errorf("snapshot %s: %w", *p, err)
		}
		*p = snap
	}
	h.versions = fmt.Sprintf("%s; runc: %s; crun: %s", rtVersion(h.o.rt), version(h.o.runc), version(h.o.crun))
	if o.engineReps > 0 {
		h.versions += fmt.Sprintf("\n%s; %s; %s", version("podman"), version("conmon"), version("containerd"))
	}
	h.rts = h.runtimes(h.work, crunLauncher)
	for _, r := range h.rts {
		if err := os.MkdirAll(r.root, 0o700); err != nil {
			return h, err
		}
		if err := r.writeBundles(o.rootfs, h.cgParent, o.conc); err != nil {
			return h, err
		}
	}
	return h, nil
}

const (
	workPrefix = "/run/rt-bench-"
	cgPrefix   = "rt-bench-"
)

// runtimes lists the three runtimes, rt first, with their state under work.
func (h *harness) runtimes(work string, crunLauncher launcher) []*runtime {
	mk := func(name, bin string, l launcher) *runtime {
		dir := filepath.Join(work, name)
		return &runtime{name: name, bin: bin, dir: dir, root: filepath.Join(dir, "root"), l: l,
			live: map[string]bool{}, timeout: h.o.timeout, spawner: h.o.spawn}
	}
	return []*runtime{
		mk("rt", h.o.rt, local{}),
		mk("runc", h.o.runc, local{}),
		mk("crun", h.o.crun, crunLauncher),
	}
}

// finish cleans up and checks that nothing is left; false if something is.
func (h *harness) finish() bool {
	problems := h.cleanup()
	for _, p := range problems {
		logf("cleanup: %s", p)
	}
	return len(problems) == 0
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// version is the first line of `bin --version`.
func version(bin string) string {
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		return "unknown version"
	}
	line, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(line)
}
