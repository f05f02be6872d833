// Command conformance runs the OCI runtime-tools validation suite against a
// runtime, one test at a time, and prints a per-test table.
//
//	conformance -runtime ./rt -suite DIR -rootfs rootfs-amd64.tar.gz \
//	    -expected hack/conformance/expected-failures.txt [-out results.md] [TEST...]
//
// DIR holds the validation binaries and runtimetest (installed by `make
// conformance`). Each test runs from a scratch working directory holding
// runtimetest and the rootfs tarball, with TMPDIR set to a scratch dir of its
// own, in a cgroup the runner creates (never the caller's), under a timeout.
// The runtime is called through a wrapper that gives it a --root of its own.
// After each test the runner deletes leftover containers, unmounts what the
// test left under its TMPDIR (linux_ns_itype runs without a mount namespace),
// kills stray processes and removes the cgroups the suite made.
//
// The exit status is 1 when a test failed that the expected-failure list does
// not name (whole, or by its failing assertions), 2 on a usage or set-up error.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

type options struct {
	runtime  string
	suite    string
	rootfs   string
	expected string
	scratch  string
	out      string
	timeout  time.Duration
	keepLogs bool
}

func main() {
	var o options
	flag.StringVar(&o.runtime, "runtime", "./rt", "runtime to test: a path or a name on PATH (crun runs in a private mount namespace, see machine.md)")
	flag.StringVar(&o.suite, "suite", "build/conformance/bin", "directory holding the validation test binaries and runtimetest")
	flag.StringVar(&o.rootfs, "rootfs", "build/conformance/rootfs-amd64.tar.gz", "busybox rootfs tarball the tests unpack")
	flag.StringVar(&o.expected, "expected", "hack/conformance/expected-failures.txt", "expected-failure list")
	flag.StringVar(&o.scratch, "scratch", "", "scratch directory (default build/conformance/run/<runtime>)")
	flag.StringVar(&o.out, "out", "", "also write the table (markdown) to this file")
	flag.DurationVar(&o.timeout, "timeout", 60*time.Second, "timeout of each test")
	flag.Parse()

	code, err := run(o, flag.Args())
	if err != nil {
		fmt.Fprintln(os.Stderr, "conformance:", err)
		if code == 0 {
			code = 2
		}
	}
	os.Exit(code)
}

func run(o options, only []string) (int, error) {
	if os.Geteuid() != 0 {
		return 2, errors.New("must run as root")
	}
	rtPath, err := exec.LookPath(o.runtime)
	if err != nil {
		return 2, fmt.Errorf("runtime: %w", err)
	}
	if rtPath, err = filepath.Abs(rtPath); err != nil {
		return 2, err
	}
	rtName := filepath.Base(rtPath)
	expected, err := parseExpected(o.expected)
	if err != nil {
		return 2, fmt.Errorf("expected-failure list: %w", err)
	}
	tests, err := listTests(o.suite, only)
	if err != nil {
		return 2, err
	}
	if o.scratch == "" {
		o.scratch = filepath.Join("build/conformance/run", rtName)
	}
	if o.scratch, err = filepath.Abs(o.scratch); err != nil {
		return 2, err
	}

	unlock, err := lock("/run/rt-conformance.lock")
	if err != nil {
		return 2, err
	}
	defer unlock()

	env, err := newEnv(o.scratch, rtPath, o.suite, o.rootfs)
	if err != nil {
		return 2, err
	}
	// Whatever happens from here on, leave nothing behind.
	defer func() {
		for _, problem := range env.teardown() {
			fmt.Fprintln(os.Stderr, "conformance: left behind:", problem)
		}
	}()

	interrupted := make(chan os.Signal, 1)
	signal.Notify(interrupted, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(interrupted)

	version := runtimeVersion(rtPath)
	if rtName == "crun" {
		version += "; in a private mount namespace, configs presented as ociVersion 1.1.0"
	}
	fmt.Fprintf(os.Stderr, "conformance: %d tests against %s (%s), logs in %s\n", len(tests), rtPath, version, env.logs)
	var results []outcome
	start := time.Now()
	for i, name := range tests {
		res, stop := env.runTest(name, o.timeout, interrupted)
		judge(&res, expected)
		results = append(results, res)
		fmt.Fprintf(os.Stderr, "[%2d/%d] %-36s %-8s %s  %.1fs\n", i+1, len(tests), name, res.verdict, res.assertCell(), res.dur.Seconds())
		if found := dedup(env.cleanAfterTest()); len(found) > 0 {
			fmt.Fprintf(os.Stderr, "        cleaned up after it: %s\n", strings.Join(found, ", "))
		}
		if stop {
			return 130, errors.New("interrupted")
		}
	}

	rep := report{runtime: rtName, version: version, results: results, expected: expected, elapsed: time.Since(start)}
	table := rep.markdown()
	fmt.Print("\n" + table)
	rep.details(os.Stdout)
	if o.out != "" {
		if err := os.MkdirAll(filepath.Dir(o.out), 0o755); err == nil {
			err = os.WriteFile(o.out, []byte(table), 0o644)
		}
		if err != nil {
			return 2, fmt.Errorf("write table: %w", err)
		}
		fmt.Fprintf(os.Stderr, "conformance: table written to %s\n", o.out)
	}
	if rep.unexpected() > 0 {
		return 1, nil
	}
	return 0, nil
}

// listTests returns the validation binaries in dir (all but runtimetest),
// or the named subset.
func listTests(dir string, only []string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("suite: %w (run `make conformance` to install it)", err)
	}
	all := map[string]bool{}
	var names []string
	for _, e := range ents {
		if e.IsDir() || e.Name() == "runtimetest" || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		all[e.Name()] = true
		names = append(names, e.Name())
	}
	if _, err := os.Stat(filepath.Join(dir, "runtimetest")); err != nil {
		return nil, fmt.Errorf("suite: %w", err)
	}
	if len(only) > 0 {
		for _, n := range only {
			if !all[n] {
				return nil, fmt.Errorf("no test %q in %s", n, dir)
			}
		}
		names = only
	}
	sort.Strings(names)
	return names, nil
}

func runtimeVersion(path string) string {
	out, err := exec.Command(path, "--version").Output()
	if err != nil {
		return "version unknown"
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return line
}

// lock keeps two runs from sharing the suite's fixed cgroup names.
func lock(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("another conformance run holds %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}

// tail returns the last n lines of a file, for diagnostics.
func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	b, _ := io.ReadAll(io.LimitReader(f, 1<<20))
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// dedup drops repeated messages (one cgroup appears in every hierarchy),
// keeping the first order.
func dedup(msgs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range msgs {
		if !seen[m] {
			seen[m] = true
			out = append(out, m)
		}
	}
	return out
}
