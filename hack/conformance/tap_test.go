package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestParseTAP(t *testing.T) {
	tests := []struct {
		name                  string
		in                    string
		plan, pass, fail, skp int
		errors                int
	}{
		{"plain", "TAP version 13\nok 1 - a\nnot ok 2 - b\n# diag\nok 3 # SKIP x\n1..3\n", 3, 1, 1, 1, 0},
		{"plan first", "1..2\nok 1 - a\nok 2 - b\n", 2, 2, 0, 0, 0},
		{"yaml after an assertion", "ok 1 - a\n  ---\n  {\n    \"error\": \"x\"\n  }\n  ...\n1..1\n", 1, 1, 0, 0, 0},
		// The suite's whole-test failure: a YAML error block, then 1..0.
		{"error form", "TAP version 13\n  ---\n  {\n    \"error\": \"exit status 1\",\n    \"stderr\": \"boom\"\n  }\n  ...\n1..0\n", 0, 0, 0, 0, 1},
		{"no plan", "ok 1 - a\n", -1, 1, 0, 0, 0},
		{"description with dashes", "not ok 7 - a - b\n1..7\n", 7, 0, 1, 0, 0},
		// Two streams in one binary; the second fails without an assertion.
		{"two streams", "TAP version 13\nok 1 - a\n1..1\nTAP version 13\n  ---\n  {\n    \"error\": \"x\"\n  }\n  ...\n1..0\n", 1, 1, 0, 0, 1},
		{"diag after a stream's assertion", "TAP version 13\nok 1 - a\n  ---\n  {\n    \"error\": \"expected\"\n  }\n  ...\n1..1\n", 1, 1, 0, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := parseTAP(tc.in)
			p, f, s := r.counts()
			if r.plan != tc.plan || p != tc.pass || f != tc.fail || s != tc.skp || len(r.errors) != tc.errors {
				t.Errorf("plan %d pass %d fail %d skip %d errors %q; want %d %d %d %d %d",
					r.plan, p, f, s, r.errors, tc.plan, tc.pass, tc.fail, tc.skp, tc.errors)
			}
		})
	}
	r := parseTAP("not ok 7 - a - b\n")
	if r.asserts[0].desc != "a - b" {
		t.Errorf("desc %q", r.asserts[0].desc)
	}
	r = parseTAP("  ---\n  {\n    \"error\": \"exit status 1\",\n  }\n  ...\n1..0\n")
	if len(r.errors) != 1 || r.errors[0] != "exit status 1" {
		t.Errorf("errors %q", r.errors)
	}
}

func TestParseExpected(t *testing.T) {
	good := "# c\n\nhooks  suite: wrong\nlinux_cgroups_memory [memory kernel is set correctly]  machine: kmem\n"
	p := filepath.Join(t.TempDir(), "x")
	os.WriteFile(p, []byte(good), 0o644)
	l, err := parseExpected(p)
	if err != nil || len(l) != 2 {
		t.Fatalf("%v %v", l, err)
	}
	if e, ok := l.whole("hooks"); !ok || e.reason != "suite: wrong" {
		t.Errorf("whole: %+v", e)
	}
	if _, ok := l.assertion("linux_cgroups_memory", "memory kernel is set correctly"); !ok || !l.partial("linux_cgroups_memory") {
		t.Error("assertion entry not found")
	}
	if _, ok := l.whole("linux_cgroups_memory"); ok {
		t.Error("an assertion entry must not list the whole test")
	}
	for _, bad := range []string{"hooks\n", "x [unterminated  r\n", "x [a]\n"} {
		os.WriteFile(p, []byte(bad), 0o644)
		if _, err := parseExpected(p); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestJudge(t *testing.T) {
	list := expectedList{
		{test: "mem", assertion: "kmem", reason: "machine"},
		{test: "hooks", reason: "suite"},
	}
	cases := []struct{ name, tap, want string }{
		{"ok", "ok 1 - a\n1..1\n", verdictPass},
		{"fail", "not ok 1 - a\n1..1\n", verdictFail},
		{"mem", "ok 1 - a\nnot ok 2 - kmem\n1..2\n", verdictPartial},
		{"mem", "not ok 1 - a\nnot ok 2 - kmem\n1..2\n", verdictFail},
		{"hooks", "not ok 1 - a\n1..1\n", verdictXFail},
		{"hooks", "ok 1 - a\n1..1\n", verdictXPass},
		{"error", "  ---\n  {\n    \"error\": \"e\"\n  }\n  ...\n1..0\n", verdictFail},
		{"empty", "TAP version 13\n1..0\n", verdictPass},
		{"silent", "", verdictPass},
		{"plan", "ok 1 - a\n1..2\n", verdictFail},
	}
	for _, c := range cases {
		r := outcome{name: c.name, tap: parseTAP(c.tap)}
		if c.name == "error" {
			r.exit = 1
		}
		judge(&r, list)
		if r.verdict != c.want {
			t.Errorf("%s %q: verdict %s (%s), want %s", c.name, c.tap, r.verdict, r.note, c.want)
		}
	}
}
