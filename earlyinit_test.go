package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestEarlyInit checks that internal/earlyinit initialises before the
// packages whose initialisers grow the stack (internal/godebug; urfave/cli
// compiles a regexp) and before rt's own: its stack growth must happen while the stack is
// shallow. The order is the linker's, so it is read from a binary that
// links what rt links: this test's.
func TestEarlyInit(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	pos := map[string]int{}
	for i, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "init" {
			pos[f[1]] = i + 1
		}
	}
	first, ok := pos["github.com/rtrun/rt/internal/earlyinit"]
	if !ok {
		t.Fatalf("no inittrace line for earlyinit:\n%s", out)
	}
	for _, later := range []string{"internal/godebug", "github.com/urfave/cli/v2", "regexp", "github.com/rtrun/rt/libcontainer", "github.com/rtrun/rt/nsenter", "github.com/sirupsen/logrus"} {
		p, ok := pos[later]
		if !ok {
			// rt's packages may have nothing left to initialise (their
			// tables are static data), and then no line: nor can they grow
			// the stack.
			if !strings.HasPrefix(later, "github.com/rtrun/rt/") {
				t.Errorf("no inittrace line for %s", later)
			}
			continue
		}
		if p < first {
			t.Errorf("%s initialised before earlyinit (line %d, earlyinit %d)", later, p, first)
		}
	}
}
