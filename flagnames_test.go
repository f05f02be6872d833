package main

import (
	"reflect"
	"testing"

	"github.com/urfave/cli/v2"
)

// Every flag rt defines is wrapped, and answers Names as urfave would.
func TestFlagNamesMatch(t *testing.T) {
	cmds := []*cli.Command{
		createCommand, startCommand, runCommand, execCommand, stateCommand, killCommand,
		deleteCommand, listCommand, specCommand, featuresCommand,
		pauseCommand, resumeCommand, updateCommand, eventsCommand, psCommand,
	}
	for _, c := range cmds {
		var want [][]string
		for _, f := range c.Flags {
			want = append(want, f.Names())
		}
		cacheFlagNames(c.Flags)
		for i, f := range c.Flags {
			switch f.(type) {
			case *boolFlag, *stringFlag, *intFlag, *durationFlag, *stringSliceFlag, *int64SliceFlag:
			default:
				t.Errorf("%s: flag %v (%T) is not wrapped", c.Name, want[i], f)
			}
			if got := f.Names(); !reflect.DeepEqual(got, want[i]) {
				t.Errorf("%s: Names() = %q, cli.FlagNames gives %q", c.Name, got, want[i])
			}
		}
	}
}
