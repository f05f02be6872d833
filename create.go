package main

import (
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"

	"github.com/rtrun/rt/libcontainer"
)

// create's flags, which run has too. Both commands list them by name: an
// append in a Flags field would be run at start-up by every rt process
// (the container's init included), while a plain list is static data.
var (
	bundleFlag        = &cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Value: ".", Usage: "path to the bundle directory"}
	pidFileFlag       = &cli.StringFlag{Name: "pid-file", Usage: "write the init pid to this file"}
	consoleSocketFlag = &cli.StringFlag{Name: "console-socket", Usage: "unix socket that receives the pty master"}
	pidfdSocketFlag   = &cli.StringFlag{Name: "pidfd-socket", Usage: "unix socket that receives a pidfd of init"}
	noPivotFlag       = &cli.BoolFlag{Name: "no-pivot", Usage: "use MS_MOVE and chroot instead of pivot_root"}
	noNewKeyringFlag  = &cli.BoolFlag{Name: "no-new-keyring", Usage: "do not create a new session keyring"}
	preserveFDsFlag   = &cli.IntFlag{Name: "preserve-fds", Usage: "pass this many fds after stderr to the container"}
)

var createCommand = &cli.Command{
	Name:      "create",
	Usage:     "create a container; its process waits for start",
	ArgsUsage: "<container-id>",
	Flags: []cli.Flag{
		bundleFlag, pidFileFlag, consoleSocketFlag, pidfdSocketFlag, noPivotFlag, noNewKeyringFlag, preserveFDsFlag,
	},
	Action: func(ctx *cli.Context) error {
		if err := checkArgs(ctx, 1); err != nil {
			return err
		}
		_, err := createContainer(ctx, nil, nil, nil)
		return err
	},
}

// createContainer creates the container; spec, when not nil, is the
// bundle's config already loaded (run reads it first), and whileInit, when
// not nil, runs while init builds the root filesystem.
func createContainer(ctx *cli.Context, console *libcontainer.ConsolePair, spec *specs.Spec, whileInit func()) (*libcontainer.Container, error) {
	r, err := runtimeFor(ctx)
	if err != nil {
		return nil, err
	}
	o := libcontainer.CreateOpts{
		ID:            ctx.Args().First(),
		Bundle:        ctx.String("bundle"),
		PidFile:       ctx.String("pid-file"),
		ConsoleSocket: ctx.String("console-socket"),
		NoPivot:       ctx.Bool("no-pivot"),
		NoNewKeyring:  ctx.Bool("no-new-keyring"),
		PreserveFDs:   ctx.Int("preserve-fds"),
		Timing:        ctx.Bool("debug"),
		// Only `run` has the flag (as in runc); create never waits for init.
		NoSubreaper: ctx.Bool("no-subreaper"),
		Foreground:  ctx.Command.Name == "run" && !ctx.Bool("detach"),
		Spec:        spec,
		WhileInit:   whileInit,
		// run starts at once; with a terminal (the console proxy) or
		// NOTIFY_SOCKET (bound at start) there is work in between.
		StartNow: ctx.Command.Name == "run" && console == nil && ctx.String("console-socket") == "" &&
			os.Getenv("NOTIFY_SOCKET") == "",
	}
	if console != nil {
		o.Console = console.Theirs
	}
	c, err := r.Create(o)
	if err != nil {
		return nil, err
	}
	if s := ctx.String("pidfd-socket"); s != "" {
		if err := libcontainer.SendPidfd(s, c.Pid()); err != nil {
			c.Delete(true)
			return nil, err
		}
	}
	return c, nil
}
