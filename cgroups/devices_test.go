package cgroups

import (
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func devRule(allow bool, typ string, major, minor int64, access string) specs.LinuxDeviceCgroup {
	r := specs.LinuxDeviceCgroup{Allow: allow, Type: typ, Access: access}
	if major >= 0 {
		r.Major = i64(major)
	}
	if minor >= 0 {
		r.Minor = i64(minor)
	}
	return r
}

// probe is one access check: "c 1:3 rw".
type probe struct {
	typ          uint8
	major, minor uint32
	access       uint8
}

func parseProbe(t *testing.T, s string) probe {
	t.Helper()
	var p probe
	f := strings.Fields(s)
	switch f[0] {
	case "b":
		p.typ = devBlock
	case "c":
		p.typ = devChar
	}
	maj, min, _ := strings.Cut(f[1], ":")
	k, a, _, err := parseDeviceRule(specs.LinuxDeviceCgroup{Type: f[0], Major: i64(atoi(t, maj)), Minor: i64(atoi(t, min)), Access: f[2]})
	if err != nil {
		t.Fatal(err)
	}
	p.major, p.minor, p.access = uint32(k.major), uint32(k.minor), a
	return p
}

func atoi(t *testing.T, s string) int64 {
	t.Helper()
	var n int64
	for _, c := range s {
		if c < '0' || c > '9' {
			t.Fatalf("bad number %q", s)
		}
		n = n*10 + int64(c-'0')
	}
	return n
}

// deviceCases are rule lists with accesses the v1 kernel allows and
// denies after them; the eBPF tests run the same table against the program.
var deviceCases = []struct {
	name        string
	rules       []specs.LinuxDeviceCgroup
	allow, deny []string
}{
	{
		name:  "runc default: deny all, then the default devices",
		rules: DeviceRules([]specs.LinuxDeviceCgroup{devRule(false, "", -1, -1, "rwm")}, []specs.LinuxDevice{{Type: "c", Major: 10, Minor: 229}}),
		allow: []string{"c 1:3 rw", "c 1:3 rwm", "c 1:5 r", "c 136:7 rw", "c 10:229 rw", "b 254:0 m", "c 99:99 m", "c 5:2 w"},
		deny:  []string{"b 254:0 r", "b 254:0 rw", "c 4:1 r", "c 1:1 r", "c 10:201 w", "c 99:99 rm"},
	},
	{
		name:  "no rule at all is deny-all (an allowlist)",
		rules: []specs.LinuxDeviceCgroup{devRule(true, "c", 1, 3, "rwm")},
		allow: []string{"c 1:3 rw"},
		deny:  []string{"b 8:0 r", "c 1:5 r", "b 1:3 r"},
	},
	{
		name:  "allow all with a deny exception: any shared access is denied",
		rules: []specs.LinuxDeviceCgroup{devRule(true, "a", -1, -1, "rwm"), devRule(false, "c", 1, 5, "w")},
		allow: []string{"c 1:5 r", "c 1:5 m", "c 1:3 rwm", "b 1:5 w"},
		deny:  []string{"c 1:5 w", "c 1:5 rw", "c 1:5 rwm"},
	},
	{
		name:  "access of one key merges",
		rules: []specs.LinuxDeviceCgroup{devRule(false, "a", -1, -1, "rwm"), devRule(true, "c", 1, 3, "r"), devRule(true, "c", 1, 3, "w")},
		allow: []string{"c 1:3 rw", "c 1:3 r"},
		deny:  []string{"c 1:3 m", "c 1:3 rwm"},
	},
	{
		name:  "separate exceptions do not add up",
		rules: []specs.LinuxDeviceCgroup{devRule(false, "a", -1, -1, "rwm"), devRule(true, "c", -1, -1, "r"), devRule(true, "c", 1, 3, "w")},
		allow: []string{"c 1:3 r", "c 1:3 w", "c 7:7 r"},
		deny:  []string{"c 1:3 rw", "c 7:7 w", "b 1:3 r"},
	},
	{
		name:  "a deny removes access from the exact exception",
		rules: []specs.LinuxDeviceCgroup{devRule(false, "", -1, -1, "rwm"), devRule(true, "c", 1, 3, "rwm"), devRule(false, "c", 1, 3, "w")},
		allow: []string{"c 1:3 r", "c 1:3 rm"},
		deny:  []string{"c 1:3 w", "c 1:3 rw"},
	},
	{
		name: "an \"a\" rule drops all exceptions, whatever its access",
		rules: []specs.LinuxDeviceCgroup{devRule(false, "", -1, -1, "rwm"), devRule(true, "c", 1, 3, "rwm"),
			devRule(true, "a", -1, -1, "r"), devRule(false, "a", 1, 3, "w")},
		deny: []string{"c 1:3 r", "c 1:3 m", "b 8:0 r"},
	},
	{
		name:  "wildcard major",
		rules: []specs.LinuxDeviceCgroup{devRule(false, "", -1, -1, "rwm"), devRule(true, "b", -1, 0, "r")},
		allow: []string{"b 8:0 r", "b 254:0 r"},
		deny:  []string{"b 8:1 r", "c 8:0 r", "b 8:0 w"},
	},
	{
		name:  "allow all",
		rules: []specs.LinuxDeviceCgroup{devRule(true, "a", -1, -1, "rwm")},
		allow: []string{"b 8:0 rwm", "c 1:1 r"},
	},
	{
		name:  "a device number above 2^31",
		rules: []specs.LinuxDeviceCgroup{devRule(false, "", -1, -1, "rwm"), devRule(true, "c", 4294967295, 4294967294, "rwm")},
		allow: []string{"c 4294967295:4294967294 r"},
		deny:  []string{"c 4294967295:4294967295 r", "c 2147483647:4294967294 r"},
	},
}

func TestDevicePolicy(t *testing.T) {
	for _, tc := range deviceCases {
		p, err := compileDevices(tc.rules)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		for _, want := range []struct {
			list  []string
			allow bool
		}{{tc.allow, true}, {tc.deny, false}} {
			for _, s := range want.list {
				pr := parseProbe(t, s)
				if got := p.allows(pr.typ, pr.major, pr.minor, pr.access); got != want.allow {
					t.Errorf("%s: %s allowed = %v, want %v", tc.name, s, got, want.allow)
				}
			}
		}
	}
}

func TestDevicePolicyErrors(t *testing.T) {
	for _, tc := range []struct {
		rules []specs.LinuxDeviceCgroup
		err   string
	}{
		{[]specs.LinuxDeviceCgroup{{Type: "u"}}, `devices[0]: type "u"`},
		{[]specs.LinuxDeviceCgroup{{Type: "c", Access: "rx"}}, `devices[0]: access "rx"`},
		{[]specs.LinuxDeviceCgroup{{Type: "c", Major: i64(1 << 32), Access: "r"}}, "major 4294967296 out of range"},
		// Punching a hole: v1 would silently keep the wildcard.
		{[]specs.LinuxDeviceCgroup{devRule(false, "", -1, -1, "rwm"), devRule(true, "c", -1, -1, "rwm"), devRule(false, "c", 1, 3, "r")},
			"devices[2]: cannot deny c 1:3 r after the wider rule c *:* rwm"},
		{[]specs.LinuxDeviceCgroup{devRule(false, "", -1, -1, "rwm"), devRule(true, "c", 1, -1, "r"), devRule(false, "c", 1, 3, "rw")},
			"cannot deny c 1:3 rw after the wider rule c 1:* r"},
		{[]specs.LinuxDeviceCgroup{devRule(true, "", -1, -1, "rwm"), devRule(false, "b", -1, -1, "w"), devRule(true, "b", 8, 0, "rw")},
			"devices[2]: cannot allow b 8:0 rw after the wider rule b *:* w"},
	} {
		_, err := compileDevices(tc.rules)
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("compileDevices(%v) = %v, want %q", tc.rules, err, tc.err)
		}
	}
	// Disjoint access is no hole: denying w of c 1:3 under "c *:* r" is a no-op.
	if _, err := compileDevices([]specs.LinuxDeviceCgroup{devRule(false, "", -1, -1, "rwm"), devRule(true, "c", -1, -1, "r"), devRule(false, "c", 1, 3, "w")}); err != nil {
		t.Errorf("disjoint removal: %v", err)
	}
}

