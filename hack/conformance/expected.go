package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

// expectation is one line of the expected-failure list: a whole test, or
// one assertion of a test (every assertion whose description equals it).
type expectation struct {
	test      string
	assertion string // "" for the whole test
	reason    string
}

// expectedList is the parsed expected-failure list.
type expectedList []expectation

// parseExpected reads the expected-failure list. Each non-blank line that
// does not start with '#' is
//
//	test  reason
//	test [assertion description]  reason
//
// and the reason is required: nothing may be listed without saying why.
func parseExpected(path string) (expectedList, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var list expectedList
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		e, err := parseExpectation(line)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		list = append(list, e)
	}
	return list, sc.Err()
}

func parseExpectation(line string) (expectation, error) {
	name, rest, _ := strings.Cut(line, " ")
	name, rest = strings.TrimSpace(name), strings.TrimSpace(rest)
	if i := strings.IndexAny(name, "\t"); i >= 0 {
		name, rest = name[:i], strings.TrimSpace(name[i:]+" "+rest)
	}
	e := expectation{test: name}
	if strings.HasPrefix(rest, "[") {
		end := strings.Index(rest, "]")
		if end < 0 {
			return e, fmt.Errorf("unterminated [assertion] for %s", name)
		}
		e.assertion = strings.TrimSpace(rest[1:end])
		rest = strings.TrimSpace(rest[end+1:])
	}
	e.reason = rest
	if e.reason == "" {
		return e, fmt.Errorf("%s: no reason given", name)
	}
	return e, nil
}

// whole returns the entry that lists the whole test, if any.
func (l expectedList) whole(test string) (expectation, bool) {
	for _, e := range l {
		if e.test == test && e.assertion == "" {
			return e, true
		}
	}
	return expectation{}, false
}

// assertion returns the entry that lists one assertion of a test, if any.
func (l expectedList) assertion(test, desc string) (expectation, bool) {
	for _, e := range l {
		if e.test == test && e.assertion != "" && e.assertion == desc {
			return e, true
		}
	}
	return expectation{}, false
}

// partial reports whether the list holds assertion entries for test.
func (l expectedList) partial(test string) bool {
	for _, e := range l {
		if e.test == test && e.assertion != "" {
			return true
		}
	}
	return false
}
