package rlimits

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		in   []specs.POSIXRlimit
		want string // exact error; "" means valid
	}{
		{"none", nil, ""},
		{"all types", func() []specs.POSIXRlimit {
			var r []specs.POSIXRlimit
			for _, res := range resources {
				r = append(r, specs.POSIXRlimit{Type: res.name, Soft: 1, Hard: 2})
			}
			return r
		}(), ""},
		{"infinity", []specs.POSIXRlimit{{Type: "RLIMIT_CORE", Soft: unix.RLIM_INFINITY, Hard: unix.RLIM_INFINITY}}, ""},
		{"unknown", []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 1, Hard: 1}, {Type: "RLIMIT_FOO"}}, `rlimits[1].type: unknown resource limit "RLIMIT_FOO"`},
		{"lower case", []specs.POSIXRlimit{{Type: "rlimit_nofile"}}, `rlimits[0].type: unknown resource limit "rlimit_nofile"`},
		{"empty type", []specs.POSIXRlimit{{}}, `rlimits[0].type: unknown resource limit ""`},
		{"duplicate", []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE"}, {Type: "RLIMIT_CORE"}, {Type: "RLIMIT_NOFILE"}}, `rlimits[2].type: duplicate "RLIMIT_NOFILE" (also rlimits[0])`},
		{"soft above hard", []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 2048, Hard: 1024}}, `rlimits[0]: soft limit 2048 is above hard limit 1024`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if len(got) != len(tt.in) {
					t.Fatalf("got %d limits, want %d", len(got), len(tt.in))
				}
				for i := range got {
					if res, _ := resource(tt.in[i].Type); got[i].Name != tt.in[i].Type || got[i].Type != res || got[i].Soft != tt.in[i].Soft || got[i].Hard != tt.in[i].Hard {
						t.Errorf("[%d] = %+v from %+v", i, got[i], tt.in[i])
					}
				}
				return
			}
			if err == nil || err.Error() != tt.want {
				t.Fatalf("error = %v, want %q", err, tt.want)
			}
		})
	}
}

const childEnv = "RT_RLIMITS_TEST_CHILD"

func TestMain(m *testing.M) {
	if v := os.Getenv(childEnv); v != "" {
		var in []specs.POSIXRlimit
		if err := json.Unmarshal([]byte(v), &in); err != nil {
			fail(err)
		}
		l, err := Parse(in)
		if err != nil {
			fail(err)
		}
		if err := Apply(l); err != nil {
			fail(err)
		}
		// Exec, so the test sees what the container's program would get.
		fail(syscall.Exec("/bin/cat", []string{"cat", "/proc/self/limits"}, nil))
	}
	os.Exit(m.Run())
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(3)
}

// runChild applies in to a re-executed test binary (the test process's own
// hard limits could not be raised back) and returns /proc/self/limits of the
// program it execs.
func runChild(t *testing.T, in []specs.POSIXRlimit) (string, string, error) {
	t.Helper()
	b, _ := json.Marshal(in)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(b))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	return string(out), stderr.String(), err
}

func limitLine(limits, prefix string) []string {
	for _, l := range strings.Split(limits, "\n") {
		if strings.HasPrefix(l, prefix) {
			return strings.Fields(strings.TrimPrefix(l, prefix))
		}
	}
	return nil
}

func TestApply(t *testing.T) {
	var nofile unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &nofile); err != nil {
		t.Fatal(err)
	}
	if nofile.Max < 1024 {
		t.Skipf("hard NOFILE %d < 1024", nofile.Max)
	}
	tests := []struct {
		name   string
		in     []specs.POSIXRlimit
		prefix string   // line of /proc/self/limits
		want   []string // its soft and hard fields
	}{
		{"nofile kept across exec", []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 512, Hard: 1024}}, "Max open files", []string{"512", "1024"}},
		{"core zero", []specs.POSIXRlimit{{Type: "RLIMIT_CORE", Soft: 0, Hard: 0}}, "Max core file size", []string{"0", "0"}},
		{"several", []specs.POSIXRlimit{{Type: "RLIMIT_CORE", Soft: 0, Hard: 0}, {Type: "RLIMIT_MSGQUEUE", Soft: 4096, Hard: 8192}}, "Max msgqueue size", []string{"4096", "8192"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, stderr, err := runChild(t, tt.in)
			if err != nil {
				t.Fatalf("child: %v: %s", err, stderr)
			}
			got := limitLine(out, tt.prefix)
			if len(got) < 2 || got[0] != tt.want[0] || got[1] != tt.want[1] {
				t.Errorf("%s = %v, want %v", tt.prefix, got, tt.want)
			}
		})
	}
}

func TestApplyRaiseHardNeedsCapSysResource(t *testing.T) {
	var nofile unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &nofile); err != nil {
		t.Fatal(err)
	}
	if nofile.Max == unix.RLIM_INFINITY {
		t.Skip("hard NOFILE is unlimited")
	}
	_, stderr, err := runChild(t, []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 1024, Hard: nofile.Max + 1}})
	if err == nil {
		t.Skip("this process may raise hard limits (has CAP_SYS_RESOURCE)")
	}
	for _, want := range []string{"RLIMIT_NOFILE", "needs CAP_SYS_RESOURCE", fmt.Sprint(nofile.Max)} {
		if !strings.Contains(stderr, want) {
			t.Errorf("error %q lacks %q", stderr, want)
		}
	}
}
