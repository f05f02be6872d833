package caps

import (
	"testing"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// NewPlan resolves the spec's sets to bits as Apply would for a process
// that starts as root with this thread's bounding set; unknown names are
// refused; nil asks for empty sets.
func TestNewPlan(t *testing.T) {
	p, err := NewPlan(&specs.LinuxCapabilities{
		Bounding:    []string{"CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_CHOWN"},
		Effective:   []string{"CAP_KILL"},
		Permitted:   []string{"CAP_KILL", "CAP_NET_BIND_SERVICE"},
		Inheritable: []string{"CAP_NET_BIND_SERVICE"},
		Ambient:     []string{"CAP_NET_BIND_SERVICE", "CAP_KILL"}, // KILL is not inheritable: not granted
	})
	if err != nil {
		t.Fatal(err)
	}
	bit := func(c capability.Cap) uint64 { return 1 << c }
	kill, bind, chown := bit(capability.CAP_KILL), bit(capability.CAP_NET_BIND_SERVICE), bit(capability.CAP_CHOWN)
	if p.CurBounding&(kill|bind|chown) != kill|bind|chown {
		t.Fatalf("current bounding set %#x lacks what the test needs (run as root)", p.CurBounding)
	}
	for _, c := range []struct {
		name      string
		got, want uint64
	}{
		{"bounding", p.Bounding, kill | bind | chown},
		{"effective", p.Effective, kill},
		{"permitted", p.Permitted, kill | bind},
		{"inheritable", p.Inheritable, bind},
		{"ambient", p.Ambient, bind},
	} {
		if c.got != c.want {
			t.Errorf("%s %#x, want %#x", c.name, c.got, c.want)
		}
	}
	if _, err := NewPlan(&specs.LinuxCapabilities{Bounding: []string{"CAP_BOGUS"}}); err == nil {
		t.Error("an unknown capability was accepted")
	}
	empty, err := NewPlan(nil)
	if err != nil || empty.Bounding|empty.Effective|empty.Permitted|empty.Inheritable|empty.Ambient != 0 {
		t.Errorf("nil: %+v, %v; want empty sets", empty, err)
	}
}
