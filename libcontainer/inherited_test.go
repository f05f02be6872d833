package libcontainer

import "testing"

func TestMayPassFDs(t *testing.T) {
	for _, c := range []struct {
		args   []string
		listen string
		want   bool
	}{
		{[]string{"run", "-b", "/b", "id"}, "", false},
		{[]string{"run", "--preserve-fds", "2", "id"}, "", true},
		{[]string{"create", "--preserve-fds=1", "id"}, "", true},
		{[]string{"create", "-preserve-fds", "1", "id"}, "", true},
		{[]string{"run", "id"}, "2", true},
		{nil, "", false},
	} {
		if got := mayPassFDs(c.args, c.listen); got != c.want {
			t.Errorf("mayPassFDs(%q, LISTEN_FDS=%q) = %v, want %v", c.args, c.listen, got, c.want)
		}
	}
}
