package validate

import (
	"regexp"
	"testing"
)

// The regular expression semver.org gives for SemVer 2.0.0.
var semverRE = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)` +
	`(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?` +
	`(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$`)

func checkSemver(t *testing.T, v string) {
	t.Helper()
	major, ok := semverMajor(v)
	m := semverRE.FindStringSubmatch(v)
	if ok != (m != nil) || (ok && major != m[1]) {
		t.Errorf("semverMajor(%q) = %q, %v; the regexp says %q", v, major, ok, m)
	}
}

func TestSemverMatchesRegexp(t *testing.T) {
	for _, v := range []string{
		"1.0.0", "1.2.3", "0.0.0", "10.20.30", "1.0.0-dev", "1.0.2-rc.1", "1.0.0-alpha-1",
		"1.0.0-0.3.7", "1.0.0-x.7.z.92", "1.0.0-x-y-z.--", "1.0.0+20130313144700",
		"1.0.0-beta+exp.sha.5114f85", "1.0.0+21AF26D3----117B344092BD", "1.0.0-0A.is.legal",
		"", "1", "1.0", "1.0.0.0", "01.0.0", "1.01.0", "1.0.01", "1.0.0-", "1.0.0+", "1.0.0-01",
		"1.0.0-alpha..1", "1.0.0+a..b", "1.0.0-a_b", "1.0.0+a+b", "v1.0.0", " 1.0.0", "1.0.0 ",
		"1.0.0-+a", "-1.0.0", "1.-0.0", "1.0.0-00", "1.0.0-0", "1.0.0+00", "2.0.0", "1.a.0",
		"1.0.0-rc.1+build.1-2", "99999999999999999999.0.0", "1.0.0-é",
	} {
		checkSemver(t, v)
	}
}

func FuzzSemver(f *testing.F) {
	for _, v := range []string{"1.0.0", "1.0.0-rc.1+b.2", "1.0.0-0A", "01.0.0", "1.0.0+a..b"} {
		f.Add(v)
	}
	f.Fuzz(checkSemver)
}