func TestV1DeviceWrites(t *testing.T) {
	p := func(rules ...specs.LinuxDeviceCgroup) *devicePolicy {
		t.Helper()
		pol, err := compileDevices(rules)
		if err != nil {
			t.Fatal(err)
		}
		return pol
	}
	denyAll := devRule(false, "", -1, -1, "rwm")
	for _, tc := range []struct {
		name string
		cur  string
		p    *devicePolicy
		want []v1Write
	}{
		{
			name: "fresh cgroup to an allowlist",
			cur:  "a *:* rwm\n",
			p:    p(denyAll, devRule(true, "c", 1, 3, "rwm"), devRule(true, "c", 136, -1, "rwm"), devRule(true, "b", -1, -1, "m")),
			want: []v1Write{{false, "a"}, {true, "b *:* m"}, {true, "c 1:3 rwm"}, {true, "c 136:* rwm"}},
		},
		{
			name: "update of an allowlist writes only the difference, narrowing first",
			cur:  "c 1:3 rwm\nc 1:5 rwm\nb *:* m\n",
			p:    p(denyAll, devRule(true, "c", 1, 3, "rw"), devRule(true, "b", -1, -1, "m"), devRule(true, "c", 1, 9, "r")),
			want: []v1Write{{false, "c 1:3 m"}, {false, "c 1:5 rwm"}, {true, "c 1:9 r"}},
		},
		{
			name: "same policy, nothing to write",
			cur:  "c 1:3 rwm\n",
			p:    p(denyAll, devRule(true, "c", 1, 3, "rwm")),
			want: nil,
		},
		{
			name: "to allow-all with a deny exception",
			cur:  "c 1:3 rwm\n",
			p:    p(devRule(true, "a", -1, -1, "rwm"), devRule(false, "b", 8, 0, "w")),
			want: []v1Write{{true, "a"}, {false, "b 8:0 w"}},
		},
		{
			name: "allow-all again: its deny exceptions are not listed, so start over",
			cur:  "a *:* rwm\n",
			p:    p(devRule(true, "a", -1, -1, "rwm")),
			want: []v1Write{{true, "a"}},
		},
	} {
		got, err := v1DeviceWrites(tc.cur, tc.p)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: v1DeviceWrites = %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
	if _, err := v1DeviceWrites("c 1:3 rwx\n", p(denyAll)); err == nil {
		t.Error("bad devices.list accepted")
	}
}
