package main

import (
	"fmt"
	"os"
	"os/exec"
	goruntime "runtime"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

type stats struct{ median, min, max float64 }

func summarize(v []float64) stats {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	m := s[n/2]
	if n%2 == 0 {
		m = (s[n/2-1] + s[n/2]) / 2
	}
	return stats{median: m, min: s[0], max: s[n-1]}
}

func format(v float64, unit string) string {
	switch {
	case unit == "ms" && v < 10:
		return fmt.Sprintf("%.2f", v)
	case unit == "ms" && v >= 100:
		return fmt.Sprintf("%.0f", v)
	case unit == "s":
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

// median of row key for runtime name, if measured.
func (res *results) median(key, name string) (float64, bool) {
	v := res.samples[key][name]
	if len(v) == 0 {
		return 0, false
	}
	return summarize(v).median, true
}

func (res *results) cell(key, name string) string {
	switch {
	case res.na[key][name]:
		return "n/a"
	case len(res.samples[key][name]) == 0 && res.errs[key][name] != "":
		return "error"
	case len(res.samples[key][name]) == 0:
		return "–"
	}
	rw := res.rows[key]
	s := summarize(res.samples[key][name])
	c := fmt.Sprintf("%s (%s–%s)", format(s.median, rw.unit), format(s.min, rw.unit), format(s.max, rw.unit))
	if n := res.nfail[key][name]; n > 0 {
		c += fmt.Sprintf(", %d failed", n)
	}
	return c
}

func (res *results) ratio(key, other string) (float64, bool) {
	a, ok1 := res.median(key, "rt")
	b, ok2 := res.median(key, other)
	if !ok1 || !ok2 || b == 0 {
		return 0, false
	}
	return a / b, true
}

func (h *harness) report(res *results, took time.Duration) string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }

	p("| benchmark | rt | runc | crun | rt/runc | rt/crun | target |\n")
	p("|---|--:|--:|--:|--:|--:|---|\n")
	for _, key := range tableOrder {
		rw, ok := res.rows[key]
		if !ok {
			continue
		}
		p("| %s (%s, n=%d) |", rw.label, rw.unit, res.reps[key])
		for _, r := range h.rts {
			p(" %s |", res.cell(key, r.name))
		}
		for _, other := range []string{"runc", "crun"} {
			if q, ok := res.ratio(key, other); ok {
				p(" %.2f |", q)
			} else {
				p(" – |")
			}
		}
		p(" %s |\n", target(res, rw))
	}

	p("\nEach cell: median (min–max) over n repetitions. Every repetition runs each runtime once,\n")
	p("in rotating order, on the same busybox bundle; ratios are of medians. Peak RSS is ru_maxrss of\n")
	p("the runtime process from wait4, which includes its reaped descendants (the container's init);\n")
	p("`run` is started by a small spawner (hack/bench/spawn) because a child's ru_maxrss also counts\n")
	p("the process that forked it: the RSS-floor row is that spawner with /bin/true.\n")
	for _, extra := range []struct{ key, what string }{{"seccomp", "the seccomp profile"}, {"limits", "limits"}} {
		var parts []string
		for _, r := range h.rts {
			with, ok1 := res.median(extra.key, r.name)
			base, ok2 := res.median("run", r.name)
			if ok1 && ok2 {
				parts = append(parts, fmt.Sprintf("%s %+.1f ms", r.name, with-base))
			}
		}
		if len(parts) > 0 {
			p("With %s, the median `run` changes by: %s.\n", extra.what, strings.Join(parts, ", "))
		}
	}
	if floor, ok := res.median("rss-floor", "rt"); ok {
		for _, r := range h.rts {
			if v := res.samples["rss"][r.name]; len(v) > 0 && summarize(v).min < floor*1.1 {
				p("Warning: %s's peak RSS is within 10%% of the launcher's floor (%.1f MiB): it may be the floor.\n", r.name, floor)
			}
		}
	}
	var na []string
	for _, r := range h.rts {
		for _, name := range notYet[r.name] {
			na = append(na, fmt.Sprintf("%s has no %s yet", r.name, name))
		}
	}
	if len(na) > 0 {
		p("n/a: %s.\n", strings.Join(na, "; "))
	}
	if h.helper != nil {
		p("crun 1.8.1 refuses this hybrid cgroup layout, so it runs from one long-lived helper process\n")
		p("in a private mount namespace with an empty tmpfs over %s (set up once, before\n", unifiedDir)
		p("any timing); the helper times crun with the harness's own code (see the launcher-floor row).\n")
	}
	if _, ok := res.rows["podman"]; ok {
		p("`podman run` (conmon, cgroupfs, --network none) and `ctr run` (containerd-shim-runc-v2,\n")
		p("--runc-binary) start busybox `true` from a locally imported image and are timed from fork to\n")
		p("exit of podman or ctr, the engine's own work included. Each runtime has a workspace of its own\n")
		p("(tests/engines: podman storage, a containerd daemon), set up before any timing, and a worker that\n")
		p("runs its commands from a new mount namespace under a reaper that reaps conmon and the shims as\n")
		p("they exit. The three are alike but for crun's namespace, which also has the tmpfs over unified.\n")
	}
	var shown []string
	for _, key := range tableOrder {
		for _, r := range h.rts {
			if e := res.errs[key][r.name]; e != "" && !slices.Contains(shown, e) {
				shown = append(shown, e)
				p("error (%s, %d× in %s): %s\n", r.name, res.nfail[key][r.name], res.rows[key].label, e)
			}
		}
	}

	var u unix.Utsname
	unix.Uname(&u)
	p("\nCommand: `%s` (total %.0f s)\n", shellQuote(os.Args), took.Seconds())
	p("%s\n", h.versions)
	p("Host: Linux %s %s, %d CPUs, %s\n", unix.ByteSliceToString(u.Release[:]), unix.ByteSliceToString(u.Machine[:]),
		goruntime.NumCPU(), time.Now().UTC().Format("2006-01-02 15:04 MST"))
	return b.String()
}

func target(res *results, rw row) string {
	if rw.vs == "" {
		return ""
	}
	goal := fmt.Sprintf("rt/%s ≤ %.1f", rw.vs, rw.max)
	q, ok := res.ratio(rw.key, rw.vs)
	switch {
	case !ok:
		return goal
	case q <= rw.max:
		return goal + ": met"
	}
	return goal + ": **missed**"
}

// rtVersion is rt's version plus the commit it was built from, when known.
func rtVersion(bin string) string {
	v := version(bin)
	if out, err := exec.Command("git", "describe", "--always", "--dirty", "--abbrev=12").Output(); err == nil {
		v += " (git " + strings.TrimSpace(string(out)) + ")"
	}
	return v
}

func shellQuote(args []string) string {
	var q []string
	for _, a := range args {
		if a != "" && strings.Trim(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+") == "" {
			q = append(q, a)
		} else {
			q = append(q, "'"+strings.ReplaceAll(a, "'", `'\''`)+"'")
		}
	}
	return strings.Join(q, " ")
}
