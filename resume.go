package main

import (
	"github.com/urfave/cli/v2"

	"github.com/rtrun/rt/libcontainer"
)

var resumeCommand = &cli.Command{
	Name:      "resume",
	Usage:     "resume the processes of a paused container",
	ArgsUsage: "<container-id>",
	Action: func(ctx *cli.Context) error {
		return onContainer(ctx, (*libcontainer.Container).Resume)
	},
}
