package main

import (
	"github.com/urfave/cli/v2"

	"github.com/rtrun/rt/libcontainer"
)

var startCommand = &cli.Command{
	Name:      "start",
	Usage:     "run the user program of a created container",
	ArgsUsage: "<container-id>",
	Action: func(ctx *cli.Context) error {
		return onContainer(ctx, func(c *libcontainer.Container) error {
			if err := c.Start(); err != nil {
				return err
			}
			// With NOTIFY_SOCKET: wait for the container's READY=, as runc does.
			return c.WaitReady()
		})
	},
}
