package main

import (
	"github.com/urfave/cli/v2"
)

var resumeCommand = &cli.Command{
	Name:      "resume",
	Usage:     "resume the processes of a paused container",
	ArgsUsage: "<container-id>",
	Action: func(ctx *cli.Context) error {
		if err := checkArgs(ctx, 1); err != nil {
			return err
		}
		c, err := containerArg(ctx)
		if err != nil {
			return err
		}
		return c.Resume()
	},
}
