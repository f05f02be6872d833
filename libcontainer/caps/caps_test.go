package caps

import (
	"slices"
	"strings"
	"testing"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		c    *specs.LinuxCapabilities
		want string // substring of the error; "" means valid
	}{
		{"nil", nil, ""},
		{"empty", &specs.LinuxCapabilities{}, ""},
		{"all known", &specs.LinuxCapabilities{Bounding: []string{"CAP_CHOWN", "CAP_CHECKPOINT_RESTORE", "CAP_SYS_RESOURCE"}}, ""},
		{"unknown bounding", &specs.LinuxCapabilities{Bounding: []string{"CAP_KILL", "CAP_FOO"}}, `bounding[1]: unknown capability "CAP_FOO"`},
		{"unknown effective", &specs.LinuxCapabilities{Effective: []string{"CAP_TEST"}}, `effective[0]: unknown capability "CAP_TEST"`},
		{"unknown inheritable", &specs.LinuxCapabilities{Inheritable: []string{"CAP_KILL", "CAP_KILL", "kill"}}, `inheritable[2]: unknown capability "kill"`},
		{"unknown permitted", &specs.LinuxCapabilities{Permitted: []string{""}}, `permitted[0]: unknown capability ""`},
		{"unknown ambient", &specs.LinuxCapabilities{Ambient: []string{"CAP_chown"}}, `ambient[0]: unknown capability "CAP_chown"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate(tt.c)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || err.Error() != tt.want {
				t.Fatalf("error = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestParseName(t *testing.T) {
	for _, c := range capability.ListKnown() {
		got, ok := Parse(Name(c))
		if !ok || got != c {
			t.Errorf("Parse(Name(%d)) = %v, %v", c, got, ok)
		}
	}
	if k := Known(); len(k) != len(capability.ListKnown()) || k[0] != "CAP_CHOWN" || !slices.Contains(k, "CAP_CHECKPOINT_RESTORE") {
		t.Errorf("Known() = %v", k)
	}
	if c, ok := Parse("CAP_NET_BIND_SERVICE"); !ok || c != capability.CAP_NET_BIND_SERVICE {
		t.Errorf("CAP_NET_BIND_SERVICE = %v, %v", c, ok)
	}
}

func TestResolveDropsUnavailable(t *testing.T) {
	noSysResource := func(c capability.Cap) bool { return c != capability.CAP_SYS_RESOURCE }
	c := &specs.LinuxCapabilities{
		Bounding:  []string{"CAP_KILL", "CAP_SYS_RESOURCE"},
		Permitted: []string{"CAP_SYS_RESOURCE", "CAP_KILL"},
		Ambient:   []string{"CAP_SYS_RESOURCE"},
	}
	r := resolve(c, noSysResource)
	if !slices.Equal(r.dropped, []string{"CAP_SYS_RESOURCE"}) {
		t.Errorf("dropped = %v", r.dropped)
	}
	for kind, want := range map[capability.CapType][]capability.Cap{
		capability.BOUNDING:  {capability.CAP_KILL},
		capability.PERMITTED: {capability.CAP_KILL},
		capability.AMBIENT:   nil,
		capability.EFFECTIVE: nil,
	} {
		if !slices.Equal(r.bySet[kind], want) {
			t.Errorf("%s = %v, want %v", kind, r.bySet[kind], want)
		}
	}
	if strings.Contains(strings.Join(r.dropped, ","), "KILL") {
		t.Error("available capability dropped")
	}
}
