package main

import (
	"regexp"
	"testing"
)

// splitSize accepts exactly what the regexp runc's parser uses does, with
// the same number and unit, on every short string over the characters that
// matter.
func TestSplitSize(t *testing.T) {
	re := regexp.MustCompile(`^(\d+(?:\.\d+)?) ?([kKmMgGtTpP])?[iI]?[bB]?$`)
	const alphabet = "09. kKmPiIbBx-"
	var check func(s string)
	check = func(s string) {
		m := re.FindStringSubmatch(s)
		num, unit, ok := splitSize(s)
		if ok != (m != nil) {
			t.Fatalf("splitSize(%q): ok %v, regexp matched %v", s, ok, m != nil)
		}
		if ok {
			var u byte
			if m[2] != "" {
				u = m[2][0]
			}
			if num != m[1] || unit != u {
				t.Fatalf("splitSize(%q) = %q, %q; regexp: %q, %q", s, num, unit, m[1], m[2])
			}
		}
		if len(s) < 6 {
			for i := range len(alphabet) {
				check(s + alphabet[i:i+1])
			}
		}
	}
	check("")
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"-1": -1, "0": 0, "1048576": 1 << 20, "512m": 512 << 20, "1g": 1 << 30, "1 GiB": 1 << 30,
		"1.5k": 1536, " 2kb ": 2048, "3T": 3 << 40, "1p": 1 << 50, "7b": 7, "7ib": 7,
	} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "m", "1x", "1.", ".5", "-2", "1  m", "1mm", "1e3", "9999999p"} {
		if got, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) = %d, want an error", in, got)
		}
	}
}
