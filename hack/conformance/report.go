package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Verdicts of one test.
const (
	verdictPass    = "pass"
	verdictFail    = "FAIL"    // failed, and the list does not excuse it
	verdictXFail   = "xfail"   // failed, and the list names the test
	verdictPartial = "partial" // only assertions the list names failed
	verdictXPass   = "XPASS"   // listed, but passed: the list is stale
)

// outcome is the result of one validation test.
type outcome struct {
	name             string
	tap              tapResult
	exit             int
	timedOut         bool
	setupErr         error
	dur              time.Duration
	tapFile, errFile string

	verdict  string
	note     string
	listed   []string // descriptions of failed assertions the list excuses
	unlisted []string // descriptions of failed assertions it does not
}

// clean reports whether the test ran to completion without reporting an
// error: exit status 0, no YAML error block outside an assertion, and
// plans that match the assertions. Several tests print no assertion at
// all when they pass ("1..0", or no TAP: they exit 1 on failure).
func (r *outcome) clean() bool {
	t := r.tap
	return r.setupErr == nil && !r.timedOut && r.exit == 0 && t.bailOut == "" &&
		len(t.errors) == 0 && (t.plan < 0 || t.plan == len(t.asserts))
}

// judge sets the verdict and note of r from its TAP and the list.
func judge(r *outcome, list expectedList) {
	for _, a := range r.tap.asserts {
		if a.ok {
			continue
		}
		if _, ok := list.assertion(r.name, a.desc); ok {
			r.listed = append(r.listed, a.desc)
		} else {
			r.unlisted = append(r.unlisted, a.desc)
		}
	}
	passed := r.clean() && len(r.unlisted) == 0
	whole, isListed := list.whole(r.name)
	switch {
	case isListed && passed && len(r.listed) == 0:
		r.verdict, r.note = verdictXPass, "listed as expected to fail, but passed: update the list"
	case isListed:
		r.verdict, r.note = verdictXFail, whole.reason
	case passed && len(r.listed) > 0:
		e, _ := list.assertion(r.name, r.listed[0])
		r.verdict = verdictPartial
		r.note = fmt.Sprintf("only listed assertions failed (%s): %s", summarize(r.listed), e.reason)
	case passed:
		r.verdict = verdictPass
	default:
		r.verdict, r.note = verdictFail, r.failure()
	}
}

// failure says briefly why a test failed.
func (r *outcome) failure() string {
	t := r.tap
	switch {
	case r.setupErr != nil:
		return "runner: " + r.setupErr.Error()
	case r.timedOut:
		return fmt.Sprintf("timed out after %.0fs", r.dur.Seconds())
	case len(r.unlisted) > 0:
		return "not ok: " + summarize(r.unlisted)
	case len(t.errors) > 0:
		return "error: " + oneLine(t.errors[0])
	case t.bailOut != "":
		return "bail out: " + t.bailOut
	case r.exit != 0:
		msg := fmt.Sprintf("exit status %d", r.exit)
		if s := oneLine(tail(r.errFile, 1)); s != "" {
			msg += ": " + s
		}
		return msg
	default:
		return fmt.Sprintf("plan 1..%d but %d assertions", t.plan, len(t.asserts))
	}
}

// summarize lists distinct descriptions with their counts.
func summarize(descs []string) string {
	count := map[string]int{}
	var order []string
	for _, d := range descs {
		if count[d] == 0 {
			order = append(order, d)
		}
		count[d]++
	}
	var parts []string
	for _, d := range order {
		if count[d] > 1 {
			parts = append(parts, fmt.Sprintf("%s ×%d", oneLine(d), count[d]))
		} else {
			parts = append(parts, oneLine(d))
		}
	}
	return strings.Join(parts, "; ")
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 160 {
		s = s[:157] + "..."
	}
	return s
}

func (r *outcome) assertCell() string {
	p, f, s := r.tap.counts()
	cell := fmt.Sprintf("%d/%d", p, p+f)
	if s > 0 {
		cell += fmt.Sprintf(" (%d skipped)", s)
	}
	return cell
}

type report struct {
	runtime, version string
	results          []outcome
	expected         expectedList
	elapsed          time.Duration
}

func (rep report) count(v string) int {
	n := 0
	for _, r := range rep.results {
		if r.verdict == v {
			n++
		}
	}
	return n
}

func (rep report) unexpected() int { return rep.count(verdictFail) }

// markdown renders the table and the totals.
func (rep report) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "OCI runtime-tools validation suite against %s (%s)\n\n", rep.runtime, rep.version)
	b.WriteString("| test | result | assertions passed | note |\n|---|---|---|---|\n")
	for _, r := range rep.results {
		note := strings.ReplaceAll(r.note, "|", `\|`)
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", r.name, r.verdict, r.assertCell(), note)
	}
	var clean, cleanPassed, partial, partialPassed, listed, asserted, assertedOK int
	var partialNames []string
	for _, r := range rep.results {
		p, f, _ := r.tap.counts()
		asserted += p + f
		assertedOK += p
		_, whole := rep.expected.whole(r.name)
		switch {
		case whole:
			listed++
		case rep.expected.partial(r.name):
			partial++
			partialNames = append(partialNames, r.name)
			if r.verdict == verdictPass || r.verdict == verdictPartial {
				partialPassed++
			}
		default:
			clean++
			if r.verdict == verdictPass {
				cleanPassed++
			}
		}
	}
	fmt.Fprintf(&b, "\n%s: %d of the %d tests without an expected-failure entry pass; ", rep.runtime, cleanPassed, clean)
	fmt.Fprintf(&b, "%d of %d pass apart from their listed assertions (%s); ", partialPassed, partial, strings.Join(partialNames, ", "))
	fmt.Fprintf(&b, "%d listed tests: %d fail as expected, %d XPASS. ", listed, rep.count(verdictXFail), rep.count(verdictXPass))
	fmt.Fprintf(&b, "Unexpected failures: %d. %d tests in %.0fs.\n", rep.count(verdictFail), len(rep.results), rep.elapsed.Seconds())
	fmt.Fprintf(&b, "Assertions: %d of %d passed.\n", assertedOK, asserted)
	if n := rep.unexpected(); n > 0 {
		var names []string
		for _, r := range rep.results {
			if r.verdict == verdictFail {
				names = append(names, r.name)
			}
		}
		fmt.Fprintf(&b, "Unexpected failures (%d): %s\n", n, strings.Join(names, ", "))
	}
	return b.String()
}

// details prints, for every test that did not simply pass, its failing
// assertions with their diagnostics and the tail of its stderr.
func (rep report) details(w io.Writer) {
	for _, r := range rep.results {
		if r.verdict == verdictPass {
			continue
		}
		fmt.Fprintf(w, "\n== %s: %s (%s)\n", r.name, r.verdict, r.tapFile)
		for _, e := range r.tap.errors {
			fmt.Fprintf(w, "   error: %s\n", oneLine(e))
		}
		for _, a := range r.tap.asserts {
			if a.ok {
				continue
			}
			fmt.Fprintf(w, "   not ok - %s\n", a.desc)
			for i, d := range a.diag {
				if i == 12 {
					fmt.Fprintf(w, "      …\n")
					break
				}
				fmt.Fprintf(w, "      %s\n", d)
			}
		}
		if r.exit != 0 || r.verdict == verdictFail {
			if s := tail(r.errFile, 8); s != "" {
				fmt.Fprintf(w, "   stderr (exit %d):\n      %s\n", r.exit, strings.ReplaceAll(s, "\n", "\n      "))
			}
		}
	}
}
