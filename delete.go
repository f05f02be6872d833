package main

import (
	"errors"

	"github.com/urfave/cli/v2"

	"github.com/rtrun/rt/libcontainer"
)

var deleteCommand = &cli.Command{
	Name:      "delete",
	Usage:     "delete a stopped container (any container with --force)",
	ArgsUsage: "<container-id>",
	Flags: []cli.Flag{
		&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "kill the container first if it is not stopped"},
	},
	Action: func(ctx *cli.Context) error {
		if err := checkArgs(ctx, 1); err != nil {
			return err
		}
		c, err := containerArg(ctx)
		if err != nil {
			// runc: deleting a missing container with --force is not an error.
			if ctx.Bool("force") && errors.Is(err, libcontainer.ErrNotExist) {
				return nil
			}
			return err
		}
		err = c.Delete(ctx.Bool("force"))
		if ctx.Bool("force") && errors.Is(err, libcontainer.ErrNotExist) {
			return nil // a concurrent delete won the race
		}
		return err
	},
}
