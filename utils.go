package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/rtrun/rt/libcontainer"
)

func runtimeFor(ctx *cli.Context) (*libcontainer.Runtime, error) {
	if ctx.Bool("systemd-cgroup") {
		return nil, fmt.Errorf("--systemd-cgroup: the systemd cgroup driver is not available (no systemd running)")
	}
	return &libcontainer.Runtime{Root: ctx.String("root")}, nil
}

// containerArg loads the container named by the first argument.
func containerArg(ctx *cli.Context) (*libcontainer.Container, error) {
	id := ctx.Args().First()
	if id == "" {
		return nil, fmt.Errorf("%s: container id is required", ctx.Command.Name)
	}
	r, err := runtimeFor(ctx)
	if err != nil {
		return nil, err
	}
	return r.Load(id)
}

func checkArgs(ctx *cli.Context, n int) error {
	if ctx.NArg() != n {
		return fmt.Errorf("%s: expected %d argument(s), got %d (usage: rt %s %s)", ctx.Command.Name, n, ctx.NArg(), ctx.Command.Name, ctx.Command.ArgsUsage)
	}
	return nil
}

// onContainer is the Action of a command that takes exactly one argument,
// a container id: it calls f on that container. Commands call it from a
// func literal: a closure returned by a call in their (package-level)
// definition would be allocated at the start of every rt process.
func onContainer(ctx *cli.Context, f func(*libcontainer.Container) error) error {
	if err := checkArgs(ctx, 1); err != nil {
		return err
	}
	c, err := containerArg(ctx)
	if err != nil {
		return err
	}
	return f(c)
}
