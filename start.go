package main

import "github.com/urfave/cli/v2"

var startCommand = &cli.Command{
	Name:      "start",
	Usage:     "run the user program of a created container",
	ArgsUsage: "<container-id>",
	Action: func(ctx *cli.Context) error {
		if err := checkArgs(ctx, 1); err != nil {
			return err
		}
		c, err := containerArg(ctx)
		if err != nil {
			return err
		}
		if err := c.Start(); err != nil {
			return err
		}
		// With NOTIFY_SOCKET: wait for the container's READY=, as runc does.
		return c.WaitReady()
	},
}
