package main

import (
	"regexp"
	"strconv"
	"strings"
)

// assertion is one "ok"/"not ok" line of a TAP stream.
type assertion struct {
	ok   bool
	skip bool
	desc string
	// diag holds the YAML block and "#" diagnostics that follow the line.
	diag []string
}

// tapResult is what one validation test printed.
type tapResult struct {
	asserts []assertion
	// plan is the sum of the "1..N" lines (a binary may print several TAP
	// streams, each with its own plan); -1 when there was none.
	plan int
	// errors holds the "error" values of YAML blocks that precede the
	// first assertion of a stream: the suite's way of failing a test
	// without an assertion (followed by "1..0"). After an assertion, a YAML
	// block is that assertion's diagnostic, error or not.
	errors []string
	// bailOut is the reason of a "Bail out!" line, if any.
	bailOut string
}

var (
	tapLine  = regexp.MustCompile(`^(not ok|ok)\b\s*(\d+)?\s*(?:-\s*)?(.*)$`)
	tapPlan  = regexp.MustCompile(`^1\.\.(\d+)`)
	yamlErr  = regexp.MustCompile(`^\s*"?error"?\s*:\s*(.*?),?$`)
	skipMark = regexp.MustCompile(`(?i)#\s*skip\b`)
)

// parseTAP reads the TAP output of one validation test. It understands the
// subset the suite uses: version-less TAP 13 with indented YAML blocks
// (---/...), "# diagnostic" lines, SKIP directives and the plan at either end.
func parseTAP(out string) tapResult {
	r := tapResult{plan: -1}
	inYAML := false
	streamStart := 0 // index in asserts where the current stream began
	for _, raw := range strings.Split(out, "\n") {
		line := strings.TrimRight(raw, "\r")
		trim := strings.TrimSpace(line)
		if inYAML {
			if trim == "..." {
				inYAML = false
				continue
			}
			if len(r.asserts) > streamStart {
				a := &r.asserts[len(r.asserts)-1]
				a.diag = append(a.diag, trim)
			} else if m := yamlErr.FindStringSubmatch(trim); m != nil {
				r.errors = append(r.errors, unquote(m[1]))
			}
			continue
		}
		switch {
		case strings.HasPrefix(line, "TAP version"):
			streamStart = len(r.asserts)
		case trim == "---":
			inYAML = true
		case strings.HasPrefix(line, "ok") || strings.HasPrefix(line, "not ok"):
			m := tapLine.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			a := assertion{ok: m[1] == "ok", desc: strings.TrimSpace(m[3])}
			if loc := skipMark.FindStringIndex(a.desc); loc != nil {
				a.skip = true
			}
			r.asserts = append(r.asserts, a)
		case tapPlan.MatchString(line):
			n, _ := strconv.Atoi(tapPlan.FindStringSubmatch(line)[1])
			if r.plan < 0 {
				r.plan = 0
			}
			r.plan += n
		case strings.HasPrefix(line, "Bail out!"):
			r.bailOut = strings.TrimSpace(strings.TrimPrefix(line, "Bail out!"))
		case strings.HasPrefix(trim, "#") && len(r.asserts) > streamStart:
			a := &r.asserts[len(r.asserts)-1]
			a.diag = append(a.diag, trim)
		}
	}
	return r
}

// unquote strips JSON-ish quotes from a YAML scalar, keeping it readable.
func unquote(s string) string {
	s = strings.TrimSpace(s)
	if u, err := strconv.Unquote(s); err == nil {
		return u
	}
	return s
}

// counts returns the number of passed, failed and skipped assertions.
func (r tapResult) counts() (passed, failed, skipped int) {
	for _, a := range r.asserts {
		switch {
		case a.skip:
			skipped++
		case a.ok:
			passed++
		default:
			failed++
		}
	}
	return
}
