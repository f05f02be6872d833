package main

import "github.com/urfave/cli/v2"

// urfave/cli computes a flag's names (cli.FlagNames: a regexp per name) on
// every Names call, and a parse calls it for every flag once per flag it
// looks up: for exec's 17 flags that is a few hundred regexp runs, 4% of an
// exec. The wrappers below answer Names from a slice built without a
// regexp; TestFlagNamesMatch checks it is what cli.FlagNames returns.
type (
	boolFlag struct {
		*cli.BoolFlag
		names []string
	}
	stringFlag struct {
		*cli.StringFlag
		names []string
	}
	intFlag struct {
		*cli.IntFlag
		names []string
	}
	durationFlag struct {
		*cli.DurationFlag
		names []string
	}
	stringSliceFlag struct {
		*cli.StringSliceFlag
		names []string
	}
	int64SliceFlag struct {
		*cli.Int64SliceFlag
		names []string
	}
)

func (f *boolFlag) Names() []string        { return f.names }
func (f *stringFlag) Names() []string      { return f.names }
func (f *intFlag) Names() []string         { return f.names }
func (f *durationFlag) Names() []string    { return f.names }
func (f *stringSliceFlag) Names() []string { return f.names }
func (f *int64SliceFlag) Names() []string  { return f.names }

// flagNames is cli.FlagNames for names without a comma or a space, the only
// kind rt has.
func flagNames(name string, aliases []string) []string {
	return append([]string{name}, aliases...)
}

// cacheFlagNames wraps each flag of fs whose type it knows.
func cacheFlagNames(fs []cli.Flag) {
	for i, f := range fs {
		switch f := f.(type) {
		case *cli.BoolFlag:
			fs[i] = &boolFlag{f, flagNames(f.Name, f.Aliases)}
		case *cli.StringFlag:
			fs[i] = &stringFlag{f, flagNames(f.Name, f.Aliases)}
		case *cli.IntFlag:
			fs[i] = &intFlag{f, flagNames(f.Name, f.Aliases)}
		case *cli.DurationFlag:
			fs[i] = &durationFlag{f, flagNames(f.Name, f.Aliases)}
		case *cli.StringSliceFlag:
			fs[i] = &stringSliceFlag{f, flagNames(f.Name, f.Aliases)}
		case *cli.Int64SliceFlag:
			fs[i] = &int64SliceFlag{f, flagNames(f.Name, f.Aliases)}
		}
	}
}

// cacheAppFlagNames wraps the flags of app and of its commands.
func cacheAppFlagNames(app *cli.App) {
	cacheFlagNames(app.Flags)
	for _, c := range app.Commands {
		cacheFlagNames(c.Flags)
	}
}
